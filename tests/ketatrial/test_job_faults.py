"""Faults with real parts: a Redis the test starts and stops, real Celery workers, PostgreSQL.
Redis down while an export, the analyses and an MRS quantification are asked for: nothing lost,
each done once after it is back. A worker SIGKILLed mid-job: the job is done once, within 2
minutes of a worker being back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ketatrial import jobs
from ketatrial.models import Job, WorkerHeartbeat
from tests.outcomes.conftest import trial  # noqa: F401 (the small trial, as a fixture)
from tests.workers import free_port, start_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


class Redis:
    """A throw-away redis-server on its own port (no persistence)."""

    def __init__(self, port: int) -> None:
        self.port, self.process = port, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis(settings) -> Iterator[Redis]:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql" or shutil.which("redis-server") is None:
        pytest.skip("needs PostgreSQL (shared with the workers) and redis-server; CI has both")
    server = Redis(free_port())  # its own port: restarted on it, nobody else's
    server.start()
    settings.JOBS_IN_PROCESS = False
    settings.CELERY_BROKER_URL = server.url
    settings.JOB_QUEUE = f"faults-{uuid.uuid4().hex[:8]}"
    yield server
    server.stop()


def _worker(server: Redis, queue: str, name: str, **env: str) -> subprocess.Popen[str]:
    return start_worker(
        queue, name=name, CELERY_BROKER_URL=server.url, CELERY_RESULT_BACKEND="", JOB_LEASE_SECONDS="6", **env
    )


def _wait(predicate, seconds: float, sweep: bool = True) -> float:  # type: ignore[no-untyped-def]
    """Poll (sweeping like beat does) until predicate() holds; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        if sweep:
            jobs.jobs_sweep()
        time.sleep(1)
    raise AssertionError("timed out")


def _stop(worker: subprocess.Popen[str]) -> str:
    worker.terminate()
    try:
        return worker.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.communicate()[0]


def test_with_redis_down_export_and_analyses_are_kept_and_done_once_when_it_is_back(
    redis,
    settings,
    trial,  # noqa: F811 (the fixture imported above)
    statistician,
    tmp_path,
) -> None:
    from outcomes import services
    from outcomes.models import AnalysisRun, ExportJob

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.JOB_REDISPATCH_SECONDS = 5
    worker = _worker(redis, settings.JOB_QUEUE, "faults", MEDIA_ROOT=settings.MEDIA_ROOT)
    try:
        redis.stop()
        with transaction.atomic():
            export = services.export_request(
                by=statistician, unblinded=False, now=timezone.now(), purpose="fault test"
            )
            jobs.job_enqueue(
                "analyses", "analyses:faults", {"trigger": "on demand", "user_id": statistician.pk}
            )
        waiting = list(Job.objects.order_by("pk"))
        assert [j.state for j in waiting] == ["pending", "pending"]
        assert all(j.dispatch_error for j in waiting)  # the broker was down: nothing handed over
        assert jobs.jobs_sweep() == []  # still down: still waiting, nothing lost
        redis.start()
        _wait(lambda: Job.objects.filter(state="done").count() == 2, 150)
    finally:
        redis.start() if redis.process is None else None
        output = _stop(worker)
    assert ExportJob.objects.get(pk=export.pk).status == "done", output
    assert len(list((Path(settings.MEDIA_ROOT) / "exports").iterdir())) == 1
    assert AnalysisRun.objects.filter(kind="monitoring").count() == 1
    assert all(j.attempts == 1 for j in Job.objects.all())


def test_a_worker_killed_mid_job_is_taken_over_once_within_two_minutes(redis, settings) -> None:
    settings.JOB_LEASE_SECONDS = 6
    first = _worker(redis, settings.JOB_QUEUE, "doomed")
    try:
        with transaction.atomic():
            job = jobs.job_enqueue("selftest", "selftest:kill", {"sleep": 20})
        _wait(lambda: Job.objects.get(pk=job.pk).state == "running", 90, sweep=False)
        first.kill()  # SIGKILL: no acknowledgement, no clean-up, the lease stops being renewed
        first.wait(timeout=10)
        assert Job.objects.get(pk=job.pk).state == "running"
        second = _worker(redis, settings.JOB_QUEUE, "rescuer")
        try:
            took = _wait(lambda: Job.objects.get(pk=job.pk).state == "done", 150)
        finally:
            output = _stop(second)
    finally:
        if first.poll() is None:
            first.kill()
    job.refresh_from_db()
    assert took < 120, output
    assert job.attempts == 2
    assert WorkerHeartbeat.objects.filter(task_id=f"job-{job.pk}").count() == 1  # done once
    assert job.lease_owner.startswith("rescuer") or "rescuer" in job.lease_owner, job.lease_owner
