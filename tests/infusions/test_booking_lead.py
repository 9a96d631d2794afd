"""Scans and chairs bookable in time: the events that hang on the last period-2 infusion, and
period-2 infusions beyond the next one, show the booking lead ahead (Protocol.booking_lead_days)
for both sequences; the 1-week scan of period 1 (period 2's baseline scan) shows with period 2."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from infusions import schedule as sched
from infusions import selectors
from ketatrial.trial import protocol
from participants.models import Participant

TZ = selectors.TZ


def _plan(sequence: str, given: int, p2_given: int, p=None) -> sched.Schedule:  # type: ignore[no-untyped-def]
    """A schedule from day 1 = 2026-03-02 with period 1 fully given and `p2_given` period-2
    infusions given, each on its planned day."""
    p = p or protocol()
    days = (p.period1_infusion_days, p.period2_infusion_days(sequence))
    facts: dict = {}
    for _ in range(given + p2_given):
        plan = sched.build_schedule(
            sequence_days=days, day1=datetime(2026, 3, 2).date(), facts=facts, p=p, tz=TZ
        )
        nxt = next((i for i in plan.infusions if i.status == sched.PLANNED), None)
        if nxt is None or (nxt.period == 2 and nxt.number > p2_given):
            break
        facts[nxt.key] = sched.InfusionFact(
            status=sched.DONE, start=nxt.start, end=nxt.start + timedelta(minutes=40)
        )
    return sched.build_schedule(sequence_days=days, day1=datetime(2026, 3, 2).date(), facts=facts, p=p, tz=TZ)


def _codes(plan: sched.Schedule, now: datetime) -> set[str]:
    events = selectors.participant_events(Participant(code="X"), now=now, plan=plan)
    return {e.code or f"inf-{e.period}-{e.number}" for e in events}


@pytest.mark.parametrize("sequence", ["KP", "PK"])
def test_the_period_2_baseline_scan_shows_before_period_2_starts(sequence: str) -> None:
    plan = _plan(sequence, given=8, p2_given=0)
    last1 = [i for i in plan.infusions if i.period == 1][-1]
    now = last1.end + timedelta(hours=2)
    assert any("+" in c and "mrs" in c for c in _codes(plan, now)), sequence


def test_the_in_scanner_scan_of_the_last_infusion_shows_the_booking_lead_ahead() -> None:
    lead = timedelta(days=protocol().booking_lead_days)
    kp = _plan("KP", given=8, p2_given=3)
    last = [i for i in kp.infusions if i.period == 2][-1]
    assert last.number == 4 and last.status == sched.PLANNED
    well_before = datetime.combine(last.date, time(9), tzinfo=TZ) - lead - timedelta(days=2)
    within = datetime.combine(last.date, time(9), tzinfo=TZ) - lead + timedelta(days=1)
    assert "p2-mrs-during" not in _codes(kp, well_before)
    assert "p2-mrs-during" in _codes(kp, within)
    # PK at the same stage: the same events before the lead; within it, KP's calendar has what
    # hangs on its last infusion (the documented inference of exposed roles), nothing else.
    pk = _plan("PK", given=8, p2_given=3)
    assert _codes(kp, well_before) == _codes(pk, well_before)
    extra = _codes(kp, within) - _codes(pk, within)
    hanging = {t.code for t in (*kp.ratings, *kp.mrs) if t.anchored_to == last.key}
    assert "p2-mrs-during" in extra and extra <= hanging
    # Once PK's infusion 4 is given, its infusion 5 shows the lead ahead.
    pk4 = _plan("PK", given=8, p2_given=4)
    fifth = next(i for i in pk4.infusions if i.key == (2, 5))
    assert "inf-2-5" in _codes(pk4, fifth.start - lead + timedelta(hours=1))


def test_with_period2_equal_length_on_both_sequences_show_the_same_events_at_every_stage() -> None:
    """The amendment: KP gets eight period-2 infusions (all saline), so at every stage of period 2
    and follow-up the two sequences' calendars are the same; with it off they differ."""
    from ketatrial.protocol import protocol_with_overrides

    on = protocol_with_overrides({"period2_equal_length": True})
    assert on.period2_infusion_days("KP") == on.period2_infusion_days("PK")
    differed = False
    for given in range(0, 9):
        for p, equal in ((on, True), (protocol(), False)):
            kp, pk = _plan("KP", 8, given, p), _plan("PK", 8, given, p)
            anchor = next((i.start for i in pk.infusions if i.status == sched.PLANNED), None)
            now = (anchor or pk.infusions[-1].end) - timedelta(hours=3)
            same = _codes(kp, now) == _codes(pk, now)
            if equal:
                assert same, given
            differed |= not same
    assert differed  # the check can tell: without the amendment the calendars part
