"""Data review: queries (discrepancy notes), source-data verification, form locks and the
principal investigator's casebook signature. Every record is audited (ClinicalModel)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ketatrial.audit import ClinicalModel
from ketatrial.protocol import ROLES


class RecordRef(models.Model):
    """Points at one clinical record (and optionally one of its fields) by model label and id."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    record_model = models.CharField(_("form"), max_length=60)
    record_id = models.CharField(max_length=40)

    class Meta:
        abstract = True


class Query(ClinicalModel, RecordRef):
    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("query state", "Open")
        ANSWERED = "answered", pgettext_lazy("query state", "Answered")
        CLOSED = "closed", pgettext_lazy("query state", "Closed")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Raised by a reviewer")
        EDIT_CHECK = "edit_check", _("Raised by an edit check")

    field = models.CharField(_("field"), max_length=60, blank=True)  # blank: the whole form
    text = models.TextField(_("question"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.MANUAL)
    # The edit check that raised it; a query closed with a reason waives the lock blocker of the
    # same code on the same record (e.g. a total missing because an item was not assessed).
    check_code = models.CharField(max_length=40, blank=True)
    assignee_role = models.CharField(_("assigned to"), max_length=30, choices=[(r, r) for r in ROLES])
    due_date = models.DateField(_("due"), null=True, blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raised_at = models.DateTimeField(_("raised at"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(_("reason for closing"), blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = _("query")
        indexes = [models.Index(fields=["record_model", "record_id"], name="query_record")]

    def __str__(self) -> str:
        return f"Q-{self.pk}"


class QueryMessage(ClinicalModel):
    """One message of a query's thread."""

    class Kind(models.TextChoices):
        RAISED = "raised", _("raised")
        ANSWER = "answer", _("answered")
        CORRECTED = "corrected", _("corrected the data")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("re-opened")

    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField(_("message"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.query} {self.kind}"


class Verification(ClinicalModel, RecordRef):
    """The monitor compared a form (or some of its fields) with the source documents."""

    fields = models.JSONField(_("fields verified"), default=list, blank=True)  # empty: the whole form
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(_("verified at"))
    invalidated_at = models.DateTimeField(_("invalidated at"), null=True, blank=True)
    invalidated_because = models.TextField(blank=True)

    class Meta:
        ordering = ["-verified_at", "-pk"]
        indexes = [models.Index(fields=["record_model", "record_id"], name="verification_record")]

    def __str__(self) -> str:
        return f"SDV {self.record_model}#{self.record_id}"


class FormLock(ClinicalModel, RecordRef):
    """A form locked by the data manager: writes to the record are refused until unlocked."""

    lock_exempt = True

    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    locked_at = models.DateTimeField(_("locked at"))
    reason = models.TextField(_("reason"), blank=True)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlock_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-locked_at", "-pk"]
        indexes = [models.Index(fields=["record_model", "record_id"], name="formlock_record")]

    def __str__(self) -> str:
        return f"lock {self.record_model}#{self.record_id}"


class CasebookSignature(ClinicalModel):
    """The principal investigator's electronic signature of one participant's casebook: signed
    again with username and password, with its meaning and time; a later change to any of the
    participant's records voids it (it must be signed again)."""

    participant = models.ForeignKey("participants.Participant", on_delete=models.PROTECT, related_name="+")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("signed at"))
    meaning = models.TextField(_("meaning of the signature"))
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at", "-pk"]

    def __str__(self) -> str:
        return f"casebook signature {self.participant_id}"


class ProtocolDeviation(ClinicalModel):
    """The protocol-deviation log: what happened, when, to whom, and what was done. A major
    deviation of a kind the analysis plan names takes the participant out of the per-protocol
    set (outcomes/sap/sets.py)."""

    class Category(models.TextChoices):
        MISSED_INFUSION = "missed_infusion", _("Infusion missed or not given as scheduled")
        OUT_OF_WINDOW = "out_of_window", _("Visit or rating out of its window")
        WRONG_PRODUCT = "wrong_product", _("Wrong product or dose given")
        UNBLINDING = "unblinding", _("Unblinding")
        CONSENT = "consent", _("Informed consent")
        ELIGIBILITY = "eligibility", _("Eligibility")
        PROHIBITED_TREATMENT = "prohibited_treatment", _("Prohibited treatment")
        PROCEDURE = "procedure", _("Study procedure not done as the protocol says")
        OTHER = "other", _("Other")

    participant = models.ForeignKey("participants.Participant", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("category"), max_length=24, choices=Category.choices)
    occurred_on = models.DateField(_("date"))
    description = models.TextField(_("what happened"))
    action = models.TextField(_("action taken"), blank=True)
    major = models.BooleanField(_("major (affects the primary analysis or safety)"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        verbose_name = _("protocol deviation")

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.occurred_on}"


class SoftRangeConfirmation(ClinicalModel, RecordRef):
    """A value outside its usual range (review/soft_ranges.py), saved because the person who
    entered it confirmed it with a reason: what, the usual range, who, when and why."""

    field = models.CharField(_("field"), max_length=60)
    rule = models.CharField(_("check"), max_length=30)
    value = models.CharField(_("value"), max_length=100)
    usual = models.CharField(_("usual range"), max_length=100)
    reason = models.TextField(_("reason"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(_("confirmed at"))

    class Meta:
        ordering = ["-confirmed_at", "-pk"]
        indexes = [models.Index(fields=["record_model", "record_id"], name="softrange_record")]
        verbose_name = _("unusual value confirmed")

    def __str__(self) -> str:
        return f"{self.record_model}#{self.record_id} {self.field}={self.value}"
