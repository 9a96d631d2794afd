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
    """Blinded monitoring always; the efficacy analyses once the sequence key is released."""
    from outcomes.analysis_runs import analyses_run

    return [run.pk for run in analyses_run(trigger=trigger, user_id=user_id, now=timezone.now())]


@app.task
def sweep_exports() -> list[int]:
    from outcomes.services import exports_sweep

    return exports_sweep(now=timezone.now())
