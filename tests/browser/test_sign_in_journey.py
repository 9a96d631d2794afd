"""Browser journey of the second factor: the PI sets up an authenticator app from the page's QR
code and secret, and signs in again later with a real TOTP code computed here as the app would."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import totp_code
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _password(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_pi_sets_up_the_app_then_signs_in_with_a_totp_code(new_page, principal_investigator) -> None:
    page = new_page()
    _password(page, "principal_investigator")
    # The password alone opens nothing: the first time, the page sets up the app.
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    qr = page.get_by_role("img", name="QR code for setting up the authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")  # the SVG really draws
    text = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    page.goto("/outcomes/")
    expect(page).to_have_url(re.compile(r"/accounts/second-factor/\?next=%2Foutcomes%2F$"))
    page.get_by_label("Code from the authenticator app").fill(
        "000000" if totp_code(key) != "000000" else "111111"
    )
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.wait_for_timeout(1100)  # the back-off after a wrong code
    page.get_by_label("Code from the authenticator app").fill(totp_code(key))
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("Your authenticator app is set up.")).to_be_visible()
    assert "/outcomes/" in page.url, "back to the page asked for"

    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    _password(page, "principal_investigator")
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(page.locator("#totp-secret")).to_have_count(0)  # set up: the secret is never shown again
    from django_otp.plugins.otp_totp.models import TOTPDevice

    used = TOTPDevice.objects.get(user=principal_investigator).last_t
    page.get_by_label("Code from the authenticator app").fill(totp_code(key, after_step=used))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Principal investigator")).to_be_visible()
