"""One test per rule of PROTOCOL.md's "Clinical ratings" section, each quoting the line it
implements, checked on the schedule and scoring code that every page, task list, export and
analysis reads (infusions.schedule, clinimetry.scoring)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinimetry import scoring
from infusions import schedule as sched
from ketatrial.protocol import DEFAULT_PROTOCOL as P

TZ = ZoneInfo("America/Mexico_City")
DAY1 = date(2026, 3, 2)


def _given(days: tuple[int, ...], period: int, day1: date, minutes: int = 40) -> dict:
    """Every infusion of a period given at 09:00 local, ending `minutes` later (10:10 for #1, so
    the anchor is visibly the end and not the start)."""
    facts = {}
    for number, day in enumerate(days, start=1):
        start = datetime.combine(day1 + timedelta(days=day - 1), time(9, 0), TZ)
        end = start + timedelta(minutes=70 if number == 1 else minutes)
        facts[(period, number)] = sched.InfusionFact(status=sched.DONE, start=start, end=end)
    return facts


def _schedule(period2: tuple[int, ...] = P.period2_infusion_days_pk) -> sched.Schedule:
    facts = _given(P.period1_infusion_days, 1, DAY1)
    plan = sched.build_schedule(
        sequence_days=(P.period1_infusion_days, period2), day1=DAY1, facts=facts, p=P, tz=TZ
    )
    p2_day1 = plan.infusion(2, 1).date
    facts |= _given(period2, 2, p2_day1)
    return sched.build_schedule(
        sequence_days=(P.period1_infusion_days, period2), day1=DAY1, facts=facts, p=P, tz=TZ
    )


def _task(plan: sched.Schedule, code: str) -> sched.Timepoint:
    return next(t for t in plan.ratings if t.code == code)


def test_each_timepoint_is_anchored_to_the_recorded_end_of_the_infusion() -> None:
    """'Default timepoints, each anchored to the recorded **end** of the referenced infusion'."""
    plan = _schedule()
    end = plan.infusion(1, 1).end
    assert end - plan.infusion(1, 1).start == timedelta(minutes=70)
    assert _task(plan, "p1-4h-inf1").due == end + timedelta(hours=4)
    assert _task(plan, "p1-24h-inf1").due == end + timedelta(hours=24)
    last = plan.infusion(1, 8).end
    assert _task(plan, "p1-4h-inf8").due == last + timedelta(hours=4)


def test_after_infusion_1_of_each_period_4_24_and_72_h_the_72_h_rating_serving_the_pre_dose_of_infusion_2() -> (
    None
):
    """'after infusion 1 of each period: 4 h, 24 h, 72 h (72 h = pre-dose of infusion 2 on day 4:
    one rating serves both timepoints, no double entry)'."""
    plan = _schedule()
    for period in (1, 2):
        codes = {t.code for t in plan.ratings if t.period == period}
        assert {f"p{period}-4h-inf1", f"p{period}-24h-inf1", f"p{period}-predose-2+72h"} <= codes
        assert f"p{period}-72h-inf1" not in codes and f"p{period}-predose-2" not in codes
        merged = _task(plan, f"p{period}-predose-2+72h")
        assert merged.serves == ("pre-dose infusion 2", "72h after infusion 1")


def test_a_pre_dose_rating_before_every_infusion_within_2_h_before_its_start() -> None:
    """'before every infusion (pre-dose, within 2 h before start)'."""
    plan = _schedule()
    for infusion in plan.infusions:
        task = next(
            t for t in plan.ratings if t.code.startswith(f"p{infusion.period}-predose-{infusion.number}")
        )
        assert task.window_end == infusion.start
        assert task.window_start == infusion.start - timedelta(hours=2)


def test_after_the_last_infusion_of_each_period_4_24_and_72_h() -> None:
    """'after the last infusion of each period: 4 h, 24 h, 72 h'. KP's period 2 has 4 infusions
    (with period2_equal_length off), PK's 8."""
    for period2, last in ((P.period2_infusion_days_kp, 4), (P.period2_infusion_days_pk, 8)):
        plan = _schedule(period2)
        for period, number in ((1, 8), (2, last)):
            end = plan.infusion(period, number).end
            for hours in (4, 24, 72):
                assert _task(plan, f"p{period}-{hours}h-inf{number}").due == end + timedelta(hours=hours)


def test_weekly_after_the_last_infusion_of_the_study_for_12_weeks() -> None:
    """'weekly after the last infusion of the study, for 12 weeks or until relapse'."""
    plan = _schedule()
    end = plan.infusion(2, 8).end
    weekly = [t for t in plan.ratings if t.period == sched.FOLLOW_UP]
    assert [t.code for t in weekly] == [f"fu-week-{n}" for n in range(1, 13)]
    assert [t.due for t in weekly] == [end + timedelta(weeks=n) for n in range(1, 13)]


@pytest.mark.parametrize(
    ("code", "tolerance"),
    [
        ("p1-4h-inf1", timedelta(hours=1)),
        ("p1-24h-inf1", timedelta(hours=4)),
        ("p1-72h-inf8", timedelta(hours=12)),
        ("fu-week-3", timedelta(days=2)),
    ],
)
def test_the_windows_are_4_h_1_h_24_h_4_h_72_h_12_h_weekly_2_days(code: str, tolerance: timedelta) -> None:
    """'Windows: 4 h ±1 h, 24 h ±4 h, 72 h ±12 h, weekly ±2 days.'"""
    task = _task(_schedule(), code)
    assert (task.due - task.window_start, task.window_end - task.due) == (tolerance, tolerance)


def test_response_is_a_reduction_of_at_least_50_percent_from_baseline() -> None:
    """'Primary outcome: response (>= 50 % reduction of HDRS-17 and, separately, MADRS total from
    baseline) within the first 24 h after infusion 1' (the window and the comparison are checked
    in tests/outcomes/test_sap.py)."""
    assert scoring.is_response(30, 15) is True
    assert scoring.is_response(30, 16) is False
    assert scoring.is_response(None, 10) is None


def test_remission_is_hdrs17_at_most_7_and_madrs_at_most_10() -> None:
    """'Remission: HDRS-17 <= 7; MADRS <= 10 (study parameter).'"""
    assert scoring.is_remission("hdrs17", 7, maximum=P.remission_hdrs17_max)
    assert not scoring.is_remission("hdrs17", 8, maximum=P.remission_hdrs17_max)
    assert scoring.is_remission("madrs", 10, maximum=P.remission_madrs_max)
    assert not scoring.is_remission("madrs", 11, maximum=P.remission_madrs_max)


def _r(week: int, madrs: int) -> scoring.Rating:
    return scoring.Rating(datetime(2026, 6, 1, tzinfo=UTC) + timedelta(weeks=week), madrs)


def test_relapse_is_madrs_22_at_two_consecutive_follow_up_ratings_dated_at_the_first() -> None:
    """'Relapse (after a response): default MADRS >= 22 at two consecutive follow-up ratings ...
    Relapse date = first qualifying rating.'"""
    found = scoring.relapse(baseline_madrs=50, responded=True, ratings=[_r(1, 10), _r(2, 22), _r(3, 23)])
    assert found is not None and found.date == _r(2, 0).when and "MADRS >= 22" in found.rule
    assert (
        scoring.relapse(baseline_madrs=50, responded=True, ratings=[_r(1, 22), _r(2, 10), _r(3, 22)]) is None
    )


def test_relapse_is_the_50_percent_improvement_lost_at_two_consecutive_follow_up_ratings() -> None:
    """'or loss of the 50 % improvement at two consecutive follow-up ratings'."""
    found = scoring.relapse(baseline_madrs=30, responded=True, ratings=[_r(1, 10), _r(2, 16), _r(3, 17)])
    assert found is not None and found.date == _r(2, 0).when and "improvement lost" in found.rule


def test_relapse_is_a_relapse_event_at_the_event() -> None:
    """'or a relapse event (hospitalization, suicide attempt, new treatment)'."""
    when = datetime(2026, 6, 20, tzinfo=UTC)
    found = scoring.relapse(baseline_madrs=30, responded=True, ratings=[], events=[(when, "hospitalization")])
    assert found is not None and found.date == when


def test_no_relapse_without_a_response() -> None:
    """'Relapse (after a response)'."""
    assert scoring.relapse(baseline_madrs=30, responded=False, ratings=[_r(1, 30), _r(2, 30)]) is None


def test_the_rating_rules_apply_to_the_follow_up_only() -> None:
    """'Both rating rules apply to the weekly follow-up after the last infusion of the study only
    ... a worsening during the infusion periods is an outcome to analyse, not a relapse.' The
    service gives the rule follow-up ratings only; with the database, tests/clinimetry/
    test_assessments.py::test_a_worsening_during_treatment_is_no_relapse_and_two_follow_up_ratings_are
    checks it end to end. Here: the schedule's follow-up ratings are the only ones in period
    FOLLOW_UP, and every treatment-period rating is before the first of them."""
    plan = _schedule()
    follow = [t for t in plan.ratings if t.period == sched.FOLLOW_UP]
    treatment = [t for t in plan.ratings if t.period in (1, 2)]
    assert all(t.code.startswith("fu-week-") for t in follow)
    assert max(t.due for t in treatment) < min(t.due for t in follow)


def test_the_stored_words_of_a_timepoint_are_the_schedules_in_any_language() -> None:
    """Timepoints are stored as codes and fixed words, translated only for display: the data
    migration that rewrites older rows gives each task code the schedule's own words."""
    import importlib

    migration = importlib.import_module("clinimetry.migrations.0003_serves_language_neutral")
    plan = _schedule()
    for task in plan.ratings:
        assert migration.neutral(task.code) == list(task.serves), task.code
    assert migration.neutral("baseline") == ["baseline"]
