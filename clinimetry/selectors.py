"""Reads of rating tasks and assessments: the task list, a participant's tasks, derived values.
Every list reads in a fixed number of queries, whatever the trial's size."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinimetry import scales, scoring
from clinimetry.items import item_table
from clinimetry.models import Assessment, Relapse
from infusions import schedule as sched
from infusions.selectors import schedule_may_overlap, timepoint_label
from infusions.services import schedule_for, schedules_for
from ketatrial.trial import protocol
from participants.allocation import visibility
from participants.models import Participant

BASELINE = "baseline"
END_OF_STUDY = "end-of-study"
INSTRUMENTS = tuple(scales.SCALES)  # every scale of the registry


@dataclass(frozen=True)
class RatingTask:
    participant: Participant
    code: str
    # The label, or a function that makes it: the task list builds every task of every participant
    # and shows the few that are due, so labels (translated text) are made only when read.
    label_source: Any = field(compare=False)
    period: int
    due: datetime
    window_start: datetime
    window_end: datetime
    done: frozenset[str] = field(default_factory=frozenset)
    # The protocol timepoints the task serves, in the schedule's fixed words (never translated:
    # stored with the rating and exported as they are, whoever saved it in whichever language).
    serves: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.done >= set(INSTRUMENTS)

    @cached_property
    def label(self) -> str:
        """The timepoint in words (exposed roles' pages: the period and the infusion in it)."""
        return str(self.label_source() if callable(self.label_source) else self.label_source)

    @cached_property
    def ref(self) -> str:
        """The task's opaque name: what raters see in URLs (see task_ref)."""
        return task_ref(self.participant.pk, self.code)

    # What a rater is told of any task: a rating visit, and its day. The timepoint (period,
    # infusion, "follow-up") would tell which participant's period 2 is over.
    rater_label = gettext_lazy("Rating visit")


def task_recall_default(task: RatingTask) -> str:
    """The recall period the rating form of a task offers first: by the timepoint it serves, as
    the protocol says (4 h after an infusion: since the last rating; 24 h: the past 24 hours;
    baseline and the weekly follow-up: the past week). The rater may change it."""
    p = protocol()
    return scales.recall_default(
        task.serves, by_timepoint=p.rating_recall_by_timepoint, otherwise=p.rating_recall_default
    )


def task_ref(participant_id: int, code: str) -> str:
    """The opaque name of a participant's rating task: 16 letters and digits from a keyed hash of
    the participant and the timepoint, the same for every rater and every visit of the page, and
    impossible to make from a timepoint without the server's secret. Raters' URLs carry it, so
    neither a URL nor a guess of one says which period or infusion a task belongs to."""
    key = hashlib.sha256(b"rating-task-ref:" + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(key, f"{participant_id}:{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def rate_url(participant_id: int, instrument: str, code: str) -> str:
    """The rating form of one scale of a task (by its opaque name)."""
    from django.urls import reverse

    return reverse("clinimetry:rate", args=[participant_id, instrument, task_ref(participant_id, code)])


def _relapse(participant: Participant) -> Relapse | None:
    return Relapse.objects.filter(participant=participant).first()


def all_tasks(participant: Participant) -> list[RatingTask]:
    """Every rating task of a participant: baseline, the schedule's ratings, and (after a relapse)
    the end-of-study visit instead of the remaining follow-up."""
    done: dict[str, set[str]] = {}
    for code, instrument in participant.assessments.values_list("task_code", "instrument"):
        done.setdefault(code, set()).add(instrument)
    return _tasks(participant, schedule_for(participant), done, _relapse(participant))


def tasks_many(participants: list[Participant], *, keep: Any = None) -> dict[int, list[RatingTask]]:
    """`all_tasks` of many participants in a fixed number of queries (the task list): schedules,
    begun ratings and relapses are read once for all. `keep(window_start, window_end, done)`, when
    given, drops a schedule task before it is built (the task list keeps the few that are due)."""
    plans = schedules_for(participants)
    done: dict[int, dict[str, set[str]]] = {}
    for pk, code, instrument in Assessment.objects.filter(participant__in=participants).values_list(
        "participant_id", "task_code", "instrument"
    ):
        done.setdefault(pk, {}).setdefault(code, set()).add(instrument)
    relapses = {r.participant_id: r for r in Relapse.objects.filter(participant__in=participants)}
    return {
        p.pk: _tasks(p, plans.get(p.pk), done.get(p.pk, {}), relapses.get(p.pk), keep=keep)
        for p in participants
    }


def _tasks(
    participant: Participant,
    plan: sched.Schedule | None,
    done: dict[str, set[str]],
    relapse: Relapse | None,
    *,
    keep: Any = None,
) -> list[RatingTask]:
    baseline_end = (
        plan.infusions[0].start
        if plan
        else participant.enrolled_at + timedelta(days=protocol().baseline_days_before_day1)
    )
    tasks = [
        RatingTask(
            participant,
            BASELINE,
            gettext_lazy("Baseline rating"),
            0,
            baseline_end,
            participant.enrolled_at,
            baseline_end,
            frozenset(done.get(BASELINE, ())),
            ("baseline",),
        )
    ]
    for t in plan.ratings if plan else ():
        # A task anchored to the end of an infusion appears once that end is recorded: the
        # planned end of a period's last infusion would announce that it is the last one.
        is_predose = "predose" in t.code.split("+")[0]
        if not t.anchor_recorded and not is_predose and t.code not in done:
            continue
        # Follow-up ends when the relapse is found: later weekly tasks go, unless already begun
        # (the other scale of the visit that revealed the relapse is still to be entered).
        if (
            relapse is not None
            and t.period == sched.FOLLOW_UP
            and t.due > relapse.detected_at
            and t.code not in done
        ):
            continue
        if keep is not None and not keep(t.window_start, t.window_end, done.get(t.code, ())):
            continue
        tasks.append(
            RatingTask(
                participant,
                t.code,
                partial(timepoint_label, t),
                t.period,
                t.due,
                t.window_start,
                t.window_end,
                frozenset(done.get(t.code, ())),
                t.serves,
            )
        )
    if relapse is not None:
        start = relapse.detected_at
        p = protocol()
        tasks.append(
            RatingTask(
                participant,
                END_OF_STUDY,
                gettext_lazy("End-of-study visit (relapse)"),
                sched.FOLLOW_UP,
                start + timedelta(days=p.end_of_study_due_days),
                start,
                start + timedelta(days=p.end_of_study_window_days),
                frozenset(done.get(END_OF_STUDY, ())),
                ("end of study (relapse)",),
            )
        )
    return sorted(tasks, key=lambda t: t.due)


def task_get(participant: Participant, code: str) -> RatingTask:
    for task in all_tasks(participant):
        if task.code == code:
            return task
    raise ValidationError(_("No such rating task for this participant."))


def task_for_rater(participant: Participant, ref: str, *, now: datetime) -> RatingTask:
    """A task the rater may open, by its opaque name: one the task list shows now, or one already
    begun (to finish or correct it). Any other name answers like a missing one."""
    begun = set(participant.assessments.values_list("task_code", flat=True))
    for task in all_tasks(participant):
        if not hmac.compare_digest(task.ref, ref):
            continue
        if task.code in begun or task in due_tasks([participant], now=now):
            return task
        break
    raise ValidationError(_("No such rating task for this participant."))


def task_list_participants(*, now: datetime, user: AbstractBaseUser | None = None) -> list[Participant]:
    """Who can have a rating task on the rater's list now: enrolled or randomized, and either not
    yet scheduled (the baseline rating), or with a schedule that reaches the list's time (its
    stored span), or with an end-of-study visit after a relapse still open. The schedules of
    the others are not built: the list costs the same whatever the trial's size. Given a user,
    only the participants of the user's sites (visibility.participant_scope)."""
    p = protocol()
    earliest = now - timedelta(days=p.task_overdue_days)
    latest = now + timedelta(days=p.task_list_ahead_days)
    eos_from = earliest - timedelta(days=p.end_of_study_window_days)
    return list(
        Participant.objects.filter(status__in=[Participant.Status.ENROLLED, Participant.Status.RANDOMIZED])
        .filter(visibility.participant_scope(user) if user is not None else Q())
        .filter(
            Q(schedule__isnull=True)
            | schedule_may_overlap(earliest, latest)
            | Q(relapse__detected_at__gte=eos_from)
        )
        .select_related("site", "screening")
    )


def due_tasks(
    participants: list[Participant], *, now: datetime, ahead: timedelta | None = None
) -> list[RatingTask]:
    """Open tasks for the rater: window opening within `ahead`, not complete; overdue ones too
    (for `task_overdue_days` after the window closed, flagged). Future tasks stay hidden: the list must not
    draw the period-2 calendar."""
    p = protocol()
    ahead = timedelta(days=p.task_list_ahead_days) if ahead is None else ahead
    overdue = timedelta(days=p.task_overdue_days)

    def keep(start: datetime, end: datetime, begun: Any) -> bool:
        return not set(INSTRUMENTS) <= set(begun) and start <= now + ahead and now <= end + overdue

    open_tasks = []
    for tasks in tasks_many(participants, keep=keep).values():
        for task in tasks:
            if task.complete:
                continue
            if task.window_start <= now + ahead and now <= task.window_end + overdue:
                open_tasks.append(task)
    # By due time, then by opaque name: never by timepoint or period.
    return sorted(open_tasks, key=lambda t: (t.due, t.ref))


SEVERITY_LABELS = {
    "none": gettext_lazy("none"),
    "normal": gettext_lazy("normal"),
    "mild": gettext_lazy("mild"),
    "moderate": gettext_lazy("moderate"),
    "severe": gettext_lazy("severe"),
    "very severe": gettext_lazy("very severe"),
}


@dataclass(frozen=True)
class Derived:
    assessment: Assessment
    percent_change: float | None
    response: bool | None
    remission: bool | None
    severity: str | None


def derived_rows(participant: Participant) -> list[Derived]:
    """Every assessment with its derived values against the same instrument's baseline."""
    p = protocol()
    rows = []
    baselines = {a.instrument: a.total for a in participant.assessments.filter(task_code=BASELINE)}
    for a in participant.assessments.select_related("rater", "signed_by").order_by("rated_at", "instrument"):
        base = baselines.get(a.instrument)
        rows.append(
            Derived(
                a,
                None if a.task_code == BASELINE else scoring.percent_change(base, a.total),
                None
                if a.task_code == BASELINE
                else scoring.is_response(base, a.total, p.response_threshold_pct),
                scoring.is_remission(
                    a.instrument, a.total, maximum=getattr(p, scales.get(a.instrument).remission_max_setting)
                ),
                str(SEVERITY_LABELS.get(scoring.severity(a.instrument, a.total) or "", "")),
            )
        )
    return rows


def chart_points(participant: Participant) -> dict[str, list[tuple[datetime, int]]]:
    points: dict[str, list[tuple[datetime, int]]] = {i: [] for i in INSTRUMENTS}
    for instrument, when, total in (
        participant.assessments.filter(total__isnull=False)
        .order_by("rated_at")
        .values_list("instrument", "rated_at", "total")
    ):
        points[instrument].append((when, total))
    return points


def task_form_context(task: RatingTask) -> dict[str, Any]:
    return {
        "code": task.code,
        "label": task.label,
        "window_start": task.window_start,
        "window_end": task.window_end,
    }


def assessment_get_for_task(participant: Participant, instrument: str, task_code: str) -> Assessment | None:
    """The participant's assessment of one instrument at one rating task, or None."""
    return Assessment.objects.filter(
        participant=participant, instrument=instrument, task_code=task_code
    ).first()


def assessment_get(pk: int) -> Assessment | None:
    """One assessment with its participant, rater and signer, or None."""
    return Assessment.objects.select_related("participant", "rater", "signed_by").filter(pk=pk).first()


@dataclass(frozen=True)
class ItemRow:
    """One item of a saved rating as the page before signing shows it."""

    code: str
    name: str
    score: int | None
    text: str  # the score's line of guidance, or why there is no score
    counts: bool  # scores points towards the total


def assessment_item_rows(assessment: Assessment) -> list[ItemRow]:
    """Every item of a rating, in the scale's order, with its score and that score's line, or why
    it has none: not rated (a missing item), not assessed (HDRS-17 16A/16B = 3, also missing) or
    not applicable (16B when 16A is rated, and the reverse). The rater reviews these before
    signing."""
    scale = scales.get(assessment.instrument)
    entered = assessment.items or {}
    rows = []
    for code, (name, _es, guide) in item_table(assessment.instrument).items():
        item = scale.item(code)
        value = entered.get(code)
        if value is None:
            others = [m for m in scale.members(item.counted) if m.code != code]
            rated_instead = [m.code for m in others if entered.get(m.code) is not None]
            text = (
                _("not applicable: %(item)s is rated") % {"item": ", ".join(rated_instead)}
                if rated_instead
                else _("not rated (missing)")
            )
            rows.append(ItemRow(code, _(name), None, text, False))
            continue
        line = _(guide[value][0]) if value in guide else ""
        if item.is_not_assessed(value):
            line = _("not assessed (missing)")
        rows.append(ItemRow(code, _(name), value, line, not item.is_not_assessed(value)))
    return rows


def assessment_get_for_rater(
    pk: int, rater: AbstractBaseUser, *, with_participant: bool = False
) -> Assessment | None:
    """One assessment entered by the rater (with its participant when asked), or None."""
    assessments = Assessment.objects.filter(pk=pk, rater=rater)
    if with_participant:
        assessments = assessments.select_related("participant")
    return assessments.first()


def blinding_guesses_of(participant: Participant, guessers: list[str]) -> list[Any]:
    """The participant's recorded guesses by the given guessers (the recorder's own view)."""
    from clinimetry.models import BlindingGuess

    return list(
        BlindingGuess.objects.filter(participant=participant, guesser__in=guessers).order_by(
            "occasion", "guesser"
        )
    )
