"""What a site also records (issue 15, item 8): prior treatments that establish treatment
resistance, concomitant medication, childbearing potential and pregnancy tests, and the staff
delegation and training log. Every record is audited (ClinicalModel) and written by
conduct/services.py only."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinimetry.models import RelapseEvent
from ketatrial.audit import ClinicalModel
from ketatrial.protocol import ROLES
from participants.models import Participant


class PriorTreatment(ClinicalModel):
    """A treatment of the current episode before the trial: the history that establishes
    treatment resistance (an adequate trial without response counts toward the protocol's
    failed_treatments_min)."""

    class Response(models.TextChoices):
        NONE = "none", _("No response")
        PARTIAL = "partial", _("Partial response")
        RESPONSE = "response", _("Response")
        NOT_TOLERATED = "not_tolerated", _("Stopped: not tolerated")
        UNKNOWN = "unknown", _("Unknown")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="prior_treatments")
    treatment = models.CharField(_("drug or intervention"), max_length=200)
    dose = models.CharField(_("dose"), max_length=100, blank=True)
    started_on = models.DateField(_("start"))
    stopped_on = models.DateField(_("stop"), null=True, blank=True)
    adequate = models.BooleanField(_("adequate trial"), default=False)
    duration_weeks = models.PositiveSmallIntegerField(_("duration (weeks)"), null=True, blank=True)
    dose_adequate = models.BooleanField(_("adequate dose"), default=False)
    response = models.CharField(_("response"), max_length=14, choices=Response.choices)

    class Meta:
        ordering = ["participant", "started_on", "pk"]
        verbose_name = _("prior treatment")

    def __str__(self) -> str:
        return f"{self.participant} {self.treatment}"

    @property
    def counts_as_failed(self) -> bool:
        """An adequate trial (duration and dose) without response: one of the protocol's failed
        treatments."""
        return (
            self.adequate
            and self.dose_adequate
            and self.response in (self.Response.NONE, self.Response.PARTIAL)
        )


class ConcomitantMedication(ClinicalModel):
    """A medication taken during the trial. A new antidepressant started after randomization is a
    relapse event of the protocol ("new treatment"), recorded through clinimetry's relapse path;
    `relapse_event` is that event."""

    class DrugClass(models.TextChoices):
        ANTIDEPRESSANT = "antidepressant", _("Antidepressant")
        ANTIPSYCHOTIC = "antipsychotic", _("Antipsychotic")
        MOOD_STABILIZER = "mood_stabilizer", _("Mood stabilizer")
        ANXIOLYTIC_HYPNOTIC = "anxiolytic_hypnotic", _("Anxiolytic or hypnotic")
        ANTIHYPERTENSIVE = "antihypertensive", _("Antihypertensive")
        ANALGESIC = "analgesic", _("Analgesic")
        OTHER = "other", _("Other")

    class Unit(models.TextChoices):
        MG = "mg", "mg"
        MCG = "mcg", "µg"
        G = "g", "g"
        ML = "ml", "mL"
        IU = "iu", _("IU")
        OTHER = "other", _("Other")

    class Route(models.TextChoices):
        ORAL = "oral", _("Oral")
        IV = "iv", _("Intravenous")
        IM = "im", _("Intramuscular")
        SC = "sc", _("Subcutaneous")
        SUBLINGUAL = "sublingual", _("Sublingual")
        TOPICAL = "topical", _("Topical")
        INHALED = "inhaled", _("Inhaled")
        OTHER = "other", _("Other")

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="concomitant_medications"
    )
    name = models.CharField(_("medication"), max_length=200)
    drug_class = models.CharField(_("class"), max_length=20, choices=DrugClass.choices)
    dose = models.DecimalField(_("dose"), max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices)
    route = models.CharField(_("route"), max_length=12, choices=Route.choices)
    started_on = models.DateField(_("start"))
    stopped_on = models.DateField(_("stop"), null=True, blank=True)
    indication = models.CharField(_("indication"), max_length=200)
    relapse_event = models.OneToOneField(
        RelapseEvent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="medication",
        verbose_name=_("relapse event"),
        editable=False,
    )

    class Meta:
        ordering = ["participant", "started_on", "pk"]
        verbose_name = _("concomitant medication")

    def __str__(self) -> str:
        return f"{self.participant} {self.name}"


class ChildbearingPotential(ClinicalModel):
    """Whether a pregnancy test is due before each infusion (PROTOCOL.md excludes pregnancy)."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="childbearing_potential"
    )
    of_childbearing_potential = models.BooleanField(_("of childbearing potential"))
    assessed_on = models.DateField(_("assessed on"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("childbearing potential")

    def __str__(self) -> str:
        return f"{self.participant} childbearing potential"


class PregnancyTest(ClinicalModel):
    """A pregnancy test; an infusion of a participant of childbearing potential starts only after a
    negative one within the protocol's window (conduct/services.py pregnancy_test_require)."""

    class Kind(models.TextChoices):
        URINE = "urine", _("Urine")
        SERUM = "serum", _("Serum")

    class Result(models.TextChoices):
        NEGATIVE = "negative", _("Negative")
        POSITIVE = "positive", _("Positive")
        INVALID = "invalid", _("Invalid (repeat the test)")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="pregnancy_tests")
    tested_at = models.DateTimeField(_("tested at"))
    kind = models.CharField(_("test"), max_length=8, choices=Kind.choices)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)

    class Meta:
        ordering = ["participant", "-tested_at", "-pk"]
        verbose_name = _("pregnancy test")

    def __str__(self) -> str:
        return f"{self.participant} pregnancy test {self.tested_at:%Y-%m-%d}"


ROLE_CHOICES = [(role, role) for role in ROLES]

# The tasks a delegation names are the capabilities of the access vocabulary (participants/roles.py),
# in words for the log (a test checks that every capability has its words).
TASK_LABELS = {
    "rate_participants": _("Rate HDRS-17 and MADRS"),
    "record_infusions": _("Give infusions; record sessions, vital signs, CADSS/BPRS+ and adverse events"),
    "manage_enrollment": _("Screening, consent, enrollment and randomization"),
    "manage_schedule": _("Scheduling and the infusion calendar"),
    "view_allocation": _("Hold the allocation (unblinded)"),
    "prepare_doses": _("Prepare doses; drug accountability"),
    "execute_unblinding": _("Execute an approved emergency unblinding"),
    "export_data": _("Exports and analyses"),
    "manage_users": _("User accounts and roles"),
    "review_audit": _("Review the audit trail"),
    "manage_queries": _("Data queries; preparing the database lock"),
    "lock_database": _("Lock the database"),
    "request_unblinding": _("Request an emergency unblinding"),
    "sign_off": _("Principal investigator sign-off"),
    "view_participants": _("See participant records"),
    "verify_source": _("Source-data verification"),
}


class Delegation(ClinicalModel):
    """One line of the delegation log: a member of staff may do these tasks (capabilities of the
    role, the access vocabulary of participants/roles.py) from one day to another, once the
    principal investigator has signed it."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations",
        verbose_name=_("staff"),
    )
    role = models.CharField(_("role"), max_length=30, choices=ROLE_CHOICES)
    tasks = models.JSONField(_("delegated tasks"), default=list)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed off by"),
    )
    signed_at = models.DateTimeField(_("signed off at"), null=True, blank=True)

    class Meta:
        ordering = ["staff__username", "starts_on", "pk"]
        verbose_name = _("delegation")

    def __str__(self) -> str:
        return f"delegation of {self.role} to {self.staff_id} from {self.starts_on}"


class TrainingRecord(ClinicalModel):
    """A course a member of staff completed, with its certificate."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="training_records",
        verbose_name=_("staff"),
    )
    course = models.CharField(_("course"), max_length=200)
    completed_on = models.DateField(_("completed on"))
    certificate = models.CharField(_("certificate"), max_length=200, blank=True)
    expires_on = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["staff__username", "-completed_on", "pk"]
        verbose_name = _("training record")

    def __str__(self) -> str:
        return f"training of {self.staff_id}: {self.course}"
