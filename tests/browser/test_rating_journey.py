"""Browser journey: the rater opens the 24 h task, types MADRS and HDRS-17, signs, sees the chart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinimetry.models import Assessment
from infusions import services as infusions
from participants import allocation
from participants.models import DosePreparation
from tests.browser.conftest import rating_items_focus, sign_in
from tests.conftest import PASSWORD
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_rater_enters_madrs_and_hdrs_by_keyboard_signs_and_sees_the_point(
    new_page, rater, coordinator, pharmacist, infusion_physician, make_user, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    start = now - timedelta(hours=24, minutes=40)  # the 24 h rating is due now, whatever the hour
    allocation.allocation_list_generate(by=pharmacist, now=start - timedelta(days=2), n_per_stratum=4, seed=3)
    receipt = allocation.receipt_record(
        lot="L",
        vials=5,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=now.date(),
        by=pharmacist,
        now=start - timedelta(days=2),
    )
    person = randomized(coordinator, now=start - timedelta(days=2))
    infusions.schedule_set(
        participant=person,
        day1=timezone.localtime(start).date(),
        by=coordinator,
        now=start - timedelta(days=1),
    )
    prepared_and_checked(
        participant=person,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70"),
        receipt=receipt,
        checker=checker,
        pharmacist=pharmacist,
        now=start - timedelta(hours=1),
    )
    visit = infusions.visit_for(person, 1, 1, by=infusion_physician)
    checks = {key: True for key, _label in infusions.PRECHECKS}
    code = DosePreparation.objects.get(participant=person).syringe_code
    infusions.session_start(
        visit=visit,
        prechecks=checks,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=start,
        by=infusion_physician,
        now=now,
    )
    infusions.session_stop(
        visit=visit,
        ended_at=start + timedelta(minutes=40),
        interruptions="",
        by=infusion_physician,
        now=now,
    )

    page = new_page()
    sign_in(page, "rater", PASSWORD)
    page.get_by_role("link", name="Assessment tasks").click()
    # Raters see opaque rating visits, by due day: the 24 h rating is the participant's latest due.
    row = page.get_by_role("row").filter(has_text=person.code).filter(has_text="Rating visit").last
    expect(row).to_contain_text(person.code)
    expect(page.get_by_role("main")).not_to_contain_text("24h")
    row.get_by_role("link", name="MADRS").click()

    rating_items_focus(page)
    for _ in range(10):
        page.keyboard.press("2")
    expect(page.locator("#live-total")).to_have_text("20")
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 20.")).to_be_visible()
    page.get_by_label("Your password (electronic signature)").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_text("Signed.")).to_be_visible()
    expect(page.get_by_text("I performed this interview and confirm")).to_be_visible()

    page.goto("/ratings/")
    page.get_by_role("row").filter(has_text=person.code).filter(has_text="Rating visit").last.get_by_role(
        "link", name="HDRS-17"
    ).click()
    rating_items_focus(page)
    for digit in "111111111111111" + "1":  # items 1-15 and 16A
        page.keyboard.press(digit)
    page.locator('[data-field="item_17"]').focus()
    page.keyboard.press("0")
    expect(page.locator("#live-total")).to_have_text("16")
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_text("Rating saved: total 16.")).to_be_visible()

    page.get_by_role("link", name="All ratings of this participant").click()
    expect(page.locator("svg circle title").filter(has_text="MADRS 20")).to_have_count(1)
    expect(page.locator("svg circle title").filter(has_text="HDRS-17 16")).to_have_count(1)
    rated = Assessment.objects.exclude(task_code="baseline")  # the baseline came before randomization
    assert rated.get(participant=person, instrument="madrs").signed_by == rater
