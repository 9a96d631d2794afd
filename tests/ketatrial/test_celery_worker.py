"""A real Celery worker on Redis runs a task against the test database, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ketatrial.models import WorkerHeartbeat
from ketatrial.tasks import worker_heartbeat

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_heartbeat_task_and_writes_to_the_database() -> None:
    if not settings.CELERY_BROKER_URL:
        pytest.skip("set CELERY_BROKER_URL (Redis) to run a real worker; CI does")
    if connection.vendor != "postgresql":
        pytest.skip("the worker needs a database it can share with the test: PostgreSQL")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    hostname = f"ketatrial-test-{queue}@%h"
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "ketatrial.settings"}
    worker = subprocess.Popen(
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
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = worker_heartbeat.apply_async(queue=queue).get(timeout=90)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    beat = WorkerHeartbeat.objects.get(pk=result["id"])
    assert beat.hostname.startswith(f"ketatrial-test-{queue}@"), output
    assert beat.task_id and not beat.task_id.startswith("eager-")
