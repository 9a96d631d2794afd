"""No rating saved by accident (issue 13): nothing rated is refused, a partial rating needs the
rater's confirmation of the items left unrated, and what was entered is kept on every refusal."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinimetry import scoring, selectors, services
from clinimetry.forms import unrated_items
from clinimetry.models import Assessment
from tests.clinimetry.test_assessments import HDRS_BASE, MADRS_BASE, _form
from tests.factories import enrolled


@pytest.mark.parametrize(
    ("instrument", "items", "unrated"),
    [
        ("madrs", MADRS_BASE, ()),
        ("madrs", {}, scoring.MADRS_ITEMS),
        ("madrs", {**MADRS_BASE, "3": None, "7": None}, ("3", "7")),
        ("madrs", {"10": 0}, tuple(str(n) for n in range(1, 10))),
        ("hdrs17", HDRS_BASE, ()),
        ("hdrs17", {**HDRS_BASE, "16A": None}, ("16",)),
        ("hdrs17", {**HDRS_BASE, "16A": None, "16B": 3}, ()),  # "not assessed" is an entry
        ("hdrs17", {**HDRS_BASE, "1": None, "17": None}, ("1", "17")),
    ],
)
def test_unrated_items_are_the_counted_items_without_an_entry_in_scale_order(
    instrument, items, unrated
) -> None:
    assert unrated_items(instrument, items) == unrated


def _post(client, person, instrument, data):  # type: ignore[no-untyped-def]
    return client.post(selectors.rate_url(person.pk, instrument, "baseline"), data, HTTP_ACCEPT_LANGUAGE="en")


def test_a_rating_with_no_item_rated_is_refused_with_a_message_and_the_rest_of_the_entry_is_kept(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    data = _form({}, mode="remote", recall_period="past_24h", reason="")
    response = _post(client_for(rater), person, "madrs", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "No item is rated, so nothing was saved." in html
    assert 'id="id_partial_confirmed"' not in html  # nothing to confirm: it is never saved
    assert 'value="remote" checked' in html and '<option value="past_24h" selected>' in html
    assert not Assessment.objects.exists()


def test_the_service_refuses_a_rating_with_no_item_rated_whoever_calls_it(rater, coordinator) -> None:
    person = enrolled(coordinator)
    for items in ({}, {str(n): None for n in range(1, 11)}):
        with pytest.raises(ValidationError, match="No item is rated"):
            services.assessment_save(
                participant=person,
                instrument="madrs",
                task_code="baseline",
                items=items,
                rated_at=timezone.now(),
                recall_period="past_week",
                interview_guide="sigma",
                mode="in_person",
                by=rater,
                now=timezone.now(),
            )
    assert not Assessment.objects.exists()


def test_a_partial_rating_is_refused_first_listing_the_items_not_rated_then_saved_once_confirmed(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    client = client_for(rater)
    items = {k: v for k, v in MADRS_BASE.items() if k not in ("3", "7")}
    first = _post(client, person, "madrs", _form(items))
    html = first.content.decode()
    assert first.status_code == 400
    assert "Not saved: items not rated: 3, 7." in html
    assert 'name="partial_confirmed" id="id_partial_confirmed" value="3,7"' in html
    assert "Save anyway as a partial rating: items 3, 7 are not rated." in html
    assert 'name="item_1" id="id_item_1_3" value="3" checked' in html  # the entry is kept
    assert not Assessment.objects.exists()

    confirmed = _post(client, person, "madrs", _form(items, partial_confirmed="3,7"))
    assert confirmed.status_code == 302
    a = Assessment.objects.get(participant=person, instrument="madrs")
    # The protocol's missing-item rule (no prorating by default): no total, the items listed.
    assert (a.total, a.prorated, a.missing_items) == (None, False, ["3", "7"])
    page = client.get(confirmed.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Partial rating saved (missing items: 3, 7): total —." in page


def test_a_confirmed_partial_rating_keeps_the_prorating_rule_of_the_protocol(
    rater, coordinator, client_for, monkeypatch
) -> None:
    from ketatrial import trial

    prorating = dataclasses.replace(trial.protocol(), prorating_allowed=True)
    monkeypatch.setattr(services, "protocol", lambda: prorating)
    person = enrolled(coordinator)
    items = {k: v for k, v in MADRS_BASE.items() if k != "3"}  # 27 over 9 items
    response = _post(client_for(rater), person, "madrs", _form(items, partial_confirmed="3"))
    assert response.status_code == 302
    a = Assessment.objects.get(participant=person)
    assert (a.total, a.prorated, a.missing_items) == (30, True, ["3"])


def test_a_confirmation_covers_only_the_items_it_listed(rater, coordinator, client_for) -> None:
    person = enrolled(coordinator)
    items = {k: v for k, v in MADRS_BASE.items() if k not in ("3", "7")}
    response = _post(client_for(rater), person, "madrs", _form(items, partial_confirmed="3"))
    assert response.status_code == 400
    assert "items not rated: 3, 7" in response.content.decode()
    assert not Assessment.objects.exists()


def test_hdrs_item_16_is_listed_as_16a_16b_when_neither_is_rated_and_not_assessed_counts_as_rated(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    client = client_for(rater)
    neither = {k: v for k, v in HDRS_BASE.items() if k != "16A"}
    response = _post(client, person, "hdrs17", _form(neither))
    assert response.status_code == 400
    assert "Not saved: items not rated: 16A/16B." in response.content.decode()
    assert _post(client, person, "hdrs17", _form({**neither, "16B": 3})).status_code == 302


def test_a_confirmed_partial_rating_with_another_error_comes_back_with_the_confirmation_ticked(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    items = {k: v for k, v in MADRS_BASE.items() if k != "3"}
    response = _post(client_for(rater), person, "madrs", _form(items, partial_confirmed="3", rated_at=""))
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_partial_confirmed" value="3" checked' in html
    assert not Assessment.objects.exists()


def test_a_complete_rating_is_saved_at_the_first_submission_as_before(rater, coordinator, client_for) -> None:
    person = enrolled(coordinator)
    response = _post(client_for(rater), person, "madrs", _form(MADRS_BASE))
    assert response.status_code == 302
    assert Assessment.objects.get(participant=person).total == 30
