"""Browser journey: one pharmacist prepares a dose from their worklist, another confirms it in their
own session, the label prints, its QR code read by an independent decoder is scanned at the
bedside (issue 15, item 2)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from infusions import services as infusion_services
from participants import allocation
from participants.models import AllocationSlot, DosePreparation, Participant
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import randomized

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_one_pharmacist_prepares_another_confirms_in_their_own_session_and_the_physician_scans_the_label(
    new_page, coordinator, pharmacist, infusion_physician, make_user, settings
) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    zxingcpp = pytest.importorskip("zxingcpp")
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=99)
    allocation.receipt_record(
        lot="KET-9",
        vials=10,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=timezone.localdate(),
        by=pharmacist,
        now=now,
    )
    while True:  # a participant whose period 1 is ketamine: the dose is drawn from the lot
        person = Participant.objects.get(pk=randomized(coordinator).pk)
        if AllocationSlot.objects.get(participant=person).sequence == "KP":
            break
    infusion_services.schedule_set(participant=person, day1=timezone.localdate(), by=coordinator, now=now)

    preparer = new_page()
    sign_in(preparer, "pharmacist", PASSWORD)
    preparer.goto("/participants/pharmacy/")
    preparer.get_by_role("row").filter(has_text=person.code).get_by_role("link", name="Prepare").click()
    preparer.get_by_label("Infusion number").fill("1")
    preparer.get_by_label("Weight measured today (kg)").fill("72.3")
    preparer.get_by_label("Ketamine lot").select_option(label="KET-9")
    preparer.get_by_role("button", name="Record preparation").click()
    expect(preparer.get_by_text(re.compile("It waits for another pharmacist's check"))).to_be_visible()
    expect(preparer.get_by_role("link", name="Label (PDF)")).to_have_count(0)
    code = DosePreparation.objects.get(participant=person).syringe_code

    checker = new_page()
    sign_in(checker, "pharmacist2", PASSWORD)
    checker.goto("/participants/pharmacy/")
    checker.get_by_role("link", name=f"Check {code}").click()
    checker.get_by_label("Lot read on the vial").fill("KET-9")
    checker.get_by_label(re.compile("Volume of ketamine drawn")).fill("0.72")
    checker.get_by_label("Confirm: the preparation is right").check()
    checker.get_by_role("button", name="Record my check").click()
    expect(checker.get_by_text("Preparation confirmed: the label can be printed.")).to_be_visible()

    preparer.reload()
    expect(preparer.get_by_role("row").filter(has_text=code)).to_contain_text("pharmacist2")
    href = preparer.get_by_role("link", name="Label (PDF)").get_attribute("href")
    label = preparer.request.get(href)  # the signed-in pharmacist's own session
    assert label.headers["content-type"] == "application/pdf"
    image = pdfium.PdfDocument(label.body())[0].render(scale=300 / 72).to_pil()
    [decoded] = [r.text for r in zxingcpp.read_barcodes(image)]

    doctor = new_page()
    sign_in(doctor, "infusion_physician", PASSWORD)
    doctor.goto(f"/infusions/participant/{person.pk}/infusion/1/1/")
    doctor.get_by_label("Scan the syringe label").fill(decoded)
    doctor.get_by_role("button", name="Check syringe").click()
    expect(doctor.get_by_text(f"Syringe {code} is the confirmed preparation")).to_be_visible()
