"""Queries, source-data verification, form locks and the casebook signature (issue 14), through
the services and the pages, within the one visibility rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from clinimetry import services as ratings
from clinimetry.models import Assessment
from outcomes import services as outcomes
from review import services
from review.models import Query, Verification
from tests.conftest import PASSWORD
from tests.factories import enrolled

pytestmark = pytest.mark.django_db
MADRS = {str(n): 3 for n in range(1, 11)}


def _rating(person, rater, items=None, reason=""):  # type: ignore[no-untyped-def]
    return ratings.assessment_save(
        participant=person,
        instrument="madrs",
        task_code="baseline",
        items=items or MADRS,
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        reason=reason,
    )


def test_a_query_is_raised_answered_closed_and_reopened_with_its_thread(
    coordinator, rater, data_manager
) -> None:
    rating = _rating(enrolled(coordinator), rater)
    now = timezone.now()
    q = services.query_raise(
        by=data_manager,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        field="total",
        text="Total differs from the paper form?",
        now=now,
    )
    assert (q.state, q.assignee_role, q.participant_id) == ("open", "rater", rating.participant_id)
    with pytest.raises(PermissionDenied):  # a coordinator is not the assignee of a rating query
        services.query_answer(by=coordinator, query=q, text="?", corrected=False, now=now)
    q = services.query_answer(by=rater, query=q, text="Checked: the paper says 30.", corrected=False, now=now)
    assert q.state == "answered"
    with pytest.raises(ValidationError):
        services.query_close(by=data_manager, query=q, reason=" ", now=now)
    q = services.query_close(by=data_manager, query=q, reason="Confirmed against source", now=now)
    assert q.state == "closed" and q.closed_by == data_manager
    q = services.query_reopen(by=data_manager, query=q, text="Item 4 too?", now=now)
    assert q.state == "open" and q.close_reason == ""
    assert [m.kind for m in q.messages.all()] == ["raised", "answer", "closed", "reopened"]
    assert q.history.count() >= 4  # every step in the audit trail


def test_only_the_data_manager_and_the_monitor_raise_and_only_on_what_they_may_see(
    coordinator, rater, monitor, principal_investigator
) -> None:
    rating = _rating(enrolled(coordinator), rater)
    services.query_raise(
        by=monitor,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        field="",
        text="Source?",
        now=timezone.now(),
    )
    for user in (principal_investigator, coordinator, rater):
        with pytest.raises(PermissionDenied):
            services.query_raise(
                by=user,
                label="clinimetry.assessment",
                record_id=str(rating.pk),
                field="",
                text="x",
                now=timezone.now(),
            )
    with pytest.raises(ValidationError):  # a field the form does not have
        services.query_raise(
            by=monitor,
            label="clinimetry.assessment",
            record_id=str(rating.pk),
            field="nope",
            text="x",
            now=timezone.now(),
        )


def test_the_rater_sees_a_rating_query_without_its_place_in_the_schedule(
    coordinator, rater, data_manager, client_for
) -> None:
    rating = _rating(enrolled(coordinator), rater)
    q = services.query_raise(
        by=data_manager,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        field="",
        text="Please check item 2.",
        now=timezone.now(),
    )
    page = (
        client_for(rater)
        .get(reverse("review:query", args=[q.pk]), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Please check item 2." in page and "baseline" not in page
    listing = client_for(rater).get(reverse("review:queries")).content.decode()
    assert str(q) in listing
    # A field of schedule kind cannot be queried toward the rater's eyes: a query on it is
    # invisible to the rater, and the rater's list does not count it.
    hidden = services.query_raise(
        by=data_manager,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        field="task_code",
        text="?",
        now=timezone.now(),
    )
    assert client_for(rater).get(reverse("review:query", args=[hidden.pk])).status_code == 404
    assert client_for(rater).get(reverse("review:query", args=[hidden.pk + 999])).status_code == 404


def test_an_incomplete_rating_raises_a_query_and_closing_it_with_a_reason_settles_the_lock_blocker(
    coordinator, rater, data_manager
) -> None:
    items = dict(MADRS)
    items["4"] = None
    items["7"] = None
    items["9"] = None
    person = enrolled(coordinator)
    rating = _rating(person, rater, items=items)
    query = Query.objects.get(record_model="clinimetry.assessment", record_id=str(rating.pk))
    assert query.source == "edit_check" and query.check_code == "rating_incomplete"
    blockers = outcomes.lock_blockers()
    if rating.total is None:
        assert rating in blockers.incomplete
    assert blockers.open_queries == 1
    services.query_close(
        by=data_manager,
        query=query,
        reason="Items not assessable: participant too sedated",
        now=timezone.now(),
    )
    blockers = outcomes.lock_blockers()
    assert blockers.open_queries == 0 and rating not in blockers.incomplete


def test_a_later_change_lapses_the_verification_and_says_which_fields(coordinator, rater, monitor) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    services.verify(
        by=monitor,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        fields=["mode"],
        now=timezone.now(),
    )
    services.verify(
        by=monitor, label="participants.participant", record_id=str(person.pk), fields=[], now=timezone.now()
    )
    changed = dict(MADRS)
    changed["1"] = 4
    _rating(person, rater, items=changed, reason="transcription error")  # items, not mode
    assert Verification.objects.get(record_model="clinimetry.assessment").invalidated_at is None
    Assessment.objects.get(pk=rating.pk)
    from ketatrial.audit import clinical_update

    clinical_update(
        Assessment.objects.get(pk=rating.pk), by=rater, reason="was remote", changes={"mode": "remote"}
    )
    lapsed = Verification.objects.get(record_model="clinimetry.assessment")
    assert (
        lapsed.invalidated_at is not None
        and "mode" in lapsed.invalidated_because
        and rater.username in lapsed.invalidated_because
    )


def test_a_locked_form_refuses_writes_until_unlocked_with_a_reason(coordinator, rater, data_manager) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    lock = services.form_lock(
        by=data_manager,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        reason="reviewed",
        now=timezone.now(),
    )
    with pytest.raises(ValidationError, match="locked"):
        _rating(person, rater, items={**MADRS, "1": 5}, reason="late correction")
    with pytest.raises(ValidationError):
        services.form_unlock(by=data_manager, lock=lock, reason="", now=timezone.now())
    services.form_unlock(
        by=data_manager, lock=lock, reason="site found a transcription error", now=timezone.now()
    )
    assert _rating(person, rater, items={**MADRS, "1": 5}, reason="late correction").items["1"] == 5


def test_the_casebook_signature_needs_the_password_again_and_a_later_change_voids_it(
    coordinator, rater, principal_investigator, data_manager
) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    with pytest.raises(ValidationError):
        services.casebook_sign(
            by=principal_investigator,
            participant_id=person.pk,
            username=principal_investigator.username,
            password="wrong",
            now=timezone.now(),
        )
    with pytest.raises(PermissionDenied):
        services.casebook_sign(
            by=data_manager,
            participant_id=person.pk,
            username=data_manager.username,
            password=PASSWORD,
            now=timezone.now(),
        )
    signature = services.casebook_sign(
        by=principal_investigator,
        participant_id=person.pk,
        username=principal_investigator.username,
        password=PASSWORD,
        now=timezone.now(),
    )
    assert signature.meaning == services.SIGNATURE_MEANING
    assert person not in outcomes.lock_blockers().unsigned_casebooks
    _rating(person, rater, items={**MADRS, "2": 4}, reason="correction")
    signature.refresh_from_db()
    assert signature.voided_at is not None and f"#{rating.pk}" in signature.void_reason
    assert person in outcomes.lock_blockers().unsigned_casebooks


def test_open_queries_block_the_casebook_signature_and_the_database_lock(
    coordinator, rater, data_manager, principal_investigator
) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    services.query_raise(
        by=data_manager,
        label="clinimetry.assessment",
        record_id=str(rating.pk),
        field="",
        text="?",
        now=timezone.now(),
    )
    with pytest.raises(ValidationError, match="open"):
        services.casebook_sign(
            by=principal_investigator,
            participant_id=person.pk,
            username=principal_investigator.username,
            password=PASSWORD,
            now=timezone.now(),
        )
    with pytest.raises(ValidationError, match="cannot be locked"):
        outcomes.database_lock(by=principal_investigator, now=timezone.now())


def test_the_review_pages_answer_404_alike_for_what_a_role_may_not_see_and_what_does_not_exist(
    coordinator, rater, data_manager, monitor, principal_investigator, client_for
) -> None:
    person = enrolled(coordinator)
    rating = _rating(person, rater)
    for user in (data_manager, monitor, principal_investigator):
        client = client_for(user)
        assert (
            client.get(reverse("review:record", args=["clinimetry.assessment", rating.pk])).status_code == 200
        )
        assert (
            client.get(reverse("review:record", args=["clinimetry.assessment", rating.pk + 999])).status_code
            == 404
        )
        assert (
            client.get(reverse("review:record", args=["participants.allocationslot", 1])).status_code == 404
        )
        assert client.get(reverse("review:casebook", args=[person.pk])).status_code == 200
        assert client.get(reverse("review:casebooks")).status_code == 200
    assert client_for(rater).get(
        reverse("review:record", args=["clinimetry.assessment", rating.pk])
    ).status_code in (403, 404)


def test_a_major_deviation_is_logged_and_takes_the_participant_out_of_the_per_protocol_set(
    coordinator, data_manager, rater, client_for
) -> None:
    from datetime import timedelta

    import pandas as pd

    from outcomes.sap import sets

    person = enrolled(coordinator)
    today = timezone.localdate()
    with pytest.raises(ValidationError):
        services.deviation_record(
            by=data_manager,
            participant_id=person.pk,
            category="wrong_product",
            occurred_on=today + timedelta(days=1),
            description="x",
            action="",
            major=True,
            now=timezone.now(),
        )
    with pytest.raises(PermissionDenied):
        services.deviation_record(
            by=rater,
            participant_id=person.pk,
            category="other",
            occurred_on=today,
            description="x",
            action="",
            major=False,
            now=timezone.now(),
        )
    response = client_for(data_manager).post(
        reverse("review:deviations"),
        {
            "participant": person.pk,
            "category": "wrong_product",
            "occurred_on": today.isoformat(),
            "description": "Syringe of another participant given",
            "action": "Reported to the PI",
            "major": "on",
        },
    )
    assert response.status_code == 302
    assert services.major_deviations() == {person.code: ["wrong_product"]}
    participants = pd.DataFrame({"participant": [person.code], "sequence": ["KP"]})
    long = pd.DataFrame(
        [(person.code, 1, "madrs", "p1-24h-inf1", None, 10.0, True, False)],
        columns=[
            "participant",
            "period",
            "instrument",
            "timepoint",
            "rated_at",
            "total",
            "response",
            "out_of_window",
        ],
    )
    out = sets.analysis_sets(
        participants,
        long,
        given={person.code: {(1, 1)}},
        infusion1_end={},
        unblinded_at={},
        primary_window_hours=28,
        primary_timepoints=frozenset({"p1-24h-inf1"}),
        major_deviations=services.major_deviations(),
    )
    assert dict(out[sets.PP].excluded) == {person.code: f"{sets.MAJOR_DEVIATION}: wrong_product"}
    page = (
        client_for(data_manager).get(reverse("review:deviations"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert "Syringe of another participant given" in page


def test_the_close_out_archive_holds_every_casebook_as_a_pdf_with_its_signature_and_hash(
    coordinator, rater, principal_investigator, tmp_path, client_for
) -> None:
    import hashlib
    import io
    import json
    import zipfile

    from django.core.management import call_command
    from pypdf import PdfReader

    person = enrolled(coordinator)
    _rating(person, rater)
    services.casebook_sign(
        by=principal_investigator,
        participant_id=person.pk,
        username=principal_investigator.username,
        password=PASSWORD,
        now=timezone.now(),
    )
    other = enrolled(coordinator)
    target = tmp_path / "casebooks.zip"
    call_command(
        "casebooks_archive",
        "--as",
        principal_investigator.username,
        "--out",
        str(target),
        stdout=io.StringIO(),
    )
    archive = zipfile.ZipFile(target)
    manifest = json.loads(archive.read("manifest.json"))
    assert [c["participant"] for c in manifest["casebooks"]] == sorted([person.code, other.code])
    entry = next(c for c in manifest["casebooks"] if c["participant"] == person.code)
    pdf = archive.read(entry["file"])
    assert (
        hashlib.sha256(pdf).hexdigest() == entry["sha256"]
        and entry["signed_by"] == principal_investigator.username
    )
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert person.code in text and "Signed by the principal investigator" in text
    response = client_for(principal_investigator).get(reverse("review:casebook_pdf", args=[other.pk]))
    assert response["Content-Type"] == "application/pdf"


def test_a_record_id_that_is_not_an_id_answers_404_not_a_server_error(data_manager, client_for) -> None:
    for label in ("clinimetry.assessment", "participants.participant"):
        assert (
            client_for(data_manager)
            .get(reverse("review:record", args=[label, "ketatrial.lockevent"]))
            .status_code
            == 404
        )


def test_the_casebook_holds_adverse_event_follow_ups_and_suicide_risk_follow_ups() -> None:
    from review import records

    assert "infusions.adverseeventfollowup" in records.PATHS
    assert "safety.suicideriskfollowup" in records.PATHS
    from participants.allocation import visibility

    for label in records.PATHS:
        assert visibility.record_kind(label) is not None, label  # every form is in the visibility rule
