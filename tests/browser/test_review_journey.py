"""Data review in a browser (issue 14): the data manager raises a query, sees it answered by the
rater, closes it and locks the form; the monitor verifies a form and sees a later change lapse
it; the principal investigator signs a casebook; an edit check raises a query by itself."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinimetry import services as ratings
from ketatrial.audit import clinical_update
from review.models import Query
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MADRS = {str(n): 3 for n in range(1, 11)}


def _rating(person, rater, items=None, reason=""):  # type: ignore[no-untyped-def]
    return ratings.assessment_save(
        participant=person,
        instrument="madrs",
        task_code="baseline",
        items=items or MADRS,
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        reason=reason,
    )


def test_the_data_manager_raises_a_query_the_rater_answers_it_and_the_form_is_closed_and_locked(
    new_page, coordinator, rater, data_manager
) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    dm = new_page()
    sign_in(dm, "data_manager", PASSWORD)
    dm.get_by_role("link", name="Casebooks").first.click()
    dm.get_by_role("link", name=person.code).click()
    dm.get_by_role("link", name=str(rating)).click()
    dm.get_by_label("Field").select_option("total")
    dm.get_by_label("Question").fill("The paper form adds up to 31: please check.")
    dm.get_by_role("button", name="Raise the query").click()
    expect(dm.get_by_text("raised.")).to_be_visible()
    query = Query.objects.get()

    rater_page = new_page()
    sign_in(rater_page, "rater", PASSWORD)
    rater_page.goto("/review/queries/")
    rater_page.get_by_role("link", name=str(query)).click()
    expect(rater_page.get_by_text("The paper form adds up to 31")).to_be_visible()
    rater_page.get_by_label("Answer").fill("Checked the source: 30 is right, item 3 was misread.")
    rater_page.get_by_role("button", name="Send the answer").click()
    expect(rater_page.get_by_text("Answer sent.")).to_be_visible()

    dm.goto(f"/review/queries/{query.pk}/")
    expect(dm.get_by_text("item 3 was misread")).to_be_visible()
    dm.get_by_label("Reason for closing").fill("Answer confirmed against the source")
    dm.get_by_role("button", name="Close the query").click()
    expect(dm.get_by_text("Query closed.")).to_be_visible()
    dm.get_by_role("link", name="review the form").click()
    dm.get_by_role("button", name="Lock the form").click()
    expect(dm.get_by_text("Form locked.")).to_be_visible()
    query.refresh_from_db()
    assert query.state == "closed"
    with pytest.raises(Exception, match="locked"):
        _rating(person, rater, items={**MADRS, "1": 4}, reason="late correction")


def test_the_monitor_verifies_a_form_and_a_later_change_lapses_it(
    new_page, coordinator, rater, monitor
) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    page = new_page()
    sign_in(page, "monitor", PASSWORD)
    page.get_by_role("link", name="Casebooks").first.click()
    page.get_by_role("link", name=person.code).click()
    page.get_by_role("link", name=str(rating)).click()
    page.get_by_role("button", name="Record verification").click()
    expect(page.get_by_text("Whole form verified")).to_be_visible()
    clinical_update(rating, by=rater, reason="was a remote interview", changes={"mode": "remote"})
    page.reload()
    expect(page.get_by_text("Verifications that lapsed")).to_be_visible()
    expect(page.get_by_text("changed after verification (mode) by rater")).to_be_visible()
    page.get_by_role("link", name="Casebook").click()
    expect(page.get_by_text("0 of")).to_be_visible()


def test_the_principal_investigator_signs_a_casebook(
    new_page, coordinator, rater, principal_investigator
) -> None:
    person = enrolled(coordinator)
    _rating(person, rater)
    page = new_page()
    sign_in(page, "principal_investigator", PASSWORD)
    page.get_by_role("link", name="Casebooks").first.click()
    page.get_by_role("link", name=person.code).click()
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_text("not right: not signed")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_text("Casebook signed.")).to_be_visible()
    expect(page.get_by_text("Signed", exact=True)).to_be_visible()


def test_an_edit_check_raises_a_query_the_data_manager_sees(
    new_page, coordinator, rater, data_manager
) -> None:
    person = enrolled(coordinator)
    _rating(person, rater, items={**MADRS, "4": None, "7": None, "9": None})
    page = new_page()
    sign_in(page, "data_manager", PASSWORD)
    page.get_by_role("link", name="Queries").first.click()
    expect(page.get_by_text("edit check")).to_be_visible()
    expect(page.get_by_text("Saved incomplete")).to_be_visible()
