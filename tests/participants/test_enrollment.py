"""Screening log, consent before procedures, eligibility, enrollment, identity, dispositions."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ketatrial.trial import protocol
from participants import services
from participants.models import Participant, ScreeningRecord
from participants.selectors import screening_counts
from tests.factories import enrolled, screened


def _checklist(ok: bool = True):
    p = protocol()
    return [True] * len(p.inclusion_criteria), [False] * (len(p.exclusion_criteria) - 1) + [not ok]


def test_every_screening_gets_its_own_number(coordinator) -> None:
    site = services.site_get_or_create_default()
    a = services.screening_start(site=site, by=coordinator, now=timezone.now())
    b = services.screening_start(site=site, by=coordinator, now=timezone.now())
    assert (a.code, b.code) == ("S-INNN-0001", "S-INNN-0002")
    assert a.inclusion_criteria == list(protocol().inclusion_criteria)


def test_no_study_procedure_is_recorded_before_consent(coordinator) -> None:
    record = screened(coordinator, consent=False)
    inc, exc = _checklist()
    with pytest.raises(ValidationError, match="consent"):
        services.screening_assess(
            screening=record,
            inclusion_met=inc,
            exclusion_present=exc,
            hdrs17_total=25,
            by=coordinator,
            now=timezone.now(),
        )


def test_a_procedure_timed_before_the_consent_is_refused(coordinator) -> None:
    now = timezone.now()
    record = screened(coordinator, consent=False)
    services.consent_record(screening=record, version="1.0", consented_at=now, by=coordinator, now=now)
    inc, exc = _checklist()
    with pytest.raises(ValidationError, match="before the consent"):
        services.screening_assess(
            screening=record,
            inclusion_met=inc,
            exclusion_present=exc,
            hdrs17_total=25,
            by=coordinator,
            now=now - timedelta(minutes=5),
        )


@pytest.mark.parametrize(
    ("hdrs", "ok", "outcome"),
    [(18, True, "eligible"), (17, True, "screen_failure"), (30, False, "screen_failure")],
)
def test_the_outcome_follows_from_the_checklist(coordinator, hdrs, ok, outcome) -> None:
    record = screened(coordinator, hdrs=hdrs, eligible=ok)
    assert record.outcome == outcome
    if outcome == "screen_failure":
        assert record.outcome_reason


def test_an_incomplete_checklist_stays_pending(coordinator) -> None:
    record = screened(coordinator, consent=False)
    services.consent_record(
        screening=record, version="1.0", consented_at=timezone.now(), by=coordinator, now=timezone.now()
    )
    inc, exc = _checklist()
    inc[0] = None
    services.screening_assess(
        screening=record,
        inclusion_met=inc,
        exclusion_present=exc,
        hdrs17_total=None,
        by=coordinator,
        now=timezone.now(),
    )
    record.refresh_from_db()
    assert record.outcome == ScreeningRecord.Outcome.PENDING


def test_a_correction_of_the_checklist_needs_a_reason(coordinator) -> None:
    record = screened(coordinator, hdrs=17)
    inc, exc = _checklist()
    with pytest.raises(ValidationError):
        services.screening_assess(
            screening=record,
            inclusion_met=inc,
            exclusion_present=exc,
            hdrs17_total=19,
            by=coordinator,
            now=timezone.now(),
        )
    services.screening_assess(
        screening=record,
        inclusion_met=inc,
        exclusion_present=exc,
        hdrs17_total=19,
        by=coordinator,
        now=timezone.now(),
        reason="Item 1 mis-scored",
    )
    record.refresh_from_db()
    assert record.outcome == "eligible"


def test_only_an_eligible_person_is_enrolled(coordinator) -> None:
    record = screened(coordinator, hdrs=10)
    with pytest.raises(ValidationError, match="eligible"):
        services.participant_enroll(
            screening=record,
            by=coordinator,
            now=timezone.now(),
            baseline_weight_kg=Decimal("70"),
            height_cm=Decimal("170"),
            full_name="X",
            date_of_birth=date(1990, 1, 1),
        )


def test_a_declined_person_counts_in_the_screening_log(coordinator) -> None:
    record = screened(coordinator, consent=False)
    services.screening_decline(screening=record, reason="No time for visits", by=coordinator)
    screened(coordinator, hdrs=10)
    enrolled(coordinator)
    counts = screening_counts()
    assert counts["assessed"] == 3
    assert counts["by_outcome"]["declined"] == 1
    assert counts["by_outcome"]["screen_failure"] == 1
    assert counts["enrolled"] == 1
    assert counts["randomized"] == 0
    assert counts["failure_reasons"] == [("Screening HDRS-17 10 < 18", 1)]


def test_participant_ids_carry_the_site_prefix(coordinator) -> None:
    assert enrolled(coordinator).code == "INNN-001"
    assert enrolled(coordinator).code == "INNN-002"


def test_identifying_data_is_encrypted_at_rest(coordinator) -> None:
    participant = enrolled(coordinator, name="Ana Pérez Zamudio")
    with connection.cursor() as cursor:
        cursor.execute("SELECT full_name_enc, date_of_birth_enc FROM participants_identity")
        stored = " ".join(cursor.fetchone())
    assert "Zamudio" not in stored and "1985" not in stored
    assert services.identity_read(participant)["full_name"] == "Ana Pérez Zamudio"


def test_identifying_data_is_shown_to_coordinators_only(personas, client_for) -> None:
    participant = enrolled(personas["coordinator"])
    url = reverse("participants:identity", args=[participant.pk])
    for role, user in personas.items():
        response = client_for(user).get(url)
        assert (response.status_code == 200) == (role == "coordinator"), role
        if role == "coordinator":
            assert "Ana Pérez" in response.content.decode()
    for role, user in personas.items():
        html = client_for(user).get(reverse("participants:detail", args=[participant.pk])).content.decode()
        assert "Ana Pérez" not in html


def test_a_new_consent_version_asks_for_re_consent(participant, coordinator, settings, monkeypatch) -> None:
    from ketatrial import trial
    from ketatrial.protocol import protocol_with_overrides

    monkeypatch.setattr(trial, "protocol", lambda: protocol_with_overrides({"consent_version": "2.0"}))
    monkeypatch.setattr(services, "protocol", trial.protocol)
    problem = services.consent_problem(participant.screening, at=timezone.now())
    assert problem and "Re-consent" in problem
    services.consent_record(
        screening=participant.screening,
        version="2.0",
        consented_at=timezone.now(),
        by=coordinator,
        now=timezone.now(),
    )
    assert services.consent_problem(participant.screening, at=timezone.now() + timedelta(seconds=1)) is None


@pytest.mark.parametrize("status", ["withdrawn", "discontinued", "lost"])
def test_a_disposition_keeps_earlier_data_and_needs_a_reason(participant, coordinator, status) -> None:
    with pytest.raises(ValidationError):
        services.participant_disposition(
            participant=participant,
            status=status,
            on=date.today(),
            reason="",
            by=coordinator,
            now=timezone.now(),
        )
    services.participant_disposition(
        participant=participant,
        status=status,
        on=timezone.localdate(),
        reason="Moved to another state",
        by=coordinator,
        now=timezone.now(),
    )
    participant.refresh_from_db()
    assert participant.status == status and participant.disposition_reason == "Moved to another state"
    assert participant.baseline_weight_kg == Decimal("70.0")
    assert Participant.objects.filter(pk=participant.pk).exists()


def test_the_screening_page_keeps_a_refused_consent_entry(coordinator, client_for) -> None:
    record = screened(coordinator, consent=False)
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(coordinator).post(
        reverse("participants:screening_consent", args=[record.pk]),
        {"version": "1.0-b", "consented_at": future},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Consent cannot be in the future" in html
    assert 'value="1.0-b"' in html
