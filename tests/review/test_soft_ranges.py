"""Soft ranges (issue 14, edit checks): an unusual weight, an old baseline date and an MRS scan
outside its session's window are saved only once confirmed with a reason, kept with who and why;
the scan's time is also checked against the schedule (a cross-form check) and raises a query."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from infusions import selectors as infusion_selectors
from infusions import services as infusion_services
from ketatrial.protocol import Protocol
from participants import allocation, services
from participants.models import Participant
from review import soft_ranges
from review.models import Query, SoftRangeConfirmation
from spectroscopy import services as mrs
from spectroscopy.models import MRSUpload
from tests.factories import enrolled, randomized, screened

TZ = ZoneInfo("America/Mexico_City")
P = Protocol()


@pytest.mark.parametrize(
    ("weight", "unusual"),
    [(40.0, False), (39.9, True), (150.0, False), (150.1, True), (70.0, False), (None, False)],
)
def test_a_weight_is_unusual_only_outside_the_usual_adult_range(weight, unusual) -> None:  # type: ignore[no-untyped-def]
    found = soft_ranges.weight_unusual("w", weight, P)
    assert bool(found) is unusual
    if unusual:
        assert found[0].usual == "40-150 kg" and found[0].field == "w"


@pytest.mark.parametrize(("days_ago", "unusual"), [(0, False), (30, False), (31, True), (400, True)])
def test_a_baseline_date_is_unusual_when_older_than_the_protocol_says(days_ago, unusual) -> None:  # type: ignore[no-untyped-def]
    today = date(2026, 12, 2)
    found = soft_ranges.baseline_date_unusual("d", today - timedelta(days=days_ago), today=today, p=P)
    assert bool(found) is unusual


def test_a_scan_time_is_unusual_only_outside_its_window_both_ends_included() -> None:
    start, end = datetime(2026, 11, 1, 8, 0, tzinfo=TZ), datetime(2026, 11, 3, 8, 0, tzinfo=TZ)
    for at, unusual in (
        (start, False),
        (end, False),
        (start - timedelta(minutes=1), True),
        (end + timedelta(hours=5), True),
    ):
        found = soft_ranges.scan_time_unusual("s", at, window_start=start, window_end=end)
        assert bool(found) is unusual
    found = soft_ranges.scan_time_unusual("s", end + timedelta(hours=5), window_start=start, window_end=end)
    assert found[0].value == "2026-11-03 13:00" and found[0].usual == "2026-11-01 08:00 - 2026-11-03 08:00"


def test_an_unusual_weight_at_enrolment_waits_for_a_reason_and_keeps_it(coordinator) -> None:
    with pytest.raises(ValidationError) as refused:
        enrolled(coordinator, weight="38.0")
    assert "38 kg is unusual (usual: 40-150 kg)" in str(refused.value.message_dict["baseline_weight_kg"])
    assert not Participant.objects.exists()

    now = timezone.now()
    record = screened(coordinator, now=now)
    person = services.participant_enroll(
        screening=record,
        by=coordinator,
        now=now,
        baseline_weight_kg=Decimal("38.0"),
        height_cm=Decimal("150.0"),
        full_name="Lucía Ramos",
        date_of_birth=date(1990, 1, 1),
        confirm_reason="Weighed again on the calibrated scale: 38.0 kg",
    )
    confirmation = SoftRangeConfirmation.objects.get()
    assert (confirmation.record_model, confirmation.record_id, confirmation.field) == (
        "participants.participant",
        str(person.pk),
        "baseline_weight_kg",
    )
    assert confirmation.value == "38 kg" and confirmation.confirmed_by == coordinator
    assert confirmation.reason == "Weighed again on the calibrated scale: 38.0 kg"
    assert confirmation.history.get().history_change_reason.startswith("unusual value confirmed")


def test_a_baseline_date_in_the_future_or_before_consent_is_refused(coordinator) -> None:
    now = timezone.now()
    record = screened(coordinator, now=now)
    common = {
        "screening": record,
        "by": coordinator,
        "now": now,
        "baseline_weight_kg": Decimal("70.0"),
        "height_cm": Decimal("170.0"),
        "full_name": "Ana",
        "date_of_birth": date(1985, 1, 1),
    }
    today = timezone.localdate(now)
    with pytest.raises(ValidationError, match="in the future"):
        services.participant_enroll(**common, baseline_date=today + timedelta(days=1))
    with pytest.raises(ValidationError, match="cannot come before consent"):
        services.participant_enroll(**common, baseline_date=today - timedelta(days=3))


def test_the_correction_page_asks_to_confirm_keeps_the_entry_and_shows_the_ranges(
    coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    client = client_for(coordinator)
    url = reverse("participants:edit", args=[person.pk])
    page = client.get(url).content.decode()
    assert "possible 30-250 kg; usual 40-150 kg" in page

    data = {
        "baseline_weight_kg": "160.0",
        "height_cm": "170.0",
        "baseline_date": timezone.localdate().isoformat(),
        "reason": "Typed from the source document",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "160 kg is unusual (usual: 40-150 kg)" in body
    assert 'value="160.0"' in body and "Typed from the source document" in body
    person.refresh_from_db()
    assert person.baseline_weight_kg == Decimal("70.0")

    response = client.post(url, {**data, "confirm_reason": "Weighed twice; the participant confirms"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.baseline_weight_kg == Decimal("160.0")
    assert SoftRangeConfirmation.objects.get().reason == "Weighed twice; the participant confirms"

    # An unchanged value already confirmed is not asked about again.
    response = client.post(url, {**data, "height_cm": "171.0", "reason": "Height re-measured"})
    assert response.status_code == 302
    assert SoftRangeConfirmation.objects.count() == 1


def _scheduled(coordinator, pharmacist):  # type: ignore[no-untyped-def]
    now = timezone.now()
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=10, seed=21)
    enrolled_at = now - timedelta(days=25)
    person = randomized(coordinator, now=enrolled_at)
    day1 = timezone.localdate(enrolled_at) + timedelta(days=5)
    infusion_services.schedule_set(participant=person, day1=day1, by=coordinator, now=enrolled_at)
    return person


def _upload(person, coordinator, scanned_at, reason="", tmp=b"not a scan"):  # type: ignore[no-untyped-def]
    return mrs.upload_store(
        participant=person,
        session_code="p1-mrs-baseline",
        kind="mega",
        source=SimpleUploadedFile("scan.txt", tmp),
        original_name="scan.txt",
        scanned_at=scanned_at,
        confirm_reason=reason,
        by=coordinator,
        now=timezone.now(),
    )


def test_an_mrs_scan_outside_its_window_is_kept_only_with_a_reason_and_raises_a_query(
    coordinator, pharmacist, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT, settings.UNBLINDED_USERNAMES = str(tmp_path), ["pharmacist"]
    person = _scheduled(coordinator, pharmacist)
    start, end = infusion_selectors.mrs_window(person, "p1-mrs-baseline")  # type: ignore[misc]

    inside, _ = _upload(person, coordinator, start + timedelta(hours=1))
    assert inside.scanned_at == start + timedelta(hours=1)
    assert not Query.objects.exists() and not SoftRangeConfirmation.objects.exists()

    outside = start - timedelta(days=2)
    with pytest.raises(ValidationError) as refused:
        _upload(person, coordinator, outside, tmp=b"another")
    assert "is unusual (usual:" in str(refused.value.message_dict["scanned_at"])
    assert MRSUpload.objects.count() == 1

    kept, created = _upload(
        person, coordinator, outside, reason="Scanner down on the planned day", tmp=b"another"
    )
    assert created
    confirmation = SoftRangeConfirmation.objects.get()
    assert confirmation.record_model == "spectroscopy.mrsupload" and confirmation.record_id == str(kept.pk)
    query = Query.objects.get()
    assert (query.record_model, query.record_id, query.field, query.check_code) == (
        "spectroscopy.mrsupload",
        str(kept.pk),
        "scanned_at",
        "mrs_scan_out_of_window",
    )
    assert query.source == Query.Source.EDIT_CHECK and query.assignee_role == "coordinator"
    assert timezone.localtime(outside).strftime("%Y-%m-%d %H:%M") in query.text


def test_an_mrs_scan_time_in_the_future_is_refused(coordinator, pharmacist, settings, tmp_path) -> None:
    settings.MEDIA_ROOT, settings.UNBLINDED_USERNAMES = str(tmp_path), ["pharmacist"]
    person = _scheduled(coordinator, pharmacist)
    with pytest.raises(ValidationError, match="in the future"):
        _upload(person, coordinator, timezone.now() + timedelta(hours=2), reason="whatever")
    assert not MRSUpload.objects.exists()


def test_the_upload_form_shows_each_window_and_asks_for_the_file_again(
    coordinator, pharmacist, client_for, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT, settings.UNBLINDED_USERNAMES = str(tmp_path), ["pharmacist"]
    person = _scheduled(coordinator, pharmacist)
    client = client_for(coordinator)
    page = client.get(reverse("spectroscopy:participant", args=[person.pk])).content.decode()
    start, end = infusion_selectors.mrs_window(person, "p1-mrs-baseline")  # type: ignore[misc]
    options = re.findall(r"<option[^>]*>[^<]*</option>", page)
    assert any(f"window {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}" in o for o in options), options
    response = client.post(
        reverse("spectroscopy:upload", args=[person.pk]),
        {
            "session_code": "p1-mrs-baseline",
            "scanned_at": (start - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "kind": "mega",
            "file": SimpleUploadedFile("scan.txt", b"x"),
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "is unusual (usual:" in body and "Choose the file again" in body
    assert not MRSUpload.objects.exists()
