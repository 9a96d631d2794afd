"""Production settings: `check --deploy` is clean, and a missing SECRET_KEY is refused."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3t4-" + "x9Q2vLr8TzP4mN7bW1cY6fH0jD5sA3gE" * 2,
    "ALLOWED_HOSTS": "ketatrial.example.org",
    "IDENTITY_ENCRYPTION_KEYS": "Zk5sY3l0bE9hR3d5c2R4dW1xU0ZQb3JQbmRqQ3pXUWY=",
    "AUDIT_CHAIN_KEY": "audit-" + "p7Lq2WxZ9rT4vN8cB3mK6hY1jF5dS0gA" * 2,
    "EXPORT_PSEUDONYM_KEY": "export-" + "Hq3Zt8Lw2Nv6Pb9Xc4Mr7Jy1Kd5Fs0Ga" * 2,
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "IDENTITY_ENCRYPTION_KEYS",
            "AUDIT_CHAIN_KEY",
            "EXPORT_PSEUDONYM_KEY",
        )
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
