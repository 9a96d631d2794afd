"""Keyboard and screen-reader behaviour axe-core cannot see (issue 15, item 9): the rating form's
sticky total never covers the focused item, and a form's error summary takes the focus and leads
to the field in error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinimetry import selectors
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_sticky_total_never_covers_the_focused_item_and_errors_lead_to_their_field(
    new_page, rater, coordinator
) -> None:
    person = enrolled(coordinator)
    page = new_page()
    page.set_viewport_size({"width": 1000, "height": 600})
    page.emulate_media(reduced_motion="reduce")  # scrolls at once, not smoothly: positions are final
    sign_in(page, "rater", PASSWORD)
    page.goto(selectors.rate_url(person.pk, "hdrs17", "baseline"))
    bar = page.locator("main .sticky-top")
    item = page.locator('[data-field="item_9"]')
    # Scrolled so that item 9 starts just under the top of the window, behind the sticky bar.
    page.evaluate(
        "([item]) => window.scrollBy(0, item.getBoundingClientRect().top - 10)",
        [item.element_handle()],
    )
    assert item.bounding_box()["y"] < bar.bounding_box()["y"] + bar.bounding_box()["height"]
    item.focus()
    expect(item).to_be_focused()
    bar_bottom = bar.bounding_box()["y"] + bar.bounding_box()["height"]
    assert item.bounding_box()["y"] >= bar_bottom

    page.goto("/accounts/password/")
    page.locator("#id_old_password").fill("not-the-password")
    page.locator("#id_new_password1").fill("Another-horse-43")
    page.locator("#id_new_password2").fill("Another-horse-43")
    with page.expect_navigation():
        page.get_by_role("button", name="Change password").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Old password").click()
    expect(page.locator("#id_old_password")).to_be_focused()
    expect(page.locator("#id_old_password")).to_have_attribute("aria-invalid", "true")
