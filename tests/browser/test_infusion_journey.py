"""Browser journey: the coordinator schedules, the infusion physician runs a full session."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ketatrial.models import Notification
from participants import allocation
from participants.models import DosePreparation, Participant
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_schedules_and_the_physician_records_a_session_with_an_alert_and_an_event(
    new_page, coordinator, pharmacist, infusion_physician, principal_investigator, make_user, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=5)
    receipt = allocation.receipt_record(
        lot="L7",
        vials=5,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=now.date(),
        by=pharmacist,
        now=now,
    )
    person = randomized(coordinator, now=now - timedelta(hours=3))

    page = new_page()
    sign_in(page, "coordinator", PASSWORD)
    page.goto(f"/participants/{person.pk}/")
    page.get_by_role("link", name="Schedule and timeline").click()
    page.get_by_label("Day 1 (first infusion)").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Save day 1").click()
    # Saturday and Sunday are closed by default, and the day pattern of period 1 reaches one of
    # them from any day 1: the booking names those visits and keeps the date only with a reason.
    expect(page.get_by_role("heading", name="A visit falls on a day the site is closed")).to_be_visible()
    page.get_by_label("Reason to keep a visit on a closed day").fill("moved one by one within the windows")
    page.get_by_role("button", name="Keep this date").click()
    expect(page.get_by_text("Schedule saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="Period 1, infusion 8")).to_be_visible()
    expect(page.get_by_role("cell", name="Period 2, infusion 1")).to_be_visible()
    expect(page.get_by_role("cell", name="Period 2, infusion 2")).to_have_count(0)

    prepared_and_checked(
        participant=Participant.objects.get(pk=person.pk),
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70.0"),
        receipt=receipt,
        checker=checker,
        pharmacist=pharmacist,
        now=now,
    )
    code = DosePreparation.objects.get(participant=person).syringe_code

    doc = new_page()
    sign_in(doc, "infusion_physician", PASSWORD)
    doc.goto(f"/infusions/participant/{person.pk}/")
    doc.get_by_role("row").filter(has_text="Period 1, infusion 1").get_by_role("link", name="Session").click()
    for label in ("Identity confirmed", "Consent current", "Fasting", "No new contraindication", "IV access"):
        doc.get_by_label(re.compile(label)).check()
    doc.get_by_label("Syringe code (scan or type)").fill("S-WRONG000")
    doc.get_by_label("Pump rate (mL/h)").fill("75.0")
    doc.get_by_role("button", name="Start infusion").click()
    expect(doc.get_by_text(re.compile("STOP: syringe S-WRONG000"))).to_be_visible()
    doc.get_by_label("Syringe code (scan or type)").fill(code)
    # Started two hours ago, so that its stop and discharge are recorded as past times.
    started = timezone.localtime() - timedelta(hours=2)
    doc.get_by_label("Start time").fill(started.strftime("%Y-%m-%dT%H:%M"))
    doc.get_by_role("button", name="Start infusion").click()
    expect(doc.get_by_text("Infusion started.")).to_be_visible()

    def vitals(minute: str, sys: str, dia: str, hr: str, spo2: str) -> None:
        doc.locator("#id_minute").first.select_option(label=minute)
        doc.get_by_label("Systolic (mmHg)").fill(sys)
        doc.get_by_label("Diastolic (mmHg)").fill(dia)
        doc.get_by_label("Heart rate (bpm)").fill(hr)
        doc.get_by_label("SpO2 (%)").fill(spo2)
        doc.get_by_role("button", name="Record vitals").click()

    vitals("0 min", "128", "82", "76", "98")
    expect(doc.get_by_text("Vitals recorded.")).to_be_visible()
    vitals("10 min", "90", "95", "76", "98")  # diastolic above systolic: refused, kept
    expect(doc.get_by_text("Diastolic (95) must be below systolic (90).")).to_be_visible()
    expect(doc.get_by_label("Diastolic (mmHg)")).to_have_value("95")
    vitals("10 min", "188", "104", "92", "97")
    expect(doc.get_by_role("alert").filter(has_text="systolic > 180 mmHg")).to_be_visible()
    doc.get_by_label("Pause the infusion").check()
    doc.get_by_label("Reason", exact=True).fill("Paused 5 min; BP 168/98 on repeat")
    doc.get_by_role("button", name="Record action").click()
    expect(doc.get_by_text("Action recorded.")).to_be_visible()

    doc.get_by_text("Report an adverse event").click()
    doc.get_by_label("Term").fill("Transient hypertension")
    doc.get_by_label("Category").fill("Cardiovascular")
    doc.get_by_label("Severity").select_option("moderate")
    doc.get_by_label("Other medically important event").check()
    doc.get_by_label("Causality (relatedness to the study infusion)").select_option("probable")
    doc.get_by_label("Expectedness").select_option("expected")
    doc.get_by_label("Action taken").select_option("paused")
    doc.locator("#id_outcome").select_option("recovered")
    doc.get_by_label("Outcome date").fill(timezone.localdate().isoformat())
    doc.get_by_label("Narrative").fill("BP 188/104 at 10 min; paused 5 min; 168/98 on repeat.")
    doc.get_by_role("button", name="Report adverse event").click()
    expect(doc.get_by_text("Adverse event reported.")).to_be_visible()
    assert Notification.objects.filter(
        recipient=principal_investigator, subject__contains=person.code
    ).exists()

    end = started + timedelta(minutes=45)
    doc.get_by_label("Stop time").fill(end.strftime("%Y-%m-%dT%H:%M"))
    doc.get_by_role("button", name="Record stop").click()
    expect(doc.get_by_text("Stop recorded.")).to_be_visible()
    doc.get_by_label("Discharge time").fill((end + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    doc.get_by_role("button", name="Discharge").click()
    expect(doc.get_by_text(re.compile("Observation must last at least 60 min"))).to_be_visible()
    doc.get_by_label("Discharge time").fill((end + timedelta(minutes=65)).strftime("%Y-%m-%dT%H:%M"))
    doc.get_by_role("button", name="Discharge").click()
    expect(doc.get_by_text("Discharged.")).to_be_visible()
    visit = person.infusion_visits.get(period=1, number=1)
    assert visit.status == "done" and visit.discharged_at is not None
    assert visit.vitals.get(minute=10).action == "pause"
