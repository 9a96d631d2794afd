"""Sites, participants, user profiles and the role-change log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ketatrial.audit import ClinicalModel


class Site(models.Model):
    """A recruiting site; every participant carries one so a second site is configuration."""

    code = models.CharField(
        _("code"),
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9]{2,8}$", _("2-8 capital letters or digits."))],
    )
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")

    def __str__(self) -> str:
        return self.code


class ScreeningRecord(ClinicalModel):
    """One person assessed for the trial: the screening log behind the CONSORT counts."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        ELIGIBLE = "eligible", _("Eligible")
        SCREEN_FAILURE = "screen_failure", _("Screen failure")
        DECLINED = "declined", _("Declined")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, verbose_name=_("site"))
    number = models.PositiveIntegerField(_("number"))
    code = models.CharField(_("screening number"), max_length=24, unique=True)
    screened_at = models.DateTimeField(_("screened at"))
    protocol_version = models.CharField(_("protocol version"), max_length=20)
    # The criteria as they were shown, kept with the answers so a later protocol version does not
    # change the meaning of an old checklist.
    inclusion_criteria = models.JSONField(_("inclusion criteria"), default=list)
    exclusion_criteria = models.JSONField(_("exclusion criteria"), default=list)
    inclusion_met = models.JSONField(_("inclusion met"), default=list)
    exclusion_present = models.JSONField(_("exclusion present"), default=list)
    hdrs17_total = models.PositiveSmallIntegerField(
        _("screening HDRS-17 total"), null=True, blank=True, validators=[MaxValueValidator(52)]
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_reason = models.TextField(_("reason"), blank=True)
    # Why a screen failure failed, as codes (translated only for display, counted by the CONSORT
    # diagram): "inclusion:N" / "exclusion:N" (the N-th criterion of this record's checklist,
    # from 1), "hdrs17_below_min".
    failure_codes = models.JSONField(_("screen-failure reasons"), default=list, blank=True)

    class Meta:
        ordering = ["-screened_at", "-number"]
        verbose_name = _("screening record")
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="screening_unique_site_number")
        ]

    def __str__(self) -> str:
        return self.code


class Consent(ClinicalModel):
    """Informed consent given at screening (a new row for every re-consent)."""

    screening = models.ForeignKey(ScreeningRecord, on_delete=models.PROTECT, related_name="consents")
    version = models.CharField(_("consent version"), max_length=20)
    consented_at = models.DateTimeField(_("consented at"))
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("obtained by")
    )

    class Meta:
        ordering = ["-consented_at"]
        get_latest_by = "consented_at"
        verbose_name = _("consent")

    def __str__(self) -> str:
        return f"{self.screening} v{self.version}"


class Participant(ClinicalModel):
    """A pseudonymized trial participant (identifying data is kept apart)."""

    class Status(models.TextChoices):
        ENROLLED = "enrolled", _("Enrolled")
        RANDOMIZED = "randomized", _("Randomized")
        COMPLETED = "completed", _("Completed")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        DISCONTINUED = "discontinued", _("Discontinued")
        LOST = "lost", _("Lost to follow-up")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, verbose_name=_("site"))
    screening = models.OneToOneField(
        ScreeningRecord, on_delete=models.PROTECT, related_name="participant", verbose_name=_("screening")
    )
    stratum = models.CharField(_("stratum"), max_length=40, blank=True)
    number = models.PositiveIntegerField(_("number"))
    code = models.CharField(_("participant ID"), max_length=20, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ENROLLED)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    baseline_weight_kg = models.DecimalField(
        _("baseline weight (kg)"),
        max_digits=5,
        decimal_places=1,
        # Physical bounds only: the protocol's plausible range (weight_min_kg..weight_max_kg, a
        # parameter) is applied by the enrollment form and the dosing service.
        validators=[MinValueValidator(1), MaxValueValidator(500)],
    )
    height_cm = models.DecimalField(
        _("height (cm)"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(120), MaxValueValidator(230)],
    )
    baseline_date = models.DateField(_("baseline assessment date"), null=True, blank=True)
    disposition_date = models.DateField(_("disposition date"), null=True, blank=True)
    disposition_reason = models.TextField(_("disposition reason"), blank=True)

    class Meta:
        ordering = ["site__code", "number"]
        verbose_name = _("participant")
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="participant_unique_site_number"),
        ]

    def __str__(self) -> str:
        return self.code


class UserProfile(models.Model):
    """Per-user preferences kept beside Django's user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Empty: no saved choice, the page follows the browser's language (ketatrial/middleware.py).
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, default=""
    )
    # Set by the data manager (participants.services.user_set_access); from the next day, sign-in
    # is refused and open sessions end (participants/sign_in.py).
    access_until = models.DateField(_("last day of access"), null=True, blank=True)
    # The sites whose participants the user works with (participants.allocation.visibility
    # sites_for): none listed means every site for a trial-wide role and the protocol's own site
    # for site staff. Set by the data manager (participants.services.user_set_sites).
    sites = models.ManyToManyField(Site, blank=True, related_name="profiles", verbose_name=_("sites"))

    def __str__(self) -> str:
        return f"profile of {self.user}"


class UserRoleChange(models.Model):
    """Append-only log of every change to an account (who changed whose roles, activity, last day
    of access or second factor, when, why)."""

    append_only = True

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    changed_at = models.DateTimeField(_("changed at"))
    old_roles = models.JSONField(_("old roles"), default=list)
    new_roles = models.JSONField(_("new roles"), default=list)
    active = models.BooleanField(_("active"), default=True)
    # The account's last day of access after this change, and whether it reset the second factor.
    access_until = models.DateField(_("last day of access"), null=True, blank=True)
    second_factor_reset = models.BooleanField(_("second factor reset"), default=False)
    # The site codes the account works at after this change (empty: none listed).
    sites = models.JSONField(_("sites"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=500)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"roles of {self.user_id} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class Identity(ClinicalModel):
    """Identifying data, encrypted at rest (Fernet, key from the environment); coordinators only."""

    audit_restricted = True

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="identity")
    full_name_enc = models.TextField()
    date_of_birth_enc = models.TextField()
    phone_enc = models.TextField(blank=True)
    address_enc = models.TextField(blank=True)

    class Meta:
        verbose_name = _("identifying data")

    def __str__(self) -> str:
        return f"identity of {self.participant}"


class AllocationList(models.Model):
    """An allocation list, generated or uploaded; read and written only by participants.allocation."""

    class Method(models.TextChoices):
        GENERATED = "generated", _("Generated")
        UPLOADED = "uploaded", _("Uploaded")

    method = models.CharField(max_length=12, choices=Method.choices)
    parameters = models.JSONField(default=dict)
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_allocation_list"
            )
        ]

    def __str__(self) -> str:
        return f"allocation list {self.pk}"


class AllocationSlot(ClinicalModel):
    """One row of the list. Its history is kept but never shown in the audit pages. A slot is
    never deleted (a free slot removed would shift who gets what): refused here, by a database
    trigger, and by the application role's grants (ketatrial/audit_db.py, ketatrial/db_roles.py)."""

    audit_restricted = True
    delete_refused = True

    allocation_list = models.ForeignKey(AllocationList, on_delete=models.PROTECT, related_name="slots")
    stratum = models.CharField(max_length=40, blank=True)
    sequence_no = models.PositiveIntegerField()
    block_no = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    sequence = models.CharField(max_length=2)
    kit_code = models.CharField(max_length=20, unique=True)
    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="allocation_slot"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The list's own kit damaged or lost. The slot keeps its place and its sequence (who gets what
    # never shifts); only the kit is replaced (AllocationKit). Outside the list's checksum, which
    # covers the list as stored.
    kit_unavailable_at = models.DateTimeField(null=True, blank=True)
    kit_unavailable_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["allocation_list", "stratum", "sequence_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation_list", "stratum", "sequence_no"], name="allocation_slot_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"slot {self.stratum or '-'}/{self.sequence_no}"

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError(_("An allocation slot is never deleted."))


class AllocationKit(ClinicalModel):
    """A replacement kit for a slot whose kit was damaged or lost: same slot, same sequence, a new
    kit code. A slot's kit is its newest replacement, else the list's own kit_code."""

    audit_restricted = True
    delete_refused = True

    slot = models.ForeignKey(AllocationSlot, on_delete=models.PROTECT, related_name="replacement_kits")
    kit_code = models.CharField(max_length=20, unique=True)
    reason = models.TextField()
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unavailable_at = models.DateTimeField(null=True, blank=True)
    unavailable_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["slot", "added_at", "id"]

    def __str__(self) -> str:
        return f"kit {self.kit_code}"

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError(_("A kit record is never deleted."))


class AllocationListReplacement(ClinicalModel):
    """An unused allocation list replaced by another before first use, with the reason (the lists
    themselves are not audited records; this is the audited act)."""

    audit_restricted = True
    delete_refused = True

    replaced = models.OneToOneField(AllocationList, on_delete=models.PROTECT, related_name="replaced_record")
    replacement = models.OneToOneField(
        AllocationList, on_delete=models.PROTECT, related_name="replacement_record"
    )
    reason = models.TextField()
    replaced_at = models.DateTimeField()
    replaced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"allocation list {self.replaced_id} replaced by {self.replacement_id}"


class UnblindingRequest(ClinicalModel):
    """Emergency unblinding: requested by the principal investigator, executed by the pharmacist."""

    # Its history ("who was told") stays out of the audit pages.
    audit_restricted = True
    # A safety function: it must work while the database is locked.
    lock_exempt = True

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="unblinding_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested at"))
    reason = models.TextField(_("clinical reason"))
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    people_informed = models.TextField(_("who was told"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("emergency unblinding")

    def __str__(self) -> str:
        return f"unblinding of {self.participant}"


class KetamineReceipt(ClinicalModel):
    """Ketamine vials received into the pharmacy (controlled substance)."""

    audit_restricted = True

    lot = models.CharField(_("lot"), max_length=40, unique=True)
    vials = models.PositiveIntegerField(_("vials received"), validators=[MinValueValidator(1)])
    mg_per_vial = models.DecimalField(
        _("mg per vial"), max_digits=7, decimal_places=1, validators=[MinValueValidator(1)]
    )
    ml_per_vial = models.DecimalField(
        _("mL per vial"), max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0.1"))]
    )
    expiry_date = models.DateField(_("expiry date"))
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["received_at"]

    def __str__(self) -> str:
        return self.lot

    @property
    def concentration_mg_ml(self) -> Decimal:
        return (self.mg_per_vial / self.ml_per_vial).quantize(Decimal("0.01"))


class CheckStatus(models.TextChoices):
    AWAITING = "awaiting", _("Awaiting the second pharmacist's check")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")
    # A syringe not given (past its beyond-use time, dropped...): destroyed, the infusion prepared
    # again.
    DISCARDED = "discarded", _("Discarded (not given)")


class DosePreparation(ClinicalModel):
    """The pharmacist's preparation of one infusion; reveals the product, so it is unblinded data."""

    audit_restricted = True
    CheckStatus = CheckStatus

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="dose_preparations")
    period = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(2)])
    infusion_number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    # Physical bounds only: the dosing service applies the protocol's plausible range.
    weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    weight_capped = models.BooleanField(default=False)
    dose_mg = models.DecimalField(max_digits=6, decimal_places=1)
    receipt = models.ForeignKey(KetamineReceipt, on_delete=models.PROTECT, null=True, blank=True)
    vial_concentration_mg_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    volume_drawn_ml = models.DecimalField(max_digits=6, decimal_places=2)
    vials_opened = models.PositiveSmallIntegerField(default=0)
    wasted_mg = models.DecimalField(max_digits=7, decimal_places=1, default=Decimal("0"))
    diluent_ml = models.DecimalField(max_digits=6, decimal_places=2)
    total_volume_ml = models.DecimalField(max_digits=6, decimal_places=2)
    pump_rate_ml_h = models.DecimalField(max_digits=6, decimal_places=1)
    syringe_code = models.CharField(max_length=20, unique=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    prepared_at = models.DateTimeField()
    # The second pharmacist's check, done in their own session after the preparation: until it is
    # confirmed the syringe gets no label and the infusion cannot start.
    check_status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.AWAITING)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    check_note = models.TextField(blank=True)

    class Meta:
        ordering = ["participant", "period", "infusion_number"]
        constraints = [
            # A rejected or discarded syringe is destroyed and the infusion prepared again.
            models.UniqueConstraint(
                fields=["participant", "period", "infusion_number"],
                condition=~models.Q(check_status__in=["rejected", "discarded"]),
                name="one_live_preparation_per_infusion",
            ),
            models.CheckConstraint(
                condition=~models.Q(prepared_by=models.F("checked_by")), name="checker_is_not_preparer"
            ),
        ]

    def __str__(self) -> str:
        return self.syringe_code


class StockCount(ClinicalModel):
    """A physical count of the vials left of a lot, compared with the book balance."""

    audit_restricted = True

    receipt = models.ForeignKey(KetamineReceipt, on_delete=models.PROTECT, related_name="counts")
    counted_at = models.DateTimeField()
    vials_counted = models.PositiveIntegerField()
    vials_expected = models.IntegerField()
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-counted_at"]

    def __str__(self) -> str:
        return f"count of {self.receipt} at {self.counted_at:%Y-%m-%d}"

    @property
    def discrepancy(self) -> int:
        return self.vials_counted - self.vials_expected


class RegisterEntry(ClinicalModel):
    """A line of the controlled-drug register that no other record holds: ketamine wasted (the
    rest of a preparation's opened vials, a rejected syringe, a broken or expired vial), which a
    second pharmacist witnesses in their own session, or returned to the supplier. Receipts,
    doses dispensed and stock counts are lines of their own records (KetamineReceipt,
    DosePreparation, StockCount); participants/allocation/ledger.py puts them in one register
    with a running balance per lot (the arithmetic in infusions/dosing.py)."""

    audit_restricted = True

    class Kind(models.TextChoices):
        WASTED = "wasted", _("Wasted")
        RETURNED = "returned", _("Returned to the supplier")

    class Cause(models.TextChoices):
        REMAINDER = "remainder", _("Rest of the opened vials after a preparation")
        REJECTED = "rejected", _("Syringe rejected at the second check, destroyed")
        DISCARDED = "discarded", _("Syringe discarded without being given, destroyed")
        VIALS = "vials", _("Vials (broken, expired, returned)")

    receipt = models.ForeignKey(KetamineReceipt, on_delete=models.PROTECT, related_name="register_entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    cause = models.CharField(max_length=12, choices=Cause.choices)
    occurred_at = models.DateTimeField()
    # Whole vials taken out of stock by this line (broken, expired, returned); 0 for the rest of
    # vials already opened by a preparation.
    vials = models.PositiveIntegerField(default=0)
    quantity_mg = models.DecimalField(
        max_digits=9, decimal_places=1, validators=[MinValueValidator(Decimal("0"))]
    )
    preparation = models.ForeignKey(
        DosePreparation, on_delete=models.PROTECT, null=True, blank=True, related_name="register_entries"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    witnessed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["receipt", "occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(witness=models.F("recorded_by")), name="register_witness_is_not_recorder"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity_mg} mg of {self.receipt}"


class SyringeScan(ClinicalModel):
    """The infusion physician's scan of a syringe label at the bedside, and what it matched. Holds
    nothing about the content: the same for both products."""

    class Outcome(models.TextChoices):
        MATCH = "match", _("Matches this participant's confirmed preparation")
        OTHER_PARTICIPANT = "other_participant", _("Prepared for another participant")
        OTHER_INFUSION = "other_infusion", _("Prepared for another infusion of this participant")
        NOT_CONFIRMED = "not_confirmed", _("Not confirmed by the second pharmacist")
        UNKNOWN = "unknown", _("Unknown syringe code")
        EXPIRED = "expired", _("Past its beyond-use time")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="syringe_scans")
    period = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(2)])
    infusion_number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    scanned_code = models.CharField(max_length=40)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    scanned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scanned_at = models.DateTimeField()

    class Meta:
        ordering = ["-scanned_at", "-id"]

    def __str__(self) -> str:
        return f"scan of {self.scanned_code}"


class SequenceKey(ClinicalModel):
    """Which code letter (A or B) stands for KP in blinded statistician exports. Drawn at random
    once, read only by the allocation module, sealed until the statistician releases it after
    the database lock."""

    audit_restricted = True
    lock_exempt = True

    kp_letter = models.CharField(max_length=1, choices=[("A", "A"), ("B", "B")])
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("sequence key")

    def __str__(self) -> str:
        return "sequence key"
