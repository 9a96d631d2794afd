"""Web pages at trial scale: latency under load and queries per page. Prints its figures.

    .venv/bin/python -m benchmarks.web_scale [--sizes 200 2000] [--requests 60] [--concurrency 4]

For each size a synthetic trial is built on PostgreSQL (BENCH_DATABASE_URL, default the database
`ketatrial_bench` on 127.0.0.1, emptied first; the same builder as benchmarks/export_scale.py:
schedules, every rating task signed, MRS results; participants start at the site's infusion
capacity, about one a week, so about 25 are under way at either size and the trial's size is
its history), served by gunicorn with 2 workers and
DEBUG=0 (collected static files), and loaded from this machine by `--concurrency` client threads.
Per page: p50/p95/p99 latency of `--requests` requests and the number of database queries of one
request (counted in-process with Django's test client). Goals (issue 17): the same query count at
every size; p95 under 100 ms at 200 participants and under 250 ms at 2,000 on this 2-core machine
with the load generator on it.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ketatrial_bench"
ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "bench-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "IDENTITY_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
    "AUDIT_CHAIN_KEY": "bench-audit-chain-" + "k" * 40,
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}


def _ensure_database(url: str) -> None:
    name = urllib.parse.urlparse(url).path.lstrip("/")
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _session_cookie(username: str, role: str) -> str:
    """A signed-in session for a persona of `role` (made directly: the login page is not measured)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password("bench-password-1234")
    user.save()
    user.groups.add(Group.objects.get(name=role))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # the model backend (axes is first)
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session["last_activity"] = time.time()
    session.create()
    return session.session_key or ""


def _consents() -> None:
    """Consent on file for every participant (the builder makes none; a rating needs it)."""
    from datetime import UTC, datetime

    from django.contrib.auth import get_user_model

    from ketatrial.trial import protocol
    from participants.models import Consent, ScreeningRecord

    by = get_user_model().objects.get(username="bench_rater")
    version = protocol().consent_version
    Consent.objects.bulk_create(
        Consent(screening=s, version=version, consented_at=datetime(2026, 10, 1, tzinfo=UTC), obtained_by=by)
        for s in ScreeningRecord.objects.all()
    )


def _queries(path: str, role: str) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=f"bench_{role}"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


class _NoRedirectHandler(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def NoRedirect() -> urllib.request.OpenerDirector:  # noqa: N802
    return urllib.request.build_opener(_NoRedirectHandler)


def _load(
    base: str, path: str, cookie: str, n: int, concurrency: int, *, post: dict | None = None
) -> list[float]:
    """`n` requests over `concurrency` threads; for a POST each request first reads the form (its
    CSRF token), then submits `post` to a participant of its own (`{i}` in the path)."""
    times: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        # Behind the deployment's proxy the app sees https (X-Forwarded-Proto); cookies are kept
        # by hand, since a client keeps no Secure cookie on plain http.
        opener = urllib.request.build_opener()
        headers = {"X-Forwarded-Proto": "https", "Accept-Language": "es"}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            url = base + path.format(i=i + 1)
            if post is None:
                request = urllib.request.Request(url, headers={**headers, "Cookie": f"sessionid={cookie}"})  # noqa: S310 (loopback)
                started = time.perf_counter()
                with opener.open(request, timeout=60) as response:
                    response.read()
                elapsed = time.perf_counter() - started
            else:
                request = urllib.request.Request(url, headers={**headers, "Cookie": f"sessionid={cookie}"})  # noqa: S310 (loopback)
                with opener.open(request, timeout=60) as response:
                    html = response.read().decode()
                    set_cookie = " ".join(response.headers.get_all("Set-Cookie") or [])
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
                csrf = re.search(r"csrftoken=([^;]+)", set_cookie).group(1)  # type: ignore[union-attr]
                body = urllib.parse.urlencode({**post, "csrfmiddlewaretoken": token}).encode()
                request = urllib.request.Request(  # noqa: S310 (loopback)
                    url,
                    data=body,
                    headers={
                        **headers,
                        "Referer": url.replace("http://", "https://"),
                        "Cookie": f"sessionid={cookie}; csrftoken={csrf}",
                    },
                )
                started = time.perf_counter()
                try:
                    with NoRedirect().open(request, timeout=60) as response:
                        response.read()
                except urllib.error.HTTPError as exc:  # the 302 after a save ends the measured request
                    exc.read()
                    if exc.code != 302:
                        raise
                elapsed = time.perf_counter() - started
            with lock:
                times.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def run_size(size: int, *, requests: int, concurrency: int, database_url: str) -> None:
    os.environ.update(ENV)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketatrial.settings")
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="bench-var-")  # audit-chain heads, never the demo's var/
    media = tempfile.mkdtemp(prefix="bench-media-")
    os.environ["MEDIA_ROOT"] = media
    static = tempfile.mkdtemp(prefix="bench-static-")
    os.environ["STATIC_ROOT"] = static
    import django

    django.setup()
    from benchmarks.export_scale import build_trial
    from participants.models import Participant

    started = time.perf_counter()
    build_trial(size)
    _consents()
    print(f"\n== {size} participants (built in {time.perf_counter() - started:.0f} s)")

    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "STATIC_ROOT": static},
        check=True,
    )
    cookies = {role: _session_cookie(f"bench_{role}", role) for role in ("rater", "coordinator")}
    first = Participant.objects.order_by("number").first()
    assert first is not None
    from django.urls import reverse

    from clinimetry.selectors import rate_url

    pages = {
        "rater task list": ("rater", reverse("clinimetry:tasks")),
        "rating form (GET)": ("rater", rate_url(first.pk, "madrs", "baseline")),
        "calendar, week": ("coordinator", reverse("infusions:calendar") + "?view=week"),
        "calendar, month": ("coordinator", reverse("infusions:calendar") + "?view=month"),
        "participant page": ("coordinator", reverse("participants:detail", args=[first.pk])),
        "participant list (first page)": ("coordinator", reverse("participants:list")),
    }
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ketatrial.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "STATIC_ROOT": static},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:  # not up yet
                time.sleep(0.2)
        print(f"   {'page':<32}{'queries':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for name, (role, path) in pages.items():
            queries = _queries(path, role)
            _load(base, path, cookies[role], 4, 2)  # warm both workers
            times = _load(base, path, cookies[role], requests, concurrency)
            print(
                f"   {name:<32}{queries:>8}{1000 * statistics.median(times):>9.0f}"
                f"{1000 * _percentile(times, 0.95):>9.0f}{1000 * _percentile(times, 0.99):>9.0f}"
            )
        # The rating form POST: each request rates the baseline MADRS of a participant of its own
        # (a correction of an existing rating, with its reason: every baseline is rated already).
        form = {
            "rated_at": "2026-11-01T12:30",  # after the consent on file, before today
            "recall_period": "past_week",
            "interview_guide": "sigma",
            "mode": "in_person",
            "reason": "benchmark correction",
            **{f"item_{n}": "2" for n in range(1, 11)},
        }
        pks = list(Participant.objects.order_by("number").values_list("pk", flat=True)[:requests])
        times = _load_post_by_pk(base, pks, cookies["rater"], concurrency, form)
        print(
            f"   {'rating form (POST)':<32}{'':>8}{1000 * statistics.median(times):>9.0f}"
            f"{1000 * _percentile(times, 0.95):>9.0f}{1000 * _percentile(times, 0.99):>9.0f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def _load_post_by_pk(base: str, pks: list[int], cookie: str, concurrency: int, form: dict) -> list[float]:
    from clinimetry.selectors import rate_url

    times: list[float] = []
    chunks = [pks[i::concurrency] for i in range(concurrency)]
    lock = threading.Lock()

    def worker(mine: list[int]) -> None:
        for pk in mine:
            path = rate_url(pk, "madrs", "baseline")
            got = _load(base, path, cookie, 1, 1, post=form)
            with lock:
                times.extend(got)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    _ensure_database(database_url)
    for size in args.sizes:
        # A fresh process per size: Django is set up once per process.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from benchmarks.web_scale import run_size; "
                f"run_size({size}, requests={args.requests}, concurrency={args.concurrency}, database_url={database_url!r})",
            ],
            cwd=ROOT,
            check=True,
        )


if __name__ == "__main__":
    main()
