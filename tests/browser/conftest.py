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


# Accessibility: axe-core (bundled with axe-playwright-python, no download) checks every page a
# journey visits against WCAG 2.0, 2.1 and 2.2, levels A and AA. Each document hands its DOM to
# the test as soon as it is parsed (a binding called from an init script: nothing is missed however
# fast the journey moves on, and the journey is not slowed); after the test, axe runs once on each
# distinct page (URL, and whether it shows form errors) replayed at its own URL with its styles.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
AXE_SNAPSHOT = """addEventListener("DOMContentLoaded", () => {
  if (location.protocol.startsWith("http") && window.top === window)
    window.__axeSnapshot(location.href, document.documentElement.outerHTML);
});"""
FORM_ERRORS = re.compile(r'aria-invalid="true"|is-invalid|alert-danger')


class AxeAudit:
    def __init__(self) -> None:
        self.pages: dict[tuple[str, bool], str] = {}

    def snapshot(self, source, url: str, html: str) -> None:  # type: ignore[no-untyped-def]
        self.pages.setdefault((url.split("#")[0], bool(FORM_ERRORS.search(html))), html)

    def violations(self, chromium) -> list[str]:  # type: ignore[no-untyped-def]
        """Each page replayed without its scripts (the DOM is as they left it), then axe."""
        from axe_playwright_python.base import AXE_SCRIPT

        if not self.pages:
            return []
        replay: dict[str, str] = {}

        def serve(route, request) -> None:  # type: ignore[no-untyped-def]
            if request.url in replay and request.is_navigation_request():
                route.fulfill(body="<!doctype html>" + replay[request.url], content_type="text/html")
            elif request.resource_type == "script":
                route.abort()
            else:
                route.fallback()

        context = chromium.new_context(timezone_id="America/Mexico_City")
        context.route("**/*", serve)
        page = context.new_page()
        found = []
        for (url, errors), html in self.pages.items():
            replay = {url: html}
            page.goto(url)
            page.evaluate(AXE_SCRIPT)
            result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
            if os.environ.get("AXE_LOG"):  # one line per page checked, to count them
                with open(os.environ["AXE_LOG"], "a") as log:
                    log.write(f"{url} errors={errors} violations={len(result['violations'])}\n")
            for v in result["violations"]:
                targets = "; ".join(
                    " ".join(n["target"]) + " (" + (n["any"] or n["all"] or n["none"])[0]["message"] + ")"
                    for n in v["nodes"][:5]
                )
                found.append(
                    f"{url}{' (with form errors)' if errors else ''} [{v['id']}] {v['help']}: {targets}"
                )
        context.close()
        return found


@pytest.fixture
def new_page(chromium, live_server) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    contexts = []
    axe = AxeAudit()

    def make(locale: str = "en-US"):  # type: ignore[no-untyped-def]
        context = chromium.new_context(
            locale=locale, timezone_id="America/Mexico_City", base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        context.expose_binding("__axeSnapshot", axe.snapshot)
        context.add_init_script(AXE_SNAPSHOT)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    violations = axe.violations(chromium)
    if violations:
        pytest.fail("WCAG 2.2 A/AA violations (axe-core):\n" + "\n".join(violations), pytrace=False)


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


def rating_items_focus(page, item: str = "1"):  # type: ignore[no-untyped-def]
    """Focus a rating form's item once the form's script is running (keyboard entry is its work:
    a digit typed before it ran, as a fast test on a busy machine can, would go nowhere)."""
    from playwright.sync_api import expect

    expect(page.locator("#rating-form")).to_have_attribute("data-ready", "1")
    page.locator(f'[data-field="item_{item}"]').focus()


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
