"""Browser journeys of issue 13: no rating lost to the inactivity sign-out, none saved by Enter.

The live server runs in this process, so the `settings` fixture shortens the inactivity timeout
for it to a few seconds."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from clinimetry import selectors
from clinimetry.models import Assessment
from ketatrial.middleware import LAST_SEEN_KEY
from tests.browser.conftest import rating_items_focus, sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _score(page, digits: str, pause_ms: int = 0) -> None:  # type: ignore[no-untyped-def]
    rating_items_focus(page)
    for digit in digits:
        page.keyboard.press(digit)
        if pause_ms:
            page.wait_for_timeout(pause_ms)


def _sign_in_here(page) -> None:  # type: ignore[no-untyped-def]
    """Sign in on the sign-in page the sign-out led to (its return address kept)."""
    page.get_by_label("Username").fill("rater")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_a_rater_scoring_longer_than_the_timeout_stays_signed_in_and_may_stay_when_warned(
    new_page, rater, coordinator, settings
) -> None:
    settings.INACTIVITY_TIMEOUT_SECONDS = 8
    person = enrolled(coordinator)
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.goto(selectors.rate_url(person.pk, "madrs", "baseline"))
    started = time.monotonic()
    _score(page, "2222222222", pause_ms=1300)  # 13 s of scoring against an 8 s timeout
    assert time.monotonic() - started > settings.INACTIVITY_TIMEOUT_SECONDS
    expect(page.locator("#live-total")).to_have_text("20")

    warning = page.locator("#inactivity-warning")
    expect(warning).to_be_visible(timeout=10_000)  # idle: warned before the end
    expect(warning).to_contain_text("You will be signed out for inactivity in")
    warning.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    page.wait_for_timeout(3000)  # past the moment the session would have ended unrenewed

    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 20.")).to_be_visible()
    assert Assessment.objects.get(participant=person).rater == rater


def test_a_rating_left_open_past_the_timeout_is_kept_and_saved_after_signing_in_again(
    new_page, rater, coordinator, settings
) -> None:
    settings.INACTIVITY_TIMEOUT_SECONDS = 4
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.goto(url)
    _score(page, "2222222222")
    # The rater walks away: the page sends the entry to be kept and leaves for the sign-in page.
    page.wait_for_url(lambda u: "/accounts/login/" in u, timeout=20_000)
    expect(page.get_by_text("what you entered was kept")).to_be_visible()
    assert not Assessment.objects.exists()

    settings.INACTIVITY_TIMEOUT_SECONDS = 60  # the review below is not a race against the clock
    _sign_in_here(page)
    assert url in page.url
    expect(page.get_by_text("Not saved yet: what you entered is shown again.")).to_be_visible()
    expect(page.locator("#live-total")).to_have_text("20")
    assert not Assessment.objects.exists()  # shown for review, not saved
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 20.")).to_be_visible()
    assert Assessment.objects.get(participant=person).rater == rater


def test_a_rating_saved_after_the_session_expired_is_kept_and_saved_after_signing_in_again(
    new_page, rater, coordinator, settings
) -> None:
    """The tester's case: the session ended while the page was open (a laptop asleep, say) and
    Save arrives after it."""
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.goto(url)
    _score(page, "3333333333")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[LAST_SEEN_KEY] = time.time() - settings.INACTIVITY_TIMEOUT_SECONDS - 1
    session.save()

    page.get_by_role("button", name="Save rating").click()
    page.wait_for_url(lambda u: "/accounts/login/" in u)
    expect(page.get_by_text("You were signed out after a period of inactivity.")).to_be_visible()
    assert not Assessment.objects.exists()
    _sign_in_here(page)
    expect(page.locator("#live-total")).to_have_text("30")
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 30.")).to_be_visible()
    assert Assessment.objects.get(participant=person).total == 30


def test_enter_in_a_radio_or_the_date_field_saves_nothing_and_a_partial_rating_needs_confirmation(
    new_page, rater, coordinator
) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.goto(url)
    _score(page, "1111111111")  # complete: before the fix, Enter saved it
    expect(page.locator("#id_rated_at")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#id_item_4_2").check()
    page.locator("#id_item_4_2").focus()
    page.keyboard.press("Enter")
    page.locator('[name="mode"][value="remote"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(1000)
    assert not Assessment.objects.exists()
    assert page.url.endswith(url)
    expect(page.locator("#live-total")).to_have_text("11")

    # A partial rating is refused once, listing what is missing, and saved when confirmed.
    page.goto(url)  # a fresh form (a reload would restore the radios)
    _score(page, "11")
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Not saved: items not rated: 3, 4, 5, 6, 7, 8, 9, 10.")).to_be_visible()
    assert not Assessment.objects.exists()
    page.get_by_label("Save anyway as a partial rating: items 3, 4, 5, 6, 7, 8, 9, 10 are not rated.").check()
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Partial rating saved (missing items: 3, 4, 5, 6, 7, 8, 9, 10)")).to_be_visible()
    assert Assessment.objects.get(participant=person).missing_items == [str(n) for n in range(3, 11)]
