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

STAGES = (
    ("allocated", "Allocated"),
    ("period1_received", "Period 1: received >= 1 infusion"),
    ("period1_discontinued", "Period 1: discontinued"),
    ("period2_received", "Period 2: received >= 1 infusion"),
    ("period2_discontinued", "Period 2: discontinued"),
    ("followup", "Entered follow-up"),
    ("relapsed", "Relapsed in follow-up"),
    ("analysed", "Analysed (primary: baseline rating present)"),
)


# Stages whose counts a participant's sequence can move (period 2 is 4 or 8 infusions long):
# for a strictly blinded reader they move only in batches.
SEQUENCE_SENSITIVE = ("period2_received", "period2_discontinued", "followup", "relapsed")


def batched(n: int, size: int) -> int:
    """`n` rounded down to a multiple of `size`: the count moves only once `size` more have
    reached the stage, so no single participant's step can be read off it."""
    return n - n % size


def counts(
    user: AbstractBaseUser | None = None, *, unblinded: bool = False, batch: int | None = None
) -> dict[str, Any]:
    """The diagram's counts. `batch`, for a strictly blinded reader, rounds the stages that a
    sequence can move (SEQUENCE_SENSITIVE) down to multiples of `batch`."""
    from clinimetry.models import Assessment, Relapse
    from infusions.models import InfusionVisit
    from participants import allocation
    from participants.models import Participant, ScreeningRecord

    screening = list(ScreeningRecord.objects.values_list("outcome", "outcome_reason"))
    outcomes = Counter(o for o, _ in screening)
    reasons = Counter((r or "no reason given").strip()[:60] for o, r in screening if o == "screen_failure")
    # Randomized = took an allocation slot (someone withdrawn before randomization did not).
    everyone = list(Participant.objects.all())
    taken = allocation.blinded_allocations(everyone)
    people = [p for p in everyone if p.pk in taken]
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
        c["period2_received"] += (p.pk, 2) in given
        if p.status in stopped:
            c["period1_discontinued" if (p.pk, 2) not in given else "period2_discontinued"] += 1
        c["followup"] += p.pk in followup
        c["relapsed"] += p.pk in relapsed
        c["analysed"] += p.pk in with_baseline
    if batch:
        for c in columns.values():
            for stage in SEQUENCE_SENSITIVE:
                c[stage] = batched(c[stage], batch)
    return {
        "batch": batch,
        "assessed": len(screening),
        "excluded": outcomes["screen_failure"] + outcomes["declined"],
        "screen_failure": outcomes["screen_failure"],
        "declined": outcomes["declined"],
        "pending": outcomes["pending"],
        "reasons": dict(reasons.most_common(6)),
        "randomized": len(people),
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
    "pooled": "Both sequences (pooled while blinded)",
    "KP": "Sequence KP (ketamine, then placebo)",
    "PK": "Sequence PK (placebo, then ketamine)",
}


def svg(c: dict[str, Any]) -> str:
    """The diagram; width grows with the number of columns."""
    arms = list(c["arms"].items()) or [("pooled", {k: 0 for k, _ in STAGES})]
    col_w, gap = 300, 30
    width = max(620, len(arms) * (col_w + gap) + gap)
    parts = []
    top_x = (width - 300) / 2
    parts.append(_box(top_x, 10, 300, 30, [f"Assessed for eligibility (n = {c['assessed']})"]))
    reason_lines = [f"  {r}: {n}" for r, n in c["reasons"].items()]
    excl_lines = [
        f"Excluded (n = {c['excluded']})",
        f"  Screen failure: {c['screen_failure']}",
        *reason_lines,
        f"  Declined: {c['declined']}",
        f"  Screening pending: {c['pending']}",
    ]
    ex_h = 10 + 15 * len(excl_lines)
    ex_x = min(top_x + 320, width - 290)
    parts.append(_box(ex_x, 50, 280, ex_h, excl_lines))
    parts.append(_arrow(top_x + 150, 40, top_x + 150, 70 + ex_h))
    parts.append(_arrow(top_x + 150, 55 + ex_h / 2, ex_x, 55 + ex_h / 2))
    y = 70 + ex_h
    parts.append(_box(top_x, y, 300, 30, [f"Randomized (n = {c['randomized']})"]))
    y += 60
    for index, (arm, stages) in enumerate(arms):
        x = gap + index * (col_w + gap)
        parts.append(_arrow(top_x + 150, y - 30, x + col_w / 2, y))
        yy = y
        for key, label in STAGES:
            parts.append(_box(x, yy, col_w, 30, [f"{label}: {stages.get(key, 0)}"]))
            if key != STAGES[-1][0]:
                parts.append(_arrow(x + col_w / 2, yy + 30, x + col_w / 2, yy + 45))
            yy += 45
        parts.append(
            f'<text x="{x:.0f}" y="{y - 6:.0f}" font-size="12" font-weight="bold">{escape(ARM_NAMES.get(arm, arm))}</text>'
        )
    height = y + 45 * len(STAGES) + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-label="CONSORT flow diagram" font-family="sans-serif">'
        '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>' + "".join(parts) + "</svg>"
    )
