"""Reads for the shell pages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from ketatrial.models import Notification, WorkerHeartbeat


def worker_heartbeat_list_recent() -> QuerySet[WorkerHeartbeat]:
    """The ten latest worker heartbeats (lazy, newest first)."""
    return WorkerHeartbeat.objects.all()[:10]


def notification_unread_count(user: AbstractBaseUser | AnonymousUser) -> int:
    """How many of the user's notifications wait for acknowledgement (the navigation bar's badge)."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_list_for(user: AbstractBaseUser, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first (lazy: the page slices it)."""
    notes = Notification.objects.filter(recipient=user)
    if unread_only:
        notes = notes.filter(read_at__isnull=True)
    return notes.order_by("-created_at", "-pk")


def notification_get_for_user(user: AbstractBaseUser, pk: int) -> Notification | None:
    """One of the user's own notifications; None for someone else's and for a missing one alike."""
    return Notification.objects.filter(pk=pk, recipient=user).first()
