"""Eligibility from the screening checklist, cross-checked against the data entered (pure; no
Django)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

# How the checks find two criteria in a checklist kept as the text shown at screening: the age
# criterion ("Age 18-65 years") and the screening HDRS-17 criterion ("HDRS-17 >= 18 at screening").
AGE_CRITERION = r"^\s*age\b"
HDRS17_CRITERION = r"\bHDRS-?17\b"


@dataclass(frozen=True)
class Eligibility:
    complete: bool
    eligible: bool
    reasons: tuple[str, ...]
    # The same reasons as codes (stored, counted, translated for display): "inclusion:N",
    # "exclusion:N" (N from 1), "hdrs17_below_min".
    codes: tuple[str, ...] = ()


def criterion_index(criteria: Sequence[str], pattern: str) -> int | None:
    """Position of the first criterion whose text matches `pattern` (case-insensitive), or None."""
    return next((i for i, text in enumerate(criteria) if re.search(pattern, text, re.IGNORECASE)), None)


def age_on(birth: date, on: date) -> int:
    """Age in completed years on the day `on` (a birthday on 29 February comes on 1 March in
    other years)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def hdrs17_contradiction(
    *,
    inclusion: Sequence[str],
    inclusion_met: Sequence[bool | None],
    hdrs17_total: int | None,
    hdrs17_min: int,
) -> tuple[str, bool] | None:
    """The HDRS-17 criterion and its answer when the answer disagrees with the screening total
    entered ("yes" with a total under the threshold, "no" with one at or above it); None when they
    agree, or when either is missing."""
    index = criterion_index(inclusion, HDRS17_CRITERION)
    if index is None or hdrs17_total is None or inclusion_met[index] is None:
        return None
    answer = bool(inclusion_met[index])
    return None if answer == (hdrs17_total >= hdrs17_min) else (inclusion[index], answer)


def assess_eligibility(
    *,
    inclusion: Sequence[str],
    inclusion_met: Sequence[bool | None],
    exclusion: Sequence[str],
    exclusion_present: Sequence[bool | None],
    hdrs17_total: int | None,
    hdrs17_min: int,
) -> Eligibility:
    """Eligible when every inclusion criterion is met, no exclusion criterion is present and the
    screening HDRS-17 reaches the threshold. `None` answers leave the checklist incomplete; the
    reasons name each unmet inclusion and each present exclusion criterion (a total under the
    threshold once, not again as its unmet criterion)."""
    if len(inclusion_met) != len(inclusion) or len(exclusion_present) != len(exclusion):
        raise ValueError("one answer is needed per criterion")
    low_hdrs = hdrs17_total is not None and hdrs17_total < hdrs17_min
    same_fact = criterion_index(inclusion, HDRS17_CRITERION) if low_hdrs else None
    reasons: list[str] = []
    reasons += [
        f"Inclusion not met: {text}"
        for i, (text, ok) in enumerate(zip(inclusion, inclusion_met, strict=True))
        if ok is False and i != same_fact
    ]
    reasons += [
        f"Exclusion present: {text}" for text, yes in zip(exclusion, exclusion_present, strict=True) if yes
    ]
    if low_hdrs:
        reasons.append(f"Screening HDRS-17 {hdrs17_total} < {hdrs17_min}")
    codes = [f"inclusion:{i + 1}" for i, ok in enumerate(inclusion_met) if ok is False and i != same_fact] + [
        f"exclusion:{i + 1}" for i, yes in enumerate(exclusion_present) if yes
    ]
    if low_hdrs:
        codes.append("hdrs17_below_min")
    complete = None not in inclusion_met and None not in exclusion_present and hdrs17_total is not None
    return Eligibility(
        complete=complete, eligible=complete and not reasons, reasons=tuple(reasons), codes=tuple(codes)
    )
