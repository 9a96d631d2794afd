"""The database lock, in one place: the state, the advisory lock that orders writes against it,
and the check every clinical write makes (`ClinicalModel.save`/`delete`, and services that add
exported data such as MRS results). The lock, unlock and release actions themselves
(outcomes.services) take the same lock exclusively. Participant and form locks belong here too.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

LOCK_STATE_KEY = 0x4B455441  # "KETA": the PostgreSQL advisory lock of the lock state


def lock_state(*, exclusive: bool) -> None:
    """Take the lock-state lock for the current transaction (PostgreSQL advisory lock). Clinical
    writes take it shared (they do not wait for one another); lock, unlock and release take it
    exclusive, so they wait for writes in flight and writes after them see the new state. SQLite
    serializes writes by itself."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [LOCK_STATE_KEY])


def database_locked() -> bool:
    """Whether the last lock or unlock event is a lock (releases of the key do not count)."""
    from ketatrial.models import LockEvent

    last = LockEvent.objects.exclude(action=LockEvent.Action.RELEASE).order_by("-at", "-pk").first()
    return last is not None and last.action == LockEvent.Action.LOCK


def require_unlocked() -> None:
    """Inside the caller's transaction: take the shared lock-state lock and refuse if locked."""
    lock_state(exclusive=False)
    if database_locked():
        raise ValidationError(_("The database is locked: no clinical record can be added or changed."))
