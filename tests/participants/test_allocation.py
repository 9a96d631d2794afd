"""Allocation list, randomize action, dose preparation, accountability, emergency unblinding."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from clinimetry.examples import spread
from participants import allocation
from participants.models import AllocationList, AllocationSlot, DosePreparation, Participant
from participants.randomization import generate_blocks, rows_to_csv
from tests.conftest import on_postgres
from tests.factories import baseline_rated, enrolled, randomized


@pytest.fixture
def generated(unblinded):  # type: ignore[no-untyped-def]
    return allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=20, seed=7)


@pytest.fixture
def receipt(unblinded):  # type: ignore[no-untyped-def]
    return allocation.receipt_record(
        lot="L1",
        vials=10,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=timezone.localdate(),
        by=unblinded,
        now=timezone.now(),
    )


def test_the_pharmacist_group_alone_does_not_unblind(pharmacist, settings) -> None:
    settings.UNBLINDED_USERNAMES = []
    assert not allocation.can_see_allocation(pharmacist)
    with pytest.raises(PermissionDenied):
        allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=1)


def test_being_listed_without_the_pharmacist_group_does_not_unblind(coordinator, settings) -> None:
    settings.UNBLINDED_USERNAMES = ["coordinator"]
    assert not allocation.can_see_allocation(coordinator)


def test_a_generated_list_records_its_parameters_and_reproduces_from_them(generated, unblinded) -> None:
    params = generated.parameters
    again = generate_blocks(
        n_per_stratum=params["n_per_stratum"],
        block_sizes=tuple(params["block_sizes"]),
        strata=tuple(params["strata"]),
        seed=int(params["seed"]),
    )
    stored = [(s.sequence_no, s.sequence, s.kit_code) for s in generated.slots.all()]
    assert stored == [(r.sequence_no, r.sequence, r.kit_code) for r in again]
    record = allocation.allocation_list_parameters_csv(unblinded, generated)
    assert 'seed,"7"' in record and generated.checksum in record


def test_a_list_cannot_be_replaced_once_a_slot_is_used(generated, unblinded, coordinator) -> None:
    randomized(coordinator)
    with pytest.raises(ValidationError, match="in use"):
        allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=4, seed=2)


def test_an_unused_list_can_be_replaced_with_a_reason(generated, unblinded) -> None:
    new = allocation.allocation_list_generate(
        by=unblinded, now=timezone.now(), n_per_stratum=4, seed=2, replace_reason="wrong block sizes"
    )
    assert AllocationList.objects.get(active=True) == new


def test_the_start_up_check_catches_an_altered_list(generated) -> None:
    assert not [m for m in run_checks(databases=["default"]) if m.id == "participants.E004"]
    # PostgreSQL refuses a change to a slot row (trigger test below); an edit of the list's own
    # record, or a restore from a tampered dump, must still be caught at start-up.
    AllocationList.objects.filter(pk=generated.pk).update(checksum="0" * 64)
    assert [m for m in run_checks(databases=["default"]) if m.id == "participants.E004"]


@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_to_alter_or_free_a_used_slot(make_user, settings) -> None:
    if not on_postgres():
        pytest.skip("the trigger is PostgreSQL's")
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    pharmacist = make_user("pharmacist", "pharmacist")
    coordinator = make_user("coordinator", "coordinator")
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=3)
    randomized(coordinator)
    used = AllocationSlot.objects.get(participant__isnull=False)
    for statement in (
        f"UPDATE participants_allocationslot SET sequence = 'XX' WHERE id = {used.pk}",
        f"UPDATE participants_allocationslot SET participant_id = NULL WHERE id = {used.pk}",
        f"DELETE FROM participants_allocationslot WHERE id = {used.pk}",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("stratum,sequence_no,sequence,kit_code\n,1,KP,A\n", "missing column"),
        (
            "stratum,sequence_no,block_no,block_size,sequence,kit_code\n,1,1,2,KP,AAA\n,2,1,2,KP,BBB\n",
            "unbalanced",
        ),
        (
            "stratum,sequence_no,block_no,block_size,sequence,kit_code\n,1,1,2,KP,AAA\n,2,1,2,PK,AAA\n",
            "kit code AAA",
        ),
        (
            "stratum,sequence_no,block_no,block_size,sequence,kit_code\n,1,1,2,KP,AAA\n,x,1,2,PK,BBB\n",
            "whole numbers",
        ),
    ],
)
def test_a_malformed_or_unbalanced_csv_is_refused_and_nothing_is_imported(
    unblinded, client_for, csv_text, message
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(unblinded).post(
        reverse("participants:list_upload"),
        {"csv_file": SimpleUploadedFile("list.csv", csv_text.encode(), content_type="text/csv")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AllocationList.objects.exists() and not AllocationSlot.objects.exists()


def test_a_valid_csv_is_imported_whole(unblinded, client_for) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = generate_blocks(n_per_stratum=6, seed=11)
    response = client_for(unblinded).post(
        reverse("participants:list_upload"),
        {"csv_file": SimpleUploadedFile("list.csv", rows_to_csv(rows).encode(), content_type="text/csv")},
    )
    assert response.status_code == 302
    assert AllocationSlot.objects.count() == len(rows)


def test_randomize_needs_a_complete_baseline_and_consent(generated, coordinator) -> None:
    participant = enrolled(coordinator, baseline=False)
    with pytest.raises(ValidationError, match="baseline"):
        allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())


def _rate_baseline(person, instrument: str, items: dict, at=None):  # type: ignore[no-untyped-def]
    from clinimetry import services as ratings
    from tests.factories import baseline_rater

    at = at or timezone.now()
    return ratings.assessment_save(
        participant=person,
        instrument=instrument,
        task_code="baseline",
        items=items,
        rated_at=at,
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=baseline_rater(),
        now=at,
    )


def test_randomization_is_refused_without_both_baseline_ratings_saying_which_is_missing(
    generated, coordinator
) -> None:
    """PROTOCOL.md: "Screening and baseline (before randomization; baseline within 7 days before
    day 1)"; the primary outcome is the change of HDRS-17 and, separately, MADRS from baseline."""
    participant = enrolled(coordinator)
    with pytest.raises(ValidationError) as info:
        allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())
    assert info.value.messages == [
        "The baseline HDRS-17 rating is missing: a rater records it before randomization.",
        "The baseline MADRS rating is missing: a rater records it before randomization.",
    ]
    _rate_baseline(participant, "hdrs17", spread("hdrs17", 24))
    with pytest.raises(ValidationError) as info:
        allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())
    assert info.value.messages == [
        "The baseline MADRS rating is missing: a rater records it before randomization."
    ]
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()
    _rate_baseline(participant, "madrs", spread("madrs", 30))
    result = allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())
    assert result.randomization_number == "R-001"


def test_a_baseline_rating_without_a_total_does_not_allow_randomization(generated, coordinator) -> None:
    """SCALES.md: "a total is computed only when every item is present" (no prorating by default):
    a baseline MADRS with item 3 missing has no total to measure the change from."""
    participant = enrolled(coordinator)
    _rate_baseline(participant, "hdrs17", spread("hdrs17", 24))
    _rate_baseline(participant, "madrs", {**spread("madrs", 30), "3": None})
    with pytest.raises(ValidationError) as info:
        allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())
    assert info.value.messages == [
        "The baseline MADRS rating has no total (items missing): complete it before randomization."
    ]


def test_a_baseline_rated_after_the_randomization_time_does_not_count(generated, coordinator) -> None:
    now = timezone.now()
    participant = enrolled(coordinator, now=now - timedelta(hours=3))
    baseline_rated(participant, at=now - timedelta(hours=1))
    with pytest.raises(ValidationError, match="baseline HDRS-17 rating is missing"):
        allocation.participant_randomize(
            participant=participant, by=coordinator, now=now - timedelta(hours=2)
        )


def test_one_click_does_not_randomize_the_confirmation_is_ticked_first(
    generated, coordinator, client_for
) -> None:
    participant = enrolled(coordinator)
    baseline_rated(participant)
    client = client_for(coordinator)
    detail = client.get(reverse("participants:detail", args=[participant.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = detail.content.decode()
    assert f"I confirm randomizing participant {participant.code}." in html
    assert 'name="confirm"' in html and "required" in html
    url = reverse("participants:randomize", args=[participant.pk])
    response = client.post(
        url, {"participant_code": participant.code}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (
        f"Not randomized: tick \u201cI confirm randomizing participant {participant.code}\u201d first."
        in (response.content.decode())
    )
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()
    assert Participant.objects.get(pk=participant.pk).status == "enrolled"


def test_a_confirmation_for_another_participant_randomizes_no_one(generated, coordinator, client_for) -> None:
    first, second = enrolled(coordinator), enrolled(coordinator)
    for person in (first, second):
        baseline_rated(person)
    response = client_for(coordinator).post(
        reverse("participants:randomize", args=[second.pk]),
        {"confirm": "on", "participant_code": first.code},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Not randomized: the confirmation was for another participant." in response.content.decode()
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()


def test_the_detail_page_lists_the_missing_baseline_ratings_instead_of_the_randomize_button(
    generated, coordinator, client_for
) -> None:
    participant = enrolled(coordinator)
    html = (
        client_for(coordinator)
        .get(reverse("participants:detail", args=[participant.pk]), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Not ready to randomize:" in html
    assert "The baseline HDRS-17 rating is missing" in html and "The baseline MADRS rating is missing" in html
    assert 'name="confirm"' not in html


def test_the_coordinator_gets_number_and_kit_but_never_the_sequence(
    generated, coordinator, client_for
) -> None:
    participant = enrolled(coordinator)
    baseline_rated(participant)
    response = client_for(coordinator).post(
        reverse("participants:randomize", args=[participant.pk]),
        {"confirm": "on", "participant_code": participant.code},
        follow=True,
    )
    html = response.content.decode()
    slot = AllocationSlot.objects.get(participant=participant)
    assert "R-001" in html and slot.kit_code in html
    assert not re.search(r"\b(KP|PK)\b", html)  # word-bounded: random tokens may hold the letters
    assert "etamin" not in html and "lacebo" not in html


def test_a_second_randomization_of_the_same_participant_is_refused(generated, coordinator) -> None:
    participant = randomized(coordinator)
    with pytest.raises(ValidationError):
        allocation.participant_randomize(participant=participant, by=coordinator, now=timezone.now())
    assert AllocationSlot.objects.filter(participant__isnull=False).count() == 1


def test_randomization_follows_the_stratum(unblinded, coordinator, settings, monkeypatch) -> None:
    from ketatrial import trial
    from ketatrial.protocol import protocol_with_overrides

    p = protocol_with_overrides({"strata": ["A", "B"]})
    for module in (trial, allocation.lists, allocation.access, allocation.pharmacy):
        monkeypatch.setattr(module, "protocol", lambda: p)
    from participants import services

    monkeypatch.setattr(services, "protocol", lambda: p)
    allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=4, seed=5)
    b = enrolled(coordinator, stratum="B")
    baseline_rated(b)
    result = allocation.participant_randomize(participant=b, by=coordinator, now=timezone.now())
    assert result.randomization_number == "R-B-001"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_randomizations_take_twenty_slots_in_list_order(make_user, settings) -> None:
    if not on_postgres():
        pytest.skip("row locks need PostgreSQL; set DATABASE_URL")
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    pharmacist = make_user("pharmacist", "pharmacist")
    coordinators = [make_user(f"coord{i}", "coordinator") for i in range(2)]
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=30, seed=13)
    participants = [enrolled(coordinators[0]) for _ in range(20)]
    for person in participants:
        baseline_rated(person)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            allocation.participant_randomize(
                participant=participants[i], by=coordinators[i % 2], now=timezone.now()
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    used = list(
        AllocationSlot.objects.filter(participant__isnull=False)
        .order_by("sequence_no")
        .values_list("sequence_no", "participant_id")
    )
    assert [n for n, _ in used] == list(range(1, 21))
    assert len({pid for _, pid in used}) == 20
    assert Participant.objects.filter(status="randomized").count() == 20
    # and a second wave on the same participants changes nothing
    with pytest.raises(ValidationError):
        allocation.participant_randomize(participant=participants[0], by=coordinators[0], now=timezone.now())


def _randomized_pair(coordinator):  # type: ignore[no-untyped-def]
    """One KP and one PK participant from the active list."""
    people = {}
    while len(people) < 2:
        p = randomized(coordinator)
        people.setdefault(
            AllocationSlot.objects.get(participant=p).sequence, Participant.objects.get(pk=p.pk)
        )
    return people["KP"], people["PK"]


def test_dose_preparation_for_ketamine_and_placebo(
    generated, coordinator, unblinded, checker, receipt
) -> None:
    kp, pk = _randomized_pair(coordinator)
    k = allocation.dose_prepare(
        participant=kp,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("72.3"),
        receipt=receipt,
        by=unblinded,
        now=timezone.now(),
    )
    p = allocation.dose_prepare(
        participant=pk,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("72.3"),
        receipt=receipt,
        by=unblinded,
        now=timezone.now(),
    )
    assert (k.dose_mg, k.volume_drawn_ml, k.diluent_ml) == (
        Decimal("36.2"),
        Decimal("0.72"),
        Decimal("49.28"),
    )
    assert (p.dose_mg, p.volume_drawn_ml, p.diluent_ml, p.receipt) == (
        Decimal("0.0"),
        Decimal("0.00"),
        Decimal("50.00"),
        None,
    )
    assert (
        (k.total_volume_ml, k.pump_rate_ml_h)
        == (p.total_volume_ml, p.pump_rate_ml_h)
        == (Decimal("50"), Decimal("75.0"))
    )
    assert k.vials_opened == 1 and k.wasted_mg == Decimal("463.8")
    assert allocation.accountability_balance(receipt) == 9


@pytest.mark.parametrize(
    ("weight", "shown"),
    [
        (Decimal("400"), "400"),
        (Decimal("29.9"), "29.9"),
        (0.0001, "0.0001"),
        (float("nan"), "nan"),
        (True, "True"),
    ],
)
def test_a_preparation_from_an_implausible_weight_is_refused_beside_the_weight(
    generated, coordinator, unblinded, checker, receipt, weight, shown
) -> None:
    """PROTOCOL.md: "Dose = 0.5 mg/kg x weight measured on the infusion day". 400 kg used to give
    200 mg: a weight outside the plausible range (30-250 kg by default) prepares nothing."""
    kp, _ = _randomized_pair(coordinator)
    with pytest.raises(ValidationError) as info:
        allocation.dose_prepare(
            participant=kp,
            period=1,
            infusion_number=1,
            weight_kg=weight,
            receipt=receipt,
            by=unblinded,
            now=timezone.now(),
        )
    message = info.value.message_dict["weight_kg"][0]
    assert f"weight of {shown} kg" in message and "between 30 and 250 kg" in message
    assert not DosePreparation.objects.exists()


def test_the_plausible_weight_range_of_the_protocol_in_force_applies(
    generated, coordinator, unblinded, checker, receipt, monkeypatch
) -> None:
    from ketatrial.protocol import protocol_with_overrides

    p = protocol_with_overrides({"weight_min_kg": 40})
    monkeypatch.setattr(allocation.pharmacy, "protocol", lambda: p)
    kp, _ = _randomized_pair(coordinator)
    kwargs = {
        "participant": kp,
        "period": 1,
        "infusion_number": 1,
        "receipt": receipt,
        "by": unblinded,
        "now": timezone.now(),
    }
    with pytest.raises(ValidationError, match="between 40 and 250 kg"):
        allocation.dose_prepare(weight_kg=Decimal("35"), **kwargs)
    prep = allocation.dose_prepare(weight_kg=Decimal("40"), **kwargs)
    assert (prep.weight_kg, prep.dose_mg) == (Decimal("40"), Decimal("20.0"))


def test_a_preparation_waits_for_the_second_check_and_its_preparer_cannot_check_it(
    generated, coordinator, unblinded, checker, receipt
) -> None:
    kp, _ = _randomized_pair(coordinator)
    prep = allocation.dose_prepare(
        participant=kp,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70"),
        receipt=receipt,
        by=unblinded,
        now=timezone.now(),
    )
    assert prep.check_status == "awaiting" and prep.checked_by is None
    with pytest.raises(ValidationError, match="another pharmacist must check it"):
        allocation.preparation_check(
            pk=prep.pk,
            decision="confirm",
            lot="L1",
            volume_drawn_ml=prep.volume_drawn_ml,
            reason="",
            by=unblinded,
            now=timezone.now(),
        )
    prep.refresh_from_db()
    assert prep.check_status == "awaiting"


def test_an_infusion_is_prepared_once(generated, coordinator, unblinded, checker, receipt) -> None:
    kp, _ = _randomized_pair(coordinator)
    kwargs = {
        "participant": kp,
        "period": 1,
        "infusion_number": 1,
        "weight_kg": Decimal("70"),
        "receipt": receipt,
        "by": unblinded,
        "now": timezone.now(),
    }
    allocation.dose_prepare(**kwargs)
    with pytest.raises(ValidationError):
        allocation.dose_prepare(**kwargs)
    assert DosePreparation.objects.count() == 1


def test_period_two_after_kp_has_four_infusions(generated, coordinator, unblinded, checker, receipt) -> None:
    kp, pk = _randomized_pair(coordinator)
    with pytest.raises(ValidationError):
        allocation.dose_prepare(
            participant=kp,
            period=2,
            infusion_number=5,
            weight_kg=Decimal("70"),
            receipt=receipt,
            by=unblinded,
            now=timezone.now(),
        )
    allocation.dose_prepare(
        participant=pk,
        period=2,
        infusion_number=5,
        weight_kg=Decimal("70"),
        receipt=receipt,
        by=unblinded,
        now=timezone.now(),
    )


def test_the_labels_of_ketamine_and_placebo_are_identical_but_for_identifiers(
    generated, coordinator, unblinded, checker, receipt, client_for
) -> None:
    import re

    from pypdf import PdfReader  # noqa: F401  (skip below when not installed)

    kp, pk = _randomized_pair(coordinator)
    texts = []
    for person in (kp, pk):
        prep = allocation.dose_prepare(
            participant=person,
            period=1,
            infusion_number=1,
            weight_kg=Decimal("70"),
            receipt=receipt,
            by=unblinded,
            now=timezone.now(),
        )
        allocation.preparation_check(
            pk=prep.pk,
            decision="confirm",
            lot=prep.receipt.lot if prep.receipt else "",
            volume_drawn_ml=prep.volume_drawn_ml,
            reason="",
            by=checker,
            now=timezone.now(),
        )
        response = client_for(unblinded).get(reverse("participants:preparation_label", args=[prep.pk]))
        assert response["Content-Type"] == "application/pdf"
        assert prep.syringe_code in response["Content-Disposition"]
        import io

        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
        assert prep.syringe_code in text and "50.00 mL" in text and "75.0 mL/h" in text
        texts.append(re.sub(r"INNN-\d+|S-[A-Z0-9]+|\d{4}-\d\d-\d\d \d\d:\d\d", "#", text))
    assert texts[0] == texts[1]


def test_a_stock_count_discrepancy_is_flagged(generated, coordinator, unblinded, checker, receipt) -> None:
    kp, _ = _randomized_pair(coordinator)
    allocation.dose_prepare(
        participant=kp,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70"),
        receipt=receipt,
        by=unblinded,
        now=timezone.now(),
    )
    ok = allocation.stock_count_record(
        receipt=receipt, vials_counted=9, note="", by=unblinded, now=timezone.now()
    )
    short = allocation.stock_count_record(
        receipt=receipt, vials_counted=8, note="one missing", by=unblinded, now=timezone.now()
    )
    assert ok.discrepancy == 0 and short.discrepancy == -1
    lot = allocation.accountability(unblinded)[0]
    assert (lot.vials_opened, lot.mg_used, lot.balance, lot.discrepancy) == (1, Decimal("35.0"), 9, -1)


def test_emergency_unblinding_shows_the_sequence_to_the_requester_only(
    generated, coordinator, unblinded, principal_investigator, make_user, client_for
) -> None:
    kp, pk = _randomized_pair(coordinator)
    other_pi = make_user("pi2", "principal_investigator")
    req = allocation.unblinding_request(
        participant=kp, reason="Severe hypertensive crisis", by=principal_investigator, now=timezone.now()
    )
    with pytest.raises(PermissionDenied):
        allocation.sequence_for(principal_investigator, kp)
    allocation.unblinding_execute(
        request=req, people_informed="Dr. PI by phone", by=unblinded, now=timezone.now()
    )
    assert allocation.sequence_for(principal_investigator, kp) == "KP"
    with pytest.raises(PermissionDenied):
        allocation.sequence_for(principal_investigator, pk)
    with pytest.raises(PermissionDenied):
        allocation.sequence_for(other_pi, kp)
    page = client_for(principal_investigator).get(reverse("participants:unblinding_list")).content.decode()
    assert "<strong>KP</strong>" in page
    assert not re.search(
        r"\bKP\b", client_for(other_pi).get(reverse("participants:unblinding_list")).content.decode()
    )
    detail = client_for(coordinator).get(reverse("participants:detail", args=[kp.pk])).content.decode()
    assert "emergency unblinded" in detail.lower() or "desenmascarado" in detail.lower()
    assert not re.search(r"\b(KP|PK)\b", detail)
    req.refresh_from_db()
    assert req.executed_by == unblinded and req.people_informed == "Dr. PI by phone"
    assert req.history.count() == 2


def test_only_the_principal_investigator_requests_unblinding(generated, coordinator) -> None:
    kp, _ = _randomized_pair(coordinator)
    with pytest.raises(PermissionDenied):
        allocation.unblinding_request(participant=kp, reason="x", by=coordinator, now=timezone.now())
