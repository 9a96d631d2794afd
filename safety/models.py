"""The structured follow-up of a suicide-risk item (the rest of the safety oversight reads the
adverse events of infusions and the notifications of ketatrial)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinimetry.models import Assessment
from ketatrial.audit import ClinicalModel
from participants.models import Participant


class SuicideRiskFollowUp(ClinicalModel):
    """Opened automatically when a rating's suicide item reaches its threshold; the rater who
    rated (or a principal investigator) records the structured assessment and what was done; a
    principal investigator closes it with a reason. The questions are in our own words, after the
    screening questions of the Columbia scale, and are asked about the time since the last visit."""

    class Answer(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        NOT_ASKED = "not_asked", _("Not asked")

    class Risk(models.TextChoices):
        LOW = "low", _("Low")
        MODERATE = "moderate", _("Moderate")
        HIGH = "high", _("High (imminent)")

    class Referral(models.TextChoices):
        NONE = "none", _("No referral")
        OUTPATIENT = "outpatient", _("Urgent out-patient psychiatric review")
        CRISIS = "crisis", _("Crisis service")
        EMERGENCY = "emergency", _("Emergency department")

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="suicide_risk_follow_ups"
    )
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="suicide_risk_follow_ups", verbose_name=_("rating")
    )
    opened_at = models.DateTimeField(_("opened at"))
    # The structured assessment.
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assessed by"),
    )
    assessed_at = models.DateTimeField(_("assessed at"), null=True, blank=True)
    wish_to_be_dead = models.CharField(
        _("Wished to be dead, or to go to sleep and not wake up"),
        max_length=10,
        choices=Answer.choices,
        blank=True,
    )
    thoughts_of_suicide = models.CharField(
        _("Had actual thoughts of ending their life"), max_length=10, choices=Answer.choices, blank=True
    )
    method = models.CharField(
        _("Thought about how they would do it"), max_length=10, choices=Answer.choices, blank=True
    )
    intent = models.CharField(
        _("Had some intention of acting on these thoughts"), max_length=10, choices=Answer.choices, blank=True
    )
    plan = models.CharField(
        _("Worked out the details of a plan, or decided to carry it out"),
        max_length=10,
        choices=Answer.choices,
        blank=True,
    )
    behaviour = models.CharField(
        _("Did something, began to, or prepared to end their life"),
        max_length=10,
        choices=Answer.choices,
        blank=True,
    )
    risk_level = models.CharField(_("risk judged"), max_length=10, choices=Risk.choices, blank=True)
    safety_plan = models.BooleanField(_("safety plan made or reviewed with the participant"), default=False)
    support_contacted = models.BooleanField(
        _("a support person or emergency contact was reached"), default=False
    )
    referral = models.CharField(_("referral"), max_length=12, choices=Referral.choices, blank=True)
    hospitalised = models.BooleanField(_("hospitalised"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    # Closing, by a principal investigator.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    close_reason = models.TextField(_("reason for closing"), blank=True)

    QUESTIONS = ("wish_to_be_dead", "thoughts_of_suicide", "method", "intent", "plan", "behaviour")

    class Meta:
        ordering = ["-opened_at", "-pk"]
        verbose_name = _("suicide-risk follow-up")

    def __str__(self) -> str:
        return f"{self.participant} suicide-risk follow-up {self.opened_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def is_assessed(self) -> bool:
        return self.assessed_at is not None
