"""The second pharmacist's check in their own session, the label (one page, a QR code an independent
decoder reads back), the bedside scan and the pharmacist's worklist (issue 15, item 2)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from infusions import services as infusion_services
from participants import allocation
from participants.models import AllocationSlot, DosePreparation, Participant, RegisterEntry, SyringeScan
from tests.factories import randomized


@pytest.fixture
def unblinded(pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2", "pharmacist3"]
    return pharmacist


@pytest.fixture
def receipt(unblinded):  # type: ignore[no-untyped-def]
    allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=6, seed=3)
    return allocation.receipt_record(
        lot="L1",
        vials=10,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=timezone.localdate(),
        by=unblinded,
        now=timezone.now(),
    )


def _ketamine_participant(coordinator) -> Participant:  # type: ignore[no-untyped-def]
    """A participant whose period 1 is ketamine (KP): the preparation draws from the lot."""
    while True:
        person = randomized(coordinator)
        if AllocationSlot.objects.get(participant=person).sequence == "KP":
            return Participant.objects.get(pk=person.pk)


def _prepare(person, receipt, by, **kwargs) -> DosePreparation:  # type: ignore[no-untyped-def]
    return allocation.dose_prepare(
        participant=person,
        period=kwargs.get("period", 1),
        infusion_number=kwargs.get("infusion_number", 1),
        weight_kg=Decimal("72.3"),
        receipt=receipt,
        by=by,
        now=kwargs.get("now", timezone.now()),
    )


def _check_url(prep: DosePreparation) -> str:
    return reverse("participants:preparation_check", args=[prep.pk])


def test_another_pharmacist_confirms_in_their_own_session_and_both_are_audited(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    person = _ketamine_participant(coordinator)
    prep = _prepare(person, receipt, unblinded)
    response = client_for(checker).post(
        _check_url(prep), {"lot": "l1 ", "volume_drawn_ml": "0.72", "decision": "confirm", "reason": ""}
    )
    assert response.status_code == 302
    prep.refresh_from_db()
    assert (prep.check_status, prep.checked_by, prep.prepared_by) == ("confirmed", checker, unblinded)
    assert prep.checked_at is not None
    history = list(prep.history.order_by("history_date", "history_id"))
    assert [(h.history_user, h.check_status) for h in history] == [
        (unblinded, "awaiting"),
        (checker, "confirmed"),
    ]
    # The rest of the opened vial, wasted at the bench, is witnessed by the checker.
    waste = RegisterEntry.objects.get(preparation=prep)
    assert (waste.quantity_mg, waste.recorded_by, waste.witness) == (Decimal("463.8"), unblinded, checker)


def test_the_preparer_cannot_check_their_own_preparation(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    prep = _prepare(_ketamine_participant(coordinator), receipt, unblinded)
    page = client_for(unblinded).get(_check_url(prep)).content.decode()
    assert "another pharmacist must check it" in page and 'name="decision"' not in page
    response = client_for(unblinded).post(
        _check_url(prep), {"lot": "L1", "volume_drawn_ml": "0.72", "decision": "confirm"}
    )
    assert response.status_code == 400
    prep.refresh_from_db()
    assert prep.check_status == "awaiting" and prep.checked_by is None


def test_a_lot_or_volume_that_does_not_match_is_refused_beside_the_field_and_kept(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    prep = _prepare(_ketamine_participant(coordinator), receipt, unblinded)
    response = client_for(checker).post(
        _check_url(prep), {"lot": "L9", "volume_drawn_ml": "7.2", "decision": "confirm"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "not the lot the preparer recorded" in page and "not the volume the preparer recorded" in page
    assert 'value="L9"' in page and 'value="7.2"' in page
    # The check page never shows the recorded lot or volume: the checker reads them independently.
    assert "0.72" not in page
    prep.refresh_from_db()
    assert prep.check_status == "awaiting"


def test_a_rejected_preparation_is_destroyed_with_a_witness_and_prepared_again(
    coordinator, unblinded, checker, make_user, receipt, client_for
) -> None:
    person = _ketamine_participant(coordinator)
    prep = _prepare(person, receipt, unblinded)
    refused = client_for(checker).post(_check_url(prep), {"decision": "reject", "reason": ""})
    assert refused.status_code == 400 and "Give the reason" in refused.content.decode()
    client_for(checker).post(_check_url(prep), {"decision": "reject", "reason": "label smudged, air bubble"})
    prep.refresh_from_db()
    assert (prep.check_status, prep.check_note) == ("rejected", "label smudged, air bubble")
    destroyed = RegisterEntry.objects.get(preparation=prep, cause="rejected")
    assert destroyed.witness is None and destroyed.quantity_mg == Decimal("36.2")
    with pytest.raises(ValidationError, match="another pharmacist"):
        allocation.waste_witness(pk=destroyed.pk, by=checker, now=timezone.now())
    allocation.waste_witness(pk=destroyed.pk, by=unblinded, now=timezone.now())
    destroyed.refresh_from_db()
    assert destroyed.witness == unblinded
    again = _prepare(person, receipt, unblinded)
    assert again.pk != prep.pk and again.check_status == "awaiting"
    assert allocation.blinded_preparation(person, 1, 1).syringe_code == again.syringe_code


def test_the_label_prints_only_after_the_check(coordinator, unblinded, checker, receipt, client_for) -> None:
    prep = _prepare(_ketamine_participant(coordinator), receipt, unblinded)
    url = reverse("participants:preparation_label", args=[prep.pk])
    refused = client_for(unblinded).get(url, follow=True)
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "once another pharmacist has confirmed" in refused.content.decode()
    allocation.preparation_check(
        pk=prep.pk,
        decision="confirm",
        lot="L1",
        volume_drawn_ml=Decimal("0.72"),
        reason="",
        by=checker,
        now=timezone.now(),
    )
    assert client_for(unblinded).get(url)["Content-Type"] == "application/pdf"


def test_the_label_is_one_page_at_label_size_and_its_qr_code_decodes_to_the_syringe_code(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    zxingcpp = pytest.importorskip("zxingcpp")
    from pypdf import PdfReader

    prep = _prepare(_ketamine_participant(coordinator), receipt, unblinded)
    allocation.preparation_check(
        pk=prep.pk,
        decision="confirm",
        lot="L1",
        volume_drawn_ml=Decimal("0.72"),
        reason="",
        by=checker,
        now=timezone.now(),
    )
    pdf = client_for(unblinded).get(reverse("participants:preparation_label", args=[prep.pk])).content
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (62, 40)
    text = reader.pages[0].extract_text()
    beyond = timezone.localtime(prep.prepared_at + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert prep.participant.code in text and prep.syringe_code in text and beyond in text
    document = pdfium.PdfDocument(pdf)
    image = document[0].render(scale=300 / 72).to_pil()  # 300 dpi, a label printer's resolution
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [prep.syringe_code]


def test_the_infusion_does_not_start_with_an_unconfirmed_preparation(
    coordinator, unblinded, checker, infusion_physician, receipt
) -> None:
    now = timezone.now()
    person = _ketamine_participant(coordinator)
    infusion_services.schedule_set(participant=person, day1=timezone.localdate(), by=coordinator, now=now)
    prep = _prepare(person, receipt, unblinded)
    visit = infusion_services.visit_for(person, 1, 1, by=infusion_physician)
    start = {
        "visit": visit,
        "prechecks": {key: True for key, _label in infusion_services.PRECHECKS},
        "syringe_code": prep.syringe_code,
        "pump_rate_ml_h": Decimal("75.0"),
        "started_at": now - timedelta(minutes=1),
        "by": infusion_physician,
        "now": now,
    }
    with pytest.raises(ValidationError, match="second pharmacist has not confirmed"):
        infusion_services.session_start(**start)
    allocation.preparation_check(
        pk=prep.pk,
        decision="confirm",
        lot="L1",
        volume_drawn_ml=Decimal("0.72"),
        reason="",
        by=checker,
        now=now,
    )
    assert infusion_services.session_start(**start).status == "in_progress"


def test_the_scan_refuses_another_participants_an_unconfirmed_or_an_unknown_syringe_and_records_a_match(
    coordinator, unblinded, checker, infusion_physician, receipt, client_for
) -> None:
    now = timezone.now()
    person = _ketamine_participant(coordinator)
    other = _ketamine_participant(coordinator)
    for p in (person, other):
        infusion_services.schedule_set(participant=p, day1=timezone.localdate(), by=coordinator, now=now)
    mine = _prepare(person, receipt, unblinded)
    theirs = _prepare(other, receipt, unblinded)
    allocation.preparation_check(
        pk=theirs.pk,
        decision="confirm",
        lot="L1",
        volume_drawn_ml=Decimal("0.72"),
        reason="",
        by=checker,
        now=now,
    )
    url = reverse("infusions:session_scan", args=[person.pk, 1, 1])
    doctor = client_for(infusion_physician)
    expected = [
        (theirs.syringe_code, "was prepared for another participant"),
        (mine.syringe_code, "has not been confirmed by the second pharmacist"),
        ("S-NOTACODE", "is not a syringe code the pharmacy prepared"),
    ]
    for code, message in expected:
        response = doctor.post(url, {"code": code})
        page = response.content.decode()
        assert response.status_code == 400 and message in page and f'value="{code}"' in page
    allocation.preparation_check(
        pk=mine.pk,
        decision="confirm",
        lot="L1",
        volume_drawn_ml=Decimal("0.72"),
        reason="",
        by=checker,
        now=now,
    )
    response = doctor.post(url, {"code": mine.syringe_code.lower()}, follow=True)
    assert "is the confirmed preparation for this participant" in response.content.decode()
    scans = list(SyringeScan.objects.filter(participant=person).order_by("id"))
    assert [s.outcome for s in scans] == ["other_participant", "not_confirmed", "unknown", "match"]
    assert scans[-1].history.get().history_user == infusion_physician


def test_a_raters_scan_answers_403_and_records_nothing(coordinator, rater, receipt, client_for) -> None:
    person = _ketamine_participant(coordinator)
    response = client_for(rater).post(
        reverse("infusions:session_scan", args=[person.pk, 1, 1]), {"code": "S-X"}
    )
    assert response.status_code in (403, 404)
    assert not SyringeScan.objects.exists()


def test_the_pharmacists_home_lists_what_waits_for_their_check_with_counts(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    person = _ketamine_participant(coordinator)
    infusion_services.schedule_set(
        participant=person, day1=timezone.localdate(), by=coordinator, now=timezone.now()
    )
    mine = client_for(unblinded).get(reverse("participants:pharmacy")).content.decode()
    assert f'href="{reverse("participants:preparations", args=[person.pk])}">Prepare</a>' in mine
    prep = _prepare(person, receipt, unblinded)
    theirs = client_for(checker).get(reverse("participants:pharmacy")).content.decode()
    assert f"Check {prep.syringe_code}" in theirs and _check_url(prep) in theirs
    assert "Waste to witness" in theirs
    own = client_for(unblinded).get(reverse("participants:pharmacy")).content.decode()
    assert f"Check {prep.syringe_code}" not in own
    assert "1 of your preparations waits for another pharmacist" in own


def test_the_worklist_and_the_register_read_in_as_many_queries_for_three_preparations_as_for_one(
    coordinator, unblinded, checker, receipt, client_for
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts() -> list[int]:
        result = []
        for user, name in ((checker, "participants:pharmacy"), (unblinded, "participants:accountability")):
            client = client_for(user)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(name)).status_code == 200
            result.append(len(queries))
        return result

    def one_more() -> None:
        person = _ketamine_participant(coordinator)
        infusion_services.schedule_set(
            participant=person, day1=timezone.localdate(), by=coordinator, now=timezone.now()
        )
        prep = _prepare(person, receipt, unblinded)
        allocation.vials_waste_record(
            receipt=receipt, vials=1, note="broken", by=unblinded, now=timezone.now()
        )
        allocation.stock_count_record(
            receipt=receipt, vials_counted=1, note="", by=unblinded, now=timezone.now()
        )
        if prep.pk % 2:
            client_for(checker).post(_check_url(prep), {"decision": "reject", "reason": "bubble"})

    one_more()
    first = counts()
    one_more()
    one_more()
    assert counts() == first
