"""Entering paper forms after a downtime (issue 15, item 8).

While the system is down, staff fill the blank paper forms (conduct/paper_forms.py) with the real
times. Back online, a person switches on "entering paper forms" for their own session and types
them into the usual pages, which take a past time as the time of the measurement, rating or
start. Every audited write of that session, until it is switched off, carries in its history row
"entered from paper" and the time it was entered (the history row's own time is the same), so an
inspector can tell a paper transcription from a live entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from simple_history.models import HistoricalRecords

from ketatrial.timefmt import local_minute

SESSION_KEY = "conduct_paper_entry"
MARK = "entered from paper"


def paper_entry_begin(session: SessionBase, *, now: datetime) -> None:
    """Switch on paper entry for this session."""
    session[SESSION_KEY] = {"since": now.isoformat()}


def paper_entry_end(session: SessionBase) -> None:
    """Switch it off."""
    session.pop(SESSION_KEY, None)


def paper_entry_since(session: SessionBase | None) -> datetime | None:
    """When this session began entering paper forms; None when it is not."""
    state = session.get(SESSION_KEY) if session is not None else None
    if not state:
        return None
    return parse_datetime(state.get("since", ""))


def paper_reason(reason: str, *, now: datetime) -> str:
    """The history reason of a write entered from paper."""
    mark = f"{MARK} (entered at {local_minute(now)})"
    return f"{reason}; {mark}" if reason else mark


def mark_paper_entry(sender: Any, history_instance: Any = None, **kwargs: Any) -> None:
    """simple-history's pre_create_historical_record: a write made by a request whose session is
    entering paper forms says so in its reason (before the row is saved and chained)."""
    request = getattr(HistoricalRecords.context, "request", None)
    if request is None or history_instance is None:
        return
    if paper_entry_since(getattr(request, "session", None)) is None:
        return
    history_instance.history_change_reason = paper_reason(
        history_instance.history_change_reason or "", now=timezone.now()
    )
