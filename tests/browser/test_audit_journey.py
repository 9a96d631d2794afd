"""Browser journey of the audit trail (issue 14, item 4): the data manager filters the trail by
participant and reads an item change with its label."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_data_manager_filters_the_trail_by_participant_and_reads_an_item_change(
    new_page, coordinator, pharmacist, data_manager, settings
) -> None:
    from participants import allocation
    from tests.factories import randomized
    from tests.ketatrial.test_audit_trail import _corrected_item_4

    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    now = timezone.now() - timedelta(hours=1)
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=21)
    first, second = randomized(coordinator, now=now), randomized(coordinator, now=now)
    _corrected_item_4(first)

    page = new_page()
    sign_in(page, "data_manager", PASSWORD)
    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    expect(page.get_by_role("cell", name=second.code).first).to_be_visible()
    page.get_by_label("Participant ID").fill(first.code)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(rf"participant={first.code}"))
    expect(page.get_by_role("cell", name=second.code)).to_have_count(0)
    row = page.get_by_role("row").filter(has_text="Item 4 misread from the interview notes")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("baseline_rater")
    change = row.get_by_role("listitem").filter(has_text="item 4 (Insomnia: early)")
    expect(change).to_have_text(re.compile(r"item 4 \(Insomnia: early\):\s*2\s*→\s*1"))
    # Only the changed item: no other item of the 17 in this entry.
    expect(row.get_by_role("listitem").filter(has_text=re.compile(r"^item "))).to_have_count(1)
    # The randomization is there with its number, for this participant only.
    number = allocation.blinded_allocation(first).randomization_number
    expect(page.get_by_role("row").filter(has_text="randomized")).to_contain_text(number)
    # The CSV link keeps the filter.
    href = page.get_by_role("link", name="Download as CSV").get_attribute("href")
    assert href is not None and f"participant={first.code}" in href
