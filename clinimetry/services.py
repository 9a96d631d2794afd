"""Rating tasks, assessments, signatures, safety alerts and relapse: the one write path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinimetry import scales, scoring
from clinimetry.models import Assessment, Relapse, RelapseEvent
from infusions import schedule as sched
from infusions.selectors import timepoint_label
from infusions.services import schedule_for, schedules_for
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.notifications import notify, principal_investigators
from ketatrial.trial import protocol
from participants.models import Participant
from participants.services import require_consent

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

    @property
    def complete(self) -> bool:
        return self.done >= set(INSTRUMENTS)

    @cached_property
    def label(self) -> str:
        return str(self.label_source() if callable(self.label_source) else self.label_source)


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
            )
        )
    return sorted(tasks, key=lambda t: t.due)


def task_get(participant: Participant, code: str) -> RatingTask:
    for task in all_tasks(participant):
        if task.code == code:
            return task
    raise ValidationError(_("No such rating task for this participant."))


def task_for_rater(participant: Participant, code: str, *, now: datetime) -> RatingTask:
    """A task the rater may open: one the task list shows now, or one already begun (to finish
    or correct it). Any other code answers like a missing one, so guessing codes of later
    timepoints reveals nothing about the schedule."""
    begun = set(participant.assessments.values_list("task_code", flat=True))
    for task in all_tasks(participant):
        if task.code != code:
            continue
        if code in begun or task in due_tasks([participant], now=now):
            return task
        break
    raise ValidationError(_("No such rating task for this participant."))


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
    return sorted(open_tasks, key=lambda t: (t.window_end, t.participant.code))


def _signature_meaning(user: AbstractBaseUser) -> str:
    name = user.get_full_name() or user.get_username()  # type: ignore[attr-defined]
    return _("%s, rater: I performed this interview and confirm the scores as complete and accurate.") % name


@transaction.atomic
def assessment_save(
    *,
    participant: Participant,
    instrument: str,
    task_code: str,
    items: dict[str, int | None],
    rated_at: datetime,
    recall_period: str,
    interview_guide: str,
    mode: str,
    by: AbstractBaseUser,
    now: datetime,
    reason: str = "",
) -> Assessment:
    """Score and store a rating (new, or a correction with a reason that voids the signature).
    A suicide-risk item alerts every principal investigator at once; relapse is re-evaluated."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if instrument not in INSTRUMENTS:
        raise ValidationError(_("Unknown instrument."))
    if rated_at > now:
        raise ValidationError({"rated_at": _("The rating time cannot be in the future.")})
    require_consent(participant, at=rated_at)
    task = task_get(participant, task_code)
    p = protocol()
    try:
        result = scoring.score(
            instrument,
            items,
            prorating_allowed=p.prorating_allowed,
            max_missing=p.prorating_max_missing_items,
        )
    except scoring.ScoringError as exc:
        raise ValidationError({f"item_{k}": v for k, v in exc.errors.items()}) from exc
    flag = scoring.safety_flag(
        instrument, items, minimum=getattr(p, scales.get(instrument).safety_min_setting)
    )
    values = {
        "items": dict(items),
        "total": result.total,
        "prorated": result.prorated,
        "missing_items": list(result.missing),
        "rated_at": rated_at,
        "recall_period": recall_period,
        "interview_guide": interview_guide,
        "mode": mode,
        "out_of_window": not task.window_start <= rated_at <= task.window_end,
        "safety_flag": flag,
    }
    existing = Assessment.objects.filter(
        participant=participant, instrument=instrument, task_code=task_code
    ).first()
    if existing is None:
        assessment = clinical_create(
            Assessment(
                participant=participant,
                instrument=instrument,
                task_code=task_code,
                serves=[task.label],
                period=task.period,
                rater=by,
                **values,
            ),
            by=by,
            reason="rated",
        )
        newly_flagged = flag
    else:
        if not reason.strip():
            raise ValidationError({"reason": _("This rating is saved: give the reason for the correction.")})
        voids = existing.signed_at is not None
        changes = {**values, "signed_by": None, "signed_at": None, "signature_meaning": ""}
        if voids:
            changes["signature_voided_at"] = now
        newly_flagged = flag and not existing.safety_flag
        assessment = clinical_update(
            existing, by=by, reason=reason.strip() + (" (signature voided)" if voids else ""), changes=changes
        )
    if newly_flagged:
        notify(
            recipients=principal_investigators(),
            subject=_("Suicide-risk alert: %s") % participant.code,
            body=_(
                "%(instrument)s rated %(when)s flags suicide risk (item %(item)s >= %(minimum)s). "
                "The rater was asked to follow the suicide-risk procedure."
            )
            % {
                "instrument": assessment.get_instrument_display(),
                "when": rated_at.strftime("%Y-%m-%d %H:%M"),
                "item": scales.get(instrument).safety_item,
                "minimum": getattr(p, scales.get(instrument).safety_min_setting),
            },
            url=reverse("clinimetry:participant", args=[participant.pk]),
            now=now,
        )
    relapse_evaluate(participant=participant, by=by, now=now)
    return assessment


@transaction.atomic
def assessment_sign(
    *, assessment: Assessment, password: str, by: AbstractBaseUser, now: datetime
) -> Assessment:
    """Electronic signature: the rater re-enters the password; name, time and meaning are kept."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if assessment.rater_id != by.pk:
        raise PermissionDenied
    if not by.check_password(password):
        raise ValidationError({"password": _("The password is not correct.")})
    if assessment.total is None:
        raise ValidationError(_("An incomplete rating (no total) cannot be signed."))
    if assessment.signed_at is not None:
        raise ValidationError(_("Already signed."))
    return clinical_update(
        assessment,
        by=by,
        reason="signed",
        changes={"signed_by": by, "signed_at": now, "signature_meaning": _signature_meaning(by)},
    )


@transaction.atomic
def relapse_event_record(
    *,
    participant: Participant,
    kind: str,
    occurred_at: datetime,
    note: str,
    by: AbstractBaseUser,
    now: datetime,
) -> RelapseEvent:
    if occurred_at > now:
        raise ValidationError({"occurred_at": _("The date cannot be in the future.")})
    event = clinical_create(
        RelapseEvent(participant=participant, kind=kind, occurred_at=occurred_at, note=note),
        by=by,
        reason="recorded",
    )
    relapse_evaluate(participant=participant, by=by, now=now)
    return event


def _totals(participant: Participant, instrument: str) -> list[Assessment]:
    return list(participant.assessments.filter(instrument=instrument).order_by("rated_at"))


def relapse_evaluate(*, participant: Participant, by: AbstractBaseUser, now: datetime) -> Relapse | None:
    """Apply the protocol's relapse rule to the MADRS ratings after the first response; a relapse
    found ends weekly follow-up and puts an end-of-study visit on the schedule."""
    if Relapse.objects.filter(participant=participant).exists():
        return None
    p = protocol()
    madrs = _totals(participant, scoring.MADRS)
    baseline = next((a.total for a in madrs if a.task_code == BASELINE), None)
    after_baseline = [a for a in madrs if a.task_code != BASELINE and a.total is not None]
    first_response = next(
        (a for a in after_baseline if scoring.is_response(baseline, a.total, p.response_threshold_pct)), None
    )
    if first_response is None:
        return None
    later = [
        scoring.Rating(a.rated_at, a.total) for a in after_baseline if a.rated_at > first_response.rated_at
    ]
    events = [
        (e.occurred_at, e.kind)
        for e in participant.relapse_events.filter(occurred_at__gt=first_response.rated_at)
    ]
    found = scoring.relapse(
        baseline_madrs=baseline,
        responded=True,
        ratings=later,
        events=events,
        madrs_min=p.relapse_madrs_min,
        consecutive=p.relapse_consecutive_ratings,
        loss_of_response=p.relapse_on_loss_of_response,
        threshold_pct=p.response_threshold_pct,
    )
    if found is None:
        return None
    return clinical_create(
        Relapse(participant=participant, relapse_date=found.date, rule=found.rule, detected_at=now),
        by=by,
        reason="relapse rule met",
    )


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
