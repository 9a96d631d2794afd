"""Rating tasks, assessments, signatures, safety alerts and relapse: the one write path."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinimetry import scales, scoring
from clinimetry.models import Assessment, BlindingGuess, Relapse, RelapseEvent
from clinimetry.selectors import BASELINE, INSTRUMENTS, task_get
from infusions.schedule import FOLLOW_UP
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.models import Notification
from ketatrial.notifications import notify, principal_investigators
from ketatrial.protocol import INFUSION_PHYSICIAN, RATER
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants.access import has_role
from participants.models import Participant
from participants.services import require_consent

# The form says it before the service is asked; the service refuses it whoever calls.
NOTHING_RATED = gettext_lazy("No item is rated, so nothing was saved. Rate the items, then save.")


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
    """Score and store a rating (new, or a correction with a reason that voids the signature);
    a rating with no item rated is refused. A suicide-risk item opens its structured follow-up
    (safety) and alerts every principal investigator at once; relapse is re-evaluated."""
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
    if all(value is None for value in items.values()):
        # An empty form sent by accident (Enter in a field) must never stand as a rating.
        raise ValidationError(NOTHING_RATED)
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
                serves=list(task.serves) or [task.code],
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
        from safety.services import suicide_followup_open, suicide_followup_topic

        followup = suicide_followup_open(assessment=assessment, by=by, now=now)
        notify(
            recipients=principal_investigators(),
            subject=_("Suicide-risk alert: %s") % participant.code,
            body=_(
                "%(instrument)s rated %(when)s flags suicide risk (item %(item)s >= %(minimum)s). "
                "The rater was asked to follow the suicide-risk procedure."
            )
            % {
                "instrument": assessment.get_instrument_display(),
                "when": local_minute(rated_at),
                "item": scales.get(instrument).safety_item,
                "minimum": getattr(p, scales.get(instrument).safety_min_setting),
            },
            url=reverse("safety:suicide_followup", args=[followup.pk]),
            now=now,
            kind=Notification.Kind.SUICIDE_RISK,
            topic=suicide_followup_topic(followup),
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
    """Apply the protocol's relapse rule after the first response (at any rating): MADRS at two
    consecutive follow-up ratings, or a relapse event; a relapse found ends weekly follow-up and
    puts an end-of-study visit on the schedule."""
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
    # Both rating rules apply to the weekly follow-up after the last infusion of the study only
    # (PROTOCOL.md: a worsening during the infusion periods is an outcome, not a relapse).
    later = [
        scoring.Rating(a.rated_at, a.total)
        for a in after_baseline
        if a.period == FOLLOW_UP and a.rated_at > first_response.rated_at
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


# Who records whose guess: the rater asks the participant and gives their own; the infusion
# physician gives theirs.
GUESS_RECORDERS = {
    BlindingGuess.Guesser.PARTICIPANT: RATER,
    BlindingGuess.Guesser.RATER: RATER,
    BlindingGuess.Guesser.INFUSION_PHYSICIAN: INFUSION_PHYSICIAN,
}


@transaction.atomic
def blinding_guess_record(
    *,
    participant: Participant,
    occasion: str,
    guesser: str,
    guess: str,
    confidence: int | None,
    by: AbstractBaseUser,
    now: datetime,
    reason: str = "",
) -> BlindingGuess:
    """Record (or correct, with a reason) one guess of the product received."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if guesser not in GUESS_RECORDERS or not has_role(by, GUESS_RECORDERS[guesser]):
        raise PermissionDenied
    if participant.status not in (Participant.Status.RANDOMIZED, Participant.Status.COMPLETED):
        raise ValidationError(_("Only a randomized participant is asked to guess the product."))
    if guess != BlindingGuess.Guess.DONT_KNOW and confidence is None:
        raise ValidationError({"confidence": _("How sure is the guess?")})
    if guess == BlindingGuess.Guess.DONT_KNOW:
        confidence = None
    values = {"guess": guess, "confidence": confidence, "recorded_by": by, "recorded_at": now}
    existing = BlindingGuess.objects.filter(
        participant=participant, occasion=occasion, guesser=guesser
    ).first()
    if existing is None:
        return clinical_create(
            BlindingGuess(participant=participant, occasion=occasion, guesser=guesser, **values),
            by=by,
            reason="recorded",
        )
    return clinical_update(existing, by=by, reason=reason, changes=values)
