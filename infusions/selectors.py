"""Reads for calendars, timelines and feeds: neutral labels and the period-2 horizon.

The protocol's stated hazard: the length of period 2 (4 infusions after KP, 8 after PK) reveals
the sequence. Staff who schedule and give infusions see period 2 one infusion ahead: the
infusions given or missed, and the next one; what hangs on the last infusion (the ratings after
it, the follow-up) appears once it has been given. Raters never reach these pages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infusions import schedule as sched
from infusions.models import CalendarToken, ClosedDay, ClosedWeekdays, InfusionVisit, Schedule
from infusions.services import TZ, protocol_key, schedule_for, schedules_for
from ketatrial.trial import protocol
from participants.allocation import visibility
from participants.models import Participant

STATUS_LABELS = {
    "planned": gettext_lazy("planned"),
    "planned_out_of_window": gettext_lazy("planned out of window"),
    "done": gettext_lazy("done"),
    "out_of_window": gettext_lazy("done out of window"),
    "missed": gettext_lazy("missed"),
    "due": gettext_lazy("due"),
    "window_passed": gettext_lazy("window passed"),
}


KIND_LABELS = {
    "infusion": gettext_lazy("infusions"),
    "mrs": gettext_lazy("MRS sessions"),
    "rating": gettext_lazy("ratings"),
}


@dataclass(frozen=True)
class Event:
    participant: Participant
    kind: str
    label: str
    start: datetime
    window_start: datetime | None
    window_end: datetime | None
    status: str
    period: int
    number: int | None = None
    code: str = ""  # the schedule's timepoint code of a rating or MRS event

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def day(self) -> date:
        return self.start.astimezone(TZ).date()


def _visible_period2(plan: sched.Schedule) -> tuple[set[int], bool]:
    """Period-2 infusion numbers staff may see, and whether the period is over."""
    period2 = [i for i in plan.infusions if i.period == 2]
    visible: set[int] = set()
    for infusion in period2:
        visible.add(infusion.number)
        if infusion.status == sched.PLANNED:
            return visible, False
    return visible, True


def _infusion_status(infusion: sched.Infusion) -> str:
    if infusion.status == sched.MISSED:
        return "missed"
    if infusion.status == sched.DONE:
        return "done" if infusion.in_window else "out_of_window"
    return "planned" if infusion.in_window else "planned_out_of_window"


def timepoint_label(t: sched.Timepoint) -> str:
    if t.kind == sched.MRS:
        if "during" in t.code:
            return _("MRS during the infusion")
        if "+" in t.code:
            return _("MRS: 1 week after period 1 / period 2 baseline")
        return {
            "baseline": _("MRS baseline"),
            "24h": _("MRS 24 h after the last infusion"),
            "1w": _("MRS 1 week after the last infusion"),
        }[t.code.rsplit("-", 1)[-1]]
    if t.period == sched.FOLLOW_UP:
        return _("Follow-up rating, week %s") % t.code.rsplit("-", 1)[-1]
    parts = [_("Period %d:") % t.period]
    for serves in t.serves:
        if serves.startswith("pre-dose"):
            parts.append(_("pre-dose rating"))
        elif "after last infusion" in serves:
            # Not "the last": the words would announce the end of period 2 to a rater.
            parts.append(_("rating %s after the infusion") % serves.split()[0])
        else:
            parts.append(_("rating %s after the first infusion") % serves.split()[0])
    return parts[0] + " " + " + ".join(parts[1:])


def _last_key(plan: sched.Schedule, period: int) -> tuple[int, int]:
    return [i for i in plan.infusions if i.period == period][-1].key


_UNSET: Any = object()


def visit_get(participant: Participant, period: int, number: int) -> InfusionVisit:
    """The visit row of a scheduled infusion, or an unsaved one if it was never opened (reading a
    page writes nothing; services.visit_for opens it). ValidationError: not in the schedule."""
    plan = schedule_for(participant)
    if plan is None or not any(i.key == (period, number) for i in plan.infusions):
        raise ValidationError(_("There is no such infusion in this participant's schedule."))
    visit = InfusionVisit.objects.filter(participant=participant, period=period, number=number).first()
    return visit or InfusionVisit(participant=participant, period=period, number=number)


def participant_events(
    participant: Participant,
    *,
    now: datetime,
    plan: Any = _UNSET,
    days: tuple[date, date] | None = None,
) -> list[Event]:
    """Every scheduled event of one participant in order, within the blinded horizon. `plan` is
    the participant's schedule when the caller has it (None: no schedule); `days` keeps only the
    events between two local dates (inclusive), before their labels are made."""
    if plan is _UNSET:
        plan = schedule_for(participant)
    if plan is None:
        return []

    def outside(start: datetime) -> bool:
        return days is not None and not days[0] <= start.astimezone(TZ).date() <= days[1]

    visible2, period2_over = _visible_period2(plan)
    # Beyond the next infusion, period 2 shows the booking lead ahead: counted from now, or from
    # the next planned infusion if that is earlier (an overdue one), so what shows follows the
    # participant's progress, not the wall clock.
    upcoming = next((i.start for i in plan.infusions if i.status == sched.PLANNED), now)
    horizon = min(now, upcoming) + timedelta(days=protocol().booking_lead_days)
    visible2 |= {i.number for i in plan.infusions if i.period == 2 and i.start <= horizon}
    events: list[Event] = []
    for infusion in plan.infusions:
        if infusion.period == 2 and infusion.number not in visible2:
            continue
        if outside(infusion.start):
            continue
        events.append(
            Event(
                participant,
                "infusion",
                _("Period %(p)d, infusion %(n)d") % {"p": infusion.period, "n": infusion.number},
                infusion.start,
                datetime.combine(infusion.window_start, datetime.min.time(), tzinfo=TZ),
                datetime.combine(infusion.window_end, datetime.max.time(), tzinfo=TZ),
                _infusion_status(infusion),
                infusion.period,
                infusion.number,
            )
        )
    last2 = _last_key(plan, 2)
    for t in [*plan.ratings, *plan.mrs]:
        anchor_period, anchor_number = t.anchored_to or (1, 1)
        # What hangs on the last period-2 infusion (its in-scanner scan, the scans and ratings
        # after it, follow-up) would mark that infusion as the last: shown once period 2 is over,
        # or the booking lead before it is due. (The 1-week scan of period 1, merged with period
        # 2's baseline scan, is anchored to period 2's first infusion and shows with it.)
        hangs_on_last = t.period == sched.FOLLOW_UP or (
            t.anchored_to == last2 and (t.kind == sched.MRS or any("last" in s for s in t.serves))
        )
        if hangs_on_last and not period2_over:
            if t.due > horizon:
                continue
        elif anchor_period == 2 and anchor_number not in visible2:
            continue
        if outside(t.due):
            continue
        status = "due" if now <= t.window_end else "window_passed"
        events.append(
            Event(
                participant,
                t.kind,
                timepoint_label(t),
                t.due,
                t.window_start,
                t.window_end,
                status,
                t.period if t.period != sched.FOLLOW_UP else 2,
                code=t.code,
            )
        )
    return sorted(events, key=lambda e: e.start)


def schedule_may_overlap(start: datetime, end: datetime) -> Q:
    """Participants whose schedule can have something between two moments: a stored span that
    overlaps them, or no span made under the protocol in force (built to be sure)."""
    fresh = Q(schedule_span__protocol_key=protocol_key())
    return ~fresh | Q(schedule_span__starts_at__lte=end, schedule_span__ends_at__gte=start)


def calendar_events(
    start: date, end: date, *, now: datetime, user: AbstractBaseUser | None = None
) -> list[Event]:
    """Events of every scheduled participant between two dates (inclusive); only the schedules
    that can reach those days are built (infusions.models.ScheduleSpan). Given a user, only the
    participants of the user's sites (visibility.participant_scope)."""
    first = datetime.combine(start, time.min, tzinfo=TZ)
    last = datetime.combine(end, time.max, tzinfo=TZ)
    participants = list(
        Participant.objects.filter(schedule__isnull=False, status=Participant.Status.RANDOMIZED)
        .filter(schedule_may_overlap(first, last))
        .filter(visibility.participant_scope(user) if user is not None else Q())
        .select_related("site")
    )
    plans = schedules_for(participants)  # a fixed number of queries, whatever the trial's size
    events = []
    for participant in participants:
        events.extend(
            participant_events(participant, now=now, plan=plans.get(participant.pk), days=(start, end))
        )
    return sorted(events, key=lambda e: (e.start, e.participant.code))


def capacity(events: list[Event], *, chairs: int, scanner_slots: int) -> dict[date, dict[str, object]]:
    """Per day: infusions and MRS sessions booked against chairs and scanner slots."""
    infusions = Counter(e.day for e in events if e.kind == "infusion" and e.status.startswith("planned"))
    scans = Counter(e.day for e in events if e.kind == sched.MRS)
    days = set(infusions) | set(scans)
    return {
        d: {
            "infusions": infusions[d],
            "chairs": chairs,
            "scans": scans[d],
            "slots": scanner_slots,
            "over": infusions[d] > chairs or scans[d] > scanner_slots,
        }
        for d in days
    }


def scheduled_participants(user: AbstractBaseUser | None = None) -> list[Participant]:
    """Participants with a schedule (given a user, of the user's sites)."""
    scope = visibility.participant_scope(user) if user is not None else Q()
    scheduled = Schedule.objects.values("participant")
    return list(Participant.objects.filter(scope, pk__in=scheduled).select_related("site"))


def calendar_token_get(token: str) -> CalendarToken | None:
    """The calendar-feed token with its user, or None."""
    return CalendarToken.objects.select_related("user").filter(token=token).first()


def mrs_windows(participant: Participant) -> dict[str, tuple[datetime, datetime]]:
    """The window of each MRS session of the participant's schedule, by timepoint code, in the
    study's zone (empty: no schedule yet). The upload form shows them and checks a scan's time
    against them (review/soft_ranges.py)."""
    plan = schedule_for(participant)
    if plan is None:
        return {}
    return {t.code: (t.window_start.astimezone(TZ), t.window_end.astimezone(TZ)) for t in plan.mrs}


def mrs_window(participant: Participant, code: str) -> tuple[datetime, datetime] | None:
    """One session's window (None: no schedule yet, or no such session)."""
    return mrs_windows(participant).get(code)


# --- the study calendar ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedCalendar:
    """The days the site is closed: weekdays (0 = Monday) and named days."""

    weekdays: frozenset[int]
    days: dict[date, str]
    weekdays_set_by_team: bool

    def closed(self, day: date) -> bool:
        return sched.is_closed(day, closed_weekdays=self.weekdays, closed_days=self.days)

    def label(self, day: date) -> str:
        """Why the site is closed on `day` (the day's name, else its weekday); "" when open."""
        if day in self.days:
            return self.days[day]
        if day.weekday() in self.weekdays:
            return formats.date_format(day, "l")
        return ""

    def nearest_open_day(self, target: date, first: date, last: date) -> date | None:
        return sched.nearest_open_day(
            target, first, last, closed_weekdays=self.weekdays, closed_days=self.days
        )


def closed_calendar(*, start: date | None = None, end: date | None = None) -> ClosedCalendar:
    """The study calendar (two queries); `start` and `end` keep only the named days between them."""
    row = ClosedWeekdays.objects.first()
    weekdays = frozenset(row.weekdays) if row is not None else frozenset(protocol().closed_weekdays)
    days = ClosedDay.objects.all()
    if start is not None:
        days = days.filter(day__gte=start)
    if end is not None:
        days = days.filter(day__lte=end)
    return ClosedCalendar(weekdays, dict(days.values_list("day", "name")), row is not None)


# Events that still have to happen (a closed day of the past is history, not a warning).
_TO_COME = {"planned", "planned_out_of_window", "due"}


def closed_day_events(events: list[Event], calendar: ClosedCalendar) -> list[tuple[Event, str]]:
    """The events still to come that fall on a closed day, each with why the day is closed."""
    return [(e, calendar.label(e.day)) for e in events if e.status in _TO_COME and calendar.closed(e.day)]


def closed_days_list(year: int) -> list[ClosedDay]:
    """The named closed days of one year, in order."""
    return list(ClosedDay.objects.filter(day__year=year).order_by("day"))


@dataclass(frozen=True)
class SessionTiming:
    """A session's pump time with its pauses, for the session page (volumes only: the same for
    ketamine and saline)."""

    running_minutes: int
    paused_minutes: int
    planned_minutes: int
    delivered_ml: float
    total_ml: float
    expected_end: datetime | None  # while running or paused; None once stopped


def session_timing(visit: InfusionVisit, *, now: datetime) -> SessionTiming | None:
    """How long the pump has run (or ran) and how much was given; None before the start."""
    if visit.started_at is None:
        return None
    p = protocol()
    pauses = [sched.Pause(x.paused_at, x.resumed_at) for x in visit.pauses.all()]
    until = visit.ended_at or now
    running = sched.running_time(visit.started_at, pauses, until=until)
    paused = sched.paused_time(pauses, until=until)
    end = None
    if visit.ended_at is None:
        end = sched.expected_end(visit.started_at, pauses, minutes=p.infusion_minutes, now=now)
    return SessionTiming(
        running_minutes=int(running.total_seconds() // 60),
        paused_minutes=int(paused.total_seconds() // 60),
        planned_minutes=p.infusion_minutes,
        delivered_ml=sched.delivered_volume_ml(
            running, total_volume_ml=p.total_volume_ml, minutes=p.infusion_minutes
        ),
        total_ml=p.total_volume_ml,
        expected_end=end,
    )


def vitals_in_order(visit: InfusionVisit) -> list[Any]:
    """The visit's vitals, the scheduled and the extra readings together, in the order they were
    measured (a scheduled reading first when two share a time)."""
    return sorted(visit.vitals.all(), key=lambda v: (v.measured_at, v.unscheduled, v.pk))
