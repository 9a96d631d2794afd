"""Planned start times, closed days and the running time of a paused infusion (pure module).

Expectations are worked out by hand. Frame as in test_schedule.py: period 1 day 1 = Monday
2025-03-03, usual start 09:00 America/Mexico_City, infusions of 40 min; infusion 2 is on Thursday
2025-03-06 and infusion 3 on Monday 2025-03-10.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from infusions.schedule import (
    InfusionFact,
    Pause,
    build_schedule,
    delivered_fraction,
    delivered_volume_ml,
    expected_end,
    is_closed,
    nearest_open_day,
    paused_time,
    running_time,
)
from ketatrial.protocol import DEFAULT_PROTOCOL

MX = ZoneInfo("America/Mexico_City")
KP = (DEFAULT_PROTOCOL.period1_infusion_days, DEFAULT_PROTOCOL.period2_infusion_days("KP"))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=MX)


def test_a_planned_start_time_moves_that_infusion_its_pre_dose_rating_and_nothing_else() -> None:
    plan = build_schedule(
        sequence_days=KP,
        day1=date(2025, 3, 3),
        facts={(1, 2): InfusionFact(planned_time=time(14, 30))},
        p=DEFAULT_PROTOCOL,
        start_clock=time(9, 0),
        tz=MX,
    )
    second = plan.infusion(1, 2)
    assert (second.start, second.end) == (at(6, 14, 30), at(6, 15, 10))
    assert plan.infusion(1, 1).start == at(3, 9, 0)
    assert plan.infusion(1, 3).start == at(10, 9, 0)
    predose = next(t for t in plan.ratings if t.code.startswith("p1-predose-2"))
    assert (predose.window_start, predose.due) == (at(6, 12, 30), at(6, 14, 30))


def test_a_later_planned_time_on_the_day_before_counts_for_the_48_hour_gap() -> None:
    # Infusion 1 planned at 18:00 on Monday 03-03. At the usual 09:00, Wednesday 03-05 would be
    # 39 h later (too soon: the window would open on Thursday); at infusion 2's own planned
    # 19:00 it is 49 h later, so its window opens on Wednesday and it can be given then.
    plan = build_schedule(
        sequence_days=KP,
        day1=date(2025, 3, 3),
        facts={
            (1, 1): InfusionFact(planned_time=time(18, 0)),
            (1, 2): InfusionFact(planned_date=date(2025, 3, 5), planned_time=time(19, 0)),
        },
        p=DEFAULT_PROTOCOL,
        start_clock=time(9, 0),
        tz=MX,
    )
    second = plan.infusion(1, 2)
    assert second.start == at(5, 19, 0)
    assert second.window_start == date(2025, 3, 5)


WEEKEND = frozenset({5, 6})
CHRISTMAS = {date(2027, 12, 25): "Navidad"}


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        (date(2027, 12, 24), False),  # Friday
        (date(2027, 12, 25), True),  # Saturday and Christmas
        (date(2027, 12, 26), True),  # Sunday
        (date(2027, 12, 27), False),  # Monday
        (date(2027, 2, 1), False),  # a Monday holiday not in the calendar
    ],
)
def test_a_day_is_closed_on_a_closed_weekday_or_a_named_closed_day(day: date, closed: bool) -> None:
    assert is_closed(day, closed_weekdays=WEEKEND, closed_days=CHRISTMAS) is closed


def test_a_named_closed_day_on_a_weekday_is_closed_and_an_empty_calendar_closes_nothing() -> None:
    assert is_closed(date(2027, 12, 24), closed_weekdays=frozenset(), closed_days={date(2027, 12, 24): "x"})
    assert not is_closed(date(2027, 12, 26), closed_weekdays=frozenset(), closed_days={})


@pytest.mark.parametrize(
    ("target", "first", "last", "expected"),
    [
        (date(2027, 12, 25), date(2027, 12, 24), date(2027, 12, 26), date(2027, 12, 24)),  # Sat -> Fri
        (date(2027, 12, 26), date(2027, 12, 25), date(2027, 12, 27), date(2027, 12, 27)),  # Sun -> Mon
        (date(2027, 12, 22), date(2027, 12, 21), date(2027, 12, 23), date(2027, 12, 22)),  # open already
        (date(2027, 12, 25), date(2027, 12, 25), date(2027, 12, 26), None),  # all closed
    ],
)
def test_the_nearest_open_day_stays_inside_the_window(
    target: date, first: date, last: date, expected: date | None
) -> None:
    assert nearest_open_day(target, first, last, closed_weekdays=WEEKEND, closed_days=CHRISTMAS) == expected


def test_two_equally_near_open_days_give_the_earlier() -> None:
    # Wednesday closed by name: Tuesday and Thursday are both a day away.
    named = {date(2027, 12, 22): "site closure"}
    got = nearest_open_day(
        date(2027, 12, 22), date(2027, 12, 21), date(2027, 12, 23), closed_weekdays=WEEKEND, closed_days=named
    )
    assert got == date(2027, 12, 21)


START = at(3, 9, 0)


@pytest.mark.parametrize(
    ("pauses", "until", "paused", "running"),
    [
        ((), at(3, 9, 40), 0, 40),
        ((Pause(at(3, 9, 10), at(3, 9, 25)),), at(3, 9, 55), 15, 40),
        # Two pauses, 5 and 10 min.
        ((Pause(at(3, 9, 5), at(3, 9, 10)), Pause(at(3, 9, 20), at(3, 9, 30))), at(3, 9, 45), 15, 30),
        # A pause still open counts up to `until` (stopped during it: until = the stop).
        ((Pause(at(3, 9, 30)),), at(3, 9, 50), 20, 30),
        # The part of a pause after `until` does not count.
        ((Pause(at(3, 9, 30), at(3, 10, 0)),), at(3, 9, 40), 10, 30),
        # Before the start: nothing ran.
        ((), at(3, 8, 50), 0, 0),
    ],
)
def test_the_running_time_leaves_the_pauses_out(
    pauses: tuple[Pause, ...], until: datetime, paused: int, running: int
) -> None:
    assert paused_time(pauses, until=until) == timedelta(minutes=paused)
    assert running_time(START, pauses, until=until) == timedelta(minutes=running)


def test_the_expected_end_adds_every_pause_and_moves_on_while_a_pause_lasts() -> None:
    assert expected_end(START, (), minutes=40, now=at(3, 9, 5)) == at(3, 9, 40)
    resumed = (Pause(at(3, 9, 10), at(3, 9, 22)),)
    assert expected_end(START, resumed, minutes=40, now=at(3, 9, 30)) == at(3, 9, 52)
    still_paused = (*resumed, Pause(at(3, 9, 30)))
    assert expected_end(START, still_paused, minutes=40, now=at(3, 9, 36)) == at(3, 9, 58)
    assert expected_end(START, still_paused, minutes=40, now=at(3, 9, 40)) == at(3, 10, 2)


@pytest.mark.parametrize(
    ("minutes_run", "fraction", "ml"),
    [(0, 0.0, 0.0), (10, 0.25, 12.5), (30, 0.75, 37.5), (40, 1.0, 50.0), (55, 1.0, 50.0)],
)
def test_the_volume_given_follows_the_pump_time_at_the_fixed_rate(
    minutes_run: int, fraction: float, ml: float
) -> None:
    running = timedelta(minutes=minutes_run)
    assert delivered_fraction(running, minutes=40) == fraction
    assert delivered_volume_ml(running, total_volume_ml=50.0, minutes=40) == ml


def test_an_infusion_of_no_minutes_is_refused() -> None:
    with pytest.raises(ValueError):
        delivered_fraction(timedelta(minutes=5), minutes=0)
