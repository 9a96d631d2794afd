"""The Content-Security-Policy in a real browser: every role walks its home's links, the protocol
and a participant's pages, and Chromium reports no script, handler or style it refused."""

from __future__ import annotations

import pytest

from ketatrial.protocol import ROLES
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_page_a_role_walks_breaks_the_content_security_policy(new_page, personas, settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    participant = enrolled(personas["coordinator"])
    refused: list[str] = []
    walked = 0
    for role in ROLES:
        page = new_page()
        page.on(
            "console",
            lambda message, role=role: (
                refused.append(f"{role} {page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        sign_in(page, role, PASSWORD)
        links = page.locator("main .list-group-item a").evaluate_all("links => links.map(a => a.pathname)")
        for path in [*links, "/protocol/", f"/participants/{participant.pk}/"]:
            response = page.goto(path)
            if response is not None and response.status == 200:
                walked += 1
                page.wait_for_load_state("load")
    assert walked > 30
    assert not refused, refused
