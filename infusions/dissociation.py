"""CADSS and BPRS positive subscale scoring (pure; no Django). See SCALES.md."""

from __future__ import annotations

from collections.abc import Sequence

CADSS_ITEMS = 23
CADSS_MAX_ITEM = 4
CADSS6_ITEMS = (1, 2, 6, 7, 15, 22)
BPRS_POSITIVE_ITEMS = (
    "suspiciousness",
    "hallucinatory_behaviour",
    "unusual_thought_content",
    "conceptual_disorganization",
)


class ScaleError(ValueError):
    """Scores outside the scale's rules."""


def cadss_total(items: Sequence[int]) -> int:
    """CADSS total, 0-92: 23 items each 0-4, all required."""
    if len(items) != CADSS_ITEMS:
        raise ScaleError(f"CADSS has {CADSS_ITEMS} items; {len(items)} given")
    for number, value in enumerate(items, start=1):
        if not 0 <= value <= CADSS_MAX_ITEM:
            raise ScaleError(f"CADSS item {number} must be 0-4, not {value}")
    return sum(items)


def cadss6_total(items: Sequence[int]) -> int:
    """CADSS-6 short form: items 1, 2, 6, 7, 15 and 22 of the full scale (0-24)."""
    cadss_total(items)
    return sum(items[n - 1] for n in CADSS6_ITEMS)


def bprs_positive_total(items: Sequence[int]) -> int:
    """BPRS positive subscale, 4-28: four items each 1-7."""
    if len(items) != len(BPRS_POSITIVE_ITEMS):
        raise ScaleError(f"BPRS+ has {len(BPRS_POSITIVE_ITEMS)} items; {len(items)} given")
    for name, value in zip(BPRS_POSITIVE_ITEMS, items, strict=True):
        if not 1 <= value <= 7:
            raise ScaleError(f"BPRS {name.replace('_', ' ')} must be 1-7, not {value}")
    return sum(items)
