"""Shared Celery tasks."""

from __future__ import annotations

import logging
import os
import socket

from django.utils import timezone

from ketatrial.celery import app
from ketatrial.models import WorkerHeartbeat

log = logging.getLogger(__name__)


@app.task(bind=True, acks_late=True)
def worker_heartbeat(self) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Record that a worker ran a task (beat schedules it); idempotent per task id."""
    beat, _created = WorkerHeartbeat.objects.get_or_create(
        task_id=self.request.id or f"eager-{timezone.now().timestamp()}",
        defaults={"hostname": self.request.hostname or socket.gethostname(), "recorded_at": timezone.now()},
    )
    return {"id": beat.pk, "hostname": beat.hostname, "recorded_at": beat.recorded_at.isoformat()}


@app.task(bind=True, acks_late=True)
def run_job(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run one outbox job (ketatrial/jobs.py). Late acknowledgement and the job's own claim make
    a second delivery harmless; the lease, not the broker, takes a dead worker's job over."""
    from ketatrial.jobs import job_run

    return job_run(job_id, owner=f"{self.request.hostname or 'eager'}:{os.getpid()}")


@app.task
def sweep_jobs() -> list[int]:
    """Beat, every 30 s: hand over again what the broker never took or a dead worker held."""
    from django.db import close_old_connections

    from ketatrial.jobs import jobs_sweep

    close_old_connections()  # a long-lived worker: a connection the database dropped is renewed
    return jobs_sweep()


@app.task(acks_late=True)
def audit_nightly() -> dict[str, object]:
    """Beat, nightly: verify the audit trail against the newest heads file, then write today's
    heads outside the database; on a break, tell every data manager and principal investigator
    in the application (and by e-mail) and write no heads over the evidence."""
    from django.contrib.auth import get_user_model

    from ketatrial import audit_chain
    from ketatrial.notifications import notify
    from ketatrial.protocol import DATA_MANAGER, PRINCIPAL_INVESTIGATOR

    breaks = audit_chain.verify()
    previous = audit_chain.latest_heads_file()
    if previous is not None:
        breaks += audit_chain.heads_check(previous)
    if breaks:
        people = list(
            get_user_model()
            .objects.filter(groups__name__in=[DATA_MANAGER, PRINCIPAL_INVESTIGATOR], is_active=True)
            .distinct()
        )
        notify(
            recipients=people,
            subject=f"KetaTrial: {len(breaks)} break(s) in the audit trail",
            body="\n".join(str(b) for b in breaks[:200]),
            url="/status/",
            now=timezone.now(),
        )
        return {"breaks": len(breaks)}
    return {"breaks": 0, "heads": str(audit_chain.heads_write(today=timezone.localdate()))}
