"""Playwright on Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium found: apt-get install chromium (or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, live_server) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    contexts = []

    def make(locale: str = "en-US"):  # type: ignore[no-untyped-def]
        context = chromium.new_context(
            locale=locale, timezone_id="America/Mexico_City", base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def totp_code(key: bytes, *, after_step: int = -1) -> str:
    """The authenticator app's current code for `key` (RFC 6238, as the app computes it), for a
    time step after `after_step`: the server accepts each step once, and one step ahead."""
    from django_otp.oath import TOTP

    totp = TOTP(key)
    while True:
        now = time.time()
        totp.time = now
        step = totp.t()
        if after_step < step:
            return f"{totp.token():06d}"
        if after_step == step:  # this step's code was used: the next step's is accepted already
            totp.time = now + 30
            return f"{totp.token():06d}"
        time.sleep(30 - now % 30 + 0.1)


def pass_second_factor(page, username: str) -> None:  # type: ignore[no-untyped-def]
    """On the second-factor page, type the code the person's app would show: the first time, the
    app is set up from the secret the page shows; afterwards, from the device on record."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    secret = page.locator("#totp-secret")
    if secret.count():
        text = secret.inner_text().replace(" ", "")
        key = base64.b32decode(text + "=" * (-len(text) % 8))
        code = totp_code(key)
    else:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        code = totp_code(device.bin_key, after_step=device.last_t)
    page.get_by_label("Code from the authenticator app").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Verify|Confirm and continue")).click()


def sign_in(page, username: str, password: str, *, succeed: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Through the sign-in form; an account that needs the second factor types a real TOTP code."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if succeed:
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        if "/accounts/second-factor/" in page.url:
            pass_second_factor(page, username)
            page.wait_for_url(lambda url: "/accounts/second-factor/" not in url)
