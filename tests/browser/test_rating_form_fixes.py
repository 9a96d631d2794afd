"""Browser journey of issue 15, item 7: HDRS-17 by keyboard with 16A/16B, clearing an item, and
the review of every item before signing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinimetry import selectors
from clinimetry.models import Assessment
from tests.browser.conftest import rating_items_focus, sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_rater_scores_16a_by_keyboard_clears_it_for_16b_and_reviews_every_item_before_signing(
    new_page, rater, coordinator
) -> None:
    person = enrolled(coordinator)
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.goto(selectors.rate_url(person.pk, "hdrs17", "baseline"))
    group = {code: page.locator(f'[data-field="item_{code}"]') for code in ("1", "16A", "16B", "17")}

    rating_items_focus(page)
    for _ in range(16):  # items 1-15, then 16A
        page.keyboard.press("1")
    # 16A scored: 16B is not applicable, and the next digit goes to item 17.
    expect(group["17"]).to_be_focused()
    expect(group["16B"].get_by_role("radio").first).to_be_disabled()
    expect(group["16B"]).to_contain_text("Not rated: item 16A is rated instead.")
    page.keyboard.press("0")
    expect(page.locator("#live-total")).to_have_text("16")

    # Cleared from the keyboard: the Clear control of 16A, then 16B can be scored instead.
    clear_16a = group["16A"].get_by_role("button", name="Clear 16A. Loss of weight (by history)")
    clear_16a.focus()
    page.keyboard.press("Enter")
    expect(group["16A"].locator("input:checked")).to_have_count(0)
    expect(page.locator("#live-total")).to_have_text("15 (1 missing)")
    expect(group["16B"].get_by_role("radio").first).to_be_enabled()
    group["16B"].focus()
    page.keyboard.press("2")
    expect(group["17"]).to_be_focused()
    expect(group["16A"].get_by_role("radio").first).to_be_disabled()
    # Delete clears the focused item, and it can be scored again.
    group["1"].focus()
    page.keyboard.press("Delete")
    expect(page.locator("#live-total")).to_have_text("16 (1 missing)")
    page.keyboard.press("3")
    expect(page.locator("#live-total")).to_have_text("19")

    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 19.")).to_be_visible()
    # Before signing: every item with its score and meaning, and the total.
    table = page.locator("#item-scores")
    expect(table.get_by_role("row")).to_have_count(1 + 18 + 1)  # heading, 16A and 16B, total
    expect(table.get_by_role("row", name="1. Depressed mood")).to_contain_text("3Shown without words")
    expect(table.get_by_role("row", name="16A. Loss of weight (by history)")).to_contain_text(
        "not applicable: 16B is rated"
    )
    expect(table.get_by_role("row", name="16B. Loss of weight (measured)")).to_contain_text(
        "2More than 1 kg in the week"
    )
    expect(table.get_by_role("row", name="Total")).to_contain_text("19")
    page.get_by_label("Your password (electronic signature)").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_text("Signed.")).to_be_visible()
    saved = Assessment.objects.get(participant=person, instrument="hdrs17")
    assert saved.items["16A"] is None and saved.items["16B"] == 2 and saved.items["1"] == 3
    assert saved.total == 19 and saved.signed_by == rater
