"""Times of an infusion session that cannot have happened are refused (issue 13), with every time
in the message shown in the site's zone (America/Mexico_City).

PROTOCOL.md: "Informed consent: version, date, person obtaining consent; consent before any study
procedure." STYLE.md: "Time: timezone-aware datetimes only; store UTC, show America/Mexico_City."
A start, a measurement, a stop or a discharge is recorded when it has happened: never after now.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from infusions import services
from infusions.models import InfusionVisit, VitalSigns
from participants.models import Consent, DosePreparation
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
UTC = ZoneInfo("UTC")
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}
# A fixed trial: day 1 on 2 March 2026, the infusion at 09:00 Mexico City (15:00 UTC).
DAY1 = datetime(2026, 3, 2, tzinfo=MX).date()
START = datetime.combine(DAY1, time(9), tzinfo=MX)


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
    """Consented at 07:00 on 28 February 2026 (Mexico City), scheduled from 2 March."""
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=DAY1,
        now=datetime(2026, 2, 28, 8, 0, tzinfo=MX),
        prepared_at=START - timedelta(hours=1),
    )


def _visit(person, team):  # type: ignore[no-untyped-def]
    return services.visit_for(person, 1, 1, by=team["physician"])


def _start(person, team, *, at=START, now=None):  # type: ignore[no-untyped-def]
    return services.session_start(
        visit=_visit(person, team),
        prechecks=CHECKS,
        syringe_code=DosePreparation.objects.get(participant=person).syringe_code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=at,
        by=team["physician"],
        now=now or at + timedelta(minutes=1),
    )


def _vitals(visit, team, *, minute=0, at, now):  # type: ignore[no-untyped-def]
    return services.vitals_record(
        visit=visit,
        minute=minute,
        systolic=124,
        diastolic=80,
        heart_rate=72,
        spo2=98,
        measured_at=at,
        by=team["physician"],
        now=now,
    )


def _message(info: pytest.ExceptionInfo, field: str) -> str:
    return info.value.message_dict[field][0]


def test_a_start_time_in_the_future_is_refused_with_both_times_in_mexico_city_time(person, team) -> None:
    """Now is 08:30 in Mexico City (14:30 UTC); a start typed for 09:00 has not happened yet."""
    now = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    with pytest.raises(ValidationError) as info:
        _start(person, team, at=START, now=now)
    assert _message(info, "started_at") == (
        "The start time 2026-03-02 09:00 CST is in the future (it is now 2026-03-02 08:30 CST): "
        "enter the time the infusion started."
    )
    assert InfusionVisit.objects.get(participant=person).status == "planned"


def test_vitals_measured_in_the_future_are_refused(person, team) -> None:
    visit = _start(person, team)
    with pytest.raises(ValidationError) as info:
        _vitals(visit, team, at=START + timedelta(minutes=10), now=START + timedelta(minutes=5))
    assert _message(info, "measured_at") == (
        "The measurement time 2026-03-02 09:10 CST is in the future (it is now 2026-03-02 09:05 CST): "
        "enter the time the vitals were measured."
    )
    assert not VitalSigns.objects.exists()
    _vitals(visit, team, at=START + timedelta(minutes=5), now=START + timedelta(minutes=5))  # now is fine


def test_vitals_measured_before_consent_are_refused_naming_the_consent_time_in_mexico_city_time(
    person, team
) -> None:
    """PROTOCOL.md: "consent before any study procedure"; consent was given at 07:00 on 28 Feb."""
    consent = Consent.objects.get(screening=person.screening)
    assert consent.consented_at == datetime(2026, 2, 28, 7, 0, tzinfo=MX)
    visit = _visit(person, team)
    with pytest.raises(ValidationError, match=r"before the consent time \(2026-02-28 07:00 CST\)"):
        _vitals(visit, team, minute=-1, at=consent.consented_at - timedelta(minutes=30), now=START)
    assert not VitalSigns.objects.exists()
    _vitals(visit, team, minute=-1, at=START - timedelta(minutes=15), now=START)


def test_a_stop_time_in_the_future_is_refused(person, team) -> None:
    visit = _start(person, team)
    with pytest.raises(ValidationError) as info:
        services.session_stop(
            visit=visit,
            ended_at=START + timedelta(minutes=41),
            interruptions="",
            by=team["physician"],
            now=START + timedelta(minutes=20),
        )
    assert _message(info, "ended_at") == (
        "The stop time 2026-03-02 09:41 CST is in the future (it is now 2026-03-02 09:20 CST): "
        "record the stop once the infusion has ended."
    )
    assert InfusionVisit.objects.get(pk=visit.pk).ended_at is None


def test_a_discharge_time_in_the_future_is_refused(person, team) -> None:
    """PROTOCOL.md: "observation >= 60 min after each infusion": discharge at 10:45 after a stop at
    09:40 is long enough, but at 10:00 it has not happened."""
    visit = _start(person, team)
    services.session_stop(
        visit=visit,
        ended_at=START + timedelta(minutes=40),
        interruptions="",
        by=team["physician"],
        now=START + timedelta(minutes=40),
    )
    with pytest.raises(ValidationError) as info:
        services.session_discharge(
            visit=visit,
            discharged_at=START + timedelta(minutes=105),
            by=team["physician"],
            now=START + timedelta(hours=1),
        )
    assert _message(info, "discharged_at") == (
        "The discharge time 2026-03-02 10:45 CST is in the future (it is now 2026-03-02 10:00 CST): "
        "record the discharge when the participant leaves."
    )
    assert InfusionVisit.objects.get(pk=visit.pk).discharged_at is None


def test_the_observation_message_shows_the_earliest_discharge_in_mexico_city_time(person, team) -> None:
    """PROTOCOL.md: "observation >= 60 min after each infusion": stop 09:40, discharge from 10:40."""
    visit = _start(person, team)
    services.session_stop(
        visit=visit,
        ended_at=START + timedelta(minutes=40),
        interruptions="",
        by=team["physician"],
        now=START + timedelta(minutes=40),
    )
    with pytest.raises(ValidationError, match="discharge from 2026-03-02 10:40 CST"):
        services.session_discharge(
            visit=visit,
            discharged_at=START + timedelta(minutes=90),
            by=team["physician"],
            now=START + timedelta(hours=3),
        )


def test_the_session_page_refuses_a_future_stop_in_mexico_city_time_and_keeps_the_entry(
    coordinator, pharmacist, make_user, infusion_physician, settings, client_for
) -> None:
    """Through the page, with the real clock: the message shows the typed time and now, both in
    Mexico City time, beside the stop time, and the stop is not recorded."""
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    real_now = timezone.now()
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=make_user("pharmacist2", "pharmacist"),
        day1=timezone.localdate(),
        now=real_now - timedelta(days=3),
        prepared_at=real_now - timedelta(hours=2),
    )
    team = {"physician": infusion_physician}
    started = real_now - timedelta(hours=1)
    _start(person, team, at=started, now=real_now)
    typed = (timezone.localtime(real_now) + timedelta(hours=2)).replace(second=0, microsecond=0)
    url = reverse("infusions:session_stop", args=[person.pk, 1, 1])
    response = client_for(infusion_physician).post(
        url, {"ended_at": typed.strftime("%Y-%m-%dT%H:%M"), "interruptions": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert f"The stop time {typed:%Y-%m-%d %H:%M} CST is in the future" in html
    assert f'value="{typed:%Y-%m-%dT%H:%M}"' in html
    assert InfusionVisit.objects.get(participant=person, period=1, number=1).ended_at is None
