"""Reads for the outcome pages: lock events, export jobs and stored analysis runs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q, QuerySet

from ketatrial.models import LockEvent
from outcomes.models import AnalysisRun, ExportEvent, ExportJob


def lock_event_list() -> QuerySet[LockEvent]:
    """Every lock, unlock and release event with who did it, oldest first."""
    return LockEvent.objects.select_related("by")


def export_jobs_for_user(user: AbstractBaseUser) -> QuerySet[ExportJob]:
    """The user's 50 latest export jobs (lazy, newest first), each with how often its package was
    downloaded and when last (from the audited download records: one query for the page)."""
    downloads = Q(events__action=ExportEvent.Action.DOWNLOADED)
    return ExportJob.objects.filter(requested_by=user).annotate(
        downloads=Count("events", filter=downloads), last_download=Max("events__at", filter=downloads)
    )[:50]


def export_job_get_for_user(user: AbstractBaseUser, pk: int) -> ExportJob | None:
    """One export job, only if the user asked for it, or None."""
    return ExportJob.objects.filter(pk=pk, requested_by=user).first()


def analysis_run_latest(kind: str) -> AnalysisRun | None:
    """The latest stored analysis run of a kind (AnalysisRun.Kind), or None."""
    return AnalysisRun.objects.filter(kind=kind).first()


def analysis_run_get(pk: int) -> AnalysisRun | None:
    """One stored analysis run, or None."""
    return AnalysisRun.objects.filter(pk=pk).first()
