"""Writes for schedules and infusion sessions; every one audited and checked against the protocol."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conduct.services import pregnancy_test_require
from infusions import dissociation
from infusions import schedule as sched
from infusions.models import (
    AdverseEvent,
    AdverseEventFollowUp,
    CalendarToken,
    ClosedDay,
    ClosedWeekdays,
    DissociationRating,
    InfusionPause,
    InfusionVisit,
    Schedule,
    ScheduleSpan,
    VitalSigns,
)
from infusions.vitals import vitals_alerts, vitals_problems, vitals_unusual
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.models import Notification
from ketatrial.notifications import notify, principal_investigators
from ketatrial.protocol import Protocol
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants import allocation
from participants.models import Participant
from participants.services import require_consent

TZ = ZoneInfo(settings.TIME_ZONE)
logger = logging.getLogger(__name__)


def start_clock() -> time:
    hours, minutes = protocol().infusion_start_clock.split(":")
    return time(int(hours), int(minutes))


# --- schedule ----------------------------------------------------------------------------------


_FACT_FIELDS = ("period", "number", "status", "planned_date", "planned_time", "started_at", "ended_at")


def _fact(
    status: str,
    planned_date: date | None,
    planned_time: time | None,
    started_at: datetime | None,
    ended_at: datetime | None,
) -> sched.InfusionFact:
    if status in (InfusionVisit.Status.DONE, InfusionVisit.Status.STOPPED):
        kind = sched.DONE
    elif status == InfusionVisit.Status.MISSED:
        kind = sched.MISSED
    else:
        kind = sched.PLANNED
    return sched.InfusionFact(
        status=kind,
        planned_date=planned_date,
        planned_time=planned_time,
        start=started_at if kind == sched.DONE else None,
        end=ended_at if kind == sched.DONE else None,
    )


def _facts(participant: Participant) -> dict[tuple[int, int], sched.InfusionFact]:
    rows = participant.infusion_visits.values_list(*_FACT_FIELDS)
    return {(period, number): _fact(*rest) for period, number, *rest in rows}


@lru_cache(maxsize=1024)
def _built(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]],
    day1: date,
    facts: tuple[tuple[tuple[int, int], sched.InfusionFact], ...],
    p: Protocol,
    clock: time,
) -> sched.Schedule:
    """`sched.build_schedule`, remembered by its whole input (the pure function's arguments): a
    schedule is rebuilt only when something it is computed from changed (a recorded infusion, a
    moved day 1, another protocol), so nothing has to invalidate it. The result is immutable
    (frozen dataclasses of tuples) and safe to share. 1,024 schedules are a few MB per process;
    the task list and the calendar need the few dozen under way."""
    return sched.build_schedule(
        sequence_days=sequence_days, day1=day1, facts=dict(facts), p=p, start_clock=clock, tz=TZ
    )


def _schedule(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]],
    day1: date,
    facts: dict[tuple[int, int], sched.InfusionFact],
) -> sched.Schedule:
    days = (tuple(sequence_days[0]), tuple(sequence_days[1]))
    return _built(days, day1, tuple(sorted(facts.items())), protocol(), start_clock())


def schedule_for(participant: Participant) -> sched.Schedule | None:
    """The participant's computed schedule (None until day 1 is set)."""
    anchor = Schedule.objects.filter(participant=participant).first()
    if anchor is None:
        return None
    return _schedule(allocation.period_day_patterns(participant), anchor.day1, _facts(participant))


def schedules_for(participants: list[Participant]) -> dict[int, sched.Schedule]:
    """The schedules of many participants in three queries (exports, analyses): pk -> schedule,
    for those whose day 1 is set."""
    anchors = dict(
        Schedule.objects.filter(participant__in=participants).values_list("participant_id", "day1")
    )
    facts: dict[int, dict[tuple[int, int], sched.InfusionFact]] = {}
    for pk, period, number, *rest in InfusionVisit.objects.filter(participant_id__in=anchors).values_list(
        "participant_id", *_FACT_FIELDS
    ):
        facts.setdefault(pk, {})[(period, number)] = _fact(*rest)
    patterns = allocation.period_day_patterns_many([p for p in participants if p.pk in anchors])
    plans = {}
    for person in participants:
        if person.pk not in anchors or person.pk not in patterns:
            continue
        try:
            plans[person.pk] = _schedule(patterns[person.pk], anchors[person.pk], facts.get(person.pk, {}))
        except (ValueError, IndexError, StopIteration):  # one bad record must not stop the others
            logger.exception("no schedule for participant %s", person.code)
    return plans


def protocol_key() -> str:
    """A fingerprint of the protocol in force: a schedule span made under other numbers is stale."""
    return hashlib.sha256(repr(protocol()).encode()).hexdigest()


def schedule_span(plan: sched.Schedule, participant: Participant) -> tuple[datetime, datetime]:
    """The first and last moment of everything a schedule can show or ask for: the baseline
    rating from enrolment, infusions with their day windows, rating and MRS windows (an
    end-of-study visit after a relapse is the task list's to find: clinimetry)."""
    moments: list[datetime] = [participant.enrolled_at] if participant.enrolled_at else []
    for infusion in plan.infusions:
        moments += [
            infusion.start,
            infusion.end,
            datetime.combine(infusion.window_start, time.min, tzinfo=TZ),
            datetime.combine(infusion.window_end, time.max, tzinfo=TZ),
        ]
    for t in (*plan.ratings, *plan.mrs):
        moments += [t.due, t.window_start, t.window_end]
    return min(moments), max(moments)


def schedule_span_refresh(participant: Participant, *, now: datetime) -> ScheduleSpan | None:
    """Store the participant's schedule span (none: no schedule, or one that cannot be built)."""
    plan = None
    try:
        plan = schedule_for(participant)
    except (ValueError, IndexError, StopIteration):
        logger.exception("no schedule span for participant %s", participant.pk)
    if plan is None:
        ScheduleSpan.objects.filter(participant=participant).delete()
        return None
    starts_at, ends_at = schedule_span(plan, participant)
    span, _created = ScheduleSpan.objects.update_or_create(
        participant=participant,
        defaults={
            "starts_at": starts_at,
            "ends_at": ends_at,
            "protocol_key": protocol_key(),
            "computed_at": now,
        },
    )
    return span


def schedule_spans_refresh(*, now: datetime) -> int:
    """Every scheduled participant's span again (nightly; after a bulk load or a protocol
    change). Returns how many were written."""
    participants = list(Participant.objects.filter(schedule__isnull=False))
    plans = schedules_for(participants)
    key = protocol_key()
    written = 0
    for person in participants:
        plan = plans.get(person.pk)
        if plan is None:
            continue
        starts_at, ends_at = schedule_span(plan, person)
        ScheduleSpan.objects.update_or_create(
            participant=person,
            defaults={"starts_at": starts_at, "ends_at": ends_at, "protocol_key": key, "computed_at": now},
        )
        written += 1
    ScheduleSpan.objects.exclude(participant__in=[p.pk for p in participants if p.pk in plans]).delete()
    return written


def _plan_with(
    participant: Participant,
    *,
    day1: date | None = None,
    fact: tuple[tuple[int, int], sched.InfusionFact] | None = None,
) -> sched.Schedule | None:
    """The participant's schedule as it would be with another day 1 or one infusion's fact changed
    (what a booking or a move would make), before anything is saved."""
    anchor = Schedule.objects.filter(participant=participant).first()
    if day1 is None and anchor is None:
        return None
    facts = _facts(participant)
    if fact is not None:
        facts[fact[0]] = fact[1]
    return sched.build_schedule(
        sequence_days=allocation.period_day_patterns(participant),
        day1=day1 or anchor.day1,  # type: ignore[union-attr]
        facts=facts,
        p=protocol(),
        start_clock=start_clock(),
        tz=TZ,
    )


def _closed_day_check(
    participant: Participant,
    *,
    before: sched.Schedule | None,
    after: sched.Schedule | None,
    reason: str | None,
    now: datetime,
) -> str:
    """Warn when a booking or a move puts a visit (infusion, rating, MRS scan) on a day the site is
    closed that was not on one before. Not a refusal: the protocol windows come first, so the
    coordinator may keep the date with a reason, which goes to the audit trail (returned as the
    words to add to it; empty when nothing new falls on a closed day). Only what the person may
    see of the schedule is named (the period-2 horizon of infusions.selectors). `reason` None: no
    person is asked (a data load, seed data); the pages always pass what the person typed."""
    if reason is None:
        return ""
    from infusions import selectors  # selectors reads through this module

    calendar = selectors.closed_calendar()
    seen = set()
    if before is not None:
        seen = {
            (e.kind, e.code, e.number, e.day)
            for e, _label in selectors.closed_day_events(
                selectors.participant_events(participant, now=now, plan=before), calendar
            )
        }
    new = [
        (e, label)
        for e, label in selectors.closed_day_events(
            selectors.participant_events(participant, now=now, plan=after), calendar
        )
        if (e.kind, e.code, e.number, e.day) not in seen
    ]
    if not new:
        return ""

    def named(e: Any, label: str) -> str:
        text = f"{e.label}: {e.day:%Y-%m-%d} ({label})"
        if e.kind == sched.INFUSION and e.window_start and e.window_end:
            nearest = calendar.nearest_open_day(
                e.day, e.window_start.astimezone(TZ).date(), e.window_end.astimezone(TZ).date()
            )
            if nearest is not None:
                text += ", " + _("nearest open day in its window: %s") % f"{nearest:%Y-%m-%d}"
        return text

    listed = "; ".join(named(e, label) for e, label in new)
    if not reason.strip():
        raise ValidationError(
            {
                "closed_day_reason": _(
                    "The site is closed on the day of %(visits)s. Choose another date, or keep this "
                    "one and give the reason."
                )
                % {"visits": listed}
            }
        )
    return f"on a closed day ({listed}), kept: {reason.strip()}"


@transaction.atomic
def schedule_set(
    *,
    participant: Participant,
    day1: date,
    by: AbstractBaseUser,
    now: datetime,
    reason: str = "",
    closed_day_reason: str | None = None,
) -> Schedule:
    """Set (or, before any infusion is given, move) day 1 of period 1. Visits that would fall on
    a closed day are named and kept only with a reason (audited)."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.status != Participant.Status.RANDOMIZED:
        raise ValidationError(_("Only a randomized participant in follow-up can be scheduled."))
    require_consent(participant, at=now)
    p = protocol()
    if participant.baseline_date and (day1 - participant.baseline_date).days > p.baseline_days_before_day1:
        raise ValidationError(
            {
                "day1": _("Day 1 must be within %(n)d days after the baseline assessment (%(d)s).")
                % {"n": p.baseline_days_before_day1, "d": participant.baseline_date}
            }
        )
    existing = Schedule.objects.filter(participant=participant).first()
    if (
        existing is not None
        and participant.infusion_visits.exclude(status=InfusionVisit.Status.PLANNED).exists()
    ):
        raise ValidationError(_("Infusions were already given or missed: move single infusions instead."))
    if existing is not None and not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    closed = _closed_day_check(
        participant,
        before=_plan_with(participant) if existing else None,
        after=_plan_with(participant, day1=day1),
        reason=closed_day_reason,
        now=now,
    )
    if existing is None:
        note = "scheduled" + (f"; {closed}" if closed else "")
        return clinical_create(Schedule(participant=participant, day1=day1), by=by, reason=note)
    note = reason.strip() + (f"; {closed}" if closed else "")
    return clinical_update(existing, by=by, reason=note, changes={"day1": day1})


def visit_for(participant: Participant, period: int, number: int, *, by: AbstractBaseUser) -> InfusionVisit:
    """The visit row of a scheduled infusion, created on first use."""
    plan = schedule_for(participant)
    if plan is None:
        raise ValidationError(_("Set day 1 first."))
    if not any(i.key == (period, number) for i in plan.infusions):
        raise ValidationError(_("There is no such infusion in this participant's schedule."))
    visit = InfusionVisit.objects.filter(participant=participant, period=period, number=number).first()
    if visit is None:
        visit = clinical_create(
            InfusionVisit(participant=participant, period=period, number=number), by=by, reason="opened"
        )
    return visit


@transaction.atomic
def infusion_reschedule(
    *,
    participant: Participant,
    period: int,
    number: int,
    new_date: date,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
    closed_day_reason: str | None = None,
) -> InfusionVisit:
    """Move a planned infusion; outside its window a reason is required; never within 48 h; a
    visit the move puts on a closed day is kept only with a reason."""
    Participant.objects.select_for_update().get(pk=participant.pk)
    visit = visit_for(participant, period, number, by=by)
    if visit.status != InfusionVisit.Status.PLANNED:
        raise ValidationError(_("Only a planned infusion can be moved."))
    plan = schedule_for(participant)
    assert plan is not None
    infusion = plan.infusion(period, number)
    _check_gap(plan, infusion, datetime.combine(new_date, visit.planned_time or start_clock(), tzinfo=TZ))
    outside = not infusion.window_start <= new_date <= infusion.window_end
    if outside and not reason.strip():
        raise ValidationError(
            {
                "reason": _("%(d)s is outside the window %(a)s to %(b)s: give the reason.")
                % {"d": new_date, "a": infusion.window_start, "b": infusion.window_end}
            }
        )
    moved = sched.InfusionFact(planned_date=new_date, planned_time=visit.planned_time)
    closed = _closed_day_check(
        participant,
        before=plan,
        after=_plan_with(participant, fact=((period, number), moved)),
        reason=closed_day_reason,
        now=now,
    )
    note = reason.strip() or _("moved within the window")
    return clinical_update(
        visit,
        by=by,
        reason=note + (f"; {closed}" if closed else ""),
        changes={"planned_date": new_date, "schedule_note": note},
    )


@transaction.atomic
def infusion_set_time(
    *,
    participant: Participant,
    period: int,
    number: int,
    planned_time: time,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> InfusionVisit:
    """Set or change the planned start time of a planned infusion (audited with its reason); the
    pre-dose rating and the in-scanner scan follow it, and it is never within the minimum gap of
    the infusions either side."""
    Participant.objects.select_for_update().get(pk=participant.pk)
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    visit = visit_for(participant, period, number, by=by)
    if visit.status != InfusionVisit.Status.PLANNED:
        raise ValidationError(_("Only a planned infusion can be moved."))
    plan = schedule_for(participant)
    assert plan is not None
    infusion = plan.infusion(period, number)
    _check_gap(plan, infusion, datetime.combine(infusion.date, planned_time, tzinfo=TZ))
    return clinical_update(
        visit, by=by, reason=f"planned start time: {reason.strip()}", changes={"planned_time": planned_time}
    )


def _check_gap(plan: sched.Schedule, infusion: sched.Infusion, start: datetime) -> None:
    p = protocol()
    ordered = list(plan.infusions)
    index = ordered.index(infusion)
    before = next((i for i in reversed(ordered[:index]) if i.status != sched.MISSED), None)
    after = next((i for i in ordered[index + 1 :] if i.status == sched.DONE), None)
    gap = timedelta(hours=p.min_hours_between_infusions)
    if before is not None and start < before.start + gap:
        raise ValidationError(
            _("Infusions must be at least %(h)d h apart: the previous one starts %(t)s.")
            % {
                "h": p.min_hours_between_infusions,
                "t": local_minute(before.start),
            }
        )
    if after is not None and after.start < start + gap:
        raise ValidationError(_("A later infusion was already given less than 48 h after this date."))


@transaction.atomic
def infusion_mark_missed(
    *, participant: Participant, period: int, number: int, reason: str, by: AbstractBaseUser
) -> InfusionVisit:
    """A missed infusion is not made up; the schedule recomputes around it."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    visit = visit_for(participant, period, number, by=by)
    if visit.status != InfusionVisit.Status.PLANNED:
        raise ValidationError(_("Only a planned infusion can be marked missed."))
    return clinical_update(
        visit,
        by=by,
        reason=f"missed: {reason.strip()}",
        changes={"status": InfusionVisit.Status.MISSED, "schedule_note": reason.strip()},
    )


# --- the session at the chair ------------------------------------------------------------------

# What each time of the session is called when it is refused for being in the future.
FUTURE_TIME_MESSAGES = {
    "started_at": gettext_lazy(
        "The start time %(at)s is in the future (it is now %(now)s): enter the time the infusion started."
    ),
    "measured_at": gettext_lazy(
        "The measurement time %(at)s is in the future (it is now %(now)s): enter the time the vitals "
        "were measured."
    ),
    "ended_at": gettext_lazy(
        "The stop time %(at)s is in the future (it is now %(now)s): record the stop once the infusion "
        "has ended."
    ),
    "rated_at": gettext_lazy(
        "The rating time %(at)s is in the future (it is now %(now)s): enter the time of the rating."
    ),
    "discharged_at": gettext_lazy(
        "The discharge time %(at)s is in the future (it is now %(now)s): record the discharge when the "
        "participant leaves."
    ),
    "paused_at": gettext_lazy(
        "The pause time %(at)s is in the future (it is now %(now)s): enter the time the pump was stopped."
    ),
    "resumed_at": gettext_lazy(
        "The resume time %(at)s is in the future (it is now %(now)s): enter the time the pump was restarted."
    ),
}


def _not_in_future(field: str, moment: datetime, now: datetime) -> None:
    """Refuse a session time after `now`, on its field, both times shown in the site's zone."""
    if moment > now:
        raise ValidationError(
            {field: FUTURE_TIME_MESSAGES[field] % {"at": local_minute(moment), "now": local_minute(now)}}
        )


PRECHECKS = (
    ("identity", gettext_lazy("Identity confirmed (two identifiers)")),
    ("consent", gettext_lazy("Consent current")),
    ("fasting", gettext_lazy("Fasting / no contraindicating intake")),
    ("no_contraindication", gettext_lazy("No new contraindication since the last visit")),
    ("iv_access", gettext_lazy("IV access in place")),
)


@transaction.atomic
def session_start(
    *,
    visit: InfusionVisit,
    prechecks: dict[str, bool],
    syringe_code: str,
    pump_rate_ml_h: Any,
    started_at: datetime,
    by: AbstractBaseUser,
    now: datetime,
) -> InfusionVisit:
    """Start an infusion: checks done, the syringe is the one prepared for this infusion and not
    past its beyond-use time at the start, the pump runs at the prepared rate, the start time is
    not in the future. A mismatch stops here and nothing starts."""
    visit = InfusionVisit.objects.select_for_update().select_related("participant").get(pk=visit.pk)
    if visit.status != InfusionVisit.Status.PLANNED:
        raise ValidationError(_("This infusion is not waiting to start."))
    _not_in_future("started_at", started_at, now)
    require_consent(visit.participant, at=started_at)
    pregnancy_test_require(visit.participant, at=started_at)
    missing = [str(label) for key, label in PRECHECKS if not prechecks.get(key)]
    if missing:
        raise ValidationError(_("Pre-infusion checks not done: %s") % "; ".join(missing))
    prepared = allocation.blinded_preparation(visit.participant, visit.period, visit.number, lock=True)
    if prepared is None:
        raise ValidationError(_("The pharmacy has not prepared this infusion: do not start."))
    if not prepared.confirmed:
        raise ValidationError(
            _(
                "STOP: the second pharmacist has not confirmed this infusion's preparation yet: do not "
                "start. Call the pharmacy."
            )
        )
    if syringe_code.strip().upper() != prepared.syringe_code:
        raise ValidationError(
            {
                "syringe_code": _(
                    "STOP: syringe %(got)s is not the one prepared for this participant and infusion."
                )
                % {"got": syringe_code.strip() or "—"}
            }
        )
    if prepared.expired_at(started_at):
        raise ValidationError(
            {
                "syringe_code": _(
                    "STOP: syringe %(code)s expired at %(beyond_use)s (its beyond-use time). Do not "
                    "connect it; call the pharmacy."
                )
                % {"code": prepared.syringe_code, "beyond_use": local_minute(prepared.beyond_use)}
            }
        )
    if pump_rate_ml_h != prepared.pump_rate_ml_h:
        raise ValidationError(
            {"pump_rate_ml_h": _("The pump rate must be %s mL/h, as prepared.") % prepared.pump_rate_ml_h}
        )
    plan = schedule_for(visit.participant)
    assert plan is not None
    _check_gap(plan, plan.infusion(visit.period, visit.number), started_at)
    return clinical_update(
        visit,
        by=by,
        reason="infusion started",
        changes={
            "status": InfusionVisit.Status.IN_PROGRESS,
            "prechecks": prechecks,
            "syringe_code": prepared.syringe_code,
            "pump_rate_ml_h": pump_rate_ml_h,
            "started_at": started_at,
            "physician": by,
        },
    )


def vitals_minutes() -> list[int]:
    """-1 stands for 'before the start'."""
    return [-1, *protocol().vitals_minutes]


def _elapsed_minute(visit: InfusionVisit, measured_at: datetime) -> int:
    """An extra reading's minute: whole minutes since the start (-1 before it)."""
    if visit.started_at is None or measured_at < visit.started_at:
        return -1
    return int((measured_at - visit.started_at).total_seconds() // 60)


@transaction.atomic
def vitals_record(
    *,
    visit: InfusionVisit,
    minute: int | None,
    systolic: int | None,
    diastolic: int | None,
    heart_rate: int | None,
    spo2: int | None,
    measured_at: datetime,
    by: AbstractBaseUser,
    now: datetime,
    confirm_reason: str = "",
) -> VitalSigns:
    """Record one set of vitals; implausible values are refused field by field, and so is a
    measurement time in the future or before consent; unusual values (possible, but often a typing
    error) are saved only once confirmed with a reason; thresholds passed are stored as alerts
    that wait for an action. `minute` None: an extra reading at any time (unscheduled, e.g. a
    repeat blood pressure), checked and alerted the same way."""
    # The caller's copy may predate the start.
    visit = InfusionVisit.objects.select_related("participant").get(pk=visit.pk)
    unscheduled = minute is None
    if not unscheduled and minute not in vitals_minutes():
        raise ValidationError({"minute": _("Not a protocol time point.")})
    problems = vitals_problems(systolic=systolic, diastolic=diastolic, heart_rate=heart_rate, spo2=spo2)
    if problems:
        raise ValidationError(problems)
    _not_in_future("measured_at", measured_at, now)
    require_consent(visit.participant, at=measured_at)
    if unscheduled:
        minute = _elapsed_minute(visit, measured_at)
    if visit.status == InfusionVisit.Status.PLANNED and minute != -1:
        raise ValidationError({"minute": _("Start the infusion before recording vitals during it.")})
    if not unscheduled and VitalSigns.objects.filter(visit=visit, minute=minute, unscheduled=False).exists():
        raise ValidationError(
            {"minute": _("Vitals for this time point are already recorded; correct them instead.")}
        )
    assert systolic is not None and diastolic is not None and heart_rate is not None and spo2 is not None
    unusual = vitals_unusual(systolic=systolic, diastolic=diastolic, heart_rate=heart_rate, spo2=spo2)
    if unusual and not confirm_reason.strip():
        raise ValidationError(
            {
                name: _("%(message)s: measure again; if it is right, confirm it below with the reason.")
                % {"message": message}
                for name, message in unusual.items()
            }
        )
    alerts = vitals_alerts(
        systolic=systolic, diastolic=diastolic, heart_rate=heart_rate, spo2=spo2, p=protocol()
    )
    return clinical_create(
        VitalSigns(
            visit=visit,
            minute=minute,
            unscheduled=unscheduled,
            measured_at=measured_at,
            systolic=systolic,
            diastolic=diastolic,
            heart_rate=heart_rate,
            spo2=spo2,
            alerts=[a.rule for a in alerts],
            confirmations={name: confirm_reason.strip() for name in unusual},
        ),
        by=by,
        reason=("extra reading recorded" if unscheduled else "recorded")
        + (f"; unusual values confirmed: {confirm_reason.strip()}" if unusual else ""),
    )


@transaction.atomic
def vitals_act(
    *, vitals: VitalSigns, action: str, reason: str, by: AbstractBaseUser, now: datetime
) -> VitalSigns:
    """The action an alert asks for: pause, stop, or continue with a reason. Audited."""
    vitals = VitalSigns.objects.select_for_update().select_related("visit").get(pk=vitals.pk)
    if not vitals.alerts:
        raise ValidationError(_("These vitals raised no alert."))
    if vitals.action:
        raise ValidationError(_("An action was already recorded for this alert."))
    if action not in VitalSigns.Action.values:
        raise ValidationError({"action": _("Choose pause, stop or continue.")})
    if action == VitalSigns.Action.CONTINUE and not reason.strip():
        raise ValidationError({"reason": _("Continuing past an alert needs a reason.")})
    updated = clinical_update(
        vitals,
        by=by,
        reason=f"alert action: {action}",
        changes={"action": action, "action_reason": reason.strip(), "action_by": by, "action_at": now},
    )
    if action == VitalSigns.Action.STOP and vitals.visit.status == InfusionVisit.Status.IN_PROGRESS:
        clinical_update(
            vitals.visit,
            by=by,
            reason="stopped after a vital-sign alert",
            changes={"status": InfusionVisit.Status.STOPPED, "ended_at": now},
        )
    return updated


def open_alerts(visit: InfusionVisit) -> list[VitalSigns]:
    return [v for v in visit.vitals.all() if v.alerts and not v.action]


@transaction.atomic
def dissociation_record(
    *,
    visit: InfusionVisit,
    minute: int,
    cadss_items: list[int],
    bprs_items: list[int],
    rated_at: datetime,
    by: AbstractBaseUser,
    now: datetime | None = None,
) -> DissociationRating:
    if now is not None:
        _not_in_future("rated_at", rated_at, now)
    if minute not in protocol().dissociation_minutes:
        raise ValidationError({"minute": _("CADSS and BPRS+ are rated before the start (0) and at 40 min.")})
    try:
        cadss = dissociation.cadss_total(cadss_items)
        bprs = dissociation.bprs_positive_total(bprs_items)
    except dissociation.ScaleError as exc:
        raise ValidationError(str(exc)) from exc
    if DissociationRating.objects.filter(visit=visit, minute=minute).exists():
        raise ValidationError({"minute": _("Already rated at this time point.")})
    return clinical_create(
        DissociationRating(
            visit=visit,
            minute=minute,
            cadss_items=list(cadss_items),
            cadss_total=cadss,
            bprs_items=list(bprs_items),
            bprs_total=bprs,
            rated_at=rated_at,
        ),
        by=by,
        reason="rated",
    )


def open_pause(visit: InfusionVisit) -> InfusionPause | None:
    """The pause of this infusion not resumed yet, if any."""
    return InfusionPause.objects.filter(visit=visit, resumed_at=None).first()


def session_pauses(visit: InfusionVisit) -> list[sched.Pause]:
    """The visit's pauses for the running-time arithmetic (infusions.schedule)."""
    return [sched.Pause(p.paused_at, p.resumed_at) for p in visit.pauses.all()]


@transaction.atomic
def session_pause(
    *, visit: InfusionVisit, paused_at: datetime, reason: str, by: AbstractBaseUser, now: datetime
) -> InfusionPause:
    """Pause a running infusion (the pump stops; the physician resumes it later, or stops it for
    good as before): a reason, and a time after the start and after the last resume, not in the
    future."""
    visit = InfusionVisit.objects.select_for_update().get(pk=visit.pk)
    if visit.status != InfusionVisit.Status.IN_PROGRESS or visit.started_at is None:
        raise ValidationError(_("This infusion is not running."))
    if open_pause(visit) is not None:
        raise ValidationError(_("The infusion is already paused: resume it first."))
    if not reason.strip():
        raise ValidationError({"pause_reason": _("Give the reason for the pause.")})
    _not_in_future("paused_at", paused_at, now)
    last = visit.pauses.exclude(resumed_at=None).order_by("-resumed_at").first()
    after = last.resumed_at if last is not None else visit.started_at
    assert after is not None
    if paused_at < after:
        raise ValidationError(
            {
                "paused_at": _("The pause must begin after %(what)s (%(t)s).")
                % {
                    "what": _("the last resume") if last is not None else _("the start"),
                    "t": local_minute(after),
                }
            }
        )
    return clinical_create(
        InfusionPause(visit=visit, paused_at=paused_at, reason=reason.strip(), paused_by=by),
        by=by,
        reason=f"infusion paused: {reason.strip()}",
    )


def pause_suggested(visit: InfusionVisit) -> VitalSigns | None:
    """The latest alert whose action was a pause when no pause was recorded from its measurement
    on: the session page offers the pause form filled in from it (the physician enters the time
    the pump was stopped; an alert action entered later must not date the pause)."""
    asked = visit.vitals.filter(action=VitalSigns.Action.PAUSE).order_by("-measured_at").first()
    if asked is None or visit.status != InfusionVisit.Status.IN_PROGRESS:
        return None
    if visit.pauses.filter(paused_at__gte=asked.measured_at).exists():
        return None
    return asked


@transaction.atomic
def session_resume(
    *, visit: InfusionVisit, resumed_at: datetime, by: AbstractBaseUser, now: datetime
) -> InfusionPause:
    """Resume a paused infusion at a time after the pause began, not in the future; the pump runs
    on for the rest of the planned minutes (infusions.schedule.expected_end)."""
    visit = InfusionVisit.objects.select_for_update().get(pk=visit.pk)
    pause = open_pause(visit)
    if visit.status != InfusionVisit.Status.IN_PROGRESS or pause is None:
        raise ValidationError(_("The infusion is not paused."))
    _not_in_future("resumed_at", resumed_at, now)
    if resumed_at <= pause.paused_at:
        raise ValidationError(
            {
                "resumed_at": _("The infusion must resume after the pause began (%(t)s).")
                % {"t": local_minute(pause.paused_at)}
            }
        )
    return clinical_update(
        pause, by=by, reason="infusion resumed", changes={"resumed_at": resumed_at, "resumed_by": by}
    )


@transaction.atomic
def session_stop(
    *, visit: InfusionVisit, ended_at: datetime, interruptions: str, by: AbstractBaseUser, now: datetime
) -> InfusionVisit:
    """Record the end of the infusion (after its start, not in the future); it anchors the 4 h,
    24 h and 72 h ratings. A pause still open lasts until this stop (the infusion was not
    resumed); the stop cannot come before a pause or resume already recorded."""
    visit = InfusionVisit.objects.select_for_update().get(pk=visit.pk)
    if visit.status != InfusionVisit.Status.IN_PROGRESS or visit.started_at is None:
        raise ValidationError(_("This infusion is not running."))
    _not_in_future("ended_at", ended_at, now)
    if ended_at <= visit.started_at:
        raise ValidationError({"ended_at": _("The stop time must be after the start.")})
    latest = max(
        (m for p in visit.pauses.all() for m in (p.paused_at, p.resumed_at) if m is not None), default=None
    )
    if latest is not None and ended_at < latest:
        raise ValidationError(
            {
                "ended_at": _("The stop time must be after the last pause or resume (%(t)s).")
                % {"t": local_minute(latest)}
            }
        )
    if open_alerts(visit):
        raise ValidationError(_("An alert is waiting for its action."))
    return clinical_update(
        visit,
        by=by,
        reason="infusion ended",
        changes={
            "status": InfusionVisit.Status.DONE,
            "ended_at": ended_at,
            "interruptions": interruptions.strip(),
        },
    )


@transaction.atomic
def session_discharge(
    *, visit: InfusionVisit, discharged_at: datetime, by: AbstractBaseUser, now: datetime
) -> InfusionVisit:
    """Discharge after at least the protocol's observation time from the end of the infusion, and
    not in the future."""
    visit = InfusionVisit.objects.select_for_update().get(pk=visit.pk)
    if visit.ended_at is None:
        raise ValidationError(_("Record the end of the infusion first."))
    _not_in_future("discharged_at", discharged_at, now)
    minimum = visit.ended_at + timedelta(minutes=protocol().observation_minutes_min)
    if discharged_at < minimum:
        raise ValidationError(
            {
                "discharged_at": _("Observation must last at least %(m)d min: discharge from %(t)s.")
                % {"m": protocol().observation_minutes_min, "t": local_minute(minimum)}
            }
        )
    if open_alerts(visit):
        raise ValidationError(_("An alert is waiting for its action."))
    return clinical_update(visit, by=by, reason="discharged", changes={"discharged_at": discharged_at})


# What a report of an adverse event sets, and what a change with a reason may change.
ADVERSE_EVENT_FIELDS = (
    "term",
    "category",
    "onset",
    "severity",
    "seriousness_criteria",
    "relatedness",
    "expectedness",
    "action",
    "outcome",
    "outcome_date",
    "narrative",
)


def adverse_event_topic(event: AdverseEvent) -> str:
    return f"infusions.adverseevent:{event.pk}"


def _adverse_event_values(values: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Check an adverse event's values together; `serious` follows the criteria (ICH E2A: an event
    is serious when it meets at least one), in the criteria's own order."""
    criteria = set(values.get("seriousness_criteria") or [])
    if criteria - set(AdverseEvent.Criterion.values):
        raise ValidationError({"seriousness_criteria": _("Unknown seriousness criterion.")})
    ordered = [c for c in AdverseEvent.Criterion.values if c in criteria]
    narrative = (values.get("narrative") or "").strip()
    onset, outcome, outcome_date = values.get("onset"), values.get("outcome"), values.get("outcome_date")
    errors: dict[str, Any] = {}
    if onset is not None and onset > now:
        errors["onset"] = _("The onset cannot be in the future.")
    if ordered and not narrative:
        errors["narrative"] = _(
            "A serious adverse event needs a narrative: what happened, when, what was done and how it went."
        )
    if ordered and not values.get("expectedness"):
        errors["expectedness"] = _("Say whether this serious event is expected.")
    fatal = outcome == AdverseEvent.Outcome.FATAL
    if fatal != (AdverseEvent.Criterion.DEATH in criteria):
        errors["outcome"] = _("A fatal outcome and the seriousness criterion 'Results in death' go together.")
    if outcome in AdverseEvent.RESOLVED and outcome_date is None:
        errors["outcome_date"] = _("Give the date of this outcome.")
    elif outcome not in AdverseEvent.RESOLVED and outcome_date is not None:
        errors["outcome_date"] = _(
            "An outcome date goes with a final outcome (recovered, recovered with sequelae, fatal)."
        )
    elif outcome_date is not None:
        if outcome_date > now.astimezone(TZ).date():
            errors["outcome_date"] = _("The outcome date cannot be in the future.")
        elif onset is not None and outcome_date < onset.astimezone(TZ).date():
            errors["outcome_date"] = _("The outcome date cannot come before the onset.")
    if errors:
        raise ValidationError(errors)
    return {**values, "seriousness_criteria": ordered, "serious": bool(ordered), "narrative": narrative}


def _sae_body(event: AdverseEvent) -> str:
    body = _("%(term)s (%(sev)s), onset %(onset)s. Expedited report required.") % {
        "term": event.term,
        "sev": event.get_severity_display(),
        "onset": event.onset.astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
    }
    return body + "\n" + _("Seriousness criteria: %s") % "; ".join(event.criteria_labels())


def _notify_sae(event: AdverseEvent, *, subject: str, body: str, by: AbstractBaseUser, now: datetime) -> None:
    """Every principal investigator but the one who wrote the change."""
    recipients = [u for u in principal_investigators() if u.pk != by.pk]
    notify(
        recipients=recipients,
        subject=subject,
        body=body,
        url=reverse("safety:adverse_event", args=[event.pk]),
        now=now,
        kind=Notification.Kind.SERIOUS_ADVERSE_EVENT,
        topic=adverse_event_topic(event),
    )


@transaction.atomic
def adverse_event_record(
    *,
    participant: Participant,
    visit: InfusionVisit | None,
    by: AbstractBaseUser,
    now: datetime,
    term: str,
    category: str,
    onset: datetime,
    severity: str,
    relatedness: str,
    action: str,
    outcome: str,
    seriousness_criteria: list[str] | tuple[str, ...] = (),
    expectedness: str = "",
    outcome_date: date | None = None,
    narrative: str = "",
) -> AdverseEvent:
    """Record an adverse event; a serious one (a seriousness criterion met) needs a narrative and
    its expectedness, and notifies every principal investigator at once."""
    values = _adverse_event_values(
        {
            "term": term,
            "category": category,
            "onset": onset,
            "severity": severity,
            "seriousness_criteria": list(seriousness_criteria),
            "relatedness": relatedness,
            "expectedness": expectedness,
            "action": action,
            "outcome": outcome,
            "outcome_date": outcome_date,
            "narrative": narrative,
        },
        now=now,
    )
    event = clinical_create(
        AdverseEvent(participant=participant, visit=visit, reported_by=by, reported_at=now, **values),
        by=by,
        reason="reported",
    )
    if event.serious:
        _notify_sae(
            event,
            subject=_("Serious adverse event: %(p)s") % {"p": participant.code},
            body=_sae_body(event),
            by=by,
            now=now,
        )
    return event


@transaction.atomic
def adverse_event_update(
    *, event: AdverseEvent, changes: dict[str, Any], reason: str, by: AbstractBaseUser, now: datetime
) -> AdverseEvent:
    """Change a reported adverse event with a reason (audited). The principal investigators are
    told of every change to a serious event, and of an event that becomes serious."""
    event = AdverseEvent.objects.select_for_update().select_related("participant").get(pk=event.pk)
    unknown = set(changes) - set(ADVERSE_EVENT_FIELDS)
    if unknown:
        raise ValidationError(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    was_serious = event.serious
    current = {name: getattr(event, name) for name in ADVERSE_EVENT_FIELDS}
    values = _adverse_event_values({**current, **changes}, now=now)
    if was_serious and not event.seriousness_criteria and not values["serious"]:
        # Reported serious before criteria were recorded: the form shows none ticked, and saving
        # it as it stands must not quietly make the event non-serious.
        raise ValidationError(
            {
                "seriousness_criteria": _(
                    "This event was reported as serious before seriousness criteria were recorded: "
                    "tick the criteria it meets."
                )
            }
        )
    changed = [
        str(AdverseEvent._meta.get_field(name).verbose_name)
        for name in ADVERSE_EVENT_FIELDS
        if values[name] != current[name]
    ]
    updated = clinical_update(event, by=by, reason=reason.strip(), changes=values)
    if updated.serious:
        code = updated.participant.code
        if was_serious:
            subject = _("Serious adverse event updated: %(p)s") % {"p": code}
            body = _("%(who)s changed %(fields)s. Reason: %(reason)s") % {
                "who": by.get_username(),
                "fields": ", ".join(changed),
                "reason": reason.strip(),
            }
        else:
            subject = _("Serious adverse event: %(p)s") % {"p": code}
            body = _sae_body(updated)
        _notify_sae(updated, subject=subject, body=body, by=by, now=now)
    return updated


@transaction.atomic
def adverse_event_follow_up_add(
    *, event: AdverseEvent, on: date, note: str, by: AbstractBaseUser, now: datetime
) -> AdverseEventFollowUp:
    """Add a dated follow-up note to an adverse event (a serious one notifies the principal
    investigators); entries are added, never rewritten."""
    event = AdverseEvent.objects.select_related("participant").get(pk=event.pk)
    if not note.strip():
        raise ValidationError({"note": _("Write the follow-up information.")})
    if on > now.astimezone(TZ).date():
        raise ValidationError({"on": _("The date cannot be in the future.")})
    if on < event.onset.astimezone(TZ).date():
        raise ValidationError({"on": _("The date cannot come before the onset.")})
    entry = clinical_create(
        AdverseEventFollowUp(event=event, on=on, note=note.strip(), recorded_by=by, recorded_at=now),
        by=by,
        reason="follow-up added",
    )
    if event.serious:
        _notify_sae(
            event,
            subject=_("Serious adverse event follow-up: %(p)s") % {"p": event.participant.code},
            body=f"{on:%Y-%m-%d}: {entry.note}",
            by=by,
            now=now,
        )
    return entry


def calendar_token_for(user: AbstractBaseUser, *, now: datetime, renew: bool = False) -> CalendarToken:
    token = CalendarToken.objects.filter(user=user).first()
    if token is None or renew:
        value = secrets.token_urlsafe(32)
        token, _created = CalendarToken.objects.update_or_create(
            user=user, defaults={"token": value, "created_at": now}
        )
    return token


# --- the study calendar: closed days -----------------------------------------------------------


@transaction.atomic
def closed_day_add(
    *, day: date, name: str, by: AbstractBaseUser | None, source: str = ClosedDay.Source.TEAM
) -> ClosedDay:
    """Mark a day on which the site is closed (a holiday, a site closure), with its name."""
    if not name.strip():
        raise ValidationError(
            {"name": _("Give the day a name (e.g. the holiday or why the site is closed).")}
        )
    existing = ClosedDay.objects.filter(day=day).first()
    if existing is not None:
        raise ValidationError(
            {"day": _("%(d)s is already closed: %(name)s.") % {"d": day, "name": existing.name}}
        )
    return clinical_create(
        ClosedDay(day=day, name=name.strip(), source=source), by=by, reason="closed day added"
    )


@transaction.atomic
def closed_day_remove(*, closed_day: ClosedDay, reason: str, by: AbstractBaseUser) -> None:
    """Open a closed day again (the site works that day after all); audited with the reason."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    closed_day = ClosedDay.objects.select_for_update().get(pk=closed_day.pk)
    closed_day._history_user = by  # type: ignore[attr-defined]
    closed_day._change_reason = f"closed day removed: {reason.strip()}"  # type: ignore[attr-defined]
    closed_day.delete()


@transaction.atomic
def closed_weekdays_set(*, weekdays: list[int], reason: str, by: AbstractBaseUser) -> ClosedWeekdays:
    """Set the weekdays the site is closed (0 = Monday); replaces the protocol's default."""
    if any(not 0 <= d <= 6 for d in weekdays):
        raise ValidationError({"weekdays": _("A weekday is a number from 0 (Monday) to 6 (Sunday).")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    chosen = sorted(set(weekdays))
    row = ClosedWeekdays.objects.select_for_update().first()
    if row is None:
        return clinical_create(
            ClosedWeekdays(weekdays=chosen), by=by, reason=f"closed weekdays set: {reason.strip()}"
        )
    return clinical_update(
        row, by=by, reason=f"closed weekdays changed: {reason.strip()}", changes={"weekdays": chosen}
    )


def statutory_holidays(year: int, *, language: str) -> dict[date, str]:
    """The statutory holidays of the protocol's country in one year, named in `language` (the
    `holidays` library; nothing is written)."""
    import holidays

    country = protocol().holidays_country
    supported = holidays.country_holidays(country).supported_languages
    wanted = "es" if language.startswith("es") else "en_US"
    chosen = wanted if wanted in supported else None
    return dict(holidays.country_holidays(country, years=year, language=chosen).items())


@transaction.atomic
def closed_days_add_statutory(*, year: int, by: AbstractBaseUser | None, language: str) -> list[ClosedDay]:
    """Add the statutory holidays of a year as closed days (days already closed are left as they
    are). Returns the days added."""
    if not 2000 <= year <= 2100:
        raise ValidationError({"year": _("Give a year between 2000 and 2100.")})
    taken = set(ClosedDay.objects.filter(day__year=year).values_list("day", flat=True))
    added = []
    for day, name in sorted(statutory_holidays(year, language=language).items()):
        if day not in taken:
            added.append(closed_day_add(day=day, name=name, by=by, source=ClosedDay.Source.STATUTORY))
    return added
