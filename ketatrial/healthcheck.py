"""Container health checks (docker-compose.yml), standard library only: a check runs every 30 s
and must not load Django.

    python -m ketatrial.healthcheck web [URL]    # gunicorn answers /health/ (it reaches the database)
    python -m ketatrial.healthcheck beat [FILE]  # Celery beat keeps writing its schedule file

The web check asks as the TLS proxy does: with a Host from ALLOWED_HOSTS and
X-Forwarded-Proto: https, so neither the host check nor the HTTPS redirect answers in its place.
The worker's check is Celery's own `celery inspect ping` (see docker-compose.yml).
"""

from __future__ import annotations

import glob
import os
import sys
import time
import urllib.error
import urllib.request

WEB_URL = "http://127.0.0.1:8000/health/"
BEAT_SCHEDULE = "/tmp/celerybeat-schedule"  # noqa: S108 (the container's own, see docker-compose.yml)
# Beat writes its schedule file when it sends a task and 3 min have passed since the last write;
# it sends the worker heartbeat every 5 min (ketatrial/celery.py), so a live beat writes every 5 min.
BEAT_STALE_SECONDS = 600


def host_for_check(allowed_hosts: str) -> str:
    """A Host header Django accepts: the first of ALLOWED_HOSTS ('.example.org' -> 'example.org')."""
    for host in allowed_hosts.split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check_web(url: str = WEB_URL, *, allowed_hosts: str | None = None, timeout: float = 10.0) -> str:
    """'' when /health/ answers 200, else what is wrong."""
    hosts = os.environ.get("ALLOWED_HOSTS", "") if allowed_hosts is None else allowed_hosts
    request = urllib.request.Request(  # noqa: S310 (a fixed http URL on this container)
        url, headers={"Host": host_for_check(hosts), "X-Forwarded-Proto": "https"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return "" if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except OSError as exc:
        return f"{url}: {exc}"


def check_beat(
    schedule: str = BEAT_SCHEDULE, *, stale_after: float = BEAT_STALE_SECONDS, now: float | None = None
) -> str:
    """'' when beat wrote its schedule file (any dbm flavour: name, name.db, name.dat) lately."""
    files = glob.glob(glob.escape(schedule) + "*")
    if not files:
        return f"no schedule file {schedule}*"
    age = (time.time() if now is None else now) - max(os.path.getmtime(f) for f in files)
    return "" if age <= stale_after else f"{schedule} last written {age:.0f} s ago"


def main(argv: list[str]) -> int:
    """`web [URL]` or `beat [SCHEDULE FILE]`; exit 0 when healthy, else 1 with the reason."""
    checks = {"web": check_web, "beat": check_beat}
    if not 1 <= len(argv) <= 2 or argv[0] not in checks:
        print(f"usage: python -m ketatrial.healthcheck {'|'.join(checks)} [URL or file]", file=sys.stderr)
        return 2
    problem = checks[argv[0]](*argv[1:])
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
