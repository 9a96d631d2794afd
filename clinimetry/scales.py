"""The registry of rating scales (pure; no Django). See SCALES.md.

Everything that differs between scales lives in one `Scale` definition: its items and their valid
scores, items rated in one of several ways (HDRS-17 item 16 as 16A by history or 16B by measured
weight, where "not assessed" is a missing item, never a 0), how a total is prorated, severity
bands, the safety item, which protocol settings hold its remission cut-off and safety threshold,
its interview guide and its chart style. Scoring, forms, the rating page's script, the data set, ODM and the codebook read
the registry; adding a scale is one new definition here (plus its item wording in items.py).
The infusion-day CADSS is defined here too, apart from the raters' scales (INFUSION_DAY_SCALES),
and `recall_default` turns the protocol's rule into the recall period a rating form offers first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One rated item: its code, the scores that may be entered, and (for an item rated in one of
    several ways) the item it counts as and the entry that means "not assessed". That entry is
    stored as entered (the registry says what it means) and scores nothing: the counted item is
    missing, so the total is incomplete or prorated under the missing-item rule (SCALES.md)."""

    code: str
    choices: tuple[int, ...]
    counts_as: str = ""
    not_assessed: int | None = None

    @property
    def counted(self) -> str:
        return self.counts_as or self.code

    @property
    def max_points(self) -> int:
        return max(c for c in self.choices if c != self.not_assessed)

    def points(self, value: int) -> int | None:
        """The points an entry scores; None for "not assessed" (a missing item, never 0)."""
        return None if self.is_not_assessed(value) else value

    def is_not_assessed(self, value: object) -> bool:
        return self.not_assessed is not None and value == self.not_assessed


@dataclass(frozen=True)
class Scale:
    key: str
    name: str
    items: tuple[Item, ...]
    prorate_by: str  # "points": sum x full / answered maxima; "items": sum x n / answered
    severity: tuple[tuple[int, str], ...]  # (upper bound, label), ascending
    safety_item: str
    safety_min_setting: str  # Protocol attribute: the item score that alerts the PI
    remission_max_setting: str  # Protocol attribute: the remission cut-off
    interview_guide: str  # Assessment.Guide value
    chart: tuple[str, str]  # line colour and SVG dash pattern
    unknown_hint: str = ""

    @property
    def counted(self) -> tuple[str, ...]:
        """The items that make the total, in order (16A/16B count once, as 16)."""
        seen: list[str] = []
        for item in self.items:
            if item.counted not in seen:
                seen.append(item.counted)
        return tuple(seen)

    @property
    def maxima(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.counted] = max(out.get(item.counted, 0), item.max_points)
        return out

    @property
    def total_max(self) -> int:
        return sum(self.maxima.values())

    def members(self, counted: str) -> tuple[Item, ...]:
        """The entered items that score `counted` (one, or the alternatives such as 16A/16B)."""
        return tuple(i for i in self.items if i.counted == counted)

    @property
    def alternatives(self) -> tuple[tuple[str, ...], ...]:
        """Groups of items of which only one may be rated (HDRS-17: 16A or 16B)."""
        return tuple(tuple(i.code for i in self.members(c)) for c in self.counted if len(self.members(c)) > 1)

    def item(self, code: str) -> Item:
        return next(i for i in self.items if i.code == code)


def _range(n: int) -> tuple[int, ...]:
    return tuple(range(n + 1))


HDRS17 = Scale(
    key="hdrs17",
    name="HDRS-17",
    items=(
        *(
            Item(str(n), _range(m))
            for n, m in ((1, 4), (2, 4), (3, 4), (4, 2), (5, 2), (6, 2), (7, 4), (8, 4), (9, 4), (10, 4))
        ),
        *(Item(str(n), _range(m)) for n, m in ((11, 4), (12, 2), (13, 2), (14, 2), (15, 4))),
        # Item 16 is rated by history (16A) or by measured weight (16B); 3 = not assessed, which
        # leaves item 16 missing (SCALES.md: "never scored as a silent 0").
        Item("16A", (0, 1, 2, 3), counts_as="16", not_assessed=3),
        Item("16B", (0, 1, 2, 3), counts_as="16", not_assessed=3),
        Item("17", _range(2)),
    ),
    prorate_by="points",
    severity=((7, "none"), (13, "mild"), (18, "moderate"), (22, "severe"), (52, "very severe")),
    safety_item="3",
    safety_min_setting="safety_hdrs_item3_min",
    remission_max_setting="remission_hdrs17_max",
    interview_guide="sigh_d",
    chart=("#1f4e79", "0"),
    unknown_hint="items 18-21 never count",
)

MADRS = Scale(
    key="madrs",
    name="MADRS",
    items=tuple(Item(str(n), _range(6)) for n in range(1, 11)),
    prorate_by="items",
    severity=((6, "normal"), (19, "mild"), (34, "moderate"), (60, "severe")),  # Snaith 1986
    safety_item="10",
    safety_min_setting="safety_madrs_item10_min",
    remission_max_setting="remission_madrs_max",
    interview_guide="sigma",
    chart=("#7f7f7f", "6 3"),
)

SCALES: dict[str, Scale] = {s.key: s for s in (HDRS17, MADRS)}

# The infusion-day dissociation scale (SCALES.md): 23 items, 0-4 each, total 0-92. Entered by the
# infusion physician on the session page (infusions/), not a rater's scale: it stays out of
# SCALES, which the rater's pages, the outcome data set, ODM and the codebook read. Its items'
# names and guidance are in items.py like the others'.
CADSS = Scale(
    key="cadss",
    name="CADSS",
    items=tuple(Item(str(n), _range(4)) for n in range(1, 24)),
    prorate_by="items",
    severity=(),
    safety_item="",
    safety_min_setting="",
    remission_max_setting="",
    interview_guide="",
    chart=("#000000", "0"),
)


INFUSION_DAY_SCALES: dict[str, Scale] = {CADSS.key: CADSS}


def get_any(key: str) -> Scale:
    """A rater's scale or an infusion-day one (for the forms and wording shared by both)."""
    found = SCALES.get(key) or INFUSION_DAY_SCALES.get(key)
    if found is None:
        raise ValueError(f"unknown instrument {key!r}")
    return found


def recall_default(
    serves: tuple[str, ...], *, by_timepoint: tuple[tuple[str, str], ...], otherwise: str
) -> str:
    """The recall period a rating form offers first for a task serving these timepoints (the
    schedule's words, "4h after infusion 1", "pre-dose infusion 3", "follow-up week 2"): the rule
    of the first timepoint whose kind (its first word) the protocol names, else `otherwise`. The
    rater may change it; the recall period used is stored with the rating. A task serving two
    timepoints (the 72 h rating that is also a pre-dose one) follows the first, the one it is
    scheduled as."""
    rules = dict(by_timepoint)
    for timepoint in serves:
        kind = timepoint.split(" ", 1)[0]
        if kind in rules:
            return rules[kind]
    return otherwise


def get(key: str) -> Scale:
    try:
        return SCALES[key]
    except KeyError:
        raise ValueError(f"unknown instrument {key!r}") from None
