"""A real Celery worker on Redis runs a task against the test database, end to end."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import connection

from ketatrial.models import WorkerHeartbeat
from ketatrial.tasks import worker_heartbeat
from tests.workers import start_worker


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_heartbeat_task_and_writes_to_the_database() -> None:
    if not settings.CELERY_BROKER_URL:
        pytest.skip("set CELERY_BROKER_URL (Redis) to run a real worker; CI does")
    if connection.vendor != "postgresql":
        pytest.skip("the worker needs a database it can share with the test: PostgreSQL")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = start_worker(queue, name="ketatrial-test")
    try:
        result = worker_heartbeat.apply_async(queue=queue).get(timeout=90)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    beat = WorkerHeartbeat.objects.get(pk=result["id"])
    assert beat.hostname.startswith(f"ketatrial-test-{queue}@"), output
    assert beat.task_id and not beat.task_id.startswith("eager-")
