"""Screening log, consent before procedures, eligibility, enrollment, identity, dispositions."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

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
    with translation.override("en"):
        counts = screening_counts()
    assert counts["assessed"] == 3
    assert counts["by_outcome"]["declined"] == 1
    assert counts["by_outcome"]["screen_failure"] == 1
    assert counts["enrolled"] == 1
    assert counts["randomized"] == 0
    assert counts["failure_reasons"] == [("Screening HDRS-17 below 18", 1)]


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


# --------------------------------------------------------------------------- cross-checks (issue 13)
# PROTOCOL.md: "Default inclusion (editable list): age 18-65; ...; HDRS-17 >= 18 at screening".

SCREENING_DAY = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def _enroll(record, born: date, coordinator):  # type: ignore[no-untyped-def]
    return services.participant_enroll(
        screening=record,
        by=coordinator,
        now=SCREENING_DAY,
        baseline_weight_kg=Decimal("70"),
        height_cm=Decimal("170"),
        full_name="Ana Pérez",
        date_of_birth=born,
    )


@pytest.mark.parametrize(
    ("born", "age"),
    [
        (date(1950, 1, 10), 76),  # the tester's case: age 76 with "Age 18-65 years" answered yes
        (date(1960, 3, 2), 66),  # 66 on the screening day
        (date(2008, 3, 3), 17),  # 18 the day after
    ],
)
def test_a_date_of_birth_outside_the_age_criterion_answered_yes_is_refused(coordinator, born, age) -> None:
    record = screened(coordinator, now=SCREENING_DAY)
    assert record.outcome == "eligible" and record.inclusion_met[0] is True  # "Age 18-65 years": yes
    with pytest.raises(ValidationError) as info:
        _enroll(record, born, coordinator)
    assert info.value.message_dict["date_of_birth"] == [
        f"The date of birth {born.isoformat()} gives an age of {age} on the screening date 2026-03-02, "
        "outside 18-65 years, but the screening checklist answers \u201cAge 18-65 years\u201d with "
        "\u201cYes\u201d. Check the date of birth; if it is right, correct the checklist (a screen failure)."
    ]
    assert not Participant.objects.exists()


@pytest.mark.parametrize("born", [date(1960, 3, 3), date(2008, 3, 2), date(1985, 3, 14)])
def test_a_date_of_birth_inside_the_age_range_is_enrolled(coordinator, born) -> None:
    """65 the day before the 66th birthday, 18 on the 18th birthday."""
    record = screened(coordinator, now=SCREENING_DAY)
    assert _enroll(record, born, coordinator).code == "INNN-001"


def test_a_date_of_birth_after_the_screening_is_refused(coordinator) -> None:
    record = screened(coordinator, now=SCREENING_DAY)
    with pytest.raises(ValidationError, match="after the screening date 2026-03-02"):
        _enroll(record, date(2026, 3, 3), coordinator)


def test_the_enrollment_page_shows_the_age_contradiction_beside_the_date_of_birth(
    coordinator, client_for
) -> None:
    record = screened(coordinator)
    data = {
        "full_name": "Ana Pérez",
        "date_of_birth": "1950-01-10",
        "phone": "",
        "address": "",
        "baseline_weight_kg": "70.0",
        "height_cm": "170.0",
        "baseline_date": "",
        "stratum": "",
    }
    response = client_for(coordinator).post(
        reverse("participants:screening_enroll", args=[record.pk]), data, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "outside 18-65 years" in html
    assert 'value="1950-01-10"' in html and 'value="Ana Pérez"' in html  # the entry is kept
    assert not Participant.objects.exists()


@pytest.mark.parametrize(("answer", "total"), [(True, 12), (False, 25)])
def test_an_hdrs17_answer_the_screening_total_contradicts_is_refused(coordinator, answer, total) -> None:
    record = screened(coordinator, consent=False)
    services.consent_record(
        screening=record, version="1.0", consented_at=timezone.now(), by=coordinator, now=timezone.now()
    )
    inc, exc = _checklist()
    inc[3] = answer  # "HDRS-17 >= 18 at screening"
    with pytest.raises(ValidationError) as info:
        services.screening_assess(
            screening=record,
            inclusion_met=inc,
            exclusion_present=exc,
            hdrs17_total=total,
            by=coordinator,
            now=timezone.now(),
        )
    shown = "Yes" if answer else "No"
    assert info.value.message_dict["hdrs17_total"] == [
        f"The criterion \u201cHDRS-17 >= 18 at screening\u201d is answered \u201c{shown}\u201d, but the "
        f"screening HDRS-17 total is {total} (the criterion needs 18 or more). Correct the answer or the total."
    ]
    record.refresh_from_db()
    assert record.outcome == "pending"


def test_a_consistent_no_to_the_hdrs17_criterion_is_a_screen_failure_with_one_reason(coordinator) -> None:
    record = screened(coordinator, hdrs=12)
    assert record.inclusion_met[3] is False
    assert (record.outcome, record.outcome_reason) == ("screen_failure", "Screening HDRS-17 12 < 18")


def test_the_weight_range_of_enrollment_and_corrections_follows_the_protocol_parameter(
    coordinator, settings, tmp_path
) -> None:
    """The model holds physical bounds (1-500 kg); the plausible range is the protocol's
    weight_min_kg..weight_max_kg, the same the dosing service applies."""
    import json

    from ketatrial import trial
    from participants.forms import EnrollForm, ParticipantEditForm

    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps({"weight_min_kg": 40, "weight_max_kg": 300}))
    settings.PROTOCOL_OVERRIDES_FILE = str(overrides)
    trial.overrides.cache_clear()
    trial.protocol.cache_clear()
    try:
        form = EnrollForm(data={"baseline_weight_kg": "280"}, strata=("",))
        form.is_valid()
        assert "baseline_weight_kg" not in form.errors
        form = EnrollForm(data={"baseline_weight_kg": "35"}, strata=("",))
        form.is_valid()
        assert "baseline_weight_kg" in form.errors
        person = enrolled(coordinator)
        edit = ParticipantEditForm(
            data={"baseline_weight_kg": "35", "height_cm": "170", "reason": "x"}, instance=person
        )
        edit.is_valid()
        assert "baseline_weight_kg" in edit.errors
    finally:
        trial.overrides.cache_clear()
        trial.protocol.cache_clear()
