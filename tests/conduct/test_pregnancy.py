"""The pregnancy test before each infusion: a participant of childbearing potential starts an
infusion only after a negative test in the protocol's hours before it; the session says why not."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conduct import services
from conduct.models import PregnancyTest
from infusions import services as infusion_services
from infusions.models import InfusionVisit
from participants.models import DosePreparation
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=MX)
DAY1 = date(2026, 3, 3)
START = datetime(2026, 3, 3, 9, 0, tzinfo=MX)
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


@pytest.fixture
def team(coordinator, pharmacist, make_user, infusion_physician, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    return {
        "coordinator": coordinator,
        "pharmacist": pharmacist,
        "checker": make_user("pharmacist2", "pharmacist"),
        "physician": infusion_physician,
    }


@pytest.fixture
def person(team):  # type: ignore[no-untyped-def]
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=DAY1,
        now=NOW,
        prepared_at=START - timedelta(hours=1),
    )


def _start(person, team):  # type: ignore[no-untyped-def]
    visit = infusion_services.visit_for(person, 1, 1, by=team["physician"])
    code = DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    return infusion_services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=START,
        by=team["physician"],
        now=START + timedelta(minutes=1),
    )


def _of_childbearing_potential(person, team, potential: bool = True) -> None:  # type: ignore[no-untyped-def]
    services.childbearing_potential_set(
        participant=person,
        of_childbearing_potential=potential,
        assessed_on=NOW.date(),
        note="",
        reason="",
        by=team["coordinator"],
        now=NOW,
    )


def _test(person, team, *, at: datetime, result: str = "negative") -> PregnancyTest:  # type: ignore[no-untyped-def]
    return services.pregnancy_test_record(
        participant=person, tested_at=at, kind="urine", result=result, by=team["coordinator"], now=START
    )


def test_the_session_refuses_to_start_without_a_recent_negative_test(person, team) -> None:
    _of_childbearing_potential(person, team)
    with pytest.raises(ValidationError, match="No pregnancy test in the 72 h before the start"):
        _start(person, team)
    _test(person, team, at=START - timedelta(hours=73))  # outside the window
    with pytest.raises(ValidationError, match="No pregnancy test in the 72 h"):
        _start(person, team)
    assert InfusionVisit.objects.get(participant=person, period=1, number=1).status == "planned"
    _test(person, team, at=START - timedelta(hours=2))
    assert _start(person, team).status == InfusionVisit.Status.IN_PROGRESS


def test_a_positive_latest_test_stops_the_session(person, team) -> None:
    _of_childbearing_potential(person, team)
    _test(person, team, at=START - timedelta(hours=30))
    _test(person, team, at=START - timedelta(hours=3), result="positive")
    with pytest.raises(ValidationError, match="STOP: the latest pregnancy test .* is positive"):
        _start(person, team)


def test_no_test_is_asked_of_a_participant_not_of_childbearing_potential(person, team) -> None:
    _of_childbearing_potential(person, team, potential=False)
    assert _start(person, team).status == InfusionVisit.Status.IN_PROGRESS


def test_the_window_is_a_protocol_parameter(person, team, monkeypatch) -> None:
    import dataclasses

    from conduct import services as conduct_services

    shorter = dataclasses.replace(conduct_services.protocol(), pregnancy_test_hours=1)
    monkeypatch.setattr(conduct_services, "protocol", lambda: shorter)
    _of_childbearing_potential(person, team)
    _test(person, team, at=START - timedelta(hours=2))
    with pytest.raises(ValidationError, match="in the 1 h before"):
        _start(person, team)


def test_a_test_in_the_future_is_refused_on_its_field(person, team) -> None:
    with pytest.raises(ValidationError) as refused:
        _test(person, team, at=START + timedelta(hours=1))
    assert "tested_at" in refused.value.message_dict


def test_the_page_records_tests_for_the_team_and_stays_closed_to_the_rater(
    person, team, client_for, rater
) -> None:
    client = client_for(team["coordinator"])
    potential = reverse("conduct:childbearing_potential", args=[person.pk])
    assert (
        client.post(potential, {"of_childbearing_potential": "on", "assessed_on": "2026-03-01"}).status_code
        == 302
    )
    add = reverse("conduct:pregnancy_test_add", args=[person.pk])
    refused = client.post(add, {"tested_at": "2099-01-01T10:00", "kind": "urine", "result": "negative"})
    assert refused.status_code == 400 and "2099-01-01T10:00" in refused.content.decode()
    assert (
        client.post(add, {"tested_at": "2026-03-01T10:00", "kind": "urine", "result": "negative"}).status_code
        == 302
    )
    test = PregnancyTest.objects.get(participant=person)
    edit = reverse("conduct:pregnancy_test_edit", args=[test.pk])
    assert (
        client.post(
            edit,
            {
                "tested_at": "2026-03-01T10:30",
                "kind": "urine",
                "result": "negative",
                "reason": "time misread",
            },
        ).status_code
        == 302
    )
    assert test.history.first().history_change_reason == "time misread"
    # A change of potential needs its reason.
    again = client.post(potential, {"assessed_on": "2026-03-01"})
    assert again.status_code == 400
    page = reverse("conduct:pregnancy", args=[person.pk])
    assert "Of childbearing potential" in client.get(page).content.decode()
    assert client_for(team["physician"]).get(page).status_code == 200
    assert client_for(rater).get(page).status_code == 403
    assert client_for(team["pharmacist"]).get(page).status_code == 404


def test_the_session_page_says_why_it_did_not_start_and_keeps_what_was_typed(
    person, team, client_for
) -> None:
    _of_childbearing_potential(person, team)
    code = DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    post = {f"check_{key}": "on" for key in CHECKS} | {
        "syringe_code": code,
        "pump_rate_ml_h": "75.0",
        "started_at": "2026-03-03T09:00",
    }
    url = reverse("infusions:session_start", args=[person.pk, 1, 1])
    response = client_for(team["physician"]).post(url, post)
    assert response.status_code == 400
    body = response.content.decode()
    assert "No pregnancy test in the 72 h before the start (2026-03-03 09:00 CST)" in body
    assert code in body
    assert InfusionVisit.objects.get(participant=person, period=1, number=1).status == "planned"
