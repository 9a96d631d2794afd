"""The container health checks of docker-compose.yml (the web check runs against a real gunicorn in
tests/production/test_production_path.py)."""

from __future__ import annotations

import os
import time

import pytest

from ketatrial import healthcheck


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("ketatrial.example.org", "ketatrial.example.org"),
        (" ketatrial.example.org , other.example.org", "ketatrial.example.org"),
        (".example.org", "example.org"),
        ("*,ketatrial.example.org", "ketatrial.example.org"),
        ("", "localhost"),
    ],
)
def test_the_web_check_asks_with_a_host_django_accepts(allowed_hosts: str, host: str) -> None:
    assert healthcheck.host_for_check(allowed_hosts) == host


def test_the_web_check_says_what_is_wrong_when_nothing_answers() -> None:
    problem = healthcheck.check_web("http://127.0.0.1:9/health/", allowed_hosts="x.example.org", timeout=2)
    assert problem.startswith("http://127.0.0.1:9/health/")


def test_the_beat_check_wants_a_schedule_file_written_lately(tmp_path) -> None:  # type: ignore[no-untyped-def]
    schedule = str(tmp_path / "celerybeat-schedule")
    assert "no schedule file" in healthcheck.check_beat(schedule)
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"x")  # dbm may add a suffix
    assert healthcheck.check_beat(schedule) == ""
    old = time.time() - healthcheck.BEAT_STALE_SECONDS - 60
    os.utime(tmp_path / "celerybeat-schedule.db", (old, old))
    assert "last written" in healthcheck.check_beat(schedule)


def test_the_command_line_exits_1_with_the_reason_and_2_on_misuse(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert healthcheck.main(["beat", str(tmp_path / "none")]) == 1
    assert "no schedule file" in capsys.readouterr().err
    assert healthcheck.main(["nothing"]) == 2
