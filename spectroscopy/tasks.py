"""Celery: quantify one result. Fetch by id, call the service; safe to run twice."""

from __future__ import annotations

from django.utils import timezone

from ketatrial.celery import app
from spectroscopy.services import result_run


@app.task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def quantify_result(self, result_id: int) -> str:  # type: ignore[no-untyped-def]
    """Late acknowledgement and bounded retries for passing I/O faults; a bad file fails once."""
    return result_run(result_id, now=timezone.now()).status
