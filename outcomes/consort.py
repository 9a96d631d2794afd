"""CONSORT flow diagram for the two-period crossover: counts from the screening log, the
randomizations, the infusion records and the dispositions; the SVG is drawn by a pure function.

While the sequence key is sealed the diagram has one pooled column after randomization (the
per-sequence split would itself be allocation information); after release, one column per
sequence.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

STAGES = (
    ("allocated", gettext_lazy("Allocated")),
    ("period1_received", gettext_lazy("Period 1: received >= 1 infusion")),
    ("period1_not_received", gettext_lazy("Period 1: no infusion received")),
    ("period1_discontinued", gettext_lazy("Period 1: discontinued")),
    ("period2_received", gettext_lazy("Period 2: received >= 1 infusion")),
    ("period2_discontinued", gettext_lazy("Period 2: discontinued")),
    ("followup", gettext_lazy("Entered follow-up")),
    ("relapsed", gettext_lazy("Relapsed in follow-up")),
    ("analysed", gettext_lazy("Analysed, primary (ITT: every allocated participant)")),
    ("analysed_no_baseline", gettext_lazy("of whom without a baseline rating (non-responders)")),
)


# Stages whose counts a participant's sequence can move (period 2 is 4 or 8 infusions long):
# for a strictly blinded reader they move only in batches.
SEQUENCE_SENSITIVE = ("period2_received", "period2_discontinued", "followup", "relapsed")


def batched(n: int, size: int) -> int:
    """`n` rounded down to a multiple of `size`: the count moves only once `size` more have
    reached the stage, so no single participant's step can be read off it."""
    return n - n % size


def screening_flow() -> dict[str, Any]:
    """The top of the diagram, from the screening log: every person assessed falls in exactly
    one box (enrolled, eligible and not enrolled, screen failure, declined, screening pending),
    and every enrolled person in one of randomized, withdrawn before randomization, awaiting
    randomization; so each box adds up to the one above it."""
    from participants import allocation
    from participants.models import Participant
    from participants.selectors import screening_failure_reasons

    records = screening_log()
    boxes: Counter[str] = Counter()
    for outcome, enrolled in records:
        boxes["enrolled" if enrolled else outcome] += 1
    everyone = list(Participant.objects.all())
    taken = allocation.blinded_allocations(everyone)
    stopped = {Participant.Status.WITHDRAWN, Participant.Status.DISCONTINUED, Participant.Status.LOST}
    not_randomized = [p for p in everyone if p.pk not in taken]
    return {
        "assessed": len(records),
        "excluded": boxes["screen_failure"] + boxes["declined"],
        "screen_failure": boxes["screen_failure"],
        "declined": boxes["declined"],
        "pending": boxes["pending"],
        "eligible_not_enrolled": boxes["eligible"],
        "enrolled": boxes["enrolled"],
        # Each screen failure once, under its first reason (the categories add up to the box).
        "reasons": screening_failure_reasons(),
        "randomized": len(everyone) - len(not_randomized),
        "withdrawn_before_randomization": sum(p.status in stopped for p in not_randomized),
        "awaiting_randomization": sum(p.status not in stopped for p in not_randomized),
        "randomized_ids": taken,
        "people": everyone,
    }


def screening_log() -> list[tuple[str, bool]]:
    from participants.models import ScreeningRecord

    return [
        (outcome, enrolled is not None)
        for outcome, enrolled in ScreeningRecord.objects.values_list("outcome", "participant")
    ]


def counts(
    user: AbstractBaseUser | None = None, *, unblinded: bool = False, batch: int | None = None
) -> dict[str, Any]:
    """The diagram's counts. `batch`, for a strictly blinded reader, rounds the stages that a
    sequence can move (SEQUENCE_SENSITIVE) down to multiples of `batch`."""
    from clinimetry.models import Assessment, Relapse
    from infusions.models import InfusionVisit
    from participants import allocation
    from participants.models import Participant

    flow = screening_flow()
    taken = flow.pop("randomized_ids")
    people = [p for p in flow.pop("people") if p.pk in taken]
    given = {
        (pid, period)
        for pid, period in InfusionVisit.objects.filter(status__in=["done", "stopped"]).values_list(
            "participant_id", "period"
        )
    }
    followup = set(Assessment.objects.filter(period=3).values_list("participant_id", flat=True))
    relapsed = set(Relapse.objects.values_list("participant_id", flat=True))
    with_baseline = set(
        Assessment.objects.filter(task_code="baseline").values_list("participant_id", flat=True)
    )
    stopped = {Participant.Status.WITHDRAWN, Participant.Status.DISCONTINUED, Participant.Status.LOST}
    if unblinded:
        arms = {pk: v["sequence"] for pk, v in allocation.released_sequences(user, people).items()}
    else:
        arms = {p.pk: "pooled" for p in people}
    columns: dict[str, Counter[str]] = {}
    for p in people:
        arm = arms.get(p.pk, "pooled")
        c = columns.setdefault(arm, Counter())
        c["allocated"] += 1
        c["period1_received"] += (p.pk, 1) in given
        c["period1_not_received"] += (p.pk, 1) not in given
        c["period2_received"] += (p.pk, 2) in given
        if p.status in stopped and (p.pk, 1) in given:
            c["period1_discontinued" if (p.pk, 2) not in given else "period2_discontinued"] += 1
        c["followup"] += p.pk in followup
        c["relapsed"] += p.pk in relapsed
        c["analysed"] += 1
        c["analysed_no_baseline"] += p.pk not in with_baseline
    if batch:
        for c in columns.values():
            for stage in SEQUENCE_SENSITIVE:
                c[stage] = batched(c[stage], batch)
    return {
        "batch": batch,
        **flow,
        "arms": {arm: {k: c[k] for k, _ in STAGES} for arm, c in sorted(columns.items())},
    }


def _box(x: float, y: float, w: float, h: float, lines: list[str]) -> str:
    text = "".join(
        f'<text x="{x + 8:.0f}" y="{y + 18 + 15 * i:.0f}" font-size="12">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" fill="#fff" stroke="#333"/>{text}'


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#333" marker-end="url(#arr)"/>'


ARM_NAMES = {
    "pooled": gettext_lazy("Both sequences (pooled while blinded)"),
    "KP": gettext_lazy("Sequence KP (ketamine, then placebo)"),
    "PK": gettext_lazy("Sequence PK (placebo, then ketamine)"),
}


def table(c: dict[str, Any]) -> dict[str, Any]:
    """The diagram's counts as rows of text for a table (a screen reader hears none of the SVG's
    boxes): `flow` is (label, count, depth) from assessment to randomization, where a row adds up
    its deeper rows below it; `arms` names the columns after randomization and `stages` is
    (label, one count per arm)."""
    flow: list[tuple[str, int, int]] = [
        (_("Assessed for eligibility"), c["assessed"], 0),
        (_("Not enrolled"), c["excluded"] + c["pending"] + c["eligible_not_enrolled"], 1),
        (_("Screen failure"), c["screen_failure"], 2),
        *((str(reason), n, 3) for reason, n in c["reasons"]),
        (_("Declined"), c["declined"], 2),
        (_("Screening pending"), c["pending"], 2),
        (_("Eligible, not enrolled"), c["eligible_not_enrolled"], 2),
        (_("Enrolled"), c["enrolled"], 0),
        (
            _("Enrolled, not randomized"),
            c["withdrawn_before_randomization"] + c["awaiting_randomization"],
            1,
        ),
        (_("Withdrawn before randomization"), c["withdrawn_before_randomization"], 2),
        (_("Awaiting randomization"), c["awaiting_randomization"], 2),
        (_("Randomized"), c["randomized"], 0),
    ]
    arms = list(c["arms"].items()) or [("pooled", {k: 0 for k, _label in STAGES})]
    return {
        "flow": flow,
        "arms": [str(ARM_NAMES.get(arm, arm)) for arm, _stages in arms],
        "stages": [(str(label), [stages.get(key, 0) for _arm, stages in arms]) for key, label in STAGES],
    }


def svg(c: dict[str, Any]) -> str:
    """The diagram, in the reader's language; width grows with the number of columns. The top
    boxes add up: assessed = excluded + pending + eligible not enrolled + enrolled; enrolled =
    randomized + withdrawn before randomization + awaiting randomization."""
    arms = list(c["arms"].items()) or [("pooled", {k: 0 for k, _ in STAGES})]
    col_w, gap = 320, 30
    width = max(680, len(arms) * (col_w + gap) + gap)
    parts = []
    top_x = (width - 320) / 2
    parts.append(_box(top_x, 10, 320, 30, [_("Assessed for eligibility (n = %(n)s)") % {"n": c["assessed"]}]))
    reason_lines = [f"    {r}: {n}" for r, n in c["reasons"]]
    excl_lines = [
        _("Not enrolled (n = %(n)s)") % {"n": c["excluded"] + c["pending"] + c["eligible_not_enrolled"]},
        "  " + _("Screen failure: %(n)s") % {"n": c["screen_failure"]},
        *reason_lines,
        "  " + _("Declined: %(n)s") % {"n": c["declined"]},
        "  " + _("Screening pending: %(n)s") % {"n": c["pending"]},
        "  " + _("Eligible, not enrolled: %(n)s") % {"n": c["eligible_not_enrolled"]},
    ]
    ex_h = 10 + 15 * len(excl_lines)
    ex_x = min(top_x + 340, width - 330)
    parts.append(_box(ex_x, 50, 320, ex_h, excl_lines))
    parts.append(_arrow(top_x + 160, 40, top_x + 160, 70 + ex_h))
    parts.append(_arrow(top_x + 160, 55 + ex_h / 2, ex_x, 55 + ex_h / 2))
    y = 70 + ex_h
    parts.append(_box(top_x, y, 320, 30, [_("Enrolled (n = %(n)s)") % {"n": c["enrolled"]}]))
    not_randomized = [
        _("Enrolled, not randomized (n = %(n)s)")
        % {"n": c["withdrawn_before_randomization"] + c["awaiting_randomization"]},
        "  " + _("Withdrawn before randomization: %(n)s") % {"n": c["withdrawn_before_randomization"]},
        "  " + _("Awaiting randomization: %(n)s") % {"n": c["awaiting_randomization"]},
    ]
    nr_h = 10 + 15 * len(not_randomized)
    parts.append(_box(ex_x, y + 40, 320, nr_h, not_randomized))
    parts.append(_arrow(top_x + 160, y + 30, top_x + 160, y + 60 + nr_h))
    parts.append(_arrow(top_x + 160, y + 45 + nr_h / 2, ex_x, y + 45 + nr_h / 2))
    y += 60 + nr_h
    parts.append(_box(top_x, y, 320, 30, [_("Randomized (n = %(n)s)") % {"n": c["randomized"]}]))
    y += 60
    for index, (arm, stages) in enumerate(arms):
        x = gap + index * (col_w + gap)
        parts.append(_arrow(top_x + 160, y - 30, x + col_w / 2, y))
        yy = y
        for key, label in STAGES:
            parts.append(_box(x, yy, col_w, 30, [f"{label}: {stages.get(key, 0)}"]))
            if key != STAGES[-1][0]:
                parts.append(_arrow(x + col_w / 2, yy + 30, x + col_w / 2, yy + 45))
            yy += 45
        parts.append(
            f'<text x="{x:.0f}" y="{y - 6:.0f}" font-size="12" font-weight="bold">{escape(str(ARM_NAMES.get(arm, arm)))}</text>'
        )
    height = y + 45 * len(STAGES) + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-label="{escape(_("CONSORT flow diagram"))}" font-family="sans-serif">'
        '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>' + "".join(parts) + "</svg>"
    )
