"""Browser journeys of the foundation: sign-in, role homes, user management, audited correction."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from participants.models import Participant
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_data_manager_creates_a_rater_and_is_refused_a_rater_pharmacist(new_page, data_manager) -> None:
    page = new_page()
    sign_in(page, "data_manager", PASSWORD)
    expect(page.get_by_role("heading", name="Data manager")).to_be_visible()
    page.get_by_role("link", name="Users and roles").click()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Username").fill("dr.ortega")
    page.get_by_label("First name").fill("Elena")
    page.get_by_label("Last name").fill("Ortega")
    page.get_by_label("Email").fill("elena@example.org")
    page.get_by_label("Initial password").fill("Ketamina-segura-77")
    page.get_by_label("Rater (psychiatrist)").check()
    page.get_by_label("Pharmacist (unblinded)").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("the rater must stay blinded")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("dr.ortega")
    page.get_by_label("Pharmacist (unblinded)").uncheck()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("User dr.ortega created.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="dr.ortega")
    expect(row).to_contain_text("rater")


def test_a_coordinator_screens_enrolls_randomizes_and_corrects_with_a_reason(
    new_page, coordinator, data_manager, pharmacist, settings
) -> None:
    from django.utils import timezone

    from participants import allocation
    from tests.factories import baseline_rated

    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=99)
    page = new_page()
    sign_in(page, "coordinator", PASSWORD)
    page.get_by_role("link", name="Screening log").click()
    page.get_by_role("button", name="Start a screening").click()
    expect(page.get_by_text("Screening S-INNN-0001 started.")).to_be_visible()
    expect(page.get_by_text("record consent first")).to_be_visible()
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()
    for i in range(6):
        page.locator(f"input[name=inc_{i}][value=yes]").check()
    for i in range(8):
        page.locator(f"input[name=exc_{i}][value=no]").check()
    page.get_by_label("Screening HDRS-17 total").fill("24")
    page.get_by_role("button", name="Save eligibility").click()
    expect(page.get_by_text("Eligible", exact=True)).to_be_visible()
    page.get_by_role("link", name="Enroll").click()
    page.get_by_label("Full name").fill("Lucía Sánchez")
    page.get_by_label("Date of birth").fill("1984-05-02")
    page.get_by_label("Baseline weight (kg)").fill("70.4")
    page.get_by_label("Height (cm)").fill("165")
    page.get_by_label("Baseline assessment date").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_text(re.compile(r"Participant INNN-001 enrolled"))).to_be_visible()
    # No randomization before both baseline ratings (a rater's journey: test_rating_journey).
    expect(page.get_by_text("The baseline HDRS-17 rating is missing")).to_be_visible()
    expect(page.get_by_role("button", name="Randomize")).to_have_count(0)
    baseline_rated(Participant.objects.get(code="INNN-001"))
    page.reload()
    # One click does not randomize: the browser holds the form back until the box is ticked.
    page.get_by_role("button", name="Randomize").click()
    confirm = page.get_by_label("I confirm randomizing participant INNN-001.")
    assert confirm.evaluate("el => el.validity.valueMissing")
    confirm.check()
    page.get_by_role("button", name="Randomize").click()
    expect(page.get_by_text(re.compile(r"Randomized: number R-001, kit [A-Z0-9]{6}"))).to_be_visible()
    body = page.locator("main").inner_text()
    assert not re.search(r"\b(KP|PK)\b|ketamin|placebo", body, re.I)

    page.get_by_role("link", name="Correct baseline values").click()
    page.get_by_label("Baseline weight (kg)").fill("69.8")
    page.get_by_role("button", name="Save correction").click()
    # The browser itself holds the form back while the reason is empty (server check: unit tests).
    reason = page.get_by_label("Reason for the change")
    assert reason.evaluate("el => el.validity.valueMissing")
    expect(page.get_by_label("Baseline weight (kg)")).to_have_value("69.8")
    reason.fill("Re-weighed on calibrated scale")
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_text("Correction saved.")).to_be_visible()

    participant = Participant.objects.get(code="INNN-001")
    dm = new_page()
    sign_in(dm, "data_manager", PASSWORD)
    dm.goto(f"/audit/participants.participant/{participant.pk}/")
    changed = dm.get_by_role("row").filter(has_text="Re-weighed on calibrated scale")
    expect(changed).to_contain_text("70.4")
    expect(changed).to_contain_text("69.8")
    expect(changed).to_contain_text("coordinator")


def test_the_pharmacist_prepares_a_dose_that_waits_for_the_second_check(
    new_page, coordinator, pharmacist, make_user, settings
) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from participants import allocation
    from tests.factories import randomized

    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    make_user("pharmacist2", "pharmacist")
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=99)
    allocation.receipt_record(
        lot="KET-9",
        vials=10,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=timezone.localdate(),
        by=pharmacist,
        now=timezone.now(),
    )
    randomized(coordinator)
    page = new_page()
    sign_in(page, "pharmacist", PASSWORD)
    page.get_by_role("link", name="Allocation and preparations").click()
    expect(page.get_by_text("checksum verified")).to_be_visible()
    page.get_by_role("link", name="Preparations").click()
    page.get_by_label("Infusion number").fill("1")
    page.get_by_label("Weight measured today (kg)").fill("72.3")
    page.get_by_label("Ketamine lot").select_option(label="KET-9")
    page.get_by_role("button", name="Record preparation").click()
    # The label prints once another pharmacist has checked it (tests/browser/test_pharmacy_journey.py).
    expect(
        page.get_by_text(re.compile("Preparation recorded. It waits for another pharmacist"))
    ).to_be_visible()
    row = page.get_by_role("row").filter(has_text="S-")
    expect(row).to_contain_text("50.00")
    expect(row).to_contain_text("75.0")
    expect(row).to_contain_text("Awaiting the second pharmacist's check")


def test_a_rater_sees_only_the_rater_home_and_can_switch_to_spanish(new_page, rater) -> None:
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    expect(page.get_by_role("heading", name="Rater (psychiatrist)")).to_be_visible()
    response = page.goto("/home/pharmacist/")
    assert response is not None and response.status == 403
    page.goto("/")
    page.get_by_label("Language").select_option("es")
    page.wait_for_timeout(300)  # choosing alone changes nothing (WCAG 3.2.2): the button does
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Change Language").click()
    expect(page.get_by_role("heading", name="Su trabajo")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()


def test_five_wrong_passwords_lock_the_account_in_the_browser(new_page, monitor) -> None:
    page = new_page()
    for _ in range(5):
        sign_in(page, "monitor", "not-the-password", succeed=False)
    expect(page.get_by_role("heading", name="Account locked")).to_be_visible()
    sign_in(page, "monitor", PASSWORD, succeed=False)
    expect(page.get_by_role("heading", name="Account locked")).to_be_visible()
