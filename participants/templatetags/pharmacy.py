"""Template filters of the pharmacy pages."""

from __future__ import annotations

from datetime import datetime

from django import template

from ketatrial.timefmt import local_minute as _local_minute

register = template.Library()


@register.filter
def local_minute(moment: datetime | None) -> str:
    """A stored time as the site reads it: "2026-03-02 10:41 CST" (America/Mexico_City)."""
    return "" if moment is None else _local_minute(moment)
