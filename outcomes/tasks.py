"""Celery: export packages and the analyses (nightly from beat, or on demand)."""

from __future__ import annotations

from django.utils import timezone

from ketatrial.celery import app


@app.task(acks_late=True)
def run_export(job_id: int) -> str:
    """Late acknowledgement: a job whose worker died is delivered again; the service's claim makes
    a second delivery harmless, and failures end the job with the reason (no blind retries)."""
    from outcomes.services import export_run

    return export_run(job_id, now=timezone.now()).status


@app.task(acks_late=True)
def run_analyses(trigger: str = "nightly", user_id: int | None = None) -> list[int]:
    """Beat, nightly: one analyses job per night in the outbox (the key is the date: a second
    delivery of the beat message makes no second run); returns the runs if it ran here."""
    from ketatrial.jobs import job_enqueue, job_run
    from outcomes.models import AnalysisRun

    key = f"analyses:{trigger}:{timezone.localdate().isoformat()}"
    job = job_enqueue("analyses", key, {"trigger": trigger, "user_id": user_id}, dispatch=False)
    job_run(job.pk)  # here, by this worker; a worker that dies leaves the lease to the sweep
    return list(AnalysisRun.objects.filter(job=job).values_list("pk", flat=True))
