"""HDRS-17 and MADRS scoring and derived outcomes (pure module, no database).

Rules: /work/shared/domain/SCALES.md ("Derived values") and PROTOCOL.md (remission, relapse).
Every expected value below is computed by hand and written as a literal; nothing is derived from
the module's own constants.

HDRS-17: items 1, 2, 3, 7, 8, 9, 10, 11, 15 are 0-4; 4, 5, 6, 12, 13, 14, 17 are 0-2; item 16 is
rated as 16A or 16B (0-2; 3 = not assessed, a missing item, never 0). Total 0-52.
MADRS: items 1-10, 0-6 each. Total 0-60.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinimetry.scoring import (
    HDRS17,
    MADRS,
    Rating,
    ScoringError,
    hdrs17_item16,
    is_remission,
    is_response,
    percent_change,
    relapse,
    safety_flag,
    score,
    severity,
)

MEXICO = ZoneInfo("America/Mexico_City")

# Every HDRS-17 item at 0, item 16 rated by history (16A).
HDRS_ZERO: dict[str, int | None] = {
    "1": 0,
    "2": 0,
    "3": 0,
    "4": 0,
    "5": 0,
    "6": 0,
    "7": 0,
    "8": 0,
    "9": 0,
    "10": 0,
    "11": 0,
    "12": 0,
    "13": 0,
    "14": 0,
    "15": 0,
    "16A": 0,
    "17": 0,
}
# Every HDRS-17 item at its published maximum: 9 x 4 + 7 x 2 + 16A 2 = 36 + 14 + 2 = 52.
HDRS_MAX: dict[str, int | None] = {
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
    "16A": 2,
    "17": 2,
}
MADRS_ZERO: dict[str, int | None] = {str(n): 0 for n in range(1, 11)}


def hdrs(values: dict[str, int | None], *, drop: tuple[str, ...] = ()) -> dict[str, int | None]:
    """HDRS_ZERO without the `drop` items (absent from the dict), then `values` set."""
    items = {k: v for k, v in HDRS_ZERO.items() if k not in drop}
    return {**items, **values}


def madrs(values: dict[str, int | None], *, drop: tuple[str, ...] = ()) -> dict[str, int | None]:
    items = {k: v for k, v in MADRS_ZERO.items() if k not in drop}
    return {**items, **values}


# --------------------------------------------------------------------------- published bounds


@pytest.mark.parametrize(
    ("instrument", "items", "total"),
    [
        pytest.param(HDRS17, HDRS_ZERO, 0, id="hdrs-all-zero"),
        pytest.param(HDRS17, HDRS_MAX, 52, id="hdrs-all-max-16A"),
        pytest.param(
            HDRS17, {**{k: v for k, v in HDRS_MAX.items() if k != "16A"}, "16B": 2}, 52, id="hdrs-all-max-16B"
        ),
        pytest.param(MADRS, MADRS_ZERO, 0, id="madrs-all-zero"),
        pytest.param(MADRS, {str(n): 6 for n in range(1, 11)}, 60, id="madrs-all-six"),
        pytest.param(MADRS, {str(n): 3 for n in range(1, 11)}, 30, id="madrs-all-three"),
        # 1+2+3+4+5+6+0+1+2+3 = 27
        pytest.param(
            MADRS,
            madrs({"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "8": 1, "9": 2, "10": 3}),
            27,
            id="madrs-mixed",
        ),
        # 4+3+2 (items 1-3) + 1+1 (items 4, 5) + 2 (item 16A) = 13
        pytest.param(HDRS17, hdrs({"1": 4, "2": 3, "3": 2, "4": 1, "5": 1, "16A": 2}), 13, id="hdrs-mixed"),
    ],
)
def test_it_scores_a_complete_rating_as_the_plain_sum(instrument: str, items: dict, total: int) -> None:
    result = score(instrument, items)
    assert result.total == total
    assert result.raw_sum == total
    assert result.missing == ()
    assert result.prorated is False


@pytest.mark.parametrize(
    ("item", "maximum"),
    [
        ("1", 4),
        ("2", 4),
        ("3", 4),
        ("4", 2),
        ("5", 2),
        ("6", 2),
        ("7", 4),
        ("8", 4),
        ("9", 4),
        ("10", 4),
        ("11", 4),
        ("12", 2),
        ("13", 2),
        ("14", 2),
        ("15", 4),
        ("17", 2),
    ],
)
def test_it_accepts_every_hdrs_item_at_its_maximum_and_refuses_one_more(item: str, maximum: int) -> None:
    assert score(HDRS17, hdrs({item: maximum})).total == maximum
    with pytest.raises(ScoringError) as info:
        score(HDRS17, hdrs({item: maximum + 1}))
    assert item in info.value.errors
    assert f"item {item}" in str(info.value)


@pytest.mark.parametrize("item", ["16A", "16B"])
def test_it_accepts_16a_and_16b_at_two_and_not_assessed_and_refuses_four(item: str) -> None:
    assert score(HDRS17, hdrs({item: 2}, drop=("16A",))).total == 2
    # 3 is "not assessed" (valid, a missing item: no total); 4 is the first refused value.
    assert score(HDRS17, hdrs({item: 3}, drop=("16A",))).total is None
    with pytest.raises(ScoringError) as info:
        score(HDRS17, hdrs({item: 4}, drop=("16A",)))
    assert item in info.value.errors
    assert f"item {item}:" in str(info.value)


@pytest.mark.parametrize("item", [str(n) for n in range(1, 11)])
def test_it_accepts_every_madrs_item_at_six_and_refuses_seven(item: str) -> None:
    assert score(MADRS, madrs({item: 6})).total == 6
    with pytest.raises(ScoringError) as info:
        score(MADRS, madrs({item: 7}))
    assert item in info.value.errors
    assert f"item {item}" in str(info.value)


# --------------------------------------------------------------------------- invalid values


@pytest.mark.parametrize(
    ("instrument", "items", "named"),
    [
        pytest.param(HDRS17, hdrs({"4": 3}), "4", id="hdrs-item4-is-3"),
        pytest.param(HDRS17, hdrs({"1": 5}), "1", id="hdrs-item1-is-5"),
        pytest.param(HDRS17, hdrs({"1": -1}), "1", id="hdrs-negative"),
        pytest.param(HDRS17, hdrs({"17": -1}), "17", id="hdrs-negative-item17"),
        pytest.param(HDRS17, hdrs({"2": "2"}), "2", id="hdrs-string"),
        pytest.param(HDRS17, hdrs({"2": 2.0}), "2", id="hdrs-float"),
        pytest.param(HDRS17, hdrs({"18": 1}), "18", id="hdrs-item18"),
        pytest.param(HDRS17, hdrs({"21": 0}), "21", id="hdrs-item21-even-at-0"),
        pytest.param(HDRS17, hdrs({"16": 1}, drop=("16A",)), "16", id="hdrs-item16-without-A-or-B"),
        pytest.param(HDRS17, hdrs({"16A": 4}), "16A", id="hdrs-16A-is-4"),
        pytest.param(HDRS17, hdrs({"16A": -1}), "16A", id="hdrs-16A-negative"),
        pytest.param(HDRS17, hdrs({"16A": "1"}), "16A", id="hdrs-16A-string"),
        pytest.param(HDRS17, hdrs({"16B": 5}, drop=("16A",)), "16B", id="hdrs-16B-is-5"),
        pytest.param(HDRS17, hdrs({"16A": 1, "16B": 1}), "16", id="hdrs-both-16A-and-16B"),
        pytest.param(HDRS17, hdrs({"16A": 0, "16B": 0}), "16", id="hdrs-both-16A-and-16B-at-0"),
        pytest.param(HDRS17, hdrs({"16A": 3, "16B": 2}), "16", id="hdrs-both-one-not-assessed"),
        pytest.param(MADRS, madrs({"1": 7}), "1", id="madrs-item1-is-7"),
        pytest.param(MADRS, madrs({"10": 7}), "10", id="madrs-item10-is-7"),
        pytest.param(MADRS, madrs({"5": -1}), "5", id="madrs-negative"),
        pytest.param(MADRS, madrs({"5": "3"}), "5", id="madrs-string"),
        pytest.param(MADRS, madrs({"5": 3.0}), "5", id="madrs-float"),
        pytest.param(MADRS, madrs({"11": 0}), "11", id="madrs-item11"),
        pytest.param(MADRS, madrs({"0": 0}), "0", id="madrs-item0"),
        pytest.param(MADRS, madrs({"16A": 0}), "16A", id="madrs-hdrs-item-code"),
    ],
)
def test_it_refuses_an_invalid_value_naming_the_item(instrument: str, items: dict, named: str) -> None:
    with pytest.raises(ScoringError) as info:
        score(instrument, items)
    assert named in info.value.errors
    assert f"item {named}:" in str(info.value)


def test_it_names_every_bad_item_at_once() -> None:
    with pytest.raises(ScoringError) as info:
        score(HDRS17, hdrs({"4": 3, "9": 5, "18": 1}))
    assert set(info.value.errors) == {"4", "9", "18"}


def test_it_refuses_an_unknown_instrument() -> None:
    with pytest.raises(ValueError):
        score("bdi", MADRS_ZERO)


@pytest.mark.parametrize("item", ["16A", "16B"])
def test_it_refuses_a_float_on_item_16_like_on_every_other_item(item: str) -> None:
    items = hdrs({item: 2.0}, drop=("16A",))
    with pytest.raises(ScoringError) as info:
        score(HDRS17, items)
    assert item in info.value.errors


# --------------------------------------------------------------------------- item 16A / 16B


@pytest.mark.parametrize(
    ("rated", "which", "points"),
    [
        pytest.param({"16A": 0}, "16A", 0, id="16A-0"),
        pytest.param({"16A": 1}, "16A", 1, id="16A-1"),
        pytest.param({"16A": 2}, "16A", 2, id="16A-2"),
        pytest.param({"16A": 3}, "16A", None, id="16A-not-assessed-scores-nothing"),
        pytest.param({"16A": 2, "16B": None}, "16A", 2, id="16A-2-16B-None"),
        pytest.param({"16B": 0}, "16B", 0, id="16B-0"),
        pytest.param({"16B": 1}, "16B", 1, id="16B-1"),
        pytest.param({"16B": 2}, "16B", 2, id="16B-2"),
        pytest.param({"16B": 3}, "16B", None, id="16B-not-assessed-scores-nothing"),
        pytest.param({"16A": None, "16B": 2}, "16B", 2, id="16B-2-16A-None"),
        pytest.param({}, None, None, id="neither"),
        pytest.param({"16A": None, "16B": None}, None, None, id="both-None"),
    ],
)
def test_it_scores_item_16_from_the_one_rated_of_16a_and_16b(
    rated: dict, which: str | None, points: int | None
) -> None:
    assert hdrs17_item16(rated) == (which, points)


@pytest.mark.parametrize(
    ("rated", "total"),
    [
        # Items 1 = 4 and 2 = 3 give 7; item 16 adds its points.
        pytest.param({"16A": 2}, 9, id="16A-2"),
        pytest.param({"16A": 0}, 7, id="16A-0"),
        pytest.param({"16B": 2}, 9, id="16B-2"),
        pytest.param({"16A": None, "16B": 1}, 8, id="16B-1-16A-None"),
    ],
)
def test_it_counts_item_16_in_the_total(rated: dict, total: int) -> None:
    items = {**hdrs({"1": 4, "2": 3}, drop=("16A",)), **rated}
    result = score(HDRS17, items)
    assert result.total == total
    assert result.answered == 17
    assert result.missing == ()
    assert result.not_assessed == ()
    assert result.prorated is False


@pytest.mark.parametrize("item", ["16A", "16B"])
def test_not_assessed_on_16a_or_16b_is_a_missing_item_and_never_a_silent_zero(item: str) -> None:
    """SCALES.md: "A "3 = not assessed" choice on 16A/16B is a missing item: stored as "not
    assessed", the total flagged incomplete (the prorating rule applies), never scored as a silent
    0." Items 1 = 4 and 2 = 3 give 7; the old rule gave a complete total of 7."""
    items = {**hdrs({"1": 4, "2": 3}, drop=("16A",)), item: 3}
    result = score(HDRS17, items)
    assert result.total is None
    assert (result.raw_sum, result.answered, result.missing) == (7, 16, ("16",))
    assert result.not_assessed == (item,)
    assert result.prorated is False
    assert hdrs17_item16({item: 3}) == (item, None)


@pytest.mark.parametrize("item", ["16A", "16B"])
def test_not_assessed_on_16a_or_16b_is_prorated_by_maximum_points_when_the_study_allows_it(item: str) -> None:
    """SCALES.md: "optional prorating when <= 2 items are missing - HDRS by maximum possible points
    (sum x 52 / sum of the answered items' maxima) - and a prorated total is flagged as such".
    Item 16 (maximum 2) not assessed: the others sum to 25 out of 50 possible; 25 x 52 / 50 = 26."""
    items = {**hdrs({"1": 4, "2": 4, "3": 2, "7": 4, "8": 4, "9": 4, "10": 3}, drop=("16A",)), item: 3}
    result = score(HDRS17, items, prorating_allowed=True)
    assert (result.total, result.raw_sum, result.prorated) == (26, 25, True)
    assert (result.missing, result.not_assessed) == (("16",), (item,))


def test_not_assessed_counts_towards_the_prorating_limit_of_two_missing_items() -> None:
    """SCALES.md: "optional prorating when <= 2 items are missing": 16A not assessed plus two
    unrated items are three missing, so no total even with prorating allowed."""
    items = hdrs({"16A": 3, "5": None, "17": None, "1": 4})
    result = score(HDRS17, items, prorating_allowed=True)
    assert result.total is None
    assert set(result.missing) == {"16", "5", "17"}
    assert result.not_assessed == ("16A",)


def test_it_counts_item_16_as_missing_when_neither_16a_nor_16b_is_rated() -> None:
    result = score(HDRS17, hdrs({"1": 4}, drop=("16A",)))
    assert result.total is None
    assert result.missing == ("16",)
    assert result.answered == 16
    assert result.raw_sum == 4


# --------------------------------------------------------------------------- missing items


@pytest.mark.parametrize(
    ("instrument", "items", "missing", "raw_sum", "answered"),
    [
        pytest.param(HDRS17, hdrs({"1": 3, "5": None}), {"5"}, 3, 16, id="hdrs-one-None"),
        pytest.param(HDRS17, hdrs({"1": 3}, drop=("9",)), {"9"}, 3, 16, id="hdrs-one-absent"),
        pytest.param(HDRS17, hdrs({"2": 2, "3": None, "17": None}), {"3", "17"}, 2, 15, id="hdrs-two"),
        pytest.param(MADRS, madrs({"1": 5, "10": None}), {"10"}, 5, 9, id="madrs-one-None"),
        pytest.param(MADRS, madrs({"1": 5}, drop=("4", "6")), {"4", "6"}, 5, 8, id="madrs-two-absent"),
    ],
)
def test_it_gives_no_total_for_missing_items_unless_prorating_is_allowed(
    instrument: str, items: dict, missing: set, raw_sum: int, answered: int
) -> None:
    result = score(instrument, items)
    assert result.total is None
    assert set(result.missing) == missing
    assert len(result.missing) == len(missing)
    assert result.raw_sum == raw_sum
    assert result.answered == answered
    assert result.prorated is False


@pytest.mark.parametrize(
    ("instrument", "items", "total", "raw_sum", "missing"),
    [
        # HDRS by maximum possible points: total = sum x 52 / (52 - maxima of the missing items).
        # Item 1 (max 4) missing; 4+4+4+4+2 = 18; 18 x 52 / 48 = 19.5 exactly -> 20 (half up).
        pytest.param(
            HDRS17,
            hdrs({"1": None, "2": 4, "7": 4, "8": 4, "9": 4, "10": 2}),
            20,
            18,
            {"1"},
            id="hdrs-19.5-half-up",
        ),
        # Item 1 missing; 4+2 = 6; 6 x 52 / 48 = 6.5 exactly -> 7 (half up; banker's would give 6).
        pytest.param(HDRS17, hdrs({"1": None, "2": 4, "10": 2}), 7, 6, {"1"}, id="hdrs-6.5-half-up"),
        # Item 1 missing; 4+4+4+4+1 = 17; 17 x 52 / 48 = 18.4167 -> 18.
        pytest.param(
            HDRS17,
            hdrs({"1": None, "2": 4, "7": 4, "8": 4, "9": 4, "10": 1}),
            18,
            17,
            {"1"},
            id="hdrs-18.42-down",
        ),
        # Items 4, 5 (max 2 each) missing; 5 x 4 = 20; 20 x 52 / 48 = 21.667 -> 22.
        pytest.param(
            HDRS17,
            hdrs({"4": None, "5": None, "1": 4, "2": 4, "7": 4, "10": 4, "11": 4}),
            22,
            20,
            {"4", "5"},
            id="hdrs-21.67-up",
        ),
        # Items 3, 7 (max 4 each) missing; 4+4+4+4+2+2+2 = 22; 22 x 52 / 44 = 26.0 -> 26.
        pytest.param(
            HDRS17,
            hdrs({"3": None, "7": None, "1": 4, "2": 4, "10": 4, "11": 4, "4": 2, "5": 2, "6": 2}),
            26,
            22,
            {"3", "7"},
            id="hdrs-26-exact",
        ),
        # Item 4 (max 2) missing; 4x5 + 2+2+1 = 25; by points 25 x 52 / 50 = 26.0 -> 26
        # (by item count it would be 25 x 17 / 16 = 26.5625 -> 27: the rule must be by points).
        pytest.param(
            HDRS17,
            hdrs({"4": None, "1": 4, "2": 4, "7": 4, "10": 4, "11": 4, "5": 2, "6": 2, "12": 1}),
            26,
            25,
            {"4"},
            id="hdrs-by-points-not-count",
        ),
        # Item 16 (neither 16A nor 16B, max 2) and 17 (max 2) missing; 6 x 4 = 24; 24 x 52 / 48 = 26.0.
        pytest.param(
            HDRS17,
            hdrs({"17": None, "1": 4, "2": 4, "7": 4, "8": 4, "10": 4, "11": 4}, drop=("16A",)),
            26,
            24,
            {"16", "17"},
            id="hdrs-item16-missing",
        ),
        # MADRS by item count: total = sum x 10 / answered.
        # Item 5 missing, nine 3s = 27; 27 x 10 / 9 = 30.0 -> 30.
        pytest.param(MADRS, {str(n): 3 for n in range(1, 11) if n != 5}, 30, 27, {"5"}, id="madrs-30.0"),
        # Items 4, 5 missing; 4+4+4+3+3+3+3+3 = 27; 27 x 10 / 8 = 33.75 -> 34.
        pytest.param(
            MADRS,
            madrs({"1": 4, "2": 4, "3": 4, "6": 3, "7": 3, "8": 3, "9": 3, "10": 3}, drop=("4", "5")),
            34,
            27,
            {"4", "5"},
            id="madrs-33.75-up",
        ),
        # Items 4, 5 missing; 4+4+3+3+3+3+3+3 = 26; 26 x 10 / 8 = 32.5 exactly -> 33 (half up).
        pytest.param(
            MADRS,
            madrs({"1": 4, "2": 4, "3": 3, "6": 3, "7": 3, "8": 3, "9": 3, "10": 3}, drop=("4", "5")),
            33,
            26,
            {"4", "5"},
            id="madrs-32.5-half-up",
        ),
        # Items 9, 10 missing; 1+1 = 2; 2 x 10 / 8 = 2.5 exactly -> 3 (half up; banker's gives 2).
        pytest.param(
            MADRS, madrs({"1": 1, "2": 1, "9": None, "10": None}), 3, 2, {"9", "10"}, id="madrs-2.5-half-up"
        ),
        # Items 4, 5 missing; 4+3+3+3+3+3+3+3 = 25; 25 x 10 / 8 = 31.25 -> 31.
        pytest.param(
            MADRS,
            madrs({"1": 4, "2": 3, "3": 3, "6": 3, "7": 3, "8": 3, "9": 3, "10": 3}, drop=("4", "5")),
            31,
            25,
            {"4", "5"},
            id="madrs-31.25-down",
        ),
        # Item 10 missing; 4 + eight 3s = 28; 28 x 10 / 9 = 31.11 -> 31.
        pytest.param(
            MADRS,
            madrs({"1": 4, "2": 3, "3": 3, "4": 3, "5": 3, "6": 3, "7": 3, "8": 3, "9": 3, "10": None}),
            31,
            28,
            {"10"},
            id="madrs-31.11-down",
        ),
    ],
)
def test_it_prorates_at_most_two_missing_items_rounding_half_up_and_flags_it(
    instrument: str, items: dict, total: int, raw_sum: int, missing: set
) -> None:
    result = score(instrument, items, prorating_allowed=True)
    assert result.total == total
    assert isinstance(result.total, int)
    assert result.raw_sum == raw_sum
    assert set(result.missing) == missing
    assert result.prorated is True


@pytest.mark.parametrize(
    ("instrument", "items"),
    [
        pytest.param(HDRS17, hdrs({"1": None, "2": None, "3": None, "7": 4}), id="hdrs-three-None"),
        pytest.param(HDRS17, hdrs({"4": None, "17": None, "7": 4}, drop=("16A",)), id="hdrs-two-plus-item16"),
        pytest.param(MADRS, madrs({"4": 5}, drop=("1", "2", "3")), id="madrs-three-absent"),
        pytest.param(MADRS, {}, id="madrs-empty"),
        pytest.param(HDRS17, {}, id="hdrs-empty"),
    ],
)
def test_it_gives_no_total_with_three_or_more_missing_even_when_prorating(
    instrument: str, items: dict
) -> None:
    result = score(instrument, items, prorating_allowed=True)
    assert result.total is None
    assert len(result.missing) >= 3
    assert result.prorated is False


def test_it_prorates_three_missing_when_the_study_allows_three() -> None:
    # Items 1, 2, 3 missing; seven 3s = 21; 21 x 10 / 7 = 30.0 -> 30.
    items = madrs({str(n): 3 for n in range(4, 11)}, drop=("1", "2", "3"))
    result = score(MADRS, items, prorating_allowed=True, max_missing=3)
    assert (result.total, result.raw_sum, result.answered, result.prorated) == (30, 21, 7, True)


@pytest.mark.parametrize(("instrument", "items", "total"), [(HDRS17, HDRS_MAX, 52), (MADRS, MADRS_ZERO, 0)])
def test_it_does_not_flag_a_complete_rating_as_prorated(instrument: str, items: dict, total: int) -> None:
    result = score(instrument, items, prorating_allowed=True)
    assert (result.total, result.prorated, result.missing) == (total, False, ())


# --------------------------------------------------------------------------- percent change, response


@pytest.mark.parametrize(
    ("baseline", "current", "change"),
    [
        pytest.param(20, 10, 50.0, id="halved"),
        pytest.param(20, 0, 100.0, id="to-zero"),
        pytest.param(20, 20, 0.0, id="unchanged"),
        pytest.param(20, 25, -25.0, id="worsened"),
        pytest.param(30, 16, 46.667, id="30-to-16"),  # 14 / 30 x 100 = 46.666...
        pytest.param(24, 30, -25.0, id="24-to-30-worsened"),
        pytest.param(0, 5, None, id="baseline-zero"),
        pytest.param(0, 0, None, id="baseline-zero-current-zero"),
        pytest.param(None, 10, None, id="baseline-None"),
        pytest.param(20, None, None, id="current-None"),
    ],
)
def test_it_computes_percent_change_from_baseline(
    baseline: int | None, current: int | None, change: float | None
) -> None:
    result = percent_change(baseline, current)
    if change is None:
        assert result is None
    else:
        assert result == pytest.approx(change, abs=0.001)


@pytest.mark.parametrize(
    ("baseline", "current", "kwargs", "expected"),
    [
        pytest.param(20, 10, {}, True, id="exactly-50pct"),
        pytest.param(20, 9, {}, True, id="55pct"),
        pytest.param(20, 11, {}, False, id="45pct"),
        pytest.param(30, 15, {}, True, id="30-to-15"),
        pytest.param(30, 16, {}, False, id="30-to-16"),
        pytest.param(20, 25, {}, False, id="worsened"),
        pytest.param(0, 0, {}, None, id="baseline-zero"),
        pytest.param(None, 10, {}, None, id="baseline-None"),
        pytest.param(20, None, {}, None, id="current-None"),
        pytest.param(20, 12, {"threshold_pct": 40.0}, True, id="threshold-40-at-40"),
        pytest.param(20, 13, {"threshold_pct": 40.0}, False, id="threshold-40-at-35"),
    ],
)
def test_it_calls_response_at_fifty_percent_improvement(baseline, current, kwargs, expected) -> None:  # type: ignore[no-untyped-def]
    assert is_response(baseline, current, **kwargs) is expected


# --------------------------------------------------------------------------- remission


@pytest.mark.parametrize(
    ("instrument", "total", "kwargs", "expected"),
    [
        pytest.param(HDRS17, 0, {}, True, id="hdrs-0"),
        pytest.param(HDRS17, 7, {}, True, id="hdrs-7"),
        pytest.param(HDRS17, 8, {}, False, id="hdrs-8"),
        pytest.param(HDRS17, 10, {}, False, id="hdrs-10-uses-hdrs-cutoff"),
        pytest.param(MADRS, 10, {}, True, id="madrs-10"),
        pytest.param(MADRS, 11, {}, False, id="madrs-11"),
        pytest.param(MADRS, 8, {}, True, id="madrs-8"),
        pytest.param(HDRS17, None, {}, None, id="hdrs-None"),
        pytest.param(MADRS, None, {}, None, id="madrs-None"),
        pytest.param(HDRS17, 6, {"hdrs_max": 6}, True, id="hdrs-override-6-at-6"),
        pytest.param(HDRS17, 7, {"hdrs_max": 6}, False, id="hdrs-override-6-at-7"),
        pytest.param(MADRS, 12, {"madrs_max": 12}, True, id="madrs-override-12-at-12"),
        pytest.param(MADRS, 13, {"madrs_max": 12}, False, id="madrs-override-12-at-13"),
        pytest.param(MADRS, 11, {"hdrs_max": 20}, False, id="madrs-ignores-hdrs-override"),
        pytest.param(HDRS17, 9, {"madrs_max": 20}, False, id="hdrs-ignores-madrs-override"),
    ],
)
def test_it_calls_remission_at_the_cutoff(instrument, total, kwargs, expected) -> None:  # type: ignore[no-untyped-def]
    assert is_remission(instrument, total, **kwargs) is expected


# --------------------------------------------------------------------------- severity


@pytest.mark.parametrize(
    ("instrument", "total", "band"),
    [
        (HDRS17, 0, "none"),
        (HDRS17, 7, "none"),
        (HDRS17, 8, "mild"),
        (HDRS17, 13, "mild"),
        (HDRS17, 14, "moderate"),
        (HDRS17, 18, "moderate"),
        (HDRS17, 19, "severe"),
        (HDRS17, 22, "severe"),
        (HDRS17, 23, "very severe"),
        (HDRS17, 52, "very severe"),
        (HDRS17, None, None),
        (MADRS, 0, "normal"),
        (MADRS, 6, "normal"),
        (MADRS, 7, "mild"),
        (MADRS, 19, "mild"),
        (MADRS, 20, "moderate"),
        (MADRS, 34, "moderate"),
        (MADRS, 35, "severe"),
        (MADRS, 60, "severe"),
        (MADRS, None, None),
    ],
)
def test_it_puts_each_total_in_its_severity_band(
    instrument: str, total: int | None, band: str | None
) -> None:
    assert severity(instrument, total) == band


# --------------------------------------------------------------------------- safety flag


@pytest.mark.parametrize(
    ("instrument", "items", "flag"),
    [
        pytest.param(HDRS17, hdrs({"3": 2}), False, id="hdrs-item3-2"),
        pytest.param(HDRS17, hdrs({"3": 3}), True, id="hdrs-item3-3"),
        pytest.param(HDRS17, hdrs({"3": 4}), True, id="hdrs-item3-4"),
        pytest.param(HDRS17, hdrs({"3": None}), False, id="hdrs-item3-None"),
        pytest.param(HDRS17, hdrs({}, drop=("3",)), False, id="hdrs-item3-absent"),
        pytest.param(HDRS17, hdrs({"10": 4, "1": 4}), False, id="hdrs-other-items-high"),
        pytest.param(MADRS, madrs({"10": 3}), False, id="madrs-item10-3"),
        pytest.param(MADRS, madrs({"10": 4}), True, id="madrs-item10-4"),
        pytest.param(MADRS, madrs({"10": 6}), True, id="madrs-item10-6"),
        pytest.param(MADRS, madrs({"10": None}), False, id="madrs-item10-None"),
        pytest.param(MADRS, madrs({}, drop=("10",)), False, id="madrs-item10-absent"),
        pytest.param(MADRS, madrs({"3": 6, "1": 6}), False, id="madrs-other-items-high"),
    ],
)
def test_it_raises_the_safety_flag_only_at_the_suicide_item_threshold(
    instrument: str, items: dict, flag: bool
) -> None:
    assert safety_flag(instrument, items) is flag


# --------------------------------------------------------------------------- relapse

START = datetime(2025, 3, 3, 10, 0, tzinfo=MEXICO)  # first weekly follow-up


def week(n: int) -> datetime:
    return START + timedelta(weeks=n)


def ratings(*madrs_totals: int | None) -> list[Rating]:
    """Weekly follow-up ratings, week 0, 1, 2, ... with the given MADRS totals."""
    return [Rating(when=week(i), madrs=total) for i, total in enumerate(madrs_totals)]


# Baseline 48: 22 is (48 - 22) / 48 = 54.2 % improvement, 23 is 52.1 %, so those ratings keep the
# response and only the MADRS >= 22 rule can fire. Baseline 30: 15 is exactly 50 % (response kept),
# 16 is 46.7 % (response lost).
@pytest.mark.parametrize(
    ("baseline", "series", "kwargs", "expected_date", "rule_start"),
    [
        pytest.param(
            48, ratings(8, 22, 23, 10), {}, week(1), "MADRS >= 22", id="madrs-22-twice-dated-at-first"
        ),
        pytest.param(48, ratings(8, 12, 22, 22), {}, week(2), "MADRS >= 22", id="madrs-22-twice-at-end"),
        pytest.param(48, ratings(8, 22, 12, 23, 10), {}, None, None, id="madrs-runs-broken"),
        pytest.param(48, ratings(21, 21, 21), {}, None, None, id="madrs-21-never"),
        pytest.param(48, ratings(8, 22), {}, None, None, id="madrs-22-once-at-end"),
        pytest.param(48, ratings(22, None, 22, 8), {}, None, None, id="madrs-None-breaks-run"),
        pytest.param(
            30, ratings(10, 16, 16), {}, week(1), "50 % improvement lost", id="loss-16-16-baseline-30"
        ),
        pytest.param(30, ratings(10, 15, 15, 15), {}, None, None, id="loss-15-is-still-response"),
        pytest.param(30, ratings(16, 15, 16, 12), {}, None, None, id="loss-run-broken"),
        pytest.param(30, ratings(16, None, 16), {}, None, None, id="loss-None-breaks-run"),
        pytest.param(
            30, ratings(10, 16, 16, 16), {"loss_of_response": False}, None, None, id="loss-disabled"
        ),
        pytest.param(
            30,
            ratings(16, 16, 22, 22),
            {"loss_of_response": False},
            week(2),
            "MADRS >= 22",
            id="loss-disabled-madrs-rule-still-on",
        ),
        pytest.param(
            48, ratings(22, 22, 8, 22, 22, 22), {"consecutive": 3}, week(3), "MADRS >= 22", id="consecutive-3"
        ),
        pytest.param(
            48, ratings(22, 22, 8, 22, 22), {"consecutive": 3}, None, None, id="consecutive-3-only-twos"
        ),
        pytest.param(
            30,
            ratings(16, 16, 10, 17, 18, 19),
            {"consecutive": 3},
            week(3),
            "50 % improvement lost",
            id="consecutive-3-loss",
        ),
        pytest.param(48, ratings(8, 20, 20), {"madrs_min": 20}, week(1), "MADRS >= 20", id="madrs-min-20"),
        # Baseline 30: 22 qualifies under both rules from week 1; either way the date is week 1.
        pytest.param(30, ratings(10, 22, 22), {}, week(1), "", id="both-rules-same-run"),
        # Loss run starts week 1 (18 is 40 %), MADRS >= 22 run starts week 2: the earliest wins.
        pytest.param(
            30, ratings(10, 18, 24, 25), {}, week(1), "50 % improvement lost", id="earliest-of-two-rules"
        ),
        # Baseline unknown: loss of response cannot be judged, MADRS >= 22 still can.
        pytest.param(None, ratings(16, 16), {}, None, None, id="baseline-None-no-loss-rule"),
        pytest.param(None, ratings(22, 22), {}, week(0), "MADRS >= 22", id="baseline-None-madrs-rule"),
    ],
)
def test_it_dates_a_relapse_at_the_first_rating_of_the_qualifying_run(
    baseline, series, kwargs, expected_date, rule_start
) -> None:  # type: ignore[no-untyped-def]
    result = relapse(baseline_madrs=baseline, responded=True, ratings=series, **kwargs)
    if expected_date is None:
        assert result is None
    else:
        assert result is not None
        assert result.date == expected_date
        assert result.rule.startswith(rule_start)


def test_it_finds_no_relapse_without_a_prior_response() -> None:
    assert relapse(baseline_madrs=30, responded=False, ratings=ratings(30, 30, 30)) is None
    assert (
        relapse(
            baseline_madrs=30,
            responded=False,
            ratings=ratings(10),
            events=[(week(0) + timedelta(days=2), "hospitalization")],
        )
        is None
    )


def test_it_dates_a_relapse_event_at_the_event() -> None:
    admitted = datetime(2025, 3, 12, 23, 30, tzinfo=MEXICO)
    result = relapse(
        baseline_madrs=30, responded=True, ratings=ratings(10, 12, 11), events=[(admitted, "hospitalization")]
    )
    assert result is not None
    assert result.date == admitted
    assert "hospitalization" in result.rule


@pytest.mark.parametrize(
    ("events", "series", "expected_date", "rule_part"),
    [
        # Event on day 10 precedes the MADRS run starting week 2 (day 14).
        pytest.param(
            [(week(1) + timedelta(days=3), "new treatment")],
            ratings(10, 10, 24, 25),
            week(1) + timedelta(days=3),
            "new treatment",
            id="event-first",
        ),
        # Loss run starts week 1, the event comes on day 30.
        pytest.param(
            [(week(4) + timedelta(days=2), "suicide attempt")],
            ratings(10, 18, 24, 25),
            week(1),
            "50 % improvement lost",
            id="rating-run-first",
        ),
        # Two events: the earlier one, given second, wins.
        pytest.param(
            [(week(3), "hospitalization"), (week(2), "suicide attempt")],
            ratings(10, 10, 10, 10),
            week(2),
            "suicide attempt",
            id="earlier-of-two-events",
        ),
    ],
)
def test_it_takes_the_earliest_of_several_qualifying_relapses(
    events, series, expected_date, rule_part
) -> None:  # type: ignore[no-untyped-def]
    result = relapse(baseline_madrs=30, responded=True, ratings=series, events=events)
    assert result is not None
    assert result.date == expected_date
    assert rule_part in result.rule


def test_it_sorts_ratings_given_out_of_order() -> None:
    # In time order: week 0: 8, week 1: 22, week 2: 23, week 3: 10 -> relapse at week 1.
    shuffled = [
        Rating(when=week(3), madrs=10),
        Rating(when=week(1), madrs=22),
        Rating(when=week(0), madrs=8),
        Rating(when=week(2), madrs=23),
    ]
    result = relapse(baseline_madrs=48, responded=True, ratings=shuffled)
    assert result is not None
    assert result.date == week(1)


def test_it_does_not_join_ratings_that_are_consecutive_only_in_the_given_order() -> None:
    # Given order 22, 22 but in time the 22s are weeks 0 and 2 with a 10 in between: no run.
    shuffled = [
        Rating(when=week(0), madrs=22),
        Rating(when=week(2), madrs=22),
        Rating(when=week(1), madrs=10),
    ]
    assert relapse(baseline_madrs=48, responded=True, ratings=shuffled) is None


def test_it_compares_aware_datetimes_across_time_zones() -> None:
    # 2025-03-10 16:00 UTC is 10:00 in Mexico City (UTC-6): the same instant as week(1).
    utc = ZoneInfo("UTC")
    series = [
        Rating(when=datetime(2025, 3, 17, 16, 0, tzinfo=utc), madrs=23),
        Rating(when=datetime(2025, 3, 10, 16, 0, tzinfo=utc), madrs=22),
        Rating(when=week(0), madrs=8),
    ]
    result = relapse(baseline_madrs=48, responded=True, ratings=series)
    assert result is not None
    assert result.date == week(1)


@pytest.mark.parametrize(("instrument", "item"), [(HDRS17, "1"), (HDRS17, "16A"), (MADRS, "1")])
def test_it_refuses_a_boolean_score(instrument: str, item: str) -> None:
    items = (
        {str(n): 0 for n in range(1, 18) if n != 16} | {"16A": 0}
        if instrument == HDRS17
        else {str(n): 0 for n in range(1, 11)}
    )
    items[item] = True
    with pytest.raises(ScoringError):
        score(instrument, items)


def test_it_lists_missing_hdrs_items_in_item_order() -> None:
    items = {str(n): 0 for n in range(1, 18) if n not in (16, 17)}
    assert score(HDRS17, items).missing == ("16", "17")
