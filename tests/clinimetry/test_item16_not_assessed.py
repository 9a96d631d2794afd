"""HDRS-17 item 16 rated "not assessed" through the rating service and pages (issue 13).

SCALES.md: "A "3 = not assessed" choice on 16A/16B is a missing item: stored as "not assessed",
the total flagged incomplete (the prorating rule applies), never scored as a silent 0."
"""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clinimetry import selectors, services
from clinimetry.models import Assessment
from tests.conftest import PASSWORD
from tests.factories import enrolled

# Fifteen items at 2 and item 17 at 1: 31 without item 16 (out of 50 possible without it).
WITHOUT_16 = {str(n): 2 for n in range(1, 16)} | {"17": 1}


def _save(person, rater, items, **kwargs):  # type: ignore[no-untyped-def]
    return services.assessment_save(
        participant=person,
        instrument="hdrs17",
        task_code="baseline",
        items=items,
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="sigh_d",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        **kwargs,
    )


@pytest.mark.parametrize("item", ["16A", "16B"])
def test_not_assessed_is_stored_as_entered_with_item_16_missing_and_no_total(
    rater, coordinator, client_for, item
) -> None:
    """The old rule stored a complete total of 31 (16A = 3 scored 0)."""
    person = enrolled(coordinator)
    a = _save(person, rater, {**WITHOUT_16, item: 3})
    a.refresh_from_db()
    assert a.items[item] == 3  # "not assessed" as the registry codes it
    assert (a.total, a.prorated, a.missing_items, a.not_assessed_items) == (None, False, ["16"], [item])
    page = client_for(rater).get(reverse("clinimetry:assessment", args=[a.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert f"missing: 16; not assessed: {item}" in html


def test_a_rating_with_item_16_not_assessed_cannot_be_signed_as_complete(rater, coordinator) -> None:
    """SCALES.md: the total is "flagged incomplete"; an incomplete rating (no total) is not signed."""
    person = enrolled(coordinator)
    a = _save(person, rater, {**WITHOUT_16, "16A": 3})
    with pytest.raises(ValidationError, match="incomplete"):
        services.assessment_sign(assessment=a, password=PASSWORD, by=rater, now=timezone.now())


def test_with_prorating_allowed_not_assessed_gives_a_prorated_total_flagged_as_such(
    rater, coordinator, monkeypatch
) -> None:
    """SCALES.md: "HDRS by maximum possible points (sum x 52 / sum of the answered items'
    maxima)": 31 x 52 / 50 = 32.24 -> 32, flagged prorated."""
    from ketatrial import trial

    prorating = dataclasses.replace(trial.protocol(), prorating_allowed=True)
    monkeypatch.setattr(services, "protocol", lambda: prorating)
    person = enrolled(coordinator)
    a = _save(person, rater, {**WITHOUT_16, "16B": 3})
    a.refresh_from_db()
    assert (a.total, a.prorated, a.missing_items, a.not_assessed_items) == (32, True, ["16"], ["16B"])


def test_the_derived_values_of_a_rating_with_item_16_not_assessed_are_undefined(rater, coordinator) -> None:
    """No total, so no percent change, response, remission or severity band (never from a 0)."""
    person = enrolled(coordinator)
    _save(person, rater, {**WITHOUT_16, "16A": 3})
    (row,) = selectors.derived_rows(person)
    assert (row.percent_change, row.response, row.remission, row.severity) == (None, None, None, "")
    assert Assessment.objects.get().not_assessed_items == ["16A"]
