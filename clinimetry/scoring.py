"""HDRS-17 and MADRS scoring and the derived outcomes (pure; no Django). See SCALES.md.

Items are dicts keyed by item code ("1".."17", "16A"/"16B" for HDRS; "1".."10" for MADRS), each
an int or None (missing). Every rule is a function of its inputs; the study parameters (remission
cut-offs, prorating, relapse rule) come in as arguments from the protocol definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from clinimetry import scales

HDRS17 = scales.HDRS17.key
MADRS = scales.MADRS.key

# Derived from the registry (clinimetry/scales.py), for readers that name them.
HDRS17_MAX: dict[str, int] = scales.HDRS17.maxima
HDRS16_CHOICES = scales.HDRS17.item("16A").choices
HDRS16_NOT_ASSESSED = scales.HDRS17.item("16A").not_assessed
MADRS_ITEMS = scales.MADRS.counted
MADRS_MAX_ITEM = scales.MADRS.maxima["1"]

HDRS_SEVERITY_DEFAULT = scales.HDRS17.severity
MADRS_SEVERITY_SNAITH = scales.MADRS.severity


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
    missing: tuple[str, ...]  # counted items without points: not rated, or rated "not assessed"
    prorated: bool
    not_assessed: tuple[str, ...] = ()  # entries that mean "not assessed" (HDRS-17: 16A or 16B)


def _is_int(value: object) -> bool:
    """A whole-number score; bools and floats are refused even when they equal an integer."""
    return isinstance(value, int) and not isinstance(value, bool)


def _alternative(
    scale: scales.Scale, counted: str, items: Mapping[str, int | None]
) -> tuple[str | None, int | None]:
    """Which entry scores `counted` and its points: one of its alternatives (16A or 16B), never
    both; "not assessed" gives no points (None: the counted item is missing, not 0)."""
    given = [m for m in scale.members(counted) if items.get(m.code) is not None]
    if len(given) > 1:
        raise ScoringError({counted: f"rate {' or '.join(m.code for m in given)}, not both"})
    if not given:
        return None, None
    member = given[0]
    value = items[member.code]
    if not _is_int(value) or value not in member.choices:
        shown = ", ".join(str(c) for c in member.choices)
        note = f" ({member.not_assessed} = not assessed)" if member.not_assessed is not None else ""
        raise ScoringError({member.code: f"must be one of {shown}{note}, not {value}"})
    return member.code, member.points(value)  # type: ignore[arg-type]


def hdrs17_item16(items: Mapping[str, int | None]) -> tuple[str | None, int | None]:
    """Which of 16A/16B was rated and the points it scores (3 = not assessed: None, missing)."""
    return _alternative(scales.HDRS17, "16", items)


def validate(scale: scales.Scale, items: Mapping[str, int | None]) -> dict[str, int | None]:
    """Points per counted item (16 from 16A/16B); refuses out-of-range and unknown items."""
    allowed = {i.code for i in scale.items}
    hint = f" ({scale.unknown_hint})" if scale.unknown_hint else ""
    errors = {k: f"not an item of {scale.name}{hint}" for k in items if k not in allowed}
    points: dict[str, int | None] = {}
    for counted in scale.counted:
        members = scale.members(counted)
        if len(members) > 1:
            try:
                _which, points[counted] = _alternative(scale, counted, items)
            except ScoringError as exc:
                errors.update(exc.errors)
            continue
        value = items.get(counted)
        if value is not None and not (_is_int(value) and value in members[0].choices):
            errors[counted] = f"must be 0-{members[0].max_points}, not {value}"
        points[counted] = value
    if errors:
        raise ScoringError(errors)
    return points


def validate_hdrs17(items: Mapping[str, int | None]) -> dict[str, int | None]:
    return validate(scales.HDRS17, items)


def validate_madrs(items: Mapping[str, int | None]) -> dict[str, int | None]:
    return validate(scales.MADRS, items)


def score(
    instrument: str, items: Mapping[str, int | None], *, prorating_allowed: bool = False, max_missing: int = 2
) -> Score:
    """Total under the missing-item rule: complete items only, or (when the study allows it)
    prorated with at most `max_missing` items missing, by the scale's rule - HDRS by maximum
    possible points (sum x 52 / sum of the answered items' maxima), MADRS by item count (sum x 10 /
    answered) - rounded half up and flagged. An entry meaning "not assessed" (HDRS-17 16A/16B = 3)
    is a missing item like an unrated one, and is listed in `not_assessed`."""
    scale = scales.get(instrument)
    points = validate(scale, items)
    maxima = scale.maxima
    answered = {k: v for k, v in points.items() if v is not None}
    missing = tuple(k for k, v in points.items() if v is None)
    raw = sum(answered.values())  # type: ignore[arg-type]
    not_assessed = tuple(i.code for i in scale.items if i.is_not_assessed(items.get(i.code)))
    if not missing:
        return Score(raw, raw, len(answered), (), False)
    if not prorating_allowed or len(missing) > max_missing or not answered:
        return Score(None, raw, len(answered), missing, False, not_assessed)
    if scale.prorate_by == "points":
        full, possible = sum(maxima.values()), sum(maxima[k] for k in answered)
    else:
        full, possible = len(maxima), len(answered)
    # Integer half-up rounding of raw * full / possible.
    total = (2 * raw * full + possible) // (2 * possible)
    return Score(total, raw, len(answered), missing, True, not_assessed)


def percent_change(baseline: int | None, current: int | None) -> float | None:
    """Improvement from baseline in percent; None when baseline is 0 or either total is missing."""
    if baseline is None or current is None or baseline == 0:
        return None
    return (baseline - current) / baseline * 100


def is_response(baseline: int | None, current: int | None, threshold_pct: float = 50.0) -> bool | None:
    change = percent_change(baseline, current)
    return None if change is None else change >= threshold_pct


def is_remission(
    instrument: str, total: int | None, *, hdrs_max: int = 7, madrs_max: int = 10, maximum: int | None = None
) -> bool | None:
    """Total at or under the remission cut-off: `maximum` (any scale; the protocol setting named
    by the scale's `remission_max_setting`), or the HDRS-17 / MADRS keywords."""
    if total is None:
        return None
    if maximum is None:
        maximum = {HDRS17: hdrs_max, MADRS: madrs_max}[scales.get(instrument).key]
    return total <= maximum


def severity(instrument: str, total: int | None) -> str | None:
    """Band of the scale's scheme (HDRS: 0-7 none ... >= 23 very severe; MADRS: Snaith 1986)."""
    if total is None:
        return None
    return next(label for upper, label in scales.get(instrument).severity if total <= upper)


def safety_flag(
    instrument: str,
    items: Mapping[str, int | None],
    *,
    hdrs_item3_min: int = 3,
    madrs_item10_min: int = 4,
    minimum: int | None = None,
) -> bool:
    """The scale's suicide item at or over its threshold (HDRS item 3 >= 3, MADRS item 10 >= 4 by
    default; `minimum` for any scale)."""
    scale = scales.get(instrument)
    if minimum is None:
        minimum = {HDRS17: hdrs_item3_min, MADRS: madrs_item10_min}[scale.key]
    value = items.get(scale.safety_item)
    return value is not None and value >= minimum


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
