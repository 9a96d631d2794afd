"""Vital signs during an infusion: plausibility and alert thresholds (pure; no Django).

Thresholds come from the protocol (defaults: systolic > 180 or diastolic > 110 mmHg, heart rate
> 110 or < 50 bpm, SpO2 < 92 %). A value exactly at a threshold does not alert: the protocol
says "> 180", "< 92". Implausible input is refused with a message per field rather than
guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketatrial.protocol import Protocol

# Physiologically possible ranges for a seated adult; outside them the entry is a typing error.
PLAUSIBLE = {
    "systolic": (50, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "spo2": (50, 100),
}


# Possible but unusual for a seated adult at an infusion visit: a value outside these (inside the
# possible range) is often a typing error, so it is saved only once confirmed with a reason
# (re-measured); the protocol's alert thresholds apply on top.
UNUSUAL_OUTSIDE = {
    "systolic": (80, 220),
    "diastolic": (40, 130),
    "heart_rate": (40, 160),
    "spo2": (85, 100),
}


def vitals_unusual(*, systolic: int, diastolic: int, heart_rate: int, spo2: int) -> dict[str, str]:
    """Field -> message for plausible values outside the usual range (a soft check)."""
    values = {"systolic": systolic, "diastolic": diastolic, "heart_rate": heart_rate, "spo2": spo2}
    out = {}
    for name, value in values.items():
        low, high = UNUSUAL_OUTSIDE[name]
        if not low <= value <= high:
            out[name] = f"{value} is unusual (outside {low}-{high})"
    return out


@dataclass(frozen=True)
class Alert:
    field: str
    value: int
    rule: str


def vitals_problems(
    *, systolic: int | None, diastolic: int | None, heart_rate: int | None, spo2: int | None
) -> dict[str, str]:
    """Field -> message for missing or impossible values; empty when the entry is plausible."""
    values = {"systolic": systolic, "diastolic": diastolic, "heart_rate": heart_rate, "spo2": spo2}
    problems: dict[str, str] = {}
    for name, value in values.items():
        low, high = PLAUSIBLE[name]
        if value is None:
            problems[name] = "Required."
        elif not low <= value <= high:
            problems[name] = f"{value} is outside the possible range {low}-{high}; check the entry."
    if not problems and diastolic is not None and systolic is not None and diastolic >= systolic:
        problems["diastolic"] = f"Diastolic ({diastolic}) must be below systolic ({systolic})."
    return problems


def vitals_alerts(*, systolic: int, diastolic: int, heart_rate: int, spo2: int, p: Protocol) -> list[Alert]:
    """Every threshold a plausible set of vitals passes; each one asks for an action."""
    alerts = []
    if systolic > p.alert_systolic_above:
        alerts.append(Alert("systolic", systolic, f"systolic > {p.alert_systolic_above} mmHg"))
    if diastolic > p.alert_diastolic_above:
        alerts.append(Alert("diastolic", diastolic, f"diastolic > {p.alert_diastolic_above} mmHg"))
    if heart_rate > p.alert_heart_rate_above:
        alerts.append(Alert("heart_rate", heart_rate, f"heart rate > {p.alert_heart_rate_above} bpm"))
    if heart_rate < p.alert_heart_rate_below:
        alerts.append(Alert("heart_rate", heart_rate, f"heart rate < {p.alert_heart_rate_below} bpm"))
    if spo2 < p.alert_spo2_below:
        alerts.append(Alert("spo2", spo2, f"SpO2 < {p.alert_spo2_below} %"))
    return alerts
