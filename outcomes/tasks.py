"""Celery: export packages and the analyses (nightly from beat, or on demand)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def run_export(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    from outcomes.services import export_run

    return export_run(job_id, now=timezone.now()).status


@shared_task(acks_late=True)
def run_analyses(trigger: str = "nightly", user_id: int | None = None) -> list[int]:
    """Blinded monitoring always; the efficacy analyses once the sequence key is released."""
    from outcomes.analysis_runs import analyses_run

    return [run.pk for run in analyses_run(trigger=trigger, user_id=user_id, now=timezone.now())]
