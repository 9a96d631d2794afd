"""The iCal feed: neutral labels only (participant ID, period, infusion number, kind)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from icalendar import Calendar
from icalendar import Event as IcsEvent

from infusions.selectors import Event
from ketatrial.trial import protocol


def feed(events: list[Event], *, user: AbstractBaseUser) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//KetaTrial//schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "KetaTrial")
    p = protocol()
    for e in events:
        item = IcsEvent()
        number = f"-{e.number}" if e.number else ""
        item.add("uid", f"{e.participant.code}-{e.kind}-{e.start:%Y%m%dT%H%M}{number}@ketatrial")
        item.add("summary", f"{e.participant.code}: {e.label}")
        item.add("dtstart", e.start)
        minutes = p.ical_infusion_minutes if e.kind == "infusion" else p.ical_session_minutes
        item.add("dtend", e.start + timedelta(minutes=minutes))
        item.add("dtstamp", e.start)
        if e.window_start and e.window_end:
            item.add("description", f"Window {e.window_start:%Y-%m-%d %H:%M} – {e.window_end:%Y-%m-%d %H:%M}")
        cal.add_component(item)
    return cal.to_ical()
