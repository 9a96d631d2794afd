"""Schedule spans: the stored first and last moment of a schedule, by which the task list and the
calendar build only the schedules that can reach the shown time. The prefiltered pages must show
exactly what building every schedule shows, at every moment of the trial."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from clinimetry import selectors as rating_selectors
from infusions import selectors, services
from infusions.models import InfusionVisit, ScheduleSpan
from ketatrial.audit import clinical_create
from participants import allocation
from participants.models import Participant
from tests.factories import randomized

TZ = services.TZ


@pytest.fixture(autouse=True)
def _unblinded_pharmacist(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]


def _scheduled(coordinator, pharmacist, day1, at=None):  # type: ignore[no-untyped-def]
    at = at or datetime.combine(day1 - timedelta(days=2), time(10), tzinfo=TZ)
    if allocation.allocation_list_active() is None:
        allocation.allocation_list_generate(by=pharmacist, now=at, n_per_stratum=20, seed=8)
    person = randomized(coordinator, now=at)
    services.schedule_set(participant=person, day1=day1, by=coordinator, now=at)
    return Participant.objects.get(pk=person.pk)


def _give_infusions(person: Participant, by, until_period: int, *, late_days: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Record the infusions of the first `until_period` period(s) as given, each `late_days` after
    its planned day (the schedule after them moves): the facts that reveal follow-up tasks."""
    for _ in range(16):
        plan = services.schedule_for(person)
        pending = [i for i in plan.infusions if i.period <= until_period and i.status != "done"]
        if not pending:
            return
        infusion = pending[0]
        start = infusion.start + timedelta(days=late_days)
        clinical_create(
            InfusionVisit(
                participant=person,
                period=infusion.period,
                number=infusion.number,
                status=InfusionVisit.Status.DONE,
                started_at=start,
                ended_at=start + timedelta(minutes=40),
            ),
            by=by,
            reason="given (test)",
        )


def _stored(person: Participant) -> tuple[datetime, datetime]:
    span = ScheduleSpan.objects.get(participant=person)
    assert span.protocol_key == services.protocol_key()
    return span.starts_at, span.ends_at


@pytest.mark.django_db
def test_the_span_is_stored_with_day_1_and_follows_a_moved_infusion(personas) -> None:
    coordinator, pharmacist = personas["coordinator"], personas["pharmacist"]
    day1 = timezone.localdate() + timedelta(days=5)
    person = _scheduled(coordinator, pharmacist, day1, at=timezone.now() - timedelta(hours=1))
    plan = services.schedule_for(person)
    assert _stored(person) == services.schedule_span(plan, person)
    every = [i.start for i in plan.infusions] + [t.window_end for t in (*plan.ratings, *plan.mrs)]
    assert max(every) <= _stored(person)[1]

    # Day 1 moved by 2 days: everything after it moves, and so does the stored end.
    before_end = _stored(person)[1]
    services.schedule_set(
        participant=person,
        day1=day1 + timedelta(days=2),
        by=coordinator,
        now=timezone.now(),
        reason="participant asked",
    )
    assert _stored(person)[1] == before_end + timedelta(days=2)

    # Period 1's last infusion moved later (a visit row's write): period 2 and follow-up follow.
    infusion = [i for i in services.schedule_for(person).infusions if i.period == 1][-1]
    services.infusion_reschedule(
        participant=person,
        period=1,
        number=infusion.number,
        new_date=infusion.window_end,
        reason="",
        by=coordinator,
        now=timezone.now(),
    )
    assert _stored(person) == services.schedule_span(services.schedule_for(person), person)
    assert _stored(person)[1] > before_end + timedelta(days=2)


@pytest.mark.django_db
def test_the_prefiltered_task_list_and_calendar_equal_building_every_schedule_through_the_trial(
    personas,
) -> None:
    """Twelve participants started over 8 months, both sequences, most with their infusions
    given (on time or late), some with period 1 only; every 9 days from the first
    day 1 to the end of the last follow-up, the task list and the week's calendar made from the
    stored spans equal those made from every participant's schedule."""
    coordinator, pharmacist = personas["coordinator"], personas["pharmacist"]
    first = timezone.localdate() - timedelta(days=240)
    people = [_scheduled(coordinator, pharmacist, first + timedelta(days=20 * k)) for k in range(12)]
    for k, person in enumerate(people[:9]):
        # Given on time, a day late, or period 1 only: the follow-up of most is on the calendar.
        _give_infusions(person, coordinator, 1 if k % 3 == 2 else 2, late_days=k % 2)
    everyone = list(Participant.objects.filter(pk__in=[p.pk for p in people]))
    moment = datetime.combine(first, time(8), tzinfo=TZ)
    last = max(services.schedule_span(services.schedule_for(p), p)[1] for p in people)
    shown = 0
    while moment <= last + timedelta(days=10):
        prefiltered = rating_selectors.task_list_participants(now=moment)
        assert {t.code for t in rating_selectors.due_tasks(everyone, now=moment)} == {
            t.code for t in rating_selectors.due_tasks(prefiltered, now=moment)
        }, moment
        assert [(t.participant.pk, t.code) for t in rating_selectors.due_tasks(everyone, now=moment)] == [
            (t.participant.pk, t.code) for t in rating_selectors.due_tasks(prefiltered, now=moment)
        ]
        start = moment.astimezone(TZ).date()
        end = start + timedelta(days=6)
        built = sorted(
            (e.start, e.participant.pk, e.label)
            for p in everyone
            for e in selectors.participant_events(p, now=moment, days=(start, end))
        )
        calendar = sorted(
            (e.start, e.participant.pk, e.label) for e in selectors.calendar_events(start, end, now=moment)
        )
        assert calendar == built, moment
        shown += len(built)
        moment += timedelta(days=9)
    assert shown > 100  # the walk met the schedules, not only empty weeks
    # Long after the trial the prefilter leaves every finished participant out.
    later = last + timedelta(days=60)
    assert rating_selectors.task_list_participants(now=later) == []


@pytest.mark.django_db
def test_a_span_made_under_another_protocol_or_missing_counts_as_may_be_active(personas) -> None:
    coordinator, pharmacist = personas["coordinator"], personas["pharmacist"]
    person = _scheduled(coordinator, pharmacist, timezone.localdate() - timedelta(days=400))
    now = timezone.now()
    assert person not in rating_selectors.task_list_participants(now=now)
    ScheduleSpan.objects.filter(participant=person).update(protocol_key="another protocol")
    assert person in rating_selectors.task_list_participants(now=now)
    ScheduleSpan.objects.filter(participant=person).delete()
    assert person in rating_selectors.task_list_participants(now=now)
    # The nightly refresh stores it again, and the participant drops off.
    assert services.schedule_spans_refresh(now=now) == 1
    assert person not in rating_selectors.task_list_participants(now=now)
