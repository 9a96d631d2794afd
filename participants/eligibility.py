"""Eligibility from the screening checklist (pure; no Django)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Eligibility:
    complete: bool
    eligible: bool
    reasons: tuple[str, ...]


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
    reasons name each unmet inclusion and each present exclusion criterion."""
    if len(inclusion_met) != len(inclusion) or len(exclusion_present) != len(exclusion):
        raise ValueError("one answer is needed per criterion")
    reasons: list[str] = []
    reasons += [
        f"Inclusion not met: {text}" for text, ok in zip(inclusion, inclusion_met, strict=True) if ok is False
    ]
    reasons += [
        f"Exclusion present: {text}" for text, yes in zip(exclusion, exclusion_present, strict=True) if yes
    ]
    if hdrs17_total is not None and hdrs17_total < hdrs17_min:
        reasons.append(f"Screening HDRS-17 {hdrs17_total} < {hdrs17_min}")
    complete = None not in inclusion_met and None not in exclusion_present and hdrs17_total is not None
    return Eligibility(complete=complete, eligible=complete and not reasons, reasons=tuple(reasons))
