"""Times in messages: one time zone for every person reading them.

Datetimes are stored in UTC; a message shows them in the site's time zone (settings.TIME_ZONE,
America/Mexico_City), to the minute, with the zone's abbreviation, so "10:41" never leaves a
reader guessing whether it is UTC or local time.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def local_minute(moment: datetime) -> str:
    """`moment` as "YYYY-MM-DD HH:MM TZ" in the site's time zone (e.g. "2026-03-02 10:41 CST")."""
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
