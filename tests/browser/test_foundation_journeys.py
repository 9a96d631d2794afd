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


def test_a_coordinator_corrects_a_weight_with_a_reason_and_the_data_manager_sees_it(
    new_page, coordinator, data_manager
) -> None:
    page = new_page()
    sign_in(page, "coordinator", PASSWORD)
    page.get_by_role("link", name="Enroll a participant").click()
    page.get_by_label("Baseline weight (kg)").fill("70.4")
    page.get_by_label("Height (cm)").fill("165")
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_text(re.compile(r"Participant INNN-001 enrolled"))).to_be_visible()
    page.get_by_role("link", name="Correct baseline values").click()
    page.get_by_label("Baseline weight (kg)").fill("69.8")
    page.get_by_role("button", name="Save correction").click()
    # The browser itself holds the form back while the reason is empty (server check: unit tests).
    reason = page.get_by_label("Reason for the change")
    assert reason.evaluate("el => el.validity.valueMissing")
    expect(page.get_by_label("Baseline weight (kg)")).to_have_value("69.8")
    page.get_by_label("Reason for the change").fill("Re-weighed on calibrated scale")
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


def test_a_rater_sees_only_the_rater_home_and_can_switch_to_spanish(new_page, rater) -> None:
    page = new_page()
    sign_in(page, "rater", PASSWORD)
    expect(page.get_by_role("heading", name="Rater (psychiatrist)")).to_be_visible()
    response = page.goto("/home/pharmacist/")
    assert response is not None and response.status == 403
    page.goto("/")
    page.get_by_label("Language").select_option("es")
    expect(page.get_by_role("heading", name="Su trabajo")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()


def test_five_wrong_passwords_lock_the_account_in_the_browser(new_page, monitor) -> None:
    page = new_page()
    for _ in range(5):
        sign_in(page, "monitor", "not-the-password", succeed=False)
    expect(page.get_by_role("heading", name="Account locked")).to_be_visible()
    sign_in(page, "monitor", PASSWORD, succeed=False)
    expect(page.get_by_role("heading", name="Account locked")).to_be_visible()
