"""Item scores and signed ratings for demo data, tests and benchmarks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clinimetry import scales, scoring


def spread(instrument: str, total: int) -> dict[str, int | None]:
    """Item scores adding up to `total` (at most 49 for HDRS-17, 56 for MADRS), filling items in
    order with the suicide items kept low (item 3 of HDRS-17 at most 1, item 10 of MADRS at most 2)."""
    scale = scales.get(instrument)
    # One entry per counted item (16 as 16A), each up to its points; the suicide item kept low.
    maxima = {scale.members(c)[0].code: scale.maxima[c] for c in scale.counted}
    low = {scale.safety_item: scale.maxima[scale.safety_item] // 2 - 1}  # HDRS item 3: 1, MADRS 10: 2
    items: dict[str, int | None] = {}
    remaining = total
    for code, maximum in maxima.items():
        items[code] = min(low.get(code, maximum), remaining)
        remaining -= items[code]
    if remaining:
        raise ValueError(f"{total} is more than {instrument} items can add up to with low suicide items")
    return items


def signed_rating(
    participant: Any, rater: Any, instrument: str, task_code: str, period: int, total: int, when: datetime
) -> Any:
    """An unsaved, signed Assessment whose items add up to `total` (the caller saves it, audited
    or in bulk)."""
    from clinimetry.models import Assessment

    items = spread(instrument, total)
    return Assessment(
        participant=participant,
        instrument=instrument,
        task_code=task_code,
        serves=[task_code],
        period=period,
        rated_at=when,
        rater=rater,
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        items=items,
        total=scoring.score(instrument, items).total,
        signed_by=rater,
        signed_at=when,
        signature_meaning="synthetic rating",
    )
