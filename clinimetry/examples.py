"""Item scores for demo data, tests and benchmarks. Pure."""

from __future__ import annotations

from clinimetry import scoring


def spread(instrument: str, total: int) -> dict[str, int | None]:
    """Item scores adding up to `total` (at most 49 for HDRS-17, 56 for MADRS), filling items in
    order with the suicide items kept low (item 3 of HDRS-17 at most 1, item 10 of MADRS at most 2)."""
    maxima = (
        {k: v for k, v in scoring.HDRS17_MAX.items() if k != "16"} | {"16A": 2}
        if instrument == scoring.HDRS17
        else dict.fromkeys(scoring.MADRS_ITEMS, scoring.MADRS_MAX_ITEM)
    )
    low = {"3": 1} if instrument == scoring.HDRS17 else {"10": 2}
    items: dict[str, int | None] = {}
    remaining = total
    for code, maximum in maxima.items():
        items[code] = min(low.get(code, maximum), remaining)
        remaining -= items[code]
    if remaining:
        raise ValueError(f"{total} is more than {instrument} items can add up to with low suicide items")
    return items
