"""HDRS-17 and MADRS assessments, relapse events and relapses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinimetry import scales
from clinimetry.items import item_table
from ketatrial.audit import ClinicalModel
from participants.models import Participant


class Assessment(ClinicalModel):
    """One rating of one instrument at one task (a task may serve two protocol timepoints)."""

    class Instrument(models.TextChoices):
        HDRS17 = "hdrs17", "HDRS-17"
        MADRS = "madrs", "MADRS"

    class Recall(models.TextChoices):
        PAST_WEEK = "past_week", _("Past week")
        PAST_24H = "past_24h", _("Past 24 hours")
        SINCE_LAST = "since_last", _("Since the last rating")

    class Guide(models.TextChoices):
        SIGH_D = "sigh_d", "SIGH-D"
        SIGMA = "sigma", "SIGMA"
        GRID_HAMD = "grid_hamd", "GRID-HAMD"
        NONE = "none", _("None")

    class Mode(models.TextChoices):
        IN_PERSON = "in_person", _("In person")
        REMOTE = "remote", _("Remote")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="assessments")
    instrument = models.CharField(_("instrument"), max_length=8, choices=Instrument.choices)
    task_code = models.CharField(_("task"), max_length=60)
    serves = models.JSONField(_("timepoints served"), default=list)
    period = models.PositiveSmallIntegerField(_("period"))  # 0 baseline, 1, 2, 3 follow-up / end of study
    rated_at = models.DateTimeField(_("rated at"))
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recall_period = models.CharField(_("recall period"), max_length=12, choices=Recall.choices)
    interview_guide = models.CharField(_("interview guide"), max_length=10, choices=Guide.choices)
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    items = models.JSONField(_("items"))
    total = models.PositiveSmallIntegerField(_("total"), null=True, blank=True)
    prorated = models.BooleanField(_("prorated"), default=False)
    missing_items = models.JSONField(_("missing items"), default=list, blank=True)
    out_of_window = models.BooleanField(_("out of window"), default=False)
    safety_flag = models.BooleanField(_("suicide-risk flag"), default=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signature_meaning = models.CharField(_("meaning of the signature"), max_length=200, blank=True)
    signature_voided_at = models.DateTimeField(_("signature voided at"), null=True, blank=True)

    class Meta:
        ordering = ["participant", "rated_at"]
        verbose_name = _("assessment")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "instrument", "task_code"], name="one_assessment_per_task"
            )
        ]

    @property
    def not_assessed_items(self) -> list[str]:
        """The entries stored that mean "not assessed" (HDRS-17 16A/16B = 3, as the scale registry
        says): each leaves its item missing (in `missing_items`), never scored 0."""
        scale = scales.get(self.instrument)
        return [i.code for i in scale.items if i.is_not_assessed((self.items or {}).get(i.code))]

    @classmethod
    def audit_item_label(cls, field: str, key: str, record: Any) -> str | None:
        """Words for one entry of a JSON field in the audit trail (ketatrial.audit_trail): an item
        of `items` by its code and name in the reader's language, "item 4 (Insomnia: early)"."""
        if field != "items":
            return None
        try:
            name = item_table(record.instrument)[key][0]
        except KeyError:
            return None
        return gettext("item %(code)s (%(name)s)") % {"code": key, "name": gettext(name)}

    def __str__(self) -> str:
        # By date, never by timepoint: titles reach raters and the audit pages, and a timepoint
        # such as "p2-4h-inf4" would tell that a period 2 ended at its fourth infusion.
        when = f" {self.rated_at:%Y-%m-%d}" if self.rated_at else ""
        return f"{self.participant} {self.get_instrument_display()}{when}"


class RelapseEvent(ClinicalModel):
    """A relapse event of the protocol: hospitalization, suicide attempt, new treatment."""

    class Kind(models.TextChoices):
        HOSPITALIZATION = "hospitalization", _("Hospitalization")
        SUICIDE_ATTEMPT = "suicide_attempt", _("Suicide attempt")
        NEW_TREATMENT = "new_treatment", _("New antidepressant treatment")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="relapse_events")
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("date"))
    note = models.TextField(_("note"), blank=True)

    def __str__(self) -> str:
        return f"{self.participant} {self.kind}"


class Relapse(ClinicalModel):
    """Relapse found by the protocol rule; ends weekly follow-up; an end-of-study visit is due."""

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="relapse")
    relapse_date = models.DateTimeField(_("relapse date"))
    rule = models.CharField(_("rule"), max_length=200)
    detected_at = models.DateTimeField(_("detected at"))

    def __str__(self) -> str:
        return f"relapse of {self.participant}"


class BlindingGuess(ClinicalModel):
    """A guess of the product received (SAP "Blinding"): by the participant, the rater and the
    infusion physician, at the end of period 1 (about period 1; the same time in both sequences)
    and at the final study visit (about period 2)."""

    class Occasion(models.TextChoices):
        END_OF_PERIOD_1 = "end_of_period1", _("End of period 1")
        FINAL_VISIT = "final_visit", _("Final study visit")

    class Guesser(models.TextChoices):
        PARTICIPANT = "participant", _("Participant")
        RATER = "rater", _("Rater")
        INFUSION_PHYSICIAN = "infusion_physician", _("Infusion physician")

    class Guess(models.TextChoices):
        KETAMINE = "ketamine", _("Ketamine")
        PLACEBO = "placebo", _("Placebo")
        DONT_KNOW = "dont_know", _("Don't know")

    class Confidence(models.IntegerChoices):
        NOT_AT_ALL = 1, _("Not at all sure")
        SOMEWHAT = 2, _("Somewhat sure")
        VERY = 3, _("Very sure")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="blinding_guesses")
    occasion = models.CharField(_("occasion"), max_length=16, choices=Occasion.choices)
    guesser = models.CharField(_("guesser"), max_length=20, choices=Guesser.choices)
    guess = models.CharField(_("guess"), max_length=10, choices=Guess.choices)
    confidence = models.PositiveSmallIntegerField(
        _("confidence"), choices=Confidence.choices, null=True, blank=True
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["participant", "recorded_at"]
        verbose_name = _("blinding guess")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "occasion", "guesser"], name="one_guess_per_guesser_and_occasion"
            )
        ]

    @property
    def about_period(self) -> int:
        return 1 if self.occasion == self.Occasion.END_OF_PERIOD_1 else 2

    def __str__(self) -> str:
        return f"{self.participant} {self.guesser} {self.occasion}"
