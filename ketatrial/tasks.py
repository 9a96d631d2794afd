"""Shared Celery tasks."""

from __future__ import annotations

import logging
import os
import smtplib
import socket

from django.core.mail import send_mail
from django.utils import timezone

from ketatrial.celery import app
from ketatrial.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# What a mail server or the network can do to us that a later attempt may not meet again.
EMAIL_TRANSIENT_ERRORS = (smtplib.SMTPException, OSError)


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
    from ketatrial.jobs import jobs_sweep

    return jobs_sweep()


@app.task(
    bind=True,
    acks_late=True,
    autoretry_for=EMAIL_TRANSIENT_ERRORS,
    retry_backoff=60,  # 1, 2, 4 ... min, with jitter
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,  # waits of at most 1, 2, 4 ... 60 min: up to about 5 hours of a mail server down
)
def email_send(self, subject: str, body: str, recipients: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Send one e-mail; a worker tries again with backoff when the mail server fails.

    Run in-process (no broker: the demo and the tests) there is no worker to try again later,
    and the request that queued the mail has already saved its data: the failure is logged and
    the request goes on (the in-app notification is already there)."""
    try:
        return send_mail(subject, body, None, recipients, fail_silently=False)
    except EMAIL_TRANSIENT_ERRORS:
        if not self.request.is_eager:
            raise  # autoretry_for: Celery schedules the next attempt
        log.exception("e-mail %r to %s not sent (no worker to try again)", subject, recipients)
        return 0
