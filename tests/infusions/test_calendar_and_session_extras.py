"""Issue 15, item 6 (schedule and session): the study calendar's closed days, a planned start time
per infusion, extra vital-sign readings, and pause and resume, through the services and pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from icalendar import Calendar

from infusions import ical, selectors, services
from infusions.models import ClosedDay, InfusionPause, InfusionVisit, Schedule, VitalSigns
from participants import allocation
from participants.models import DosePreparation
from tests.factories import randomized
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
NOW = datetime.now(MX).replace(hour=10, minute=0, second=0, microsecond=0)
DAY1 = NOW.date() + timedelta(days=1)
# Sessions are recorded after they happen: their tests run on a past day 1 (Monday 2 March 2026).
PAST_DAY1 = datetime(2026, 3, 2, tzinfo=MX).date()
START = datetime.combine(PAST_DAY1, time(9, 0), tzinfo=MX)
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
def open_weekends(team):  # type: ignore[no-untyped-def]
    """Every weekday open, so only the named closed days of a test close the site."""
    services.closed_weekdays_set(weekdays=[], reason="open every day for these tests", by=team["coordinator"])


@pytest.fixture
def person(team):  # type: ignore[no-untyped-def]
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=DAY1,
        now=NOW,
    )


@pytest.fixture
def past_person(team):  # type: ignore[no-untyped-def]
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=PAST_DAY1,
        now=datetime(2026, 2, 28, 8, 0, tzinfo=MX),
        prepared_at=START - timedelta(hours=1),
    )


def _started(person, team) -> InfusionVisit:  # type: ignore[no-untyped-def]
    visit = services.visit_for(person, 1, 1, by=team["physician"])
    code = DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    return services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=START,
        by=team["physician"],
        now=START + timedelta(minutes=1),
    )


def _last_reason(record) -> str:  # type: ignore[no-untyped-def]
    return record.history.order_by("-history_date", "-history_id").first().history_change_reason


# --- closed days ---------------------------------------------------------------------------------


def test_booking_day_1_names_the_visits_on_a_closed_day_and_keeps_them_only_with_a_reason(
    team, open_weekends
) -> None:  # type: ignore[no-untyped-def]
    allocation.allocation_list_generate(by=team["pharmacist"], now=NOW, n_per_stratum=10, seed=21)
    person = randomized(team["coordinator"], now=NOW)
    services.closed_day_add(day=DAY1 + timedelta(days=3), name="Site closure", by=team["coordinator"])
    with pytest.raises(ValidationError) as refused:
        services.schedule_set(
            participant=person, day1=DAY1, by=team["coordinator"], now=NOW, closed_day_reason=""
        )
    message = refused.value.message_dict["closed_day_reason"][0]
    assert "Period 1, infusion 2" in message and "Site closure" in message
    assert "infusion 1:" not in message  # only what falls on the closed day is named
    # Its window is day 3 to day 5, all open but day 4: the day before is as near and earlier.
    assert f"nearest open day in its window: {DAY1 + timedelta(days=2):%Y-%m-%d}" in message
    assert not Schedule.objects.filter(participant=person).exists()

    saved = services.schedule_set(
        participant=person,
        day1=DAY1,
        by=team["coordinator"],
        now=NOW,
        closed_day_reason="the participant can only come that week",
    )
    reason = _last_reason(saved)
    assert "kept: the participant can only come that week" in reason and "Period 1, infusion 2" in reason


def test_moving_an_infusion_onto_a_closed_day_warns_on_the_timeline_and_keeps_the_typed_date(
    team, person, open_weekends, client_for
) -> None:  # type: ignore[no-untyped-def]
    holiday = DAY1 + timedelta(days=4)  # inside infusion 2's window (target day 4, +-1 day)
    services.closed_day_add(day=holiday, name="Día festivo local", by=team["coordinator"])
    client = client_for(team["coordinator"])
    url = reverse("infusions:reschedule", args=[person.pk])
    form = {"period": "1", "number": "2", "new_date": holiday.isoformat(), "reason": ""}

    warned = client.post(url, form)
    assert warned.status_code == 400
    page = warned.content.decode()
    assert "Día festivo local" in page and f'value="{holiday.isoformat()}"' in page
    assert 'name="closed_day_reason"' in page
    assert not InfusionVisit.objects.filter(participant=person, planned_date=holiday).exists()

    kept = client.post(url, {**form, "closed_day_reason": "only day the chair is free"})
    assert kept.status_code == 302
    visit = InfusionVisit.objects.get(participant=person, period=1, number=2)
    assert visit.planned_date == holiday
    assert "kept: only day the chair is free" in _last_reason(visit)

    # The timeline and the calendar mark the closed day.
    assert "Día festivo local" in client.get(reverse("infusions:timeline", args=[person.pk])).content.decode()
    week = client.get(reverse("infusions:calendar"), {"view": "week", "start": holiday.isoformat()})
    assert "Día festivo local" in week.content.decode()


def test_a_move_onto_an_open_day_asks_nothing(team, person, open_weekends) -> None:  # type: ignore[no-untyped-def]
    services.closed_day_add(day=DAY1 + timedelta(days=4), name="Site closure", by=team["coordinator"])
    visit = services.infusion_reschedule(
        participant=person,
        period=1,
        number=2,
        new_date=DAY1 + timedelta(days=2),
        reason="",
        by=team["coordinator"],
        now=NOW,
        closed_day_reason="",
    )
    assert visit.planned_date == DAY1 + timedelta(days=2)


def test_saturday_and_sunday_are_closed_by_default_and_the_team_can_change_the_weekdays(team) -> None:  # type: ignore[no-untyped-def]
    assert selectors.closed_calendar().weekdays == frozenset({5, 6})
    services.closed_weekdays_set(weekdays=[6], reason="Saturday clinic opens", by=team["coordinator"])
    calendar = selectors.closed_calendar()
    assert calendar.weekdays == frozenset({6}) and calendar.weekdays_set_by_team
    with pytest.raises(ValidationError):
        services.closed_weekdays_set(weekdays=[7], reason="x", by=team["coordinator"])


def test_the_coordinator_adds_statutory_holidays_and_opens_a_day_again_from_the_closed_days_page(
    team, client_for
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(team["coordinator"])
    base = reverse("infusions:closed_days")
    added = client.post(f"{base}statutory/?year=2027", {"year": "2027"})
    assert added.status_code == 302
    christmas = ClosedDay.objects.get(day="2027-12-25")
    assert christmas.source == ClosedDay.Source.STATUTORY
    count = ClosedDay.objects.count()
    assert count >= 7  # Mexico's statutory holidays of 2027
    client.post(f"{base}statutory/?year=2027", {"year": "2027"})
    assert ClosedDay.objects.count() == count  # a second time adds nothing

    listed = client.get(base, {"year": "2027"}).content.decode()
    assert christmas.name in listed

    missing_reason = client.post(f"{base}remove/?year=2027", {"closed_day": christmas.pk, "reason": ""})
    assert missing_reason.status_code == 400
    assert ClosedDay.objects.filter(pk=christmas.pk).exists()
    opened = client.post(f"{base}remove/?year=2027", {"closed_day": christmas.pk, "reason": "clinic opens"})
    assert opened.status_code == 302 and not ClosedDay.objects.filter(pk=christmas.pk).exists()
    gone = ClosedDay.history.filter(id=christmas.pk, history_type="-").get()
    assert gone.history_change_reason == "closed day removed: clinic opens"

    duplicate = client.post(f"{base}add/?year=2027", {"day": "2027-01-01", "name": "again"})
    assert duplicate.status_code == 400 and "already closed" in duplicate.content.decode()


def test_only_the_coordinator_sets_the_study_calendar(
    team, rater, principal_investigator, client_for
) -> None:  # type: ignore[no-untyped-def]
    base = reverse("infusions:closed_days")
    for user in (rater, team["physician"], principal_investigator):
        assert client_for(user).get(base).status_code == 403
        assert client_for(user).post(f"{base}add/", {"day": "2027-01-02", "name": "x"}).status_code == 403
    assert not ClosedDay.objects.exists()


def test_the_management_command_adds_a_years_statutory_holidays(db) -> None:  # type: ignore[no-untyped-def]
    call_command("calendar_holidays", "2028")
    assert ClosedDay.objects.get(day="2028-12-25").name == "Navidad"
    assert ClosedDay.objects.filter(day__year=2028, source=ClosedDay.Source.STATUTORY).count() >= 7


# --- planned start time --------------------------------------------------------------------------


def test_the_coordinator_sets_an_infusions_start_time_with_a_reason_and_every_page_shows_it(
    team, person, client_for
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="reason"):
        services.infusion_set_time(
            participant=person,
            period=1,
            number=2,
            planned_time=time(14, 30),
            reason="",
            by=team["coordinator"],
            now=NOW,
        )
    response = client_for(team["coordinator"]).post(
        reverse("infusions:set_time", args=[person.pk]),
        {"period": "1", "number": "2", "planned_time": "14:30", "reason": "the participant works mornings"},
    )
    assert response.status_code == 302
    visit = InfusionVisit.objects.get(participant=person, period=1, number=2)
    assert visit.planned_time == time(14, 30)
    assert _last_reason(visit) == "planned start time: the participant works mornings"

    second_day = DAY1 + timedelta(days=3)
    expected = datetime.combine(second_day, time(14, 30), tzinfo=MX)
    assert services.schedule_for(person).infusion(1, 2).start == expected
    assert services.schedule_for(person).infusion(1, 3).start.astimezone(MX).time() == time(9, 0)
    timeline = (
        client_for(team["coordinator"]).get(reverse("infusions:timeline", args=[person.pk])).content.decode()
    )
    assert f"{second_day:%Y-%m-%d} 14:30" in timeline
    session = client_for(team["physician"]).get(reverse("infusions:session", args=[person.pk, 1, 2]))
    assert f"{second_day:%Y-%m-%d} 14:30" in session.content.decode()
    week = client_for(team["coordinator"]).get(
        reverse("infusions:calendar"), {"start": second_day.isoformat()}
    )
    assert "14:30" in week.content.decode()
    feed = Calendar.from_ical(
        ical.feed(selectors.calendar_events(second_day, second_day, now=NOW), user=team["coordinator"])
    )
    starts = [c.decoded("dtstart") for c in feed.walk("VEVENT") if "infusion 2" in str(c.get("summary"))]
    assert starts == [expected]


def test_a_start_time_within_48_hours_of_the_previous_infusion_is_refused(team, person) -> None:  # type: ignore[no-untyped-def]
    services.infusion_reschedule(
        participant=person,
        period=1,
        number=2,
        new_date=DAY1 + timedelta(days=2),
        reason="",
        by=team["coordinator"],
        now=NOW,
    )
    with pytest.raises(ValidationError, match="48 h apart"):
        services.infusion_set_time(
            participant=person,
            period=1,
            number=2,
            planned_time=time(8, 0),
            reason="earlier",
            by=team["coordinator"],
            now=NOW,
        )
    assert InfusionVisit.objects.get(participant=person, period=1, number=2).planned_time is None


# --- extra vital-sign readings -------------------------------------------------------------------


def _vitals(visit, minute, at, team, **values):  # type: ignore[no-untyped-def]
    base = {"systolic": 120, "diastolic": 80, "heart_rate": 72, "spo2": 98}
    return services.vitals_record(
        visit=visit,
        minute=minute,
        measured_at=at,
        by=team["physician"],
        now=at + timedelta(seconds=30),
        **{**base, **values},
    )


def test_extra_readings_are_marked_shown_in_order_with_the_scheduled_ones_and_alert_the_same(
    team, past_person, client_for
) -> None:  # type: ignore[no-untyped-def]
    visit = _started(past_person, team)
    _vitals(visit, 0, START, team)
    repeat = _vitals(visit, None, START + timedelta(minutes=5, seconds=20), team, systolic=186)
    again = _vitals(visit, None, START + timedelta(minutes=7), team, systolic=150)
    _vitals(visit, 10, START + timedelta(minutes=10), team)

    assert (repeat.minute, repeat.unscheduled, repeat.alerts) == (5, True, ["systolic > 180 mmHg"])
    ordered = selectors.vitals_in_order(visit)
    assert [(v.minute, v.unscheduled) for v in ordered] == [(0, False), (5, True), (7, True), (10, False)]
    assert services.open_alerts(visit) == [repeat]
    with pytest.raises(ValidationError, match="alert"):
        services.session_stop(
            visit=visit,
            ended_at=START + timedelta(minutes=41),
            interruptions="",
            by=team["physician"],
            now=START + timedelta(minutes=42),
        )
    # A scheduled time point is still taken once; extra readings at the same minute are not.
    with pytest.raises(ValidationError, match="already recorded"):
        _vitals(visit, 10, START + timedelta(minutes=11), team)
    assert _vitals(visit, None, START + timedelta(minutes=7, seconds=40), team).minute == again.minute
    # The soft range applies to an extra reading too.
    with pytest.raises(ValidationError, match="unusual"):
        _vitals(visit, None, START + timedelta(minutes=12), team, systolic=230)

    page = client_for(team["physician"]).post(
        reverse("infusions:session_vitals", args=[past_person.pk, 1, 1]),
        {
            "minute": "extra",
            "measured_at": (START + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"),
            "systolic": "130",
            "diastolic": "85",
            "heart_rate": "80",
            "spo2": "97",
        },
    )
    assert page.status_code == 302
    assert VitalSigns.objects.filter(visit=visit, unscheduled=True, minute=15).exists()
    shown = (
        client_for(team["physician"])
        .get(reverse("infusions:session", args=[past_person.pk, 1, 1]))
        .content.decode()
    )
    assert shown.count("extra reading,") == 4


# --- pause and resume ----------------------------------------------------------------------------


def test_a_paused_infusion_resumes_and_its_infused_time_leaves_the_pause_out(team, past_person) -> None:  # type: ignore[no-untyped-def]
    visit = _started(past_person, team)
    physician = team["physician"]
    with pytest.raises(ValidationError, match="reason"):
        services.session_pause(
            visit=visit,
            paused_at=START + timedelta(minutes=10),
            reason="",
            by=physician,
            now=START + timedelta(minutes=11),
        )
    with pytest.raises(ValidationError, match="after the start"):
        services.session_pause(
            visit=visit,
            paused_at=START - timedelta(minutes=1),
            reason="nausea",
            by=physician,
            now=START + timedelta(minutes=11),
        )
    pause = services.session_pause(
        visit=visit,
        paused_at=START + timedelta(minutes=10),
        reason="nausea",
        by=physician,
        now=START + timedelta(minutes=11),
    )
    with pytest.raises(ValidationError, match="already paused"):
        services.session_pause(
            visit=visit,
            paused_at=START + timedelta(minutes=12),
            reason="x",
            by=physician,
            now=START + timedelta(minutes=12),
        )
    timing = selectors.session_timing(visit, now=START + timedelta(minutes=20))
    assert (timing.running_minutes, timing.paused_minutes) == (10, 10)
    assert timing.expected_end == START + timedelta(minutes=50)  # moves on while paused
    with pytest.raises(ValidationError, match="after the pause began"):
        services.session_resume(
            visit=visit,
            resumed_at=START + timedelta(minutes=9),
            by=physician,
            now=START + timedelta(minutes=25),
        )
    services.session_resume(
        visit=visit, resumed_at=START + timedelta(minutes=25), by=physician, now=START + timedelta(minutes=26)
    )
    pause.refresh_from_db()
    assert pause.resumed_at == START + timedelta(minutes=25) and _last_reason(pause) == "infusion resumed"
    assert selectors.session_timing(
        visit, now=START + timedelta(minutes=30)
    ).expected_end == START + timedelta(minutes=55)
    with pytest.raises(ValidationError, match="after the last pause or resume"):
        services.session_stop(
            visit=visit,
            ended_at=START + timedelta(minutes=24),
            interruptions="",
            by=physician,
            now=START + timedelta(minutes=56),
        )

    services.session_stop(
        visit=visit,
        ended_at=START + timedelta(minutes=55),
        interruptions="",
        by=physician,
        now=START + timedelta(minutes=56),
    )
    visit.refresh_from_db()
    timing = selectors.session_timing(visit, now=START + timedelta(hours=3))
    assert (timing.running_minutes, timing.paused_minutes, timing.delivered_ml) == (40, 15, 50.0)
    assert timing.expected_end is None


def test_an_infusion_stopped_while_paused_counts_the_pause_to_the_stop(team, past_person) -> None:  # type: ignore[no-untyped-def]
    visit = _started(past_person, team)
    physician = team["physician"]
    services.session_pause(
        visit=visit,
        paused_at=START + timedelta(minutes=30),
        reason="hypotension",
        by=physician,
        now=START + timedelta(minutes=31),
    )
    services.session_stop(
        visit=visit,
        ended_at=START + timedelta(minutes=35),
        interruptions="not resumed",
        by=physician,
        now=START + timedelta(minutes=36),
    )
    visit.refresh_from_db()
    timing = selectors.session_timing(visit, now=START + timedelta(hours=2))
    assert (timing.running_minutes, timing.paused_minutes, timing.delivered_ml) == (30, 5, 37.5)
    assert InfusionPause.objects.get(visit=visit).resumed_at is None


def test_a_pause_an_alert_asks_for_is_offered_filled_in_and_recorded_with_its_own_times(
    team, past_person, client_for
) -> None:  # type: ignore[no-untyped-def]
    visit = _started(past_person, team)
    high = _vitals(visit, 10, START + timedelta(minutes=10), team, systolic=190)
    # The action is entered an hour later: the pause is not dated by it.
    services.vitals_act(
        vitals=high,
        action="pause",
        reason="recheck in 5 min",
        by=team["physician"],
        now=START + timedelta(hours=1),
    )
    assert not InfusionPause.objects.filter(visit=visit).exists()
    client = client_for(team["physician"])
    session = reverse("infusions:session", args=[past_person.pk, 1, 1])
    page = client.get(session).content.decode()
    assert "An alert asked for a pause" in page and "Vital-sign alert: systolic &gt; 180 mmHg" in page

    paused = client.post(
        f"{session}pause/",
        {
            "pause-paused_at": (START + timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M"),
            "pause-pause_reason": "Vital-sign alert: systolic > 180 mmHg",
        },
    )
    assert paused.status_code == 302
    pause = InfusionPause.objects.get(visit=visit)
    assert pause.paused_at == START + timedelta(minutes=11) and pause.paused_by == team["physician"]
    page = client.get(session).content.decode()
    assert "An alert asked for a pause" not in page and 'name="resume-resumed_at"' in page

    late = client.post(
        f"{session}resume/", {"resume-resumed_at": (START + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")}
    )
    assert late.status_code == 400 and "must resume after the pause began" in late.content.decode()
    resumed = client.post(
        f"{session}resume/", {"resume-resumed_at": (START + timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M")}
    )
    assert resumed.status_code == 302
    pause.refresh_from_db()
    assert pause.resumed_at == START + timedelta(minutes=16)
    assert "Infused" in client.get(session).content.decode()
