"""CADSS and BPRS positive subscale scoring (pure module, no database). See SCALES.md.

CADSS: 23 items, 0-4 each, total 0-92; CADSS-6 = items 1, 2, 6, 7, 15, 22 (0-24).
BPRS positive subscale: 4 items, 1-7 each, total 4-28.
"""

from __future__ import annotations

import pytest

from infusions.dissociation import ScaleError, bprs_positive_total, cadss6_total, cadss_total

CADSS6 = (1, 2, 6, 7, 15, 22)


def cadss(**items: int) -> list[int]:
    """23 zeros with the given items (named i1..i23) set."""
    values = [0] * 23
    for name, value in items.items():
        values[int(name[1:]) - 1] = value
    return values


@pytest.mark.parametrize(
    ("items", "total"),
    [
        pytest.param([0] * 23, 0, id="all-0"),
        pytest.param([4] * 23, 92, id="all-4"),
        pytest.param([1] * 23, 23, id="all-1"),
        pytest.param(cadss(i1=4, i23=3), 7, id="first-and-last"),
        pytest.param([0, 1, 2, 3, 4] * 4 + [0, 1, 2], 43, id="mixed"),  # 4 x 10 + 3
    ],
)
def test_it_totals_the_cadss_from_0_to_92(items: list[int], total: int) -> None:
    assert cadss_total(items) == total


@pytest.mark.parametrize(
    ("number", "value"),
    [
        pytest.param(1, 5, id="item-1-is-5"),
        pytest.param(7, 5, id="item-7-is-5"),
        pytest.param(23, 5, id="item-23-is-5"),
        pytest.param(12, -1, id="item-12-is-minus-1"),
    ],
)
def test_it_refuses_a_cadss_item_outside_0_to_4(number: int, value: int) -> None:
    items = [2] * 23
    items[number - 1] = value
    with pytest.raises(ScaleError, match=f"CADSS item {number} must be 0-4, not {value}"):
        cadss_total(items)
    with pytest.raises(ScaleError):
        cadss6_total(items)


@pytest.mark.parametrize("count", [0, 6, 22, 24])
def test_it_refuses_a_cadss_without_exactly_23_items(count: int) -> None:
    with pytest.raises(ScaleError, match=f"CADSS has 23 items; {count} given"):
        cadss_total([1] * count)
    with pytest.raises(ScaleError, match="CADSS has 23 items"):
        cadss6_total([1] * count)


@pytest.mark.parametrize("number", range(1, 24))
def test_it_counts_an_item_in_the_cadss6_only_if_it_is_one_of_items_1_2_6_7_15_22(number: int) -> None:
    # One item at 3, every other at 0: the short form sees it only for its own six items.
    items = cadss(**{f"i{number}": 3})
    assert cadss6_total(items) == (3 if number in CADSS6 else 0)
    assert cadss_total(items) == 3


@pytest.mark.parametrize(
    ("items", "total6", "total"),
    [
        # Distinct weights on the six items: 1, 2, 3, 4, 3, 2 -> 15; the others stay 0.
        pytest.param(cadss(i1=1, i2=2, i6=3, i7=4, i15=3, i22=2), 15, 15, id="six-items-only"),
        # The 17 other items at 4, the six at 0: 0 (full total 68).
        pytest.param([0 if n in CADSS6 else 4 for n in range(1, 24)], 0, 68, id="other-items-only"),
        # Item n = n mod 5: items 1,2,6,7,15,22 -> 1 + 2 + 1 + 2 + 0 + 2 = 8;
        # full total 4 x (1+2+3+4+0) + (1+2+3) = 46.
        pytest.param([n % 5 for n in range(1, 24)], 8, 46, id="item-n-is-n-mod-5"),
        pytest.param([4] * 23, 24, 92, id="maximum"),
    ],
)
def test_it_totals_the_cadss6_from_its_six_items(items: list[int], total6: int, total: int) -> None:
    assert cadss6_total(items) == total6
    assert cadss_total(items) == total


@pytest.mark.parametrize(
    ("items", "total"),
    [
        pytest.param([1, 1, 1, 1], 4, id="minimum"),
        pytest.param([7, 7, 7, 7], 28, id="maximum"),
        pytest.param([1, 2, 3, 4], 10, id="mixed"),
        pytest.param([7, 1, 1, 1], 10, id="one-high"),
    ],
)
def test_it_totals_the_bprs_positive_subscale_from_4_to_28(items: list[int], total: int) -> None:
    assert bprs_positive_total(items) == total


@pytest.mark.parametrize(
    ("items", "message"),
    [
        pytest.param([0, 1, 1, 1], "BPRS suspiciousness must be 1-7, not 0", id="suspiciousness-0"),
        pytest.param([1, 8, 1, 1], "BPRS hallucinatory behaviour must be 1-7, not 8", id="hallucinations-8"),
        pytest.param([1, 1, 0, 1], "BPRS unusual thought content must be 1-7, not 0", id="thought-content-0"),
        pytest.param(
            [1, 1, 1, 8], "BPRS conceptual disorganization must be 1-7, not 8", id="disorganization-8"
        ),
        pytest.param([0, 0, 0, 0], "BPRS suspiciousness must be 1-7, not 0", id="all-0"),
    ],
)
def test_it_refuses_a_bprs_item_outside_1_to_7(items: list[int], message: str) -> None:
    with pytest.raises(ScaleError, match=message):
        bprs_positive_total(items)


@pytest.mark.parametrize("count", [0, 3, 5, 18])
def test_it_refuses_a_bprs_positive_subscale_without_exactly_4_items(count: int) -> None:
    with pytest.raises(ScaleError, match=f"BPRS\\+ has 4 items; {count} given"):
        bprs_positive_total([2] * count)
