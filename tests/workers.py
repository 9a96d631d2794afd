"""Start a real Celery worker process on its own queue for a test (CI: Redis and PostgreSQL), and
the ports and names that keep parallel test processes (pytest-xdist workers) apart."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
# Ports below Linux's ephemeral range (32768-60999), where the kernel never hands out a port to
# `bind(0)`: a port a test lets go of for a while (a redis-server it stops and starts again) is
# not taken meanwhile by another process asking for any free port. Each xdist worker has a block.
PORT_BASE, PORT_BLOCK = 20000, 400


def xdist_worker_index() -> int:
    """0 for `gw0` (and for a run without xdist), 1 for `gw1`, and so on."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw")) if worker.removeprefix("gw").isdigit() else 0


_next_port = random.randrange(PORT_BLOCK)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 in this test process's own block: parallel workers never pick
    the same one, one process hands out each port of its block in turn (two calls in a row get two
    ports), and a port found here stays out of the kernel's random choices."""
    global _next_port
    start = PORT_BASE + xdist_worker_index() * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = start + _next_port % PORT_BLOCK
        _next_port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


def database_url() -> str:
    """The test database, for a worker process to share it (PostgreSQL)."""
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def start_worker(queue: str, *, name: str = "worker", **env: str) -> subprocess.Popen[str]:
    """A solo-pool worker that takes tasks only from `queue`; stop it with terminate()."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ketatrial",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"{name}-{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "ketatrial.settings",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
