"""The scale registry: HDRS-17 and MADRS as SCALES.md states them, and a new scale works through
scoring and the rating form from its definition alone (plus its wording)."""

from __future__ import annotations

import pytest

from clinimetry import items, scales, scoring
from clinimetry.forms import AssessmentForm


def test_the_registry_states_hdrs17_and_madrs_as_scales_md_does() -> None:
    hdrs, madrs = scales.HDRS17, scales.MADRS
    assert hdrs.total_max == 52 and madrs.total_max == 60
    assert hdrs.counted == tuple(str(n) for n in range(1, 18))
    assert hdrs.alternatives == (("16A", "16B"),) and hdrs.item("16B").not_assessed == 3
    assert hdrs.maxima["16"] == 2 and hdrs.maxima["3"] == 4
    assert madrs.counted == tuple(str(n) for n in range(1, 11)) and set(madrs.maxima.values()) == {6}
    assert (hdrs.safety_item, madrs.safety_item) == ("3", "10")


@pytest.fixture
def bdi(monkeypatch):  # type: ignore[no-untyped-def]
    """A toy third scale: three items 0-3, the last one rated one of two ways."""
    toy = scales.Scale(
        key="toy",
        name="TOY-3",
        items=(
            scales.Item("1", (0, 1, 2, 3)),
            scales.Item("2a", (0, 1, 2, 3, 9), counts_as="2", not_assessed=9),
            scales.Item("2b", (0, 1, 2, 3, 9), counts_as="2", not_assessed=9),
        ),
        prorate_by="items",
        severity=((2, "low"), (6, "high")),
        safety_item="1",
        safety_min_setting="safety_madrs_item10_min",
        remission_max_setting="remission_madrs_max",
        interview_guide="sigma",
        chart=("#000000", "0"),
    )
    monkeypatch.setitem(scales.SCALES, "toy", toy)
    guide = {s: (f"score {s}", f"puntaje {s}") for s in (0, 1, 2, 3)}
    monkeypatch.setitem(
        items.TABLES,
        "toy",
        {
            "1": ("First", "Primero", guide),
            "2a": ("Second, asked", "Segundo", guide),
            "2b": ("Second, seen", "Segundo", guide),
        },
    )
    return toy


def test_a_new_scale_scores_from_its_definition_alone(bdi) -> None:
    assert scoring.score("toy", {"1": 2, "2a": 3}).total == 5
    not_assessed = scoring.score("toy", {"1": 2, "2b": 9})  # a missing item, not a 0
    assert (not_assessed.total, not_assessed.missing, not_assessed.not_assessed) == (None, ("2",), ("2b",))
    with pytest.raises(scoring.ScoringError, match="not both"):
        scoring.score("toy", {"1": 2, "2a": 1, "2b": 1})
    assert scoring.severity("toy", 5) == "high"
    assert scoring.is_remission("toy", 2, maximum=2) is True
    assert scoring.safety_flag("toy", {"1": 3}, minimum=3) is True


def test_a_new_scale_gets_its_rating_form_from_its_definition(bdi) -> None:
    form = AssessmentForm(
        {"rated_at": "2026-12-01T10:00", "recall_period": "past_week", "interview_guide": "sigma",
         "mode": "in_person", "item_1": "1", "item_2a": "2", "item_2b": "2"},
        instrument="toy",
    )  # fmt: skip
    assert [f.name for f in form.items_field_list()] == ["item_1", "item_2a", "item_2b"]
    assert not form.is_valid()
    assert "not both" in " ".join(form.errors["item_2b"])
