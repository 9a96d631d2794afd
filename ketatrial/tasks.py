"""Shared Celery tasks."""

from __future__ import annotations

import socket

from django.utils import timezone

from ketatrial.celery import app
from ketatrial.models import WorkerHeartbeat


@app.task(bind=True, acks_late=True)
def worker_heartbeat(self) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Record that a worker ran a task (beat schedules it); idempotent per task id."""
    beat, _created = WorkerHeartbeat.objects.get_or_create(
        task_id=self.request.id or f"eager-{timezone.now().timestamp()}",
        defaults={"hostname": self.request.hostname or socket.gethostname(), "recorded_at": timezone.now()},
    )
    return {"id": beat.pk, "hostname": beat.hostname, "recorded_at": beat.recorded_at.isoformat()}
