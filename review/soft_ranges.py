"""Soft ranges (pure; no Django): values that are possible but unusual, so often a typing error,
and saved only once the person confirms them with a reason.

A hard range refuses (a weight of 400 kg, a scan dated tomorrow); a soft range asks. Vital signs
keep their own table (infusions/vitals.py); this module holds the others: body weight, the
baseline assessment date, and an MRS scan's time against its session's window in the schedule
(a cross-form check: the upload form against the infusion schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ketatrial.protocol import Protocol

WEIGHT = "weight"
BASELINE_DATE = "baseline_date"
SCAN_WINDOW = "scan_window"


@dataclass(frozen=True)
class Unusual:
    """One value outside its usual range: which field, what rule, the value and the usual range
    as text (shown to the person and kept with their reason)."""

    field: str
    rule: str
    value: str
    usual: str


def weight_unusual(field: str, weight: float | None, p: Protocol) -> list[Unusual]:
    """A plausible weight outside the protocol's usual adult range."""
    if weight is None or p.weight_usual_min_kg <= weight <= p.weight_usual_max_kg:
        return []
    return [
        Unusual(field, WEIGHT, f"{weight:g} kg", f"{p.weight_usual_min_kg:g}-{p.weight_usual_max_kg:g} kg")
    ]


def baseline_date_unusual(field: str, baseline: date | None, *, today: date, p: Protocol) -> list[Unusual]:
    """A baseline assessment dated longer ago than usual when it is entered. (A date in the future
    is a hard error, checked by the service.)"""
    if baseline is None:
        return []
    earliest = today - timedelta(days=p.baseline_date_usual_days)
    if baseline >= earliest:
        return []
    return [
        Unusual(field, BASELINE_DATE, baseline.isoformat(), f"{earliest.isoformat()} - {today.isoformat()}")
    ]


def scan_time_unusual(
    field: str, scanned_at: datetime | None, *, window_start: datetime, window_end: datetime
) -> list[Unusual]:
    """An MRS scan outside its session's window in the schedule. The caller gives the times in the
    study's zone: they are shown as they are."""
    if scanned_at is None or window_start <= scanned_at <= window_end:
        return []
    shown = "%Y-%m-%d %H:%M"
    return [
        Unusual(
            field,
            SCAN_WINDOW,
            scanned_at.strftime(shown),
            f"{window_start.strftime(shown)} - {window_end.strftime(shown)}",
        )
    ]
