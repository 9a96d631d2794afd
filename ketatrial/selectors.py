"""Reads for the shell pages."""

from __future__ import annotations

from django.db.models import QuerySet

from ketatrial.models import WorkerHeartbeat


def worker_heartbeat_list_recent() -> QuerySet[WorkerHeartbeat]:
    """The ten latest worker heartbeats (lazy, newest first)."""
    return WorkerHeartbeat.objects.all()[:10]
