"""The crossover schedule (pure module, no database).

Every expected date and time below is worked out by hand from PROTOCOL.md and written as a
literal; the module is never used to compute an expectation.

Fixed frame: period 1 day 1 = Monday 2025-03-03, usual start 09:00 America/Mexico_City (UTC-6 all
year since 2022, so no DST jump inside the study), infusions of 40 min (planned end 09:40).

Period 1 (days 1, 4, 8, 11, 15, 19, 23, 27):
    Mar 3, Mar 6, Mar 10, Mar 13, Mar 17, Mar 21, Mar 25, Mar 29.
Period 2 day 1 = Mar 29 + 7 days = Apr 5; same day pattern:
    Apr 5, Apr 8, Apr 12, Apr 15 (KP stops here), Apr 19, Apr 23, Apr 27, May 1 (PK).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from infusions.schedule import (
    DONE,
    FOLLOW_UP,
    MISSED,
    MRS,
    PLANNED,
    RATING,
    InfusionFact,
    Schedule,
    build_schedule,
)
from ketatrial.protocol import DEFAULT_PROTOCOL, Protocol, protocol_with_overrides

MX = ZoneInfo("America/Mexico_City")
DAY1 = date(2025, 3, 3)
KP = (DEFAULT_PROTOCOL.period1_infusion_days, DEFAULT_PROTOCOL.period2_infusion_days("KP"))
PK = (DEFAULT_PROTOCOL.period1_infusion_days, DEFAULT_PROTOCOL.period2_infusion_days("PK"))


def d(month: int, day: int) -> date:
    return date(2025, month, day)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=MX)


def schedule(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]] = KP,
    facts: dict[tuple[int, int], InfusionFact] | None = None,
    p: Protocol = DEFAULT_PROTOCOL,
) -> Schedule:
    return build_schedule(
        sequence_days=sequence_days, day1=DAY1, facts=facts or {}, p=p, start_clock=time(9, 0), tz=MX
    )


def done(start: datetime, end: datetime | None = None) -> InfusionFact:
    return InfusionFact(status=DONE, start=start, end=end)


def rows(s: Schedule, period: int | None = None) -> list[tuple]:
    """(period, number, protocol day, target, window start, window end, date, status)."""
    return [
        (i.period, i.number, i.protocol_day, i.target, i.window_start, i.window_end, i.date, i.status)
        for i in s.infusions
        if period is None or i.period == period
    ]


def rating(s: Schedule, code: str):  # type: ignore[no-untyped-def]
    matches = [t for t in s.ratings if t.code == code]
    assert len(matches) == 1, f"{code}: {[t.code for t in s.ratings]}"
    return matches[0]


def mrs(s: Schedule, code: str):  # type: ignore[no-untyped-def]
    matches = [t for t in s.mrs if t.code == code]
    assert len(matches) == 1, f"{code}: {[t.code for t in s.mrs]}"
    return matches[0]


# ---------------------------------------------------------------------------------------------
# Infusion days and windows, both sequences, nothing recorded
# ---------------------------------------------------------------------------------------------

# (period, number, protocol day, target, window start, window end, date, status); window +-1 day.
P1_PLANNED = [
    (1, 1, 1, d(3, 3), d(3, 2), d(3, 4), d(3, 3), PLANNED),
    (1, 2, 4, d(3, 6), d(3, 5), d(3, 7), d(3, 6), PLANNED),
    (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 10), PLANNED),
    (1, 4, 11, d(3, 13), d(3, 12), d(3, 14), d(3, 13), PLANNED),
    (1, 5, 15, d(3, 17), d(3, 16), d(3, 18), d(3, 17), PLANNED),
    (1, 6, 19, d(3, 21), d(3, 20), d(3, 22), d(3, 21), PLANNED),
    (1, 7, 23, d(3, 25), d(3, 24), d(3, 26), d(3, 25), PLANNED),
    (1, 8, 27, d(3, 29), d(3, 28), d(3, 30), d(3, 29), PLANNED),
]
P2_PLANNED_KP = [
    (2, 1, 1, d(4, 5), d(4, 4), d(4, 6), d(4, 5), PLANNED),
    (2, 2, 4, d(4, 8), d(4, 7), d(4, 9), d(4, 8), PLANNED),
    (2, 3, 8, d(4, 12), d(4, 11), d(4, 13), d(4, 12), PLANNED),
    (2, 4, 11, d(4, 15), d(4, 14), d(4, 16), d(4, 15), PLANNED),
]
P2_PLANNED_PK = [
    *P2_PLANNED_KP,
    (2, 5, 15, d(4, 19), d(4, 18), d(4, 20), d(4, 19), PLANNED),
    (2, 6, 19, d(4, 23), d(4, 22), d(4, 24), d(4, 23), PLANNED),
    (2, 7, 23, d(4, 27), d(4, 26), d(4, 28), d(4, 27), PLANNED),
    (2, 8, 27, d(5, 1), d(4, 30), d(5, 2), d(5, 1), PLANNED),
]


@pytest.mark.parametrize(
    ("sequence_days", "expected"),
    [
        pytest.param(KP, P1_PLANNED + P2_PLANNED_KP, id="KP-8+4"),
        pytest.param(PK, P1_PLANNED + P2_PLANNED_PK, id="PK-8+8"),
    ],
)
def test_it_lays_out_every_infusion_with_a_one_day_window_for_each_sequence(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]], expected: list[tuple]
) -> None:
    assert rows(schedule(sequence_days)) == expected


@pytest.mark.parametrize(("sequence_days", "p1", "p2"), [(KP, 8, 4), (PK, 8, 8)], ids=["KP", "PK"])
def test_it_gives_eight_period_one_infusions_and_four_or_eight_in_period_two(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]], p1: int, p2: int
) -> None:
    s = schedule(sequence_days)
    assert sum(i.period == 1 for i in s.infusions) == p1
    assert sum(i.period == 2 for i in s.infusions) == p2


def test_it_plans_each_infusion_at_the_usual_hour_for_forty_minutes_timezone_aware() -> None:
    s = schedule(KP)
    first = s.infusion(1, 1)
    assert (first.start, first.end, first.end_recorded) == (at(3, 3, 9), at(3, 3, 9, 40), False)
    last = s.infusion(2, 4)
    assert (last.start, last.end) == (at(4, 15, 9), at(4, 15, 9, 40))
    assert all(i.start.utcoffset() is not None and i.end.utcoffset() is not None for i in s.infusions)
    assert all(i.in_window for i in s.infusions)


# ---------------------------------------------------------------------------------------------
# Moved, late, early and missed infusions (period 1 of KP)
# ---------------------------------------------------------------------------------------------

BASE_P1 = {(r[0], r[1]): r for r in P1_PLANNED}

MOVE_CASES = [
    pytest.param(
        # Infusion 2 a day late (Mar 7, its window end). Infusion 3 (Mar 10) is 72 h later: the
        # 48 h limit (Mar 9 09:00) leaves its window Mar 9-11 as it was.
        {(1, 2): InfusionFact(planned_date=d(3, 7))},
        {(1, 2): (1, 2, 4, d(3, 6), d(3, 5), d(3, 7), d(3, 7), PLANNED)},
        id="infusion-2-planned-a-day-late",
    ),
    pytest.param(
        # Infusion 3 moved to day 9 (Mar 11). Infusion 4 keeps day 11 (Mar 13) but may not start
        # before Mar 13 09:00 (48 h after Mar 11 09:00): its window start Mar 12 becomes Mar 13.
        {(1, 3): InfusionFact(planned_date=d(3, 11))},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 11), PLANNED),
            (1, 4): (1, 4, 11, d(3, 13), d(3, 13), d(3, 14), d(3, 13), PLANNED),
        },
        id="infusion-3-planned-on-day-9-clips-the-next-window",
    ),
    pytest.param(
        # Infusion 4 moved to day 12 (Mar 14): infusion 5 on day 15 (Mar 17) is 72 h later;
        # earliest Mar 16 09:00 = its window start anyway.
        {(1, 4): InfusionFact(planned_date=d(3, 14))},
        {(1, 4): (1, 4, 11, d(3, 13), d(3, 12), d(3, 14), d(3, 14), PLANNED)},
        id="infusion-4-planned-on-day-12-pushes-nothing",
    ),
    pytest.param(
        # Infusion 2 given at its window end Mar 7 at 15:00: 48 h later is Mar 9 15:00, so the
        # first day infusion 3 can start at 09:00 is Mar 10 = its target; window Mar 10-11.
        {(1, 2): done(at(3, 7, 15), at(3, 7, 15, 40))},
        {
            (1, 2): (1, 2, 4, d(3, 6), d(3, 5), d(3, 7), d(3, 7), DONE),
            (1, 3): (1, 3, 8, d(3, 10), d(3, 10), d(3, 11), d(3, 10), PLANNED),
        },
        id="infusion-2-done-late-on-its-window-end-keeps-infusion-3-on-day-8",
    ),
    pytest.param(
        # Infusion 3 given at its window end Mar 11 at 09:00 exactly: infusion 4 at Mar 13 09:00
        # is exactly 48 h later, allowed; only its window start moves to Mar 13.
        {(1, 3): done(at(3, 11, 9), at(3, 11, 9, 40))},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 11), DONE),
            (1, 4): (1, 4, 11, d(3, 13), d(3, 13), d(3, 14), d(3, 13), PLANNED),
        },
        id="infusion-3-done-on-day-9-at-0900-exactly-48h-before-infusion-4",
    ),
    pytest.param(
        # Infusion 3 given Mar 11 at 09:01: Mar 13 09:00 would be 47 h 59 min later. Infusion 4
        # is pushed to the first allowed day Mar 14 (window Mar 14-15, never before Mar 14).
        # Infusion 5 keeps day 15 (Mar 17): 48 h after Mar 14 09:00 is Mar 16 = its window start.
        {(1, 3): done(at(3, 11, 9, 1), at(3, 11, 9, 41))},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 11), DONE),
            (1, 4): (1, 4, 11, d(3, 14), d(3, 14), d(3, 15), d(3, 14), PLANNED),
        },
        id="infusion-3-done-on-day-9-at-0901-pushes-infusion-4-to-day-12",
    ),
    pytest.param(
        # The same late infusion recorded in UTC (16:00 UTC = 10:00 Mexico City): same push.
        {(1, 3): done(datetime(2025, 3, 11, 16, 0, tzinfo=UTC), datetime(2025, 3, 11, 16, 40, tzinfo=UTC))},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 11), DONE),
            (1, 4): (1, 4, 11, d(3, 14), d(3, 14), d(3, 15), d(3, 14), PLANNED),
        },
        id="infusion-3-done-late-recorded-in-utc-pushes-infusion-4",
    ),
    pytest.param(
        # An evening infusion recorded in UTC whose UTC date is already the next day:
        # Mar 11 03:30 UTC = Mar 10 21:30 Mexico City, i.e. infusion 3 on its target day.
        # 48 h later = Mar 12 21:30 -> infusion 4 (Mar 13 09:00) allowed, window start Mar 13.
        {(1, 3): done(datetime(2025, 3, 11, 3, 30, tzinfo=UTC), datetime(2025, 3, 11, 4, 10, tzinfo=UTC))},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 10), DONE),
            (1, 4): (1, 4, 11, d(3, 13), d(3, 13), d(3, 14), d(3, 13), PLANNED),
        },
        id="infusion-3-done-in-the-evening-local-date-not-utc-date",
    ),
    pytest.param(
        # Infusion 1 given on its target day but at 10:00: infusion 2 (Mar 6) is not pushed,
        # its window start moves from Mar 5 to Mar 6 (48 h = Mar 5 10:00).
        {(1, 1): done(at(3, 3, 10), at(3, 3, 10, 40))},
        {
            (1, 1): (1, 1, 1, d(3, 3), d(3, 2), d(3, 4), d(3, 3), DONE),
            (1, 2): (1, 2, 4, d(3, 6), d(3, 6), d(3, 7), d(3, 6), PLANNED),
        },
        id="infusion-1-done-at-1000-clips-the-window-of-infusion-2",
    ),
    pytest.param(
        # Infusion 3 missed: not made up, nothing moves; infusion 4 still Mar 13 (window from the
        # last given infusion, 2 on Mar 6, is not limiting).
        {(1, 3): InfusionFact(status=MISSED)},
        {(1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 10), MISSED)},
        id="infusion-3-missed-is-not-made-up",
    ),
    pytest.param(
        # Infusions 3 and 4 missed: 5 keeps day 15.
        {(1, 3): InfusionFact(status=MISSED), (1, 4): InfusionFact(status=MISSED)},
        {
            (1, 3): (1, 3, 8, d(3, 10), d(3, 9), d(3, 11), d(3, 10), MISSED),
            (1, 4): (1, 4, 11, d(3, 13), d(3, 12), d(3, 14), d(3, 13), MISSED),
        },
        id="two-missed-infusions-later-ones-keep-their-days",
    ),
]


@pytest.mark.parametrize(("facts", "changed"), MOVE_CASES)
def test_it_keeps_later_protocol_days_unless_the_48_hour_rule_pushes_them(
    facts: dict[tuple[int, int], InfusionFact], changed: dict[tuple[int, int], tuple]
) -> None:
    expected = list({**BASE_P1, **changed}.values())
    assert rows(schedule(KP, facts), period=1) == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(
            # Infusion 1 a day late (Mar 4): day 1 is Mar 4, the whole pattern follows.
            {(1, 1): InfusionFact(planned_date=d(3, 4))},
            [
                (1, 1, 1, d(3, 3), d(3, 2), d(3, 4), d(3, 4), PLANNED),
                (1, 2, 4, d(3, 7), d(3, 6), d(3, 8), d(3, 7), PLANNED),
                (1, 3, 8, d(3, 11), d(3, 10), d(3, 12), d(3, 11), PLANNED),
                (1, 4, 11, d(3, 14), d(3, 13), d(3, 15), d(3, 14), PLANNED),
                (1, 5, 15, d(3, 18), d(3, 17), d(3, 19), d(3, 18), PLANNED),
                (1, 6, 19, d(3, 22), d(3, 21), d(3, 23), d(3, 22), PLANNED),
                (1, 7, 23, d(3, 26), d(3, 25), d(3, 27), d(3, 26), PLANNED),
                (1, 8, 27, d(3, 30), d(3, 29), d(3, 31), d(3, 30), PLANNED),
            ],
            id="infusion-1-planned-a-day-late",
        ),
        pytest.param(
            # Infusion 1 given a day early (Mar 2) at 09:30: the pattern moves back one day;
            # infusion 2 (Mar 5) may start from Mar 4 09:30 -> first 09:00 slot Mar 5: window
            # start Mar 4 clipped to Mar 5.
            {(1, 1): done(at(3, 2, 9, 30), at(3, 2, 10, 10))},
            [
                (1, 1, 1, d(3, 3), d(3, 2), d(3, 4), d(3, 2), DONE),
                (1, 2, 4, d(3, 5), d(3, 5), d(3, 6), d(3, 5), PLANNED),
                (1, 3, 8, d(3, 9), d(3, 8), d(3, 10), d(3, 9), PLANNED),
                (1, 4, 11, d(3, 12), d(3, 11), d(3, 13), d(3, 12), PLANNED),
                (1, 5, 15, d(3, 16), d(3, 15), d(3, 17), d(3, 16), PLANNED),
                (1, 6, 19, d(3, 20), d(3, 19), d(3, 21), d(3, 20), PLANNED),
                (1, 7, 23, d(3, 24), d(3, 23), d(3, 25), d(3, 24), PLANNED),
                (1, 8, 27, d(3, 28), d(3, 27), d(3, 29), d(3, 28), PLANNED),
            ],
            id="infusion-1-done-a-day-early",
        ),
    ],
)
def test_it_hangs_the_whole_period_from_the_day_infusion_1_is_given(
    facts: dict[tuple[int, int], InfusionFact], expected: list[tuple]
) -> None:
    assert rows(schedule(KP, facts), period=1) == expected


@pytest.mark.parametrize(
    ("facts", "period2_day1"),
    [
        pytest.param({}, d(4, 5), id="default-mar29+7"),
        pytest.param({(1, 8): InfusionFact(planned_date=d(3, 30))}, d(4, 6), id="infusion-8-a-day-late"),
        pytest.param(
            {(1, 8): done(at(3, 28, 16), at(3, 28, 16, 40))}, d(4, 4), id="infusion-8-done-a-day-early"
        ),
        pytest.param({(1, 8): InfusionFact(status=MISSED)}, d(4, 1), id="infusion-8-missed-mar25+7"),
        pytest.param(
            {(1, 7): InfusionFact(status=MISSED), (1, 8): InfusionFact(status=MISSED)},
            d(3, 28),
            id="infusions-7-and-8-missed-mar21+7",
        ),
    ],
)
def test_it_starts_period_two_seven_days_after_the_last_given_period_one_infusion(
    facts: dict[tuple[int, int], InfusionFact], period2_day1: date
) -> None:
    s = schedule(KP, facts)
    assert s.infusion(2, 1).target == period2_day1
    assert s.infusion(2, 1).date == period2_day1


def test_it_lays_period_two_on_its_own_day_one_after_a_missed_last_period_one_infusion() -> None:
    s = schedule(KP, {(1, 8): InfusionFact(status=MISSED)})
    # Infusion 7 on Mar 25 is the last given; period 2 day 1 = Apr 1; days 1, 4, 8, 11.
    assert rows(s, period=2) == [
        (2, 1, 1, d(4, 1), d(3, 31), d(4, 2), d(4, 1), PLANNED),
        (2, 2, 4, d(4, 4), d(4, 3), d(4, 5), d(4, 4), PLANNED),
        (2, 3, 8, d(4, 8), d(4, 7), d(4, 9), d(4, 8), PLANNED),
        (2, 4, 11, d(4, 11), d(4, 10), d(4, 12), d(4, 11), PLANNED),
    ]


def test_a_protocol_that_makes_up_missed_infusions_is_refused_at_start_up(tmp_path, settings) -> None:
    """build_schedule implements the protocol default only; the start-up check says so."""
    import json

    from ketatrial.checks import check_protocol

    path = tmp_path / "protocol.json"
    path.write_text(json.dumps({"missed_infusion_made_up": True}))
    settings.PROTOCOL_OVERRIDES_FILE = str(path)
    assert [e.id for e in check_protocol()] == ["ketatrial.E004"]


# ---------------------------------------------------------------------------------------------
# Rating tasks
# ---------------------------------------------------------------------------------------------

# Hand count of rating tasks per period: one pre-dose per given infusion (N) + 3 after the first
# infusion (4 h, 24 h, 72 h) + 3 after the last (4 h, 24 h, 72 h) - 1 (the 72 h after infusion 1
# is the pre-dose of infusion 2, one task) = N + 5. Follow-up: 12 weekly ratings.
#   KP: (8 + 5) + (4 + 5) + 12 = 13 + 9 + 12 = 34
#   PK: (8 + 5) + (8 + 5) + 12 = 13 + 13 + 12 = 38
P1_RATINGS = [
    ("p1-predose-1", at(3, 3, 9)),
    ("p1-4h-inf1", at(3, 3, 13, 40)),
    ("p1-24h-inf1", at(3, 4, 9, 40)),
    ("p1-predose-2+72h", at(3, 6, 9)),
    ("p1-predose-3", at(3, 10, 9)),
    ("p1-predose-4", at(3, 13, 9)),
    ("p1-predose-5", at(3, 17, 9)),
    ("p1-predose-6", at(3, 21, 9)),
    ("p1-predose-7", at(3, 25, 9)),
    ("p1-predose-8", at(3, 29, 9)),
    ("p1-4h-inf8", at(3, 29, 13, 40)),
    ("p1-24h-inf8", at(3, 30, 9, 40)),
    ("p1-72h-inf8", at(4, 1, 9, 40)),
]
P2_RATINGS_START = [
    ("p2-predose-1", at(4, 5, 9)),
    ("p2-4h-inf1", at(4, 5, 13, 40)),
    ("p2-24h-inf1", at(4, 6, 9, 40)),
    ("p2-predose-2+72h", at(4, 8, 9)),
    ("p2-predose-3", at(4, 12, 9)),
    ("p2-predose-4", at(4, 15, 9)),
]
KP_RATINGS = [
    *P1_RATINGS,
    *P2_RATINGS_START,
    ("p2-4h-inf4", at(4, 15, 13, 40)),
    ("p2-24h-inf4", at(4, 16, 9, 40)),
    ("p2-72h-inf4", at(4, 18, 9, 40)),
    # weekly after Apr 15 09:40
    ("fu-week-1", at(4, 22, 9, 40)),
    ("fu-week-2", at(4, 29, 9, 40)),
    ("fu-week-3", at(5, 6, 9, 40)),
    ("fu-week-4", at(5, 13, 9, 40)),
    ("fu-week-5", at(5, 20, 9, 40)),
    ("fu-week-6", at(5, 27, 9, 40)),
    ("fu-week-7", at(6, 3, 9, 40)),
    ("fu-week-8", at(6, 10, 9, 40)),
    ("fu-week-9", at(6, 17, 9, 40)),
    ("fu-week-10", at(6, 24, 9, 40)),
    ("fu-week-11", at(7, 1, 9, 40)),
    ("fu-week-12", at(7, 8, 9, 40)),
]
PK_RATINGS = [
    *P1_RATINGS,
    *P2_RATINGS_START,
    ("p2-predose-5", at(4, 19, 9)),
    ("p2-predose-6", at(4, 23, 9)),
    ("p2-predose-7", at(4, 27, 9)),
    ("p2-predose-8", at(5, 1, 9)),
    ("p2-4h-inf8", at(5, 1, 13, 40)),
    ("p2-24h-inf8", at(5, 2, 9, 40)),
    ("p2-72h-inf8", at(5, 4, 9, 40)),
    # weekly after May 1 09:40
    ("fu-week-1", at(5, 8, 9, 40)),
    ("fu-week-2", at(5, 15, 9, 40)),
    ("fu-week-3", at(5, 22, 9, 40)),
    ("fu-week-4", at(5, 29, 9, 40)),
    ("fu-week-5", at(6, 5, 9, 40)),
    ("fu-week-6", at(6, 12, 9, 40)),
    ("fu-week-7", at(6, 19, 9, 40)),
    ("fu-week-8", at(6, 26, 9, 40)),
    ("fu-week-9", at(7, 3, 9, 40)),
    ("fu-week-10", at(7, 10, 9, 40)),
    ("fu-week-11", at(7, 17, 9, 40)),
    ("fu-week-12", at(7, 24, 9, 40)),
]


@pytest.mark.parametrize(
    ("sequence_days", "expected", "count"),
    [
        pytest.param(KP, KP_RATINGS, 34, id="KP"),
        pytest.param(PK, PK_RATINGS, 38, id="PK"),
    ],
)
def test_it_lists_every_rating_task_once_in_order_of_due_time(
    sequence_days: tuple[tuple[int, ...], tuple[int, ...]], expected: list[tuple[str, datetime]], count: int
) -> None:
    s = schedule(sequence_days)
    assert len(expected) == count
    assert len(s.ratings) == count
    assert [(t.code, t.due) for t in s.ratings] == expected
    assert all(t.kind == RATING for t in s.ratings)


@pytest.mark.parametrize("sequence_days", [KP, PK], ids=["KP", "PK"])
def test_it_makes_every_time_timezone_aware(sequence_days: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    s = schedule(sequence_days)
    for t in (*s.ratings, *s.mrs):
        for moment in (t.due, t.window_start, t.window_end):
            assert moment.utcoffset() is not None, t.code


@pytest.mark.parametrize("period", [1, 2])
def test_it_serves_pre_dose_of_infusion_2_and_72_hours_after_infusion_1_with_one_task(period: int) -> None:
    s = schedule(KP)
    serving_72h = [t for t in s.ratings if "72h after infusion 1" in t.serves and t.period == period]
    serving_predose = [t for t in s.ratings if "pre-dose infusion 2" in t.serves and t.period == period]
    assert len(serving_72h) == 1
    assert serving_72h == serving_predose
    task = serving_72h[0]
    assert task.serves == ("pre-dose infusion 2", "72h after infusion 1")
    day4 = {1: (3, 6), 2: (4, 8)}[period]
    # The pre-dose window: within 2 h before the start of infusion 2 (09:00).
    assert (task.due, task.window_start, task.window_end) == (at(*day4, 9), at(*day4, 7), at(*day4, 9))
    assert task.anchored_to == (period, 2)
    assert not any(t.code == f"p{period}-72h-inf1" for t in s.ratings)


@pytest.mark.parametrize(
    ("code", "due", "window_start", "window_end", "anchored_to", "serves"),
    [
        # pre-dose: within 2 h before the start
        ("p1-predose-1", at(3, 3, 9), at(3, 3, 7), at(3, 3, 9), (1, 1), ("pre-dose infusion 1",)),
        ("p1-predose-5", at(3, 17, 9), at(3, 17, 7), at(3, 17, 9), (1, 5), ("pre-dose infusion 5",)),
        # after infusion 1 (planned end Mar 3 09:40): 4 h +-1 h, 24 h +-4 h
        (
            "p1-4h-inf1",
            at(3, 3, 13, 40),
            at(3, 3, 12, 40),
            at(3, 3, 14, 40),
            (1, 1),
            ("4h after infusion 1",),
        ),
        (
            "p1-24h-inf1",
            at(3, 4, 9, 40),
            at(3, 4, 5, 40),
            at(3, 4, 13, 40),
            (1, 1),
            ("24h after infusion 1",),
        ),
        # after the last infusion of period 1 (Mar 29 09:40): 4 h, 24 h, 72 h +-12 h
        (
            "p1-4h-inf8",
            at(3, 29, 13, 40),
            at(3, 29, 12, 40),
            at(3, 29, 14, 40),
            (1, 8),
            ("4h after last infusion 8",),
        ),
        (
            "p1-24h-inf8",
            at(3, 30, 9, 40),
            at(3, 30, 5, 40),
            at(3, 30, 13, 40),
            (1, 8),
            ("24h after last infusion 8",),
        ),
        (
            "p1-72h-inf8",
            at(4, 1, 9, 40),
            at(3, 31, 21, 40),
            at(4, 1, 21, 40),
            (1, 8),
            ("72h after last infusion 8",),
        ),
        # after the last infusion of period 2 (KP: infusion 4, Apr 15 09:40)
        (
            "p2-72h-inf4",
            at(4, 18, 9, 40),
            at(4, 17, 21, 40),
            at(4, 18, 21, 40),
            (2, 4),
            ("72h after last infusion 4",),
        ),
        # follow-up: weekly after Apr 15 09:40, +-2 days
        ("fu-week-1", at(4, 22, 9, 40), at(4, 20, 9, 40), at(4, 24, 9, 40), (2, 4), ("follow-up week 1",)),
        ("fu-week-12", at(7, 8, 9, 40), at(7, 6, 9, 40), at(7, 10, 9, 40), (2, 4), ("follow-up week 12",)),
    ],
)
def test_it_gives_each_timepoint_its_protocol_window(
    code: str,
    due: datetime,
    window_start: datetime,
    window_end: datetime,
    anchored_to: tuple[int, int],
    serves: tuple[str, ...],
) -> None:
    t = rating(schedule(KP), code)
    assert (t.due, t.window_start, t.window_end) == (due, window_start, window_end)
    assert t.anchored_to == anchored_to
    assert t.serves == serves


def test_it_anchors_ratings_to_the_planned_end_until_the_end_is_recorded() -> None:
    s = schedule(KP)
    assert rating(s, "p1-4h-inf1").anchor_recorded is False
    assert rating(s, "fu-week-1").anchor_recorded is False


@pytest.mark.parametrize(
    ("code", "due", "window_start", "window_end"),
    [
        # Interrupted infusion 1: started 09:00, ended 10:15 (recorded).
        ("p1-4h-inf1", at(3, 3, 14, 15), at(3, 3, 13, 15), at(3, 3, 15, 15)),
        ("p1-24h-inf1", at(3, 4, 10, 15), at(3, 4, 6, 15), at(3, 4, 14, 15)),
    ],
)
def test_it_anchors_the_4_and_24_hour_ratings_to_the_recorded_end_of_infusion_1(
    code: str, due: datetime, window_start: datetime, window_end: datetime
) -> None:
    s = schedule(KP, {(1, 1): done(at(3, 3, 9), at(3, 3, 10, 15))})
    t = rating(s, code)
    assert (t.due, t.window_start, t.window_end) == (due, window_start, window_end)
    assert t.anchored_to == (1, 1)
    assert t.anchor_recorded is True
    assert s.infusion(1, 1).end_recorded is True


def test_it_anchors_the_72_hour_window_to_the_recorded_end_and_still_merges_with_the_pre_dose() -> None:
    # End 10:15 -> 72 h = Mar 6 10:15, window Mar 5 22:15 - Mar 6 22:15, which holds the
    # pre-dose window of infusion 2 (Mar 6 07:00-09:00).
    s = schedule(KP, {(1, 1): done(at(3, 3, 9), at(3, 3, 10, 15))})
    t = rating(s, "p1-predose-2+72h")
    assert (t.window_start, t.window_end) == (at(3, 6, 7), at(3, 6, 9))
    assert len(s.ratings) == 34


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # 72 h window = [end + 60 h, end + 84 h]; the pre-dose window is Mar 6 07:00-09:00.
        pytest.param(at(3, 3, 18, 20), at(3, 3, 19, 0), id="end-19:00-window-holds-pre-dose"),
        pytest.param(at(3, 3, 18, 21), at(3, 3, 19, 1), id="end-19:01-windows-overlap"),
        # end 22:00: the 72 h window opens Mar 6 10:00, after infusion 2 has started at 09:00; a
        # rating after infusion 2 would not measure infusion 1 alone, so the pre-dose serves both.
        pytest.param(at(3, 3, 21, 20), at(3, 3, 22, 0), id="end-22:00-next-infusion-interrupts"),
    ],
)
def test_it_makes_the_72_hour_rating_the_pre_dose_of_infusion_2_whenever_they_meet(
    start: datetime, end: datetime
) -> None:
    s = schedule(KP, {(1, 1): done(start, end)})
    assert len(s.ratings) == 34
    codes = {t.code for t in s.ratings}
    assert "p1-predose-2+72h" in codes and "p1-72h-inf1" not in codes
    t = rating(s, "p1-predose-2+72h")
    assert (t.due, t.window_start, t.window_end) == (at(3, 6, 9), at(3, 6, 7), at(3, 6, 9))


def test_it_merges_when_infusion_2_is_given_a_day_early() -> None:
    # Infusion 2 on Mar 5 (window start): the 72 h window (Mar 5 21:40 - Mar 6 21:40) opens after
    # it; one pre-dose rating on Mar 5 serves both timepoints.
    s = schedule(KP, {(1, 2): InfusionFact(planned_date=date(2025, 3, 5))})
    t = rating(s, "p1-predose-2+72h")
    assert t.due == at(3, 5, 9)
    assert len(s.ratings) == 34


def test_it_splits_72_hours_and_pre_dose_when_infusion_2_moves_a_day_late() -> None:
    # Infusion 2 on Mar 7: pre-dose Mar 7 07:00-09:00 is outside the 72 h window
    # (Mar 5 21:40 - Mar 6 21:40): two tasks, 34 + 1 = 35.
    s = schedule(KP, {(1, 2): InfusionFact(planned_date=d(3, 7))})
    assert len(s.ratings) == 35
    predose = rating(s, "p1-predose-2")
    assert (predose.due, predose.window_start, predose.serves) == (
        at(3, 7, 9),
        at(3, 7, 7),
        ("pre-dose infusion 2",),
    )
    h72 = rating(s, "p1-72h-inf1")
    assert (h72.due, h72.window_start, h72.window_end) == (
        at(3, 6, 9, 40),
        at(3, 5, 21, 40),
        at(3, 6, 21, 40),
    )


@pytest.mark.parametrize(
    ("facts", "count", "absent", "present"),
    [
        # Missed infusion 3: no pre-dose 3; 34 - 1 = 33.
        pytest.param({(1, 3): InfusionFact(status=MISSED)}, 33, {"p1-predose-3"}, set(), id="missed-3"),
        # Missed infusion 2: the merged task goes, the 72 h after infusion 1 stands alone: 34.
        pytest.param(
            {(1, 2): InfusionFact(status=MISSED)},
            34,
            {"p1-predose-2+72h", "p1-predose-2"},
            {"p1-72h-inf1"},
            id="missed-2",
        ),
        # Missed last infusion of period 1: no pre-dose 8; after-last timepoints of infusion 7: 33.
        pytest.param(
            {(1, 8): InfusionFact(status=MISSED)},
            33,
            {"p1-predose-8", "p1-4h-inf8", "p1-24h-inf8", "p1-72h-inf8"},
            {"p1-4h-inf7", "p1-24h-inf7", "p1-72h-inf7"},
            id="missed-last-of-period-1",
        ),
    ],
)
def test_it_gives_a_missed_infusion_no_pre_dose_rating(
    facts: dict[tuple[int, int], InfusionFact], count: int, absent: set[str], present: set[str]
) -> None:
    s = schedule(KP, facts)
    codes = {t.code for t in s.ratings}
    assert len(s.ratings) == count
    assert not codes & absent
    assert present <= codes


def test_it_keeps_the_other_pre_dose_ratings_on_their_days_after_a_missed_infusion() -> None:
    s = schedule(KP, {(1, 3): InfusionFact(status=MISSED)})
    assert rating(s, "p1-predose-4").due == at(3, 13, 9)
    assert rating(s, "p1-predose-2+72h").due == at(3, 6, 9)


@pytest.mark.parametrize(
    ("code", "due", "window_start", "window_end", "serves"),
    [
        # Infusion 8 missed: infusion 7 (Mar 25, planned end 09:40) is the last of period 1.
        (
            "p1-4h-inf7",
            at(3, 25, 13, 40),
            at(3, 25, 12, 40),
            at(3, 25, 14, 40),
            ("4h after last infusion 7",),
        ),
        (
            "p1-24h-inf7",
            at(3, 26, 9, 40),
            at(3, 26, 5, 40),
            at(3, 26, 13, 40),
            ("24h after last infusion 7",),
        ),
        (
            "p1-72h-inf7",
            at(3, 28, 9, 40),
            at(3, 27, 21, 40),
            at(3, 28, 21, 40),
            ("72h after last infusion 7",),
        ),
        # Period 2 starts Apr 1: pre-dose 1 and the 72 h/pre-dose 2 task on Apr 4.
        ("p2-predose-1", at(4, 1, 9), at(4, 1, 7), at(4, 1, 9), ("pre-dose infusion 1",)),
        (
            "p2-predose-2+72h",
            at(4, 4, 9),
            at(4, 4, 7),
            at(4, 4, 9),
            ("pre-dose infusion 2", "72h after infusion 1"),
        ),
        # KP period 2 ends with infusion 4 on Apr 11: follow-up week 1 on Apr 18 09:40.
        ("fu-week-1", at(4, 18, 9, 40), at(4, 16, 9, 40), at(4, 20, 9, 40), ("follow-up week 1",)),
    ],
)
def test_it_anchors_after_last_timepoints_to_the_last_given_infusion_when_the_last_is_missed(
    code: str, due: datetime, window_start: datetime, window_end: datetime, serves: tuple[str, ...]
) -> None:
    t = rating(schedule(KP, {(1, 8): InfusionFact(status=MISSED)}), code)
    assert (t.due, t.window_start, t.window_end, t.serves) == (due, window_start, window_end, serves)


def test_it_anchors_follow_up_to_the_last_given_infusion_of_the_study() -> None:
    # KP: period-2 infusion 4 (Apr 15) missed -> infusion 3 (Apr 12 09:40) is the last of the study.
    s = schedule(KP, {(2, 4): InfusionFact(status=MISSED)})
    followups = [t for t in s.ratings if t.period == FOLLOW_UP]
    assert [t.due for t in followups] == [
        at(4, 19, 9, 40),
        at(4, 26, 9, 40),
        at(5, 3, 9, 40),
        at(5, 10, 9, 40),
        at(5, 17, 9, 40),
        at(5, 24, 9, 40),
        at(5, 31, 9, 40),
        at(6, 7, 9, 40),
        at(6, 14, 9, 40),
        at(6, 21, 9, 40),
        at(6, 28, 9, 40),
        at(7, 5, 9, 40),
    ]
    assert {t.anchored_to for t in followups} == {(2, 3)}
    assert {"p2-4h-inf3", "p2-24h-inf3", "p2-72h-inf3"} <= {t.code for t in s.ratings}


def test_it_anchors_follow_up_to_the_recorded_end_of_the_last_infusion() -> None:
    # PK: period-2 infusion 8 given May 1 09:00, ended 09:55 (recorded).
    s = schedule(PK, {(2, 8): done(at(5, 1, 9), at(5, 1, 9, 55))})
    week1 = rating(s, "fu-week-1")
    assert (week1.due, week1.window_start, week1.window_end) == (
        at(5, 8, 9, 55),
        at(5, 6, 9, 55),
        at(5, 10, 9, 55),
    )
    assert week1.anchor_recorded is True
    assert rating(s, "fu-week-12").due == at(7, 24, 9, 55)


# ---------------------------------------------------------------------------------------------
# MRS sessions
# ---------------------------------------------------------------------------------------------

# (code, serves, due, window start, window end) for KP with nothing recorded.
# Baseline: from 7 days before the first infusion (00:00) to its start. During: 10 min after the
# start of the last infusion, +-5 min. 24 h after the last end +-4 h; 1 week after +-48 h.
# Period 1 1-week (Mar 29 09:40 + 7 d = Apr 5 09:40, Apr 3 09:40 - Apr 7 09:40) and period 2
# baseline (Mar 29 00:00 - Apr 5 09:00) overlap in Apr 3 09:40 - Apr 5 09:00: one scan, due by
# the start of period-2 infusion 1.
KP_MRS = [
    ("p1-mrs-baseline", ("MRS baseline",), at(3, 3, 9), at(2, 24, 0), at(3, 3, 9)),
    ("p1-mrs-during", ("MRS during infusion 8",), at(3, 29, 9, 10), at(3, 29, 9, 5), at(3, 29, 9, 15)),
    ("p1-mrs-24h", ("MRS 24h after last infusion",), at(3, 30, 9, 40), at(3, 30, 5, 40), at(3, 30, 13, 40)),
    (
        "p1-mrs-1w+p2-mrs-baseline",
        ("MRS 1w after last infusion", "MRS baseline"),
        at(4, 5, 9),
        at(4, 3, 9, 40),
        at(4, 5, 9),
    ),
    ("p2-mrs-during", ("MRS during infusion 4",), at(4, 15, 9, 10), at(4, 15, 9, 5), at(4, 15, 9, 15)),
    ("p2-mrs-24h", ("MRS 24h after last infusion",), at(4, 16, 9, 40), at(4, 16, 5, 40), at(4, 16, 13, 40)),
    ("p2-mrs-1w", ("MRS 1w after last infusion",), at(4, 22, 9, 40), at(4, 20, 9, 40), at(4, 24, 9, 40)),
]


def test_it_schedules_seven_mrs_sessions_merging_period_one_week_with_period_two_baseline() -> None:
    s = schedule(KP)
    assert [(t.code, t.serves, t.due, t.window_start, t.window_end) for t in s.mrs] == KP_MRS
    assert all(t.kind == MRS for t in s.mrs)


def test_it_scans_during_the_last_infusion_of_each_period_in_pk() -> None:
    s = schedule(PK)
    during = mrs(s, "p2-mrs-during")
    assert (during.serves, during.due, during.anchored_to) == (
        ("MRS during infusion 8",),
        at(5, 1, 9, 10),
        (2, 8),
    )
    assert mrs(s, "p2-mrs-1w").due == at(5, 8, 9, 40)
    assert len(s.mrs) == 7


@pytest.mark.parametrize(
    ("code", "serves", "due", "anchored_to"),
    [
        ("p1-mrs-during", ("MRS during infusion 1",), at(3, 3, 9, 10), (1, 1)),
        ("p2-mrs-during", ("MRS during infusion 1",), at(4, 5, 9, 10), (2, 1)),
    ],
)
def test_it_scans_during_infusion_1_when_the_protocol_anchors_mrs_to_the_first_infusion(
    code: str, serves: tuple[str, ...], due: datetime, anchored_to: tuple[int, int]
) -> None:
    p = protocol_with_overrides({"mrs_during_infusion_anchor": "first"})
    t = mrs(schedule(KP, p=p), code)
    assert (t.serves, t.due, t.window_start, t.window_end, t.anchored_to) == (
        serves,
        due,
        due.replace(minute=5),
        due.replace(minute=15),
        anchored_to,
    )


def test_it_times_the_during_infusion_scan_from_the_recorded_start() -> None:
    # Last period-1 infusion started late, at 11:30 on Mar 29 -> scan at 11:40.
    s = schedule(KP, {(1, 8): done(at(3, 29, 11, 30), at(3, 29, 12, 10))})
    during = mrs(s, "p1-mrs-during")
    assert (during.due, during.anchor_recorded) == (at(3, 29, 11, 40), True)
    assert mrs(s, "p1-mrs-24h").due == at(3, 30, 12, 10)


def test_it_anchors_the_mrs_of_period_one_to_the_last_given_infusion_when_the_last_is_missed() -> None:
    s = schedule(KP, {(1, 8): InfusionFact(status=MISSED)})
    during = mrs(s, "p1-mrs-during")
    assert (during.serves, during.due) == (("MRS during infusion 7",), at(3, 25, 9, 10))
    assert mrs(s, "p1-mrs-24h").due == at(3, 26, 9, 40)
    # 1 week after Mar 25 09:40 = Apr 1 09:40 (Mar 30 09:40 - Apr 3 09:40); period 2 baseline
    # Mar 25 00:00 - Apr 1 09:00: merged scan Mar 30 09:40 - Apr 1 09:00.
    merged = mrs(s, "p1-mrs-1w+p2-mrs-baseline")
    assert (merged.due, merged.window_start, merged.window_end) == (
        at(4, 1, 9),
        at(3, 30, 9, 40),
        at(4, 1, 9),
    )


def test_a_period_with_every_infusion_missed_has_no_ratings_or_scans_and_does_not_fail() -> None:
    facts = {(2, n): InfusionFact(status=MISSED) for n in range(1, 5)}
    plan = build_schedule(sequence_days=KP, day1=DAY1, facts=facts, p=DEFAULT_PROTOCOL)
    assert not [t for t in plan.ratings if t.period == 2]
    assert not [t for t in plan.mrs if t.period == 2]
    assert [t for t in plan.ratings if t.period == 1] and [t for t in plan.mrs if t.period == 1]
