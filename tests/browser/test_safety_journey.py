"""Browser journey: a serious adverse event from its report at the chair to the principal
investigator's acknowledgement and its follow-up."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from infusions import services as infusion_services
from infusions.models import AdverseEvent
from ketatrial.models import Notification
from participants import allocation
from participants.models import DosePreparation, Participant
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


def test_an_sae_from_report_to_pi_acknowledgement_and_follow_up(
    new_page, coordinator, pharmacist, infusion_physician, principal_investigator, make_user, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=5)
    receipt = allocation.receipt_record(
        lot="L9",
        vials=5,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=now.date(),
        by=pharmacist,
        now=now,
    )
    person = randomized(coordinator, now=now - timedelta(hours=3))
    infusion_services.schedule_set(participant=person, day1=timezone.localdate(), by=coordinator, now=now)
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
    started = now - timedelta(minutes=50)
    infusion_services.session_start(
        visit=infusion_services.visit_for(person, 1, 1, by=infusion_physician),
        prechecks=CHECKS,
        syringe_code=DosePreparation.objects.get(participant=person).syringe_code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=started,
        by=infusion_physician,
        now=started + timedelta(minutes=1),
    )

    # The infusion physician reports the event at the chair.
    doc = new_page()
    sign_in(doc, "infusion_physician", PASSWORD)
    doc.goto(f"/infusions/participant/{person.pk}/infusion/1/1/")
    doc.get_by_text("Report an adverse event").click()
    doc.get_by_label("Term").fill("Hypertensive crisis")
    doc.get_by_label("Category").fill("Cardiovascular")
    doc.get_by_label("Onset").fill(
        timezone.localtime(started + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    )
    doc.get_by_label("Severity").select_option("severe")
    doc.get_by_label("Requires in-patient hospitalisation or prolongs it").check()
    doc.get_by_label("Is life-threatening").check()
    doc.get_by_label("Causality (relatedness to the study infusion)").select_option("probable")
    doc.get_by_label("Expectedness").select_option("unexpected")
    doc.get_by_label("Action taken").select_option("stopped")
    doc.locator("#id_outcome").select_option("recovering")
    doc.get_by_role("button", name="Report adverse event").click()
    # Serious without a narrative: refused on the field, what was typed is kept.
    expect(doc.get_by_text(re.compile("A serious adverse event needs a narrative"))).to_be_visible()
    expect(doc.get_by_label("Term")).to_have_value("Hypertensive crisis")
    expect(doc.get_by_label("Is life-threatening")).to_be_checked()
    doc.get_by_label("Narrative").fill(
        "BP 220/125 at 20 min with headache; infusion stopped, labetalol IV; admitted for observation."
    )
    doc.get_by_role("button", name="Report adverse event").click()
    expect(doc.get_by_text("Adverse event reported.")).to_be_visible()
    event = AdverseEvent.objects.get(participant=person)
    assert event.serious and event.seriousness_criteria == ["life_threatening", "hospitalisation"]

    # The PI sees the notification in the navigation bar, opens it and acknowledges it.
    pi = new_page()
    sign_in(pi, "principal_investigator", PASSWORD)
    nav = pi.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name=re.compile(r"Notifications\s*1"))).to_be_visible()
    nav.get_by_role("link", name=re.compile("Notifications")).click()
    pi.get_by_role("link", name=f"Serious adverse event: {person.code}").click()
    expect(pi.get_by_role("heading", name=re.compile("Hypertensive crisis"))).to_be_visible()
    # The criteria in ICH E2A's order, whatever the order they were ticked in.
    expect(
        pi.get_by_text("Is life-threatening; Requires in-patient hospitalisation or prolongs it")
    ).to_be_visible()
    expect(pi.get_by_role("definition").filter(has_text="labetalol IV")).to_be_visible()
    expect(pi.get_by_text("SUSAR")).to_be_visible()
    pi.get_by_role("button", name="Acknowledge").click()
    expect(pi.get_by_text("Notification acknowledged.")).to_be_visible()
    note = Notification.objects.get(recipient=principal_investigator)
    assert note.read_at is not None
    # Who was told, and that they acknowledged it.
    told = pi.get_by_role("row").filter(has_text="Principal_Investigator Tester")
    expect(told).to_have_count(1)
    expect(told).not_to_contain_text("not yet")
    expect(nav.get_by_role("link", name=re.compile(r"Notifications\s*1"))).to_have_count(0)

    # The PI adds follow-up information and records the outcome, with a reason.
    pi.get_by_text("Add follow-up information").click()
    pi.get_by_label("Date of the information").fill(timezone.localdate().isoformat())
    pi.get_by_label("Follow-up note").fill("Discharged after 24 h; BP 130/85; no sequelae.")
    pi.get_by_role("button", name="Add the follow-up").click()
    expect(pi.get_by_text("Follow-up added.")).to_be_visible()
    expect(pi.get_by_text(re.compile("Discharged after 24 h"))).to_be_visible()
    pi.get_by_text("Change this adverse event (with a reason)").click()
    pi.locator("#id_outcome").select_option("recovered")
    pi.get_by_label("Outcome date").fill(timezone.localdate().isoformat())
    pi.get_by_label("Reason for the change").fill("Discharge letter received")
    pi.get_by_role("button", name="Save the changes").click()
    expect(pi.get_by_text("Adverse event changed.")).to_be_visible()
    event.refresh_from_db()
    assert event.outcome == "recovered" and event.outcome_date == timezone.localdate()
    assert (
        event.history.order_by("-history_date").first().history_change_reason == "Discharge letter received"
    )

    # The physician's own follow-up reaches the PI as a new notification.
    doc.goto(f"/safety/adverse-events/{event.pk}/")
    doc.get_by_text("Add follow-up information").click()
    doc.get_by_label("Follow-up note").fill("Seen at the next visit: well.")
    doc.get_by_role("button", name="Add the follow-up").click()
    expect(doc.get_by_text("Follow-up added.")).to_be_visible()
    pi.goto("/safety/notifications/")
    row = pi.get_by_role("row").filter(has_text=f"Serious adverse event follow-up: {person.code}")
    expect(row).to_contain_text("Seen at the next visit: well.")
    row.get_by_role("button", name=re.compile("Acknowledge")).click()
    expect(pi.get_by_text("Nothing to acknowledge.")).to_be_visible()

    # The blinded safety summary and the filtered listing.
    pi.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Principal investigator"
    ).click()
    pi.get_by_role("link", name="Safety").click()
    expect(pi.get_by_role("row").filter(has_text="Hypertensive crisis")).to_contain_text("Recovered")
    assert not re.search(r"\b(KP|PK)\b|ketamin|placebo", pi.locator("main").inner_text(), re.IGNORECASE)
    pi.get_by_role("link", name="All adverse events, with filters").click()
    pi.get_by_label("Seriousness").select_option("life_threatening")
    pi.get_by_role("button", name="Filter").click()
    expect(pi.get_by_role("link", name="Hypertensive crisis")).to_be_visible()
    pi.get_by_label("Seriousness").select_option("non_serious")
    pi.get_by_role("button", name="Filter").click()
    expect(pi.get_by_text("No adverse event matches.")).to_be_visible()
