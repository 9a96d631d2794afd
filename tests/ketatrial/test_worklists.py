"""Each role's home page is its work for today and what is overdue, with counts (issue 15, item 3).

The trial is built through the real services at a fixed moment (NOW, a Wednesday noon in Mexico
City); the page is read with the clock at that moment, so "today" and "overdue" are Mexico City
days whatever the time the suite runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from infusions import services as infusion_services
from infusions.models import InfusionVisit
from ketatrial.models import Notification
from ketatrial.notifications import notification_acknowledge, notify
from ketatrial.protocol import ROLES
from participants import services as participant_services
from participants.models import DosePreparation, Participant
from tests.factories import baseline_rated, enrolled, randomized
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=MX)
TODAY = NOW.date()
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


def _at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(TODAY + timedelta(days=day_offset), datetime.min.time(), tzinfo=MX).replace(
        hour=hour, minute=minute
    )


def _home(client: Client, role: str, *, now: datetime = NOW) -> str:
    """The role's home page with the clock at `now`."""
    with mock.patch.object(timezone, "now", return_value=now):
        response = client.get(reverse("role_home", args=[role]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str, name: str) -> str:
    match = re.search(rf'<section[^>]*data-worklist="{name}".*?</section>', html, flags=re.S)
    assert match, name
    return match.group(0)


def _count(html: str, name: str) -> int:
    match = re.search(rf'data-count="{name}">(\d+)', html)
    return int(match.group(1)) if match else 0


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr(?: [^>]*)?>(?:(?!</tr>).)*?<td.*?</tr>", html, flags=re.S)


@pytest.fixture
def team(coordinator, pharmacist, make_user, infusion_physician, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    return {
        "coordinator": coordinator,
        "pharmacist": pharmacist,
        "checker": make_user("pharmacist2", "pharmacist"),
        "physician": infusion_physician,
    }


def _scheduled(team, day1_offset: int, *, created: datetime) -> Participant:  # type: ignore[no-untyped-def]
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=TODAY + timedelta(days=day1_offset),
        now=created,
    )


def _start(team, person: Participant, at: datetime) -> InfusionVisit:  # type: ignore[no-untyped-def]
    visit = infusion_services.visit_for(person, 1, 1, by=team["physician"])
    code = DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    return infusion_services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=at,
        by=team["physician"],
        now=at + timedelta(minutes=1),
    )


def _stop(team, visit: InfusionVisit, at: datetime) -> None:  # type: ignore[no-untyped-def]
    infusion_services.session_stop(
        visit=visit, ended_at=at, interruptions="", by=team["physician"], now=at + timedelta(minutes=1)
    )


def test_the_infusion_physicians_home_lists_todays_infusions_with_chair_and_state_and_the_overdue_actions(
    team, client_for, monkeypatch
) -> None:
    from ketatrial import selectors
    from ketatrial.protocol import protocol_with_overrides

    # Two chairs a day (three by default): the third infusion of the day has none.
    two_chairs = protocol_with_overrides({"infusion_chairs_per_day": 2})
    monkeypatch.setattr(selectors, "protocol", lambda: two_chairs)
    yesterday = NOW - timedelta(days=1)
    booked, running, stopped = (_scheduled(team, 0, created=yesterday) for _ in range(3))
    earlier = _scheduled(team, -5, created=NOW - timedelta(days=6))
    visit = _start(team, running, _at(0, 9))
    infusion_services.vitals_record(
        visit=visit,
        minute=0,
        systolic=190,
        diastolic=95,
        heart_rate=80,
        spo2=97,
        measured_at=_at(0, 9),
        by=team["physician"],
        now=_at(0, 9, 1),
        confirm_reason="Measured again: the same",
    )
    _stop(team, _start(team, stopped, _at(0, 9)), _at(0, 9, 40))
    _stop(team, _start(team, earlier, _at(-5, 9)), _at(-5, 9, 40))
    client = client_for(team["physician"])

    html = _home(client, "infusion_physician")
    today = _section(html, "infusions-today")
    assert _count(html, "infusions-today") == 3 == len(_rows(today))
    states = {
        p.code: re.search(rf'data-state="(\w+)">(?:(?!</tr>).)*{p.code}', today, re.S)
        for p in (booked, running, stopped)
    }
    assert {code: m.group(1) for code, m in states.items() if m} == {
        booked.code: "booked",
        running.code: "started",
        stopped.code: "ready",
    }
    assert "ready to discharge" in today and "09:00 CST" in today
    # All three start at 09:00: the one last by participant ID has no chair.
    assert today.count("over capacity") == 1
    last = max(p.code for p in (booked, running, stopped))
    assert "over capacity" in next(r for r in _rows(today) if last in r)
    assert earlier.code not in today  # its next infusion is another day
    overdue = _section(html, "overdue-actions")
    assert _count(html, "overdue") == 2
    assert _count(html, "alerts") == 1 and running.code in overdue
    assert _count(html, "not-discharged") == 1 and earlier.code in overdue
    assert overdue.count("overdue</span>") == 2  # the alert is past its escalation time too
    assert reverse("infusions:session", args=[running.pk, 1, 1]) in overdue

    # At 10:10 the stopped infusion is still in its hour of observation.
    early = _section(_home(client, "infusion_physician", now=_at(0, 10, 10)), "infusions-today")
    assert re.search(rf'data-state="monitoring">(?:(?!</tr>).)*{stopped.code}', early, re.S)


def test_the_coordinators_home_lists_what_to_schedule_book_and_follow_up(
    team, client_for, coordinator
) -> None:
    yesterday = NOW - timedelta(days=1)
    today_first = _scheduled(team, 0, created=yesterday)  # infusion 1 today
    unscheduled = randomized(coordinator, now=yesterday)
    behind = _scheduled(team, -6, created=NOW - timedelta(days=8))  # infusions 1 and 2 never given
    soon = _scheduled(team, 3, created=yesterday)  # the baseline scan is due in 3 days
    html = _home(client_for(coordinator), "coordinator")

    to_schedule = _section(html, "to-schedule")
    assert _count(html, "to-schedule") == 1 and unscheduled.code in to_schedule
    assert today_first.code not in to_schedule
    today = _section(html, "infusions-today")
    assert _count(html, "infusions-today") == 1 and today_first.code in today and "booked" in today
    scans = _section(html, "scans")
    assert soon.code in scans and behind.code not in scans and today_first.code not in scans
    assert _count(html, "scans") == len(_rows(scans))
    ratings = _section(html, "rating-visits")
    # The 4 h and 24 h ratings after today's first infusion; the others' windows open later.
    assert today_first.code in ratings and soon.code not in ratings
    assert _count(html, "rating-visits") == len(_rows(ratings))
    missed = _section(html, "missed")
    behind_rows = [r for r in _rows(missed) if behind.code in r]
    assert any("Period 1, infusion 1" in r for r in behind_rows)
    assert any("Period 1, infusion 2" in r for r in behind_rows)
    assert all("overdue" in r for r in _rows(missed))
    # Today's pre-dose rating (07:00-09:00) and baseline scan were missed; not today's infusion,
    # whose window runs to tomorrow.
    today_missed = [r for r in _rows(missed) if today_first.code in r]
    assert len(today_missed) == 2 and not any("Period 1, infusion 1" in r for r in today_missed)
    missed_count = _count(html, "missed")
    assert missed_count == len(_rows(missed))

    # The pre-dose rating is entered after all: it leaves the list.
    from clinimetry import services as ratings_service
    from clinimetry.examples import spread
    from tests.factories import baseline_rater

    for instrument in ("hdrs17", "madrs"):
        ratings_service.assessment_save(
            participant=today_first,
            instrument=instrument,
            task_code="p1-predose-1",
            items=spread(instrument, 20),
            rated_at=_at(0, 8, 30),
            recall_period="past_week",
            interview_guide="none",
            mode="in_person",
            by=baseline_rater(),
            now=_at(0, 8, 31),
        )
    assert _count(_home(client_for(coordinator), "coordinator"), "missed") == missed_count - 1


def test_the_raters_home_is_the_task_list_opaque_by_due_day_with_the_overdue_count(
    rater, coordinator, client_for
) -> None:
    overdue = enrolled(
        coordinator, now=NOW - timedelta(days=10), name="Eva Ruiz"
    )  # baseline closed 3 days ago
    due = enrolled(coordinator, now=NOW - timedelta(days=1), name="Luz Díaz")
    rated = enrolled(coordinator, now=NOW - timedelta(days=1), name="Sol Mora")
    baseline_rated(rated, at=NOW - timedelta(hours=2))
    client = client_for(rater)
    html = _home(client, "rater")
    section = _section(html, "ratings")

    assert _count(html, "due") == 2 and _count(html, "overdue") == 1
    rows = _rows(section)
    assert [overdue.code in rows[0], due.code in rows[1]] == [True, True]
    assert rated.code not in section
    assert "overdue" in rows[0] and "overdue" not in rows[1]
    assert all("Rating visit" in r for r in rows)
    assert not re.search(r"[Pp]eriod|[Ii]nfusion|[Ff]ollow-up|baseline", section)
    # The same tasks, in the same order, with the same opaque links as the task list.
    with mock.patch.object(timezone, "now", return_value=NOW):
        task_list = client.get(reverse("clinimetry:tasks")).content.decode()
    links = re.compile(r'href="(/ratings/[^"]+/rate/[^"]+)"')
    assert links.findall(section) == links.findall(task_list) != []


def test_the_principal_investigators_home_lists_safety_casebooks_and_the_queries_assigned(
    principal_investigator, coordinator, data_manager, infusion_physician, client_for
) -> None:
    from clinimetry import services as ratings_service
    from clinimetry.examples import spread
    from review import services as review
    from tests.factories import baseline_rater

    flagged = enrolled(coordinator, now=NOW - timedelta(days=3), name="Eva Ruiz")
    ratings_service.assessment_save(
        participant=flagged,
        instrument="madrs",
        task_code="baseline",
        items={**spread("madrs", 30), "10": 4},
        rated_at=NOW - timedelta(days=2),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=baseline_rater(),
        now=NOW - timedelta(days=2),
    )
    infusion_services.adverse_event_record(
        participant=flagged,
        visit=None,
        by=infusion_physician,
        now=NOW - timedelta(hours=3),
        term="Hypertensive crisis",
        category="Vascular",
        onset=NOW - timedelta(hours=4),
        severity="severe",
        relatedness="possible",
        action="none",
        outcome="recovering",
        seriousness_criteria=["hospitalisation"],
        expectedness="unexpected",
        narrative="Admitted for observation.",
    )
    for note in Notification.objects.filter(recipient=principal_investigator):
        notification_acknowledge(notification=note, by=principal_investigator, now=NOW - timedelta(hours=2))
    notify(
        recipients=[principal_investigator],
        subject="Older message",
        body="b",
        url="",
        now=NOW - timedelta(days=2),
    )
    notify(
        recipients=[principal_investigator],
        subject="New message",
        body="b",
        url="",
        now=NOW - timedelta(hours=1),
    )
    withdrawn = enrolled(coordinator, now=NOW - timedelta(days=5), name="Luz Díaz")
    completed = enrolled(coordinator, now=NOW - timedelta(days=5), name="Sol Mora")
    for person, status in ((withdrawn, "withdrawn"), (completed, "completed")):
        participant_services.participant_disposition(
            participant=person, status=status, on=TODAY, reason="Moved away", by=coordinator, now=NOW
        )
    review.query_raise(
        by=data_manager,
        label="participants.participant",
        record_id=str(withdrawn.pk),
        field="",
        text="Please confirm the date of the withdrawal.",
        now=NOW - timedelta(days=2),
        assignee_role="principal_investigator",
        due_date=TODAY - timedelta(days=1),
    )
    html = _home(client_for(principal_investigator), "principal_investigator")

    assert _count(html, "notifications") == 2 and _count(html, "notifications-overdue") == 1
    assert "1 from before today" in _section(html, "notifications")
    suicide = _section(html, "suicide-follow-ups")
    assert _count(html, "suicide-follow-ups") == 1 and _count(html, "suicide-overdue") == 1
    assert flagged.code in suicide and "the structured assessment" in suicide
    serious = _section(html, "serious-open")
    assert _count(html, "serious-open") == 1 and "Hypertensive crisis" in serious
    casebooks = _section(html, "casebooks")
    assert _count(html, "casebooks") == 2 and "1 ready to sign" in casebooks
    rows = {p.code: next(r for r in _rows(casebooks) if p.code in r) for p in (withdrawn, completed)}
    assert "to close first" in rows[withdrawn.code] and "ready to sign" in rows[completed.code]
    assert flagged.code not in casebooks  # still in the trial
    queries = _section(html, "queries")
    assert _count(html, "queries") == 1 and _count(html, "queries-overdue") == 1
    assert "Please confirm the date of the withdrawal." in queries and withdrawn.code in queries


@pytest.mark.parametrize("role", ["data_manager", "monitor"])
def test_the_data_managers_and_monitors_home_lists_queries_by_state_and_due_date_and_the_locks(
    role, data_manager, monitor, coordinator, client_for
) -> None:
    from review import services as review

    people = [enrolled(coordinator, now=NOW - timedelta(days=3), name=n) for n in ("Eva Ruiz", "Luz Díaz")]
    raised = [
        review.query_raise(
            by=data_manager,
            label="participants.participant",
            record_id=str(person.pk),
            field="height_cm",
            text=text,
            now=NOW - timedelta(days=2),
            due_date=due,
        )
        for person, text, due in (
            (people[0], "Height in cm?", TODAY - timedelta(days=1)),
            (people[1], "Height measured standing?", TODAY),
            (people[1], "Source document?", None),
        )
    ]
    review.query_answer(
        by=coordinator, query=raised[1], text="Yes.", corrected=False, now=NOW - timedelta(days=1)
    )
    review.form_lock(
        by=data_manager, label="participants.participant", record_id=str(people[0].pk), reason="x", now=NOW
    )
    review.verify(
        by=monitor, label="participants.participant", record_id=str(people[1].pk), fields=[], now=NOW
    )
    review.verify(
        by=monitor,
        label="participants.consent",
        record_id=str(people[0].screening.consents.get().pk),
        fields=[],
        now=NOW,
    )
    participant_services.participant_update(
        participant=Participant.objects.get(pk=people[1].pk),
        by=coordinator,
        reason="Re-measured",
        height_cm=Decimal("171.0"),
        now=NOW,
    )
    html = _home(client_for({"data_manager": data_manager, "monitor": monitor}[role]), role)

    queries = _section(html, "queries")
    assert _count(html, "queries") == 3 and _count(html, "queries-overdue") == 1
    assert (
        'Open: <span data-count="queries-1">2' in queries
        and 'Answered: <span data-count="queries-2">1' in queries
    )
    assert "due today: 1" in queries
    rows = _rows(queries)
    assert "Height in cm?" in rows[0] and "overdue" in rows[0]  # by due date, the overdue first
    assert "Source document?" in rows[-1]  # no due date: last
    locks = _section(html, "locks")
    assert "Database open" in locks and _count(html, "form-locks") == 1
    if role == "monitor":
        verification = _section(html, "verification")
        assert "1 of" in verification  # the consent; the participant's own form changed since
        assert _count(html, "lapsed") == 1 and people[1].code in verification
    else:
        assert 'data-worklist="verification"' not in html


def test_the_statisticians_home_shows_analyses_exports_and_locks_and_nothing_a_participants_step_moves(
    statistician, coordinator, data_manager, principal_investigator, client_for
) -> None:
    from outcomes.models import ExportJob

    people = [enrolled(coordinator, now=NOW - timedelta(days=3), name=n) for n in ("Eva Ruiz", "Luz Díaz")]
    for status in ("done", "failed"):
        ExportJob.objects.create(
            requested_by=statistician,
            requested_at=NOW - timedelta(hours=1),
            blinding="blinded",
            status=status,
        )
    client = client_for(statistician)
    before = _home(client, "statistician")
    assert _count(before, "exports-failed") == 1 and "Ready: 1" in before
    assert "Database open" in before and "Sequence key sealed" in before
    assert not any(p.code in before for p in people)

    # A participant finishes, the data manager locks a form and the PI would sign: none of it
    # shows on the statistician's home (each could date one participant's step).
    participant_services.participant_disposition(
        participant=people[0], status="completed", on=TODAY, reason="", by=coordinator, now=NOW
    )
    from review import services as review

    review.form_lock(
        by=data_manager, label="participants.participant", record_id=str(people[0].pk), reason="x", now=NOW
    )
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert csrf.sub("", _home(client, "statistician")) == csrf.sub("", before)


@pytest.mark.parametrize("role", ROLES)
def test_every_roles_home_counts_its_unread_notifications(role, personas, client_for, settings) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    user = personas[role]
    assert _count(_home(client_for(user), role), "notifications") == 0
    notify(recipients=[user], subject="Read me", body="b", url="", now=NOW - timedelta(hours=1))
    notify(recipients=[user], subject="And me", body="b", url="", now=NOW - timedelta(days=1))
    html = _home(client_for(user), role)
    assert _count(html, "notifications") == 2 and "Read me" in html
    assert _count(html, "notifications-overdue") == 1


def test_the_pharmacists_home_links_the_pharmacy_worklist(pharmacist, client_for, settings) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    assert reverse("participants:pharmacy") in _section(
        _home(client_for(pharmacist), "pharmacist"), "pharmacy"
    )


def test_a_person_with_several_roles_sees_them_and_their_notifications(
    make_user: Callable[..., object], client_for
) -> None:
    user = make_user("both", "coordinator", "monitor")
    notify(recipients=[user], subject="Hello", body="b", url="", now=NOW - timedelta(hours=1))
    with mock.patch.object(timezone, "now", return_value=NOW):
        html = client_for(user).get(reverse("home")).content.decode()
    assert (
        reverse("role_home", args=["coordinator"]) in html and reverse("role_home", args=["monitor"]) in html
    )
    assert _count(html, "notifications") == 1
