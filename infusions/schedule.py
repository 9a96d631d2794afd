"""The crossover schedule as a pure function of the protocol, the sequence and what happened.

No Django; "now" is never read here. Given the period-1 day-1 date and the recorded infusions,
`build_schedule` lays out every infusion with its window, every rating timepoint anchored to the
recorded end of the infusion it refers to (or to the planned end until it is recorded), the MRS
sessions and the weekly follow-up. Rules (PROTOCOL.md):

- Period 1 infusions on days 1, 4, 8, 11, 15, 19, 23, 27; period 2 uses the same day pattern from
  its own day 1 (KP: the first four days), which is `period2_gap_days` after the last period-1
  infusion.
- Each infusion may move within +-`infusion_window_days` of its target, never closer than
  `min_hours_between_infusions` to the previous infusion; when a moved infusion pushes the next
  target inside that limit, the next target moves to the first allowed day. A missed infusion is
  not made up by default; with `missed_infusion_made_up` it is given on the first allowed day
  and the later ones follow it.
- A planned infusion starts at its own planned time when the coordinator set one, else at the
  protocol's usual start.
- Ratings: 4 h, 24 h, 72 h after the first infusion of each period; pre-dose before every
  infusion; 4 h, 24 h, 72 h after the last infusion of each period; weekly after the last
  infusion of the study. A rating whose window overlaps a later pre-dose window, or that the
  next infusion would interrupt, is one task serving both timepoints (the 72 h rating after
  infusion 1 is the pre-dose rating of infusion 2), due at the pre-dose time.

Also here: the study calendar's closed days (`is_closed`, `nearest_open_day`) and the running
time of one infusion with its pauses (`running_time`, `expected_end`, `delivered_fraction`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketatrial.protocol import Protocol, TimeWindow

INFUSION = "infusion"
RATING = "rating"
MRS = "mrs"

PLANNED = "planned"
DONE = "done"
MISSED = "missed"
FOLLOW_UP = 3  # the "period" of the weekly follow-up after the last infusion of the study


@dataclass(frozen=True)
class InfusionFact:
    """What is recorded of one infusion: done (with start and end), missed, or moved (planned)."""

    status: str = PLANNED
    planned_date: date | None = None  # a coordinator's rescheduled date
    planned_time: time | None = None  # a coordinator's planned start (None: the usual start)
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Infusion:
    period: int
    number: int
    protocol_day: int
    target: date
    window_start: date
    window_end: date
    date: date
    status: str
    start: datetime
    end: datetime
    end_recorded: bool

    @property
    def key(self) -> tuple[int, int]:
        return (self.period, self.number)

    @property
    def in_window(self) -> bool:
        return self.window_start <= self.date <= self.window_end


@dataclass(frozen=True)
class Timepoint:
    """One rating task (or MRS session); `serves` lists every protocol timepoint it covers."""

    kind: str
    period: int
    code: str
    serves: tuple[str, ...]
    due: datetime
    window_start: datetime
    window_end: datetime
    anchored_to: tuple[int, int] | None
    anchor_recorded: bool
    labels: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Schedule:
    infusions: tuple[Infusion, ...]
    ratings: tuple[Timepoint, ...]
    mrs: tuple[Timepoint, ...]

    def infusion(self, period: int, number: int) -> Infusion:
        return next(i for i in self.infusions if i.key == (period, number))


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def earliest_start(previous_start: datetime, p: Protocol) -> datetime:
    """The earliest moment the next infusion may start."""
    return previous_start + timedelta(hours=p.min_hours_between_infusions)


def _earliest_day(previous: Infusion, p: Protocol, start_clock: time, tz: ZoneInfo) -> date:
    """First day on which an infusion at the usual hour starts at least the minimum gap after the
    previous infusion's start."""
    earliest = earliest_start(previous.start, p).astimezone(tz)
    day = earliest.date()
    return day if _at(day, start_clock, tz) >= earliest else day + timedelta(days=1)


def _period_infusions(
    *,
    period: int,
    days: tuple[int, ...],
    day1: date,
    facts: Mapping[tuple[int, int], InfusionFact],
    previous: Infusion | None,
    p: Protocol,
    start_clock: time,
    tz: ZoneInfo,
) -> list[Infusion]:
    infusions: list[Infusion] = []
    shift = timedelta(0)
    window = timedelta(days=p.infusion_window_days)
    duration = timedelta(minutes=p.infusion_minutes)
    for number, protocol_day in enumerate(days, start=1):
        fact = facts.get((period, number), InfusionFact())
        clock = fact.planned_time or start_clock
        target = day1 + timedelta(days=protocol_day - 1) + shift
        last_given = next((i for i in reversed(infusions) if i.status != MISSED), previous)
        earliest = _earliest_day(last_given, p, clock, tz) if last_given else None
        if earliest and target < earliest:
            target = earliest
        window_start = max(target - window, earliest) if earliest else target - window
        window_end = target + window
        if fact.status == DONE and fact.start is not None:
            start = fact.start
            end = fact.end or fact.start + duration
            when = start.astimezone(tz).date()
        else:
            when = fact.planned_date or target
            start = _at(when, clock, tz)
            end = start + duration
        infusion = Infusion(
            period,
            number,
            protocol_day,
            target,
            window_start,
            window_end,
            when,
            fact.status,
            start,
            end,
            fact.status == DONE and fact.end is not None,
        )
        if fact.status != MISSED and when != target and number == 1:
            # Day 1 is the day the first infusion is given: the pattern hangs from it.
            shift += when - target
        infusions.append(infusion)
    return infusions


def _window(anchor: datetime, w: TimeWindow) -> tuple[datetime, datetime, datetime]:
    due = anchor + timedelta(hours=w.hours)
    tol = timedelta(hours=w.tolerance_hours)
    return due, due - tol, due + tol


def _label(w: TimeWindow) -> str:
    return f"{w.hours:g}h"


def _ratings(period_infusions: list[Infusion], p: Protocol) -> list[Timepoint]:
    period = period_infusions[0].period
    given = [i for i in period_infusions if i.status != MISSED]
    if not given:  # every infusion of the period missed (a participant who stopped): no ratings
        return []
    first, last = given[0], given[-1]
    predose_before = timedelta(hours=p.predose_hours_before_start)
    tasks: list[Timepoint] = []
    for infusion in given:
        tasks.append(
            Timepoint(
                RATING,
                period,
                f"p{period}-predose-{infusion.number}",
                (f"pre-dose infusion {infusion.number}",),
                infusion.start,
                infusion.start - predose_before,
                infusion.start,
                infusion.key,
                infusion.status == DONE,
            )
        )
    for anchor, windows, name in (
        (first, p.after_first_infusion, "after infusion"),
        (last, p.after_last_infusion, "after last infusion"),
    ):
        for w in windows:
            due, start, end = _window(anchor.end, w)
            code = f"p{period}-{_label(w)}-inf{anchor.number}"
            serves = f"{_label(w)} {name} {anchor.number}"
            if any(t.code == code for t in tasks):
                continue  # a one-infusion period: the same timepoint twice
            merged = False
            for index, task in enumerate(tasks):
                # One interview serves both when a later pre-dose window overlaps this window, or
                # when the next infusion starts before this window closes (a rating after it would
                # no longer measure the earlier infusion alone).
                later_predose = task.code.startswith(f"p{period}-predose") and task.due > anchor.end
                overlaps = task.window_start <= end and start <= task.window_end
                if later_predose and (overlaps or task.due < end):
                    tasks[index] = replace(
                        task, serves=(*task.serves, serves), code=f"{task.code}+{_label(w)}"
                    )
                    merged = True
                    break
            if not merged:
                tasks.append(
                    Timepoint(
                        RATING, period, code, (serves,), due, start, end, anchor.key, anchor.end_recorded
                    )
                )
    return tasks


def build_schedule(
    *,
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]],
    day1: date,
    facts: Mapping[tuple[int, int], InfusionFact],
    p: Protocol,
    start_clock: time = time(9, 0),
    tz: ZoneInfo | None = None,
) -> Schedule:
    """The whole schedule of one participant.

    `sequence_days` holds the day patterns of period 1 and period 2 (the caller, the only code
    that may know the sequence, passes them); `facts` holds what is recorded per
    (period, number).
    """
    tz = tz or ZoneInfo("America/Mexico_City")
    period1 = _period_infusions(
        period=1,
        days=sequence_days[0],
        day1=day1,
        facts=facts,
        previous=None,
        p=p,
        start_clock=start_clock,
        tz=tz,
    )
    last1 = (
        next(i for i in reversed(period1) if i.status != MISSED)
        if any(i.status != MISSED for i in period1)
        else period1[-1]
    )
    day1_p2 = last1.date + timedelta(days=p.period2_gap_days)
    period2 = _period_infusions(
        period=2,
        days=sequence_days[1],
        day1=day1_p2,
        facts=facts,
        previous=last1,
        p=p,
        start_clock=start_clock,
        tz=tz,
    )
    ratings = _ratings(period1, p) + _ratings(period2, p)
    last = next((i for i in reversed(period2) if i.status != MISSED), period2[-1])
    follow = timedelta(days=p.followup_window_days)
    for week in range(1, p.followup_weeks + 1):
        due = last.end + timedelta(weeks=week)
        ratings.append(
            Timepoint(
                RATING,
                FOLLOW_UP,
                f"fu-week-{week}",
                (f"follow-up week {week}",),
                due,
                due - follow,
                due + follow,
                last.key,
                last.end_recorded,
            )
        )
    mrs = _merge_between_periods(_mrs(period1, p, tz), _mrs(period2, p, tz))
    return Schedule(tuple(period1 + period2), tuple(sorted(ratings, key=lambda t: t.due)), tuple(mrs))


def _mrs(period_infusions: list[Infusion], p: Protocol, tz: ZoneInfo) -> list[Timepoint]:
    period = period_infusions[0].period
    given = [i for i in period_infusions if i.status != MISSED]
    if not given:
        return []
    first, last = given[0], given[-1]
    sessions = []
    baseline_start = _at(first.date - timedelta(days=p.baseline_days_before_day1), time(0, 0), tz)
    sessions.append(
        Timepoint(
            MRS,
            period,
            f"p{period}-mrs-baseline",
            ("MRS baseline",),
            first.start,
            baseline_start,
            first.start,
            first.key,
            True,
        )
    )
    during = first if p.mrs_during_infusion_anchor == "first" else last
    at = during.start + timedelta(minutes=p.mrs_during_infusion_minutes)
    sessions.append(
        Timepoint(
            MRS,
            period,
            f"p{period}-mrs-during",
            (f"MRS during infusion {during.number}",),
            at,
            at - timedelta(minutes=p.mrs_during_window_minutes),
            at + timedelta(minutes=p.mrs_during_window_minutes),
            during.key,
            during.status == DONE,
        )
    )
    for code, hours, tolerance in (("24h", 24, 4), ("1w", 168, 48)):
        due = last.end + timedelta(hours=hours)
        sessions.append(
            Timepoint(
                MRS,
                period,
                f"p{period}-mrs-{code}",
                (f"MRS {code} after last infusion",),
                due,
                due - timedelta(hours=tolerance),
                due + timedelta(hours=tolerance),
                last.key,
                last.end_recorded,
            )
        )
    return sessions


def _merge_between_periods(first: list[Timepoint], second: list[Timepoint]) -> list[Timepoint]:
    """The 1-week MRS of period 1 and the baseline MRS of period 2 are one scan when their windows
    overlap (the default: period 2 starts a week after period 1 ends): it must happen before the
    first period-2 infusion, inside both windows."""
    week = next((t for t in first if t.code.endswith("mrs-1w")), None)
    baseline = next((t for t in second if t.code.endswith("mrs-baseline")), None)
    if week is None or baseline is None:
        return [*first, *second]
    start, end = max(week.window_start, baseline.window_start), min(week.window_end, baseline.window_end)
    if start > end:
        return [*first, *second]
    merged = replace(
        baseline,
        code=f"{week.code}+{baseline.code}",
        serves=(*week.serves, *baseline.serves),
        due=end,
        window_start=start,
        window_end=end,
    )
    return [t for t in first if t is not week] + [merged if t is baseline else t for t in second]


# --- the study calendar: closed days ----------------------------------------------------------


def is_closed(day: date, *, closed_weekdays: frozenset[int], closed_days: Mapping[date, str]) -> bool:
    """Whether the site is closed on `day`: a closed weekday (0 = Monday) or a named closed day."""
    return day.weekday() in closed_weekdays or day in closed_days


def nearest_open_day(
    target: date,
    first: date,
    last: date,
    *,
    closed_weekdays: frozenset[int],
    closed_days: Mapping[date, str],
) -> date | None:
    """The open day between `first` and `last` (a window, inclusive) nearest to `target`, the
    earlier of two equally near; None when every day of the window is closed."""
    span = (last - first).days
    candidates = [first + timedelta(days=n) for n in range(span + 1)]
    open_days = [
        d for d in candidates if not is_closed(d, closed_weekdays=closed_weekdays, closed_days=closed_days)
    ]
    return min(open_days, key=lambda d: (abs((d - target).days), d)) if open_days else None


# --- one infusion's running time: pauses -------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """A pause of a running infusion; `end` None: not resumed (yet)."""

    start: datetime
    end: datetime | None = None


def paused_time(pauses: tuple[Pause, ...] | list[Pause], *, until: datetime) -> timedelta:
    """How long the infusion stood still before `until`: each pause up to its resume, a pause not
    resumed up to `until`; the part of a pause after `until` does not count."""
    total = timedelta(0)
    for pause in pauses:
        end = until if pause.end is None else min(pause.end, until)
        if end > pause.start:
            total += end - pause.start
    return total


def running_time(start: datetime, pauses: tuple[Pause, ...] | list[Pause], *, until: datetime) -> timedelta:
    """How long the pump ran between `start` and `until` (the stop, or now for a running
    infusion): the time between them less the pauses."""
    if until <= start:
        return timedelta(0)
    return until - start - paused_time(pauses, until=until)


def expected_end(
    start: datetime, pauses: tuple[Pause, ...] | list[Pause], *, minutes: int, now: datetime
) -> datetime:
    """When the infusion will have run its `minutes`: the start plus the planned minutes plus
    every pause; a pause still open counts until `now` (the end moves on while it lasts)."""
    ended = [p for p in pauses if p.end is not None]
    open_pauses = [p for p in pauses if p.end is None]
    extra = paused_time(ended, until=max([p.end for p in ended if p.end], default=start))
    extra += sum((max(now - p.start, timedelta(0)) for p in open_pauses), timedelta(0))
    return start + timedelta(minutes=minutes) + extra


def delivered_fraction(running: timedelta, *, minutes: int) -> float:
    """The share of the prepared syringe given, at the fixed pump rate, after `running` of pump
    time (1.0 once the planned minutes have run; the pump then has nothing left)."""
    if minutes <= 0:
        raise ValueError("the infusion must last a positive number of minutes")
    return min(1.0, max(running, timedelta(0)) / timedelta(minutes=minutes))


def delivered_volume_ml(running: timedelta, *, total_volume_ml: float, minutes: int) -> float:
    """The volume given so far (mL): the same for ketamine and saline, so safe to show blinded."""
    return round(total_volume_ml * delivered_fraction(running, minutes=minutes), 1)
