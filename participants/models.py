"""Sites, participants, user profiles and the role-change log."""

from __future__ import annotations

from django.conf import settings
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


class Participant(ClinicalModel):
    """A pseudonymized trial participant (identifying data is kept apart)."""

    class Status(models.TextChoices):
        ENROLLED = "enrolled", _("Enrolled")
        RANDOMIZED = "randomized", _("Randomized")
        COMPLETED = "completed", _("Completed")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        LOST = "lost", _("Lost to follow-up")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, verbose_name=_("site"))
    number = models.PositiveIntegerField(_("number"))
    code = models.CharField(_("participant ID"), max_length=20, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ENROLLED)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    baseline_weight_kg = models.DecimalField(
        _("baseline weight (kg)"),
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(30), MaxValueValidator(250)],
    )
    height_cm = models.DecimalField(
        _("height (cm)"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(120), MaxValueValidator(230)],
    )

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
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="es")

    def __str__(self) -> str:
        return f"profile of {self.user}"


class UserRoleChange(models.Model):
    """Append-only log of every role assignment change (who changed whose roles, when, why)."""

    append_only = True

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    changed_at = models.DateTimeField(_("changed at"))
    old_roles = models.JSONField(_("old roles"), default=list)
    new_roles = models.JSONField(_("new roles"), default=list)
    active = models.BooleanField(_("active"), default=True)
    reason = models.CharField(_("reason"), max_length=500)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"roles of {self.user_id} changed at {self.changed_at:%Y-%m-%d %H:%M}"
