"""The production path, step by step as the image and compose run it (CI has no Docker engine).

On a fresh database (a temporary SQLite file, or a new PostgreSQL database dropped afterwards
when DATABASE_URL names PostgreSQL) with DEBUG=0, a random SECRET_KEY and a new Fernet key:
the Dockerfile's own collectstatic line, the migrate service's command, `check --deploy`, one
user per role, then the web service's own command (the database checks, then gunicorn serving
the manifest's static files). Each role signs in through the login form and opens the pages its
home links to, as a browser behind the TLS proxy would (cookies kept here, X-Forwarded-Proto
sent as Caddy sends it). When the `caddy` binary is installed (CI installs it) the repository's
Caddyfile runs in front of that gunicorn over real TLS.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from ketatrial.protocol import ROLES
from tests.workers import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "ketatrial.test"
PASSWORD = "Production-smoke-2026"
# What settings.py reads: never inherited from the test run's environment.
SETTINGS_ENV = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "IDENTITY_ENCRYPTION_KEYS",
    "AUDIT_CHAIN_KEY",
    "EXPORT_PSEUDONYM_KEY",
    "UNBLINDED_USERNAMES",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "VAR_DIR",
    "WHITENOISE_USE_FINDERS",
    "SECURE_SSL_REDIRECT",
    "PROTOCOL_OVERRIDES_FILE",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "OTP_REQUIRED_FOR",
    "OTP_TOTP_ISSUER",
    "USE_X_FORWARDED_FOR",
}
# The authenticator app of each account that set up its second factor here: key and last step used.
AUTHENTICATORS: dict[str, tuple[bytes, int]] = {}
STATIC_REF = re.compile(r"""(?:href|src)=["'](/static/[^"']+)["']""")
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")
CONTENT_TYPES = {".css": ("text/css",), ".js": ("text/javascript", "application/javascript")}
# What the Content-Security-Policy refuses in a page.
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "style block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[^>]+\sstyle\s*=", re.I),
    "event handler": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dockerfile_collectstatic() -> str:
    """The shell command of the Dockerfile's collectstatic step, as the image build runs it."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN ") and "collectstatic" in line:
            return line.removeprefix("RUN ")
    raise AssertionError("the Dockerfile has no collectstatic step")


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV and not k.startswith("PYTEST")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python`, `gunicorn` as in the image
    env["HOME"] = str(tmp)
    return env


@contextlib.contextmanager
def _fresh_database(tmp: Path) -> Iterator[tuple[str, str, str]]:
    """A database no test has touched: SQLite in `tmp`, or a new PostgreSQL database with an
    application role that owns nothing (as compose has): (owner's URL, application's URL, role)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sqlite = f"sqlite:///{tmp / 'ketatrial.sqlite3'}"
        yield sqlite, sqlite, ""
        return
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    name = f"ketatrial_production_{secrets.token_hex(4)}"
    admin = parts._replace(path="/postgres").geturl()

    def run(sql: str) -> None:
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    role, password = f"ketatrial_app_{secrets.token_hex(4)}", secrets.token_hex(16)
    run(f'CREATE DATABASE "{name}"')
    run(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'")
    try:
        owner = parts._replace(path=f"/{name}").geturl()
        host = parts.hostname or "127.0.0.1"
        app = parts._replace(
            path=f"/{name}", netloc=f"{role}:{password}@{host}:{parts.port or 5432}"
        ).geturl()
        yield owner, app, role
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        run(f"DROP ROLE IF EXISTS {role}")


def _step(name: str, command: list[str], env: dict[str, str], timings: dict[str, float]) -> str:
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    timings[name] = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{name} failed ({result.returncode}):\n{output[-4000:]}"
    return output


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    path: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        target = urllib.parse.urlsplit(self.headers.get("Location", ""))
        return target.path + (f"?{target.query}" if target.query else "")


@dataclass
class Browser:
    """Cookies and the headers a browser behind the TLS proxy arrives with, over http.client.

    `connect` makes the connection (gunicorn directly, or Caddy over TLS); `forwarded_proto` is
    the X-Forwarded-Proto the proxy would add (None: send none, as through Caddy itself)."""

    connect: object
    forwarded_proto: str | None = "https"
    host: str = HOST
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookie_lines: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Host": self.host, "Accept-Language": "en"}
        if self.forwarded_proto:
            headers["X-Forwarded-Proto"] = self.forwarded_proto
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{self.host}"
            headers["Referer"] = f"https://{self.host}{path}"
        conn = self.connect()  # type: ignore[operator]
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            response = Response(raw.status, raw.msg, raw.read(), path)
        finally:
            conn.close()
        for line in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie_lines.append(line)
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "max-age=0" in line.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, path: str, *, follow: bool = False) -> Response:
        response = self.request("GET", path)
        for _ in range(5):
            if not follow or response.status not in (301, 302, 303, 307, 308):
                break
            response = self.request("GET", response.location)
        return response

    def sign_in(self, username: str, password: str) -> Response:
        page = self.get("/accounts/login/")
        assert page.status == 200, page.text[:2000]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text[:2000]
        form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": ""}
        signed_in = self.request("POST", "/accounts/login/", form)
        if signed_in.status == 302:
            landing = self.request("GET", signed_in.location)
            if landing.status == 302 and landing.location.startswith("/accounts/second-factor/"):
                return self.pass_second_factor(username, landing.location)
        return signed_in

    def pass_second_factor(self, username: str, path: str) -> Response:
        """Type the code an authenticator app would show: set up from the secret the page shows
        the first time, then from the same key (a step's code is accepted once)."""
        from django_otp.oath import TOTP

        page = self.get(path)
        assert page.status == 200, page.text[:2000]
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text)
        if secret:
            text = secret.group(1).replace(" ", "")
            AUTHENTICATORS[username] = (base64.b32decode(text + "=" * (-len(text) % 8)), -1)
        key, last_step = AUTHENTICATORS[username]
        totp = TOTP(key)
        totp.time = time.time()
        if totp.t() <= last_step:
            totp.time += 30 * (last_step + 1 - totp.t())
        AUTHENTICATORS[username] = (key, totp.t())
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        next_url = re.search(r'name="next" value="([^"]*)"', page.text)
        assert token and next_url, page.text[:2000]
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "token": f"{totp.token():06d}",
            "next": next_url.group(1),
        }
        return self.request("POST", path, form)


@dataclass
class Deployment:
    port: int
    env: dict[str, str]
    static_root: Path
    tmp: Path
    timings: dict[str, float]
    checked_static: set[str] = field(default_factory=set)

    def browser(self, **kwargs: object) -> Browser:
        return Browser(lambda: http.client.HTTPConnection("127.0.0.1", self.port, timeout=60), **kwargs)  # type: ignore[arg-type]

    def manifest(self) -> set[str]:
        return set(json.loads((self.static_root / "staticfiles.json").read_text())["paths"].values())


def _wait_for_health(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    browser = Browser(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=5))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web command exited {process.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if browser.get("/health/").status == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /health/ in {timeout} s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


CREATE_USERS = """
from django.utils import timezone
from ketatrial.protocol import ROLES
from participants.services import user_create
for role in ROLES:
    user_create(username=role, password={password!r}, first_name=role.title(), last_name="Smoke",
                email=f"{{role}}@example.org", roles={{role}}, language="en", by=None, now=timezone.now())
print("users:", len(ROLES))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("production")
    timings: dict[str, float] = {}
    compose = _compose()["services"]
    with contextlib.ExitStack() as stack:
        database_url, app_url, app_role = stack.enter_context(_fresh_database(tmp))
        base = _base_env(tmp)
        static_root = tmp / "staticfiles"
        # The image build: only what the Dockerfile's line sets (STATIC_ROOT moved into tmp).
        _step(
            "collectstatic (Dockerfile)",
            ["sh", "-c", _dockerfile_collectstatic()],
            {**base, "STATIC_ROOT": str(static_root)},
            timings,
        )
        env = {
            **base,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": HOST,
            "IDENTITY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
            "EXPORT_PSEUDONYM_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "STATIC_ROOT": str(static_root),
            "MEDIA_ROOT": str(tmp / "media"),
            "VAR_DIR": str(tmp / "var"),
            "UNBLINDED_USERNAMES": "pharmacist",
            "DATABASE_APP_ROLE": app_role,
        }
        # As compose: migrations as the owner (who then grants the application role its rights),
        # everything else as the application role, which owns nothing (PostgreSQL).
        _step("migrate (compose migrate)", compose["migrate"]["command"], env, timings)
        env = {**env, "DATABASE_URL": app_url}
        deploy = _step(
            "check --deploy",
            ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            env,
            timings,
        )
        assert "no issues" in deploy, deploy
        _step(
            "users",
            ["python", "manage.py", "shell", "-c", CREATE_USERS.format(password=PASSWORD)],
            env,
            timings,
        )
        port = free_port()
        web = compose["web"]["command"]
        assert web[:2] == ["sh", "-c"] and "--bind 0.0.0.0:8000" in web[2] and "--workers 3" in web[2], web
        command = web[2].replace("--bind 0.0.0.0:8000", f"--bind 127.0.0.1:{port}")
        command = command.replace("--workers 3", "--workers 2")  # two cores here
        log = tmp / "web.log"
        web_started = time.monotonic()
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["sh", "-c", command],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(_stop, process)
        _wait_for_health(port, process, log)
        timings["web command until /health/ answers"] = time.monotonic() - web_started
        timings["deployment"] = time.monotonic() - started
        print("production path:", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        yield Deployment(port=port, env=env, static_root=static_root, tmp=tmp, timings=timings)
        # No request of the whole module was a server error (gunicorn's access log, Django's log).
        output = log.read_text()
        errors = [
            line
            for line in output.splitlines()
            if re.search(r'" 5\d\d \d', line) or "Internal Server Error" in line
        ]
        assert not errors, output[-4000:]


def _assert_a_page_the_policy_lets_run(deployment: Deployment, browser: Browser, response: Response) -> None:
    """Hashed static files from the manifest, answering with their type; nothing inline."""
    html = response.text
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, (response.path, policy)
    for what, pattern in INLINE.items():
        found = pattern.search(html)
        assert found is None, f"{response.path}: {what} {found.group(0)[:200] if found else ''}"
    refs = STATIC_REF.findall(html)
    assert any(r.endswith(".css") for r in refs) and any(r.endswith(".js") for r in refs), response.path
    manifest = deployment.manifest()
    for url in refs:
        assert HASHED.search(url), f"{response.path} links {url}, not a hashed name"
        assert url.removeprefix("/static/") in manifest, url
        if url in deployment.checked_static:
            continue
        static = browser.get(url)
        assert static.status == 200, url
        expected = CONTENT_TYPES.get(Path(url).suffix, ("",))
        assert static.headers.get("Content-Type", "").startswith(expected), (url, static.headers)
        assert "immutable" in static.headers.get("Cache-Control", ""), (url, static.headers)
        deployment.checked_static.add(url)


def test_the_installed_packages_are_the_ones_requirements_txt_pins() -> None:
    """The image installs requirements.txt; CI tests what it installed from the same pins."""
    wrong = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"not pinned: {line}"
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    assert not wrong, wrong


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_and_opens_its_pages_under_production_settings(
    deployment: Deployment, role: str
) -> None:
    browser = deployment.browser()
    signed_in = browser.sign_in(role, PASSWORD)
    assert signed_in.status == 302, signed_in.text[:2000]
    home = browser.get(signed_in.location, follow=True)
    assert home.status == 200 and f'data-role="{role}"' in home.text, (home.path, home.text[:2000])
    _assert_a_page_the_policy_lets_run(deployment, browser, home)
    links = re.findall(r'<li class="list-group-item"><a href="(/[^"]*)"', home.text)
    assert links, home.text[:2000]
    for path in [*links, "/protocol/"]:
        page = browser.get(path)
        assert page.status == 200, f"{role} {path}: {page.status}\n{page.text[:2000]}"
        _assert_a_page_the_policy_lets_run(deployment, browser, page)


def test_a_missing_page_answers_the_404_page_not_a_server_error(deployment: Deployment) -> None:
    anonymous = deployment.browser()
    missing = anonymous.get("/no-such-page/")
    assert missing.status == 404 and '<h1 class="h3">404</h1>' in missing.text, missing.text[:2000]
    _assert_a_page_the_policy_lets_run(deployment, anonymous, missing)
    manager = deployment.browser()
    assert manager.sign_in("data_manager", PASSWORD).status == 302
    not_found = manager.get("/audit/participants.participant/999999/")
    assert not_found.status == 404 and "404" in not_found.text, not_found.text[:2000]


def test_plain_http_is_sent_to_https_and_https_pages_carry_the_security_headers(
    deployment: Deployment,
) -> None:
    plain = deployment.browser(forwarded_proto=None).get("/accounts/login/")
    assert plain.status == 301 and plain.headers["Location"] == f"https://{HOST}/accounts/login/"
    browser = deployment.browser()
    page = browser.get("/accounts/login/")
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    csrf = [line for line in browser.set_cookie_lines if line.startswith("csrftoken=")]
    assert csrf and "Secure" in csrf[0]
    browser.set_cookie_lines.clear()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "username": "monitor", "password": PASSWORD, "next": ""}
    assert browser.request("POST", "/accounts/login/", form).status == 302
    session = [line for line in browser.set_cookie_lines if line.startswith("sessionid=")]
    assert session and "Secure" in session[0] and "HttpOnly" in session[0]


def test_the_web_health_check_of_compose_passes_against_this_gunicorn(deployment: Deployment) -> None:
    url = f"http://127.0.0.1:{deployment.port}/health/"
    check = [sys.executable, "-m", "ketatrial.healthcheck", "web", url]
    ok = subprocess.run(check, cwd=ROOT, env=deployment.env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    # It asks with a host Django accepts: a wrong ALLOWED_HOSTS would fail it (400).
    env = {**deployment.env, "ALLOWED_HOSTS": "elsewhere.example.org"}
    wrong = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 1 and "400" in wrong.stderr, wrong.stderr


@pytest.fixture(scope="module")
def caddy(deployment: Deployment) -> Iterator[tuple[int, int, Path]]:
    """The repository's Caddyfile in front of the deployment's gunicorn: TLS from Caddy's own CA
    on free ports (the global options compose does not need: no admin API, ports, no trust store)."""
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("no caddy binary (apt-get install caddy; CI installs it)")
    http_port, https_port = free_port(), free_port()
    config = deployment.tmp / "Caddyfile.test"
    config.write_text(
        "{\n\tadmin off\n\tskip_install_trust\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n}}\n"
        f"import {ROOT / 'Caddyfile'}\n"
    )
    data = deployment.tmp / "caddy"
    env = {
        **_base_env(deployment.tmp),
        "SITE_ADDRESS": HOST,
        "CADDY_TLS": "internal",
        "WEB_UPSTREAM": f"127.0.0.1:{deployment.port}",
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(data),
    }
    log = deployment.tmp / "caddy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    root = data / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"caddy exited {process.returncode}:\n{log.read_text()[-4000:]}")
            if root.exists():
                with contextlib.suppress(OSError, http.client.HTTPException, ssl.SSLError):
                    if _through_caddy(https_port, root).get("/health/").status == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"caddy did not serve in 30 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield http_port, https_port, root
    finally:
        _stop(process)


def _through_caddy(https_port: int, root: Path) -> Browser:
    """A browser that speaks TLS to Caddy, checks its certificate for HOST, adds no proxy header."""
    context = ssl.create_default_context(cafile=str(root))

    def connect() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", https_port, timeout=60)
        raw = socket.create_connection(("127.0.0.1", https_port), timeout=60)
        conn.sock = context.wrap_socket(raw, server_hostname=HOST)
        return conn

    return Browser(connect, forwarded_proto=None)


def test_behind_the_caddyfile_a_user_signs_in_over_tls_with_no_header_of_its_own(deployment, caddy) -> None:  # type: ignore[no-untyped-def]
    _http_port, https_port, root = caddy
    browser = _through_caddy(https_port, root)
    signed_in = browser.sign_in("coordinator", PASSWORD)
    assert signed_in.status == 302, signed_in.text[:2000]
    home = browser.get(signed_in.location, follow=True)
    assert home.status == 200 and 'data-role="coordinator"' in home.text
    _assert_a_page_the_policy_lets_run(deployment, browser, home)


def test_caddy_answers_plain_http_with_a_redirect_whatever_proto_header_the_client_sends(caddy) -> None:  # type: ignore[no-untyped-def]
    http_port, https_port, root = caddy
    forged = Browser(lambda: http.client.HTTPConnection("127.0.0.1", http_port, timeout=30))  # sends https
    response = forged.get("/accounts/login/")
    assert response.status in (301, 308), response.status
    assert response.headers["Location"].startswith(f"https://{HOST}"), response.headers["Location"]
    # Over TLS a client's own X-Forwarded-Proto is replaced by Caddy's: a forged 'http' does not
    # make Django redirect a request that did come in over TLS.
    browser = _through_caddy(https_port, root)
    browser.forwarded_proto = "http"
    assert browser.get("/accounts/login/").status == 200
