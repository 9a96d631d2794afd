"""docker-compose.yml read as data: its services, health checks, volumes, limits and required
variables (CI has no Docker engine to start it), and the Caddyfile it mounts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Services built from this repository (a backup service too, when compose has one).
BUILT = [name for name, s in SERVICES.items() if s.get("build") == "."]
LONG_RUNNING = [name for name, s in SERVICES.items() if s.get("restart") != "no"]
# Variables compose must refuse to start without: no default may stand in for them.
REQUIRED = {
    "POSTGRES_PASSWORD",
    "OWNER_DB_PASSWORD",
    "APP_DB_PASSWORD",
    "REDIS_PASSWORD",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "IDENTITY_ENCRYPTION_KEYS",
    "AUDIT_CHAIN_KEY",
    "EXPORT_PSEUDONYM_KEY",
    "SITE_ADDRESS",
    "CADDY_TLS",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY")
# A compose variable; `$${...}` is left to the shell of a command.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(:?[?-])?([^}]*)\}")


def _references(value: object) -> list[tuple[str, str, str]]:
    """Every ${NAME...} in the values of the compose file (comments are not values)."""
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return REFERENCE.findall(value) if isinstance(value, str) else []


def _env_example_names() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def _command(service: str) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else " ".join(command)


def _healthcheck(service: str) -> str:
    test = SERVICES[service].get("healthcheck", {}).get("test", [])
    return test if isinstance(test, str) else " ".join(test)


def test_it_has_the_database_the_broker_the_app_services_and_the_tls_proxy() -> None:
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "proxy"} <= set(SERVICES)
    assert set(APP_SERVICES) <= set(BUILT)
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert SERVICES["proxy"]["image"].startswith("caddy:")


def test_every_long_running_service_restarts_and_has_a_health_check() -> None:
    assert set(LONG_RUNNING) >= {"postgres", "redis", "web", "worker", "beat", "proxy"}
    assert set(SERVICES) - set(LONG_RUNNING) == {"migrate"}
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] in ("unless-stopped", "always"), name
        check = SERVICES[name].get("healthcheck", {})
        assert check.get("test") and check.get("interval"), f"{name} has no health check"


def test_the_health_checks_ask_the_right_question() -> None:
    assert "pg_isready" in _healthcheck("postgres")
    # Without the password redis-cli answers NOAUTH and exits 0: the check must want PONG.
    assert "PONG" in _healthcheck("redis") and SERVICES["redis"]["environment"]["REDISCLI_AUTH"]
    assert _healthcheck("web") == "CMD python -m ketatrial.healthcheck web"
    assert "inspect ping" in _healthcheck("worker") and "celery@$$HOSTNAME" in _healthcheck("worker")
    assert _healthcheck("beat") == "CMD python -m ketatrial.healthcheck beat"
    assert "--schedule=/tmp/celerybeat-schedule" in _command("beat")  # the file the beat check reads
    assert "2019" in _healthcheck("proxy")


def test_services_start_in_order_migrations_first_and_the_proxy_last() -> None:
    migrate = SERVICES["migrate"]["depends_on"]
    assert migrate["postgres"]["condition"] == migrate["redis"]["condition"] == "service_healthy"
    for name in set(BUILT) - {"migrate"}:
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "manage.py migrate" in _command("migrate")
    assert "check --database default" in _command("web")  # a misconfigured trial never serves


def test_only_the_tls_proxy_publishes_ports_so_only_it_can_set_the_forwarded_proto_header() -> None:
    published = {name for name, s in SERVICES.items() if s.get("ports")}
    assert published == {"proxy"}
    assert [str(p) for p in SERVICES["web"]["expose"]] == ["8000"]
    assert {str(p).split(":")[-1].split("/")[0] for p in SERVICES["proxy"]["ports"]} == {"80", "443"}
    settings = (ROOT / "ketatrial" / "settings.py").read_text()
    assert 'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")' in settings
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["proxy"]["volumes"]
    assert re.search(r"^\s*reverse_proxy \{\$WEB_UPSTREAM:web:8000\}\s*$", caddyfile, re.M)
    # trusted_proxies would let a client's own X-Forwarded-Proto through.
    directives = [line.split("#", 1)[0] for line in caddyfile.splitlines()]
    assert not any("trusted_proxies" in line for line in directives)


def test_the_volumes_keep_the_database_the_broker_the_uploads_and_the_certificates() -> None:
    assert set(COMPOSE["volumes"]) >= {"pgdata", "redisdata", "media", "caddy_data", "caddy_config"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redisdata:/data" in SERVICES["redis"]["volumes"]
    assert "--appendonly" in _command("redis")
    for name in BUILT:
        assert any(v.startswith("media:/app/var/media") for v in SERVICES[name]["volumes"]), name
        assert SERVICES[name]["environment"]["MEDIA_ROOT"] == "/app/var/media", name
    assert "caddy_data:/data" in SERVICES["proxy"]["volumes"]
    if "backup" in SERVICES:  # the archives in a volume of their own
        assert any(v.startswith("backups:") for v in SERVICES["backup"]["volumes"])
    used = {
        v.split(":")[0]
        for s in SERVICES.values()
        for v in s.get("volumes", [])
        if not v.startswith((".", "/"))
    }
    assert used == set(COMPOSE["volumes"])


def test_long_running_app_services_have_memory_limits_and_workers_are_recycled() -> None:
    for name in [*BUILT, "proxy"]:
        if name == "migrate":
            continue  # runs once and exits
        service = SERVICES[name]
        resources = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert service.get("mem_limit") or resources.get("memory"), f"{name} has no memory limit"
    assert re.search(r"--max-tasks-per-child[= ]\d+", _command("worker"))
    assert re.search(r"--max-requests \d+", _command("web"))


def test_redis_and_postgres_require_their_passwords_and_the_urls_carry_them() -> None:
    assert "--requirepass" in SERVICES["redis"]["command"]
    assert "${REDIS_PASSWORD:?" in _command("redis")
    env = SERVICES["web"]["environment"]
    assert env["CELERY_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert env["DATABASE_URL"].startswith("postgres://ketatrial_app:${APP_DB_PASSWORD:?")
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    # Every service built here has the app's environment; migrate and backup connect as the owner.
    shared = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    for name in BUILT:
        assert SERVICES[name]["environment"].items() >= shared.items(), f"{name} lacks the app's environment"


def test_required_variables_have_no_silent_default_and_every_variable_is_in_env_example() -> None:
    references = _references(COMPOSE)
    named = {name for name, _op, _rest in references}
    assert named >= REQUIRED
    for name, op, _rest in references:
        if name in REQUIRED or SECRET_NAME.search(name):
            assert op == ":?", f"${{{name}}} must be required (${{{name}:?...}}), not {op or 'optional'}"
    missing = named - _env_example_names()
    assert not missing, f"not documented in .env.example: {sorted(missing)}"
    # The required ones are starred in .env.example (in the comment block above them).
    lines = (ROOT / ".env.example").read_text().splitlines()
    for name in REQUIRED:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
        start = index
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        starred = any(line.startswith("# *") for line in lines[start:index])
        assert starred, f"{name} is required: star it in .env.example"


def test_the_caddyfile_is_valid_for_each_way_of_getting_a_certificate(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("no caddy binary (apt-get install caddy; CI installs it)")
    for tls in ("internal", "admin@example.org"):
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
            "SITE_ADDRESS": "ketatrial.example.org",
            "CADDY_TLS": tls,
        }
        result = subprocess.run(
            [caddy, "validate", "--config", str(ROOT / "Caddyfile"), "--adapter", "caddyfile"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, (
            result.stderr
        )


def test_the_app_connects_as_a_role_that_owns_nothing_and_migrations_run_as_the_owner() -> None:
    """Issue 16: the audit trail must hold against the application's own connection; the
    superuser is for administration only (deploy/postgres/10-roles.sh creates the roles)."""
    for name in ("web", "worker", "beat"):
        env = SERVICES[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://ketatrial_app:"), name
        assert env["DATABASE_APP_ROLE"] == "ketatrial_app", name
    assert SERVICES["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://ketatrial_owner:")
    assert SERVICES["migrate"]["environment"]["DATABASE_APP_ROLE"] == "ketatrial_app"
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]
    script = (ROOT / "deploy/postgres/10-roles.sh").read_text()
    assert "CREATE ROLE ketatrial_app LOGIN NOSUPERUSER" in script and "OWNER ketatrial_owner" in script
    for name in BUILT:
        assert not SERVICES[name]["environment"]["DATABASE_URL"].startswith("postgres://postgres:"), name
    # The chain heads outside the database, in a volume of their own.
    assert "audit_heads:/app/var/audit-heads" in SERVICES["worker"]["volumes"]
    assert SERVICES["worker"]["environment"]["AUDIT_CHAIN_HEADS_DIR"] == "/app/var/audit-heads"
