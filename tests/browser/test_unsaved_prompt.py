"""Leaving a form with an entry not yet saved asks first; saving does not (issue 14)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinimetry import services as ratings
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_leaving_a_half_written_query_asks_first_and_raising_it_does_not(
    new_page, coordinator, rater, data_manager
) -> None:
    person = enrolled(coordinator)
    rating = ratings.assessment_save(
        participant=person,
        instrument="madrs",
        task_code="baseline",
        items={str(n): 3 for n in range(1, 11)},
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
    )
    page = new_page()
    sign_in(page, "data_manager", PASSWORD)
    page.goto(f"/review/record/clinimetry.assessment/{rating.pk}/")
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.get_by_label("Question").fill("Half a question")
    page.get_by_role("link", name="Casebook").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    expect(page.get_by_label("Question")).to_have_value("Half a question")  # still here, entry kept
    page.get_by_label("Question").fill("The whole question?")
    page.get_by_role("button", name="Raise the query").click()
    expect(page.get_by_text("raised.")).to_be_visible()
    assert asked == ["beforeunload"]  # saving did not ask
