"""Safety writes: the suicide-risk follow-up (opened, recorded, closed by a principal
investigator) and the notice of vital-sign alerts left without their action. Adverse events are
written by infusions.services, notifications by ketatrial.notifications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from clinimetry.models import Assessment
from infusions.models import VitalSigns
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.models import Notification
from ketatrial.notifications import infusion_physicians, notify, principal_investigators
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants.access import has_role
from safety.models import SuicideRiskFollowUp


def suicide_followup_topic(followup: SuicideRiskFollowUp) -> str:
    return f"safety.suicideriskfollowup:{followup.pk}"


@transaction.atomic
def suicide_followup_open(
    *, assessment: Assessment, by: AbstractBaseUser | None, now: datetime
) -> SuicideRiskFollowUp:
    """Open the structured follow-up of a rating whose suicide item reached its threshold; a rating
    already followed up by an open record keeps that one."""
    existing = SuicideRiskFollowUp.objects.filter(assessment=assessment, closed_at__isnull=True).first()
    if existing is not None:
        return existing
    return clinical_create(
        SuicideRiskFollowUp(participant_id=assessment.participant_id, assessment=assessment, opened_at=now),
        by=by,
        reason="opened: a suicide-risk item",
    )


def may_record_suicide_followup(user: AbstractBaseUser, followup: SuicideRiskFollowUp) -> bool:
    """The rater whose rating opened it, or a principal investigator."""
    return followup.assessment.rater_id == user.pk or has_role(user, PRINCIPAL_INVESTIGATOR)


@transaction.atomic
def suicide_followup_record(
    *,
    followup: SuicideRiskFollowUp,
    by: AbstractBaseUser,
    now: datetime,
    assessed_at: datetime,
    answers: dict[str, str],
    risk_level: str,
    safety_plan: bool,
    support_contacted: bool,
    referral: str,
    hospitalised: bool,
    notes: str,
    reason: str = "",
) -> SuicideRiskFollowUp:
    """Record the structured assessment and what was done (a later correction needs a reason).
    The principal investigators are told when someone else records it, so that they can close it."""
    followup = (
        SuicideRiskFollowUp.objects.select_for_update().select_related("assessment").get(pk=followup.pk)
    )
    if not may_record_suicide_followup(by, followup):
        raise PermissionDenied
    if not followup.is_open:
        raise ValidationError(_("This follow-up is closed."))
    if assessed_at > now:
        raise ValidationError({"assessed_at": _("The assessment time cannot be in the future.")})
    if assessed_at < followup.assessment.rated_at:
        raise ValidationError(
            {"assessed_at": _("The assessment cannot come before the rating that opened it.")}
        )
    unknown = set(answers) - set(SuicideRiskFollowUp.QUESTIONS)
    if unknown:
        raise ValidationError(_("Unknown question."))
    if not risk_level:
        raise ValidationError({"risk_level": _("Judge the risk.")})
    if not referral:
        raise ValidationError({"referral": _("Say whether the participant was referred.")})
    first = not followup.is_assessed
    if not first and not reason.strip():
        raise ValidationError(
            {"reason": _("This assessment is recorded: give the reason for the correction.")}
        )
    changes: dict[str, Any] = {
        **{q: answers.get(q, "") for q in SuicideRiskFollowUp.QUESTIONS},
        "assessed_by": by,
        "assessed_at": assessed_at,
        "risk_level": risk_level,
        "safety_plan": safety_plan,
        "support_contacted": support_contacted,
        "referral": referral,
        "hospitalised": hospitalised,
        "notes": notes.strip(),
    }
    updated = clinical_update(
        followup, by=by, reason=reason.strip() or "suicide-risk assessment recorded", changes=changes
    )
    others = [u for u in principal_investigators() if u.pk != by.pk]
    if others:
        notify(
            recipients=others,
            subject=_("Suicide-risk follow-up recorded: %s") % followup.participant.code,
            body=_(
                "%(who)s recorded the assessment (risk judged: %(risk)s). Review it and close the follow-up."
            )
            % {"who": by.get_username(), "risk": updated.get_risk_level_display()},
            url=reverse("safety:suicide_followup", args=[followup.pk]),
            now=now,
            kind=Notification.Kind.SUICIDE_RISK,
            topic=suicide_followup_topic(followup),
        )
    return updated


@transaction.atomic
def suicide_followup_close(
    *, followup: SuicideRiskFollowUp, reason: str, by: AbstractBaseUser, now: datetime
) -> SuicideRiskFollowUp:
    """A principal investigator closes the follow-up once the assessment is recorded, with a reason."""
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    followup = SuicideRiskFollowUp.objects.select_for_update().get(pk=followup.pk)
    if not followup.is_open:
        raise ValidationError(_("This follow-up is already closed."))
    if not followup.is_assessed:
        raise ValidationError(_("Record the assessment before closing the follow-up."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for closing.")})
    return clinical_update(
        followup,
        by=by,
        reason=f"closed: {reason.strip()}",
        changes={"closed_at": now, "closed_by": by, "close_reason": reason.strip()},
    )


def vital_alerts_escalate(*, now: datetime) -> int:
    """Tell every principal investigator and infusion physician, once per alert, of each vital-sign
    alert still without its action the protocol's minutes after its measurement. Returns the
    number of notifications written."""
    minutes = protocol().vitals_alert_escalate_minutes
    waiting = (
        VitalSigns.objects.exclude(alerts=[])
        .filter(action="", measured_at__lte=now - timedelta(minutes=minutes))
        .select_related("visit__participant")
        .order_by("measured_at", "pk")
    )
    made = 0
    pis, physicians = principal_investigators(), infusion_physicians()
    for vitals in waiting:
        visit = vitals.visit
        participant = visit.participant
        subject = _("Vital-sign alert without action: %s") % participant.code
        when = _("before start") if vitals.minute == -1 else f"{vitals.minute} min"
        body = _(
            "%(alerts)s at %(when)s of period %(period)s, infusion %(number)s (measured %(at)s): no action "
            "recorded after %(minutes)s min. The infusion physician must pause, stop or continue with a reason."
        ) % {
            "alerts": ", ".join(vitals.alerts),
            "when": when,
            "period": visit.period,
            "number": visit.number,
            "at": local_minute(vitals.measured_at),
            "minutes": minutes,
        }
        key = f"vitals-alert:{vitals.pk}"
        topic = f"infusions.vitalsigns:{vitals.pk}"
        with transaction.atomic():
            made += len(
                notify(
                    recipients=physicians,
                    subject=subject,
                    body=body,
                    url=reverse("infusions:session", args=[participant.pk, visit.period, visit.number]),
                    now=now,
                    kind=Notification.Kind.VITALS_ALERT,
                    topic=topic,
                    once_key=key,
                )
            )
            made += len(
                notify(
                    recipients=pis,
                    subject=subject,
                    body=body,
                    url=reverse("infusions:timeline", args=[participant.pk]),
                    now=now,
                    kind=Notification.Kind.VITALS_ALERT,
                    topic=topic,
                    once_key=key,
                )
            )
    return made
