"""HDRS-17 and MADRS scoring and the derived outcomes (pure; no Django). See SCALES.md.

Items are dicts keyed by item code ("1".."17", "16A"/"16B" for HDRS; "1".."10" for MADRS), each
an int or None (missing). Every rule is a function of its inputs; the study parameters (remission
cut-offs, prorating, relapse rule) come in as arguments from the protocol definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

HDRS17 = "hdrs17"
MADRS = "madrs"

HDRS17_MAX: dict[str, int] = {
    "1": 4,
    "2": 4,
    "3": 4,
    "4": 2,
    "5": 2,
    "6": 2,
    "7": 4,
    "8": 4,
    "9": 4,
    "10": 4,
    "11": 4,
    "12": 2,
    "13": 2,
    "14": 2,
    "15": 4,
    "16": 2,
    "17": 2,
}
# Item 16 is rated as 16A (by history) or 16B (by measured weight); 3 = "not assessed", scored 0.
HDRS16_CHOICES = (0, 1, 2, 3)
HDRS16_NOT_ASSESSED = 3
MADRS_ITEMS = tuple(str(n) for n in range(1, 11))
MADRS_MAX_ITEM = 6

HDRS_SEVERITY_DEFAULT = ((7, "none"), (13, "mild"), (18, "moderate"), (22, "severe"), (52, "very severe"))
MADRS_SEVERITY_SNAITH = ((6, "normal"), (19, "mild"), (34, "moderate"), (60, "severe"))


class ScoringError(ValueError):
    """Item values that break the scale's rules; `errors` maps item -> message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"item {k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Score:
    total: int | None  # None: too many items missing for a total under the rule in force
    raw_sum: int
    answered: int
    missing: tuple[str, ...]
    prorated: bool


def _is_int(value: object) -> bool:
    """A whole-number score; bools and floats are refused even when they equal an integer."""
    return isinstance(value, int) and not isinstance(value, bool)


def hdrs17_item16(items: Mapping[str, int | None]) -> tuple[str | None, int | None]:
    """Which of 16A/16B was rated and the points it scores (3 = not assessed scores 0)."""
    a, b = items.get("16A"), items.get("16B")
    if a is not None and b is not None:
        raise ScoringError({"16": "rate 16A or 16B, not both"})
    if a is None and b is None:
        return None, None
    which, value = ("16A", a) if a is not None else ("16B", b)
    if not _is_int(value) or value not in HDRS16_CHOICES:
        raise ScoringError({which: f"must be 0, 1, 2 or 3 (not assessed), not {value}"})
    return which, 0 if value == HDRS16_NOT_ASSESSED else value


def validate_hdrs17(items: Mapping[str, int | None]) -> dict[str, int | None]:
    """Points per counted item 1-17 (16 from 16A/16B); refuses out-of-range and unknown items."""
    allowed = set(HDRS17_MAX) - {"16"} | {"16A", "16B"}
    errors = {k: "not an HDRS-17 item (items 18-21 never count)" for k in items if k not in allowed}
    points: dict[str, int | None] = {}
    for item, maximum in HDRS17_MAX.items():
        if item == "16":
            try:
                _which, points["16"] = hdrs17_item16(items)
            except ScoringError as exc:
                errors.update(exc.errors)
            continue
        value = items.get(item)
        if value is not None and not (_is_int(value) and 0 <= value <= maximum):
            errors[item] = f"must be 0-{maximum}, not {value}"
        points[item] = value
    if errors:
        raise ScoringError(errors)
    return points


def validate_madrs(items: Mapping[str, int | None]) -> dict[str, int | None]:
    errors = {k: "not a MADRS item" for k in items if k not in MADRS_ITEMS}
    for item in MADRS_ITEMS:
        value = items.get(item)
        if value is not None and not (_is_int(value) and 0 <= value <= MADRS_MAX_ITEM):
            errors[item] = f"must be 0-{MADRS_MAX_ITEM}, not {value}"
    if errors:
        raise ScoringError(errors)
    return {item: items.get(item) for item in MADRS_ITEMS}


def score(
    instrument: str, items: Mapping[str, int | None], *, prorating_allowed: bool = False, max_missing: int = 2
) -> Score:
    """Total under the missing-item rule: complete items only, or (when the study allows it)
    prorated with at most `max_missing` items missing - HDRS by maximum possible points
    (sum x 52 / sum of the answered items' maxima), MADRS by item count (sum x 10 / answered) -
    rounded half up and flagged."""
    if instrument == HDRS17:
        points = validate_hdrs17(items)
        maxima = HDRS17_MAX
    elif instrument == MADRS:
        points = validate_madrs(items)
        maxima = dict.fromkeys(MADRS_ITEMS, MADRS_MAX_ITEM)
    else:
        raise ValueError(f"unknown instrument {instrument!r}")
    answered = {k: v for k, v in points.items() if v is not None}
    missing = tuple(k for k, v in points.items() if v is None)
    raw = sum(answered.values())  # type: ignore[arg-type]
    if not missing:
        return Score(raw, raw, len(answered), (), False)
    if not prorating_allowed or len(missing) > max_missing or not answered:
        return Score(None, raw, len(answered), missing, False)
    if instrument == HDRS17:
        full, possible = sum(maxima.values()), sum(maxima[k] for k in answered)
    else:
        full, possible = len(maxima), len(answered)
    # Integer half-up rounding of raw * full / possible.
    total = (2 * raw * full + possible) // (2 * possible)
    return Score(total, raw, len(answered), missing, True)


def percent_change(baseline: int | None, current: int | None) -> float | None:
    """Improvement from baseline in percent; None when baseline is 0 or either total is missing."""
    if baseline is None or current is None or baseline == 0:
        return None
    return (baseline - current) / baseline * 100


def is_response(baseline: int | None, current: int | None, threshold_pct: float = 50.0) -> bool | None:
    change = percent_change(baseline, current)
    return None if change is None else change >= threshold_pct


def is_remission(
    instrument: str, total: int | None, *, hdrs_max: int = 7, madrs_max: int = 10
) -> bool | None:
    if total is None:
        return None
    return total <= (hdrs_max if instrument == HDRS17 else madrs_max)


def severity(instrument: str, total: int | None) -> str | None:
    """Band of the default scheme (HDRS: 0-7 none ... >= 23 very severe; MADRS: Snaith 1986)."""
    if total is None:
        return None
    bands = HDRS_SEVERITY_DEFAULT if instrument == HDRS17 else MADRS_SEVERITY_SNAITH
    return next(label for upper, label in bands if total <= upper)


def safety_flag(
    instrument: str, items: Mapping[str, int | None], *, hdrs_item3_min: int = 3, madrs_item10_min: int = 4
) -> bool:
    """HDRS item 3 (suicide) >= 3 or MADRS item 10 (suicidal thoughts) >= 4."""
    if instrument == HDRS17:
        value = items.get("3")
        return value is not None and value >= hdrs_item3_min
    value = items.get("10")
    return value is not None and value >= madrs_item10_min


@dataclass(frozen=True)
class Rating:
    """One follow-up rating for relapse evaluation (MADRS and HDRS totals of one visit)."""

    when: datetime
    madrs: int | None
    hdrs: int | None = None


@dataclass(frozen=True)
class Relapse:
    date: datetime
    rule: str


def relapse(
    *,
    baseline_madrs: int | None,
    responded: bool,
    ratings: Sequence[Rating],
    events: Sequence[tuple[datetime, str]] = (),
    madrs_min: int = 22,
    consecutive: int = 2,
    loss_of_response: bool = True,
    threshold_pct: float = 50.0,
) -> Relapse | None:
    """Relapse after a response (PROTOCOL.md): MADRS >= `madrs_min` at `consecutive` consecutive
    follow-up ratings, or the 50 % improvement lost at `consecutive` consecutive ratings, or a
    relapse event (hospitalization, suicide attempt, new treatment). The relapse date is the first
    qualifying rating (or the event). Ratings without a MADRS total break a run."""
    if not responded:
        return None
    found: list[Relapse] = [Relapse(when, f"event: {kind}") for when, kind in events]
    ordered = sorted(ratings, key=lambda r: r.when)
    for rule, qualifies in (
        (
            f"MADRS >= {madrs_min} at {consecutive} consecutive ratings",
            lambda r: r.madrs is not None and r.madrs >= madrs_min,
        ),
        (
            f"50 % improvement lost at {consecutive} consecutive ratings",
            lambda r: (
                loss_of_response
                and r.madrs is not None
                and is_response(baseline_madrs, r.madrs, threshold_pct) is False
            ),
        ),
    ):
        run: list[Rating] = []
        for rating in ordered:
            run = [*run, rating] if qualifies(rating) else []
            if len(run) >= consecutive:
                found.append(Relapse(run[0].when, rule))
                break
    return min(found, key=lambda r: r.date) if found else None
