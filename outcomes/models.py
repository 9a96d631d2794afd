"""Export jobs with their options and audit record, and stored analyses."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ketatrial.audit import ClinicalModel


class ExportForm(models.TextChoices):
    """What an export may hold (outcomes/export_options.py: which the blinding level allows)."""

    HDRS17 = "hdrs17", _("Ratings: HDRS-17")
    MADRS = "madrs", _("Ratings: MADRS")
    MRS = "mrs", _("MRS results")
    PARTICIPANTS = "participants", _("Participants")
    INFUSION = "infusion", _("Infusions: CADSS and BPRS+")
    ADVERSE_EVENTS = "adverse_events", _("Adverse events")


class ExportVisits(models.TextChoices):
    BASELINE = "baseline", _("Screening and baseline")
    PERIOD1 = "period1", _("Period 1")
    LATER = "later", _("Period 2 and follow-up")


class ExportIdentifiers(models.TextChoices):
    STORED = "stored", _("Participant IDs as stored")
    REMOVED = "removed", _("Removed: a random pseudonym per export, no key kept")
    KEYED = "keyed", _("Keyed hash: the same pseudonym in every export")


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for the workers")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Blinding(models.TextChoices):
        BLINDED = "blinded", _("Blinded (coded sequence)")
        NO_SEQUENCE = "no_sequence", _("Blinded (no sequence)")
        UNBLINDED = "unblinded", _("Unblinded (after release)")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    blinding = models.CharField(max_length=12, choices=Blinding.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    stage = models.CharField(max_length=100, blank=True)
    path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The options (services.export_request resolves and checks them against the blinding level).
    # An empty list means everything the level allows (jobs made before there were options).
    forms = models.JSONField(default=list, blank=True)
    visits = models.JSONField(default=list, blank=True)
    timepoints = models.JSONField(default=list, blank=True)  # empty: every timepoint of the visits
    identifiers = models.CharField(
        max_length=10, choices=ExportIdentifiers.choices, default=ExportIdentifiers.STORED
    )
    date_shift = models.BooleanField(default=False)
    purpose = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("export job")

    def __str__(self) -> str:
        return f"export {self.pk} ({self.blinding})"

    def forms_display(self) -> list[str]:
        labels = dict(ExportForm.choices)
        return [str(labels.get(code, code)) for code in self.forms]

    def visits_display(self) -> list[str]:
        labels = dict(ExportVisits.choices)
        return [str(labels.get(code, code)) for code in self.visits]

    @property
    def file(self) -> Path:
        """The package on disk: `path` is relative to MEDIA_ROOT, so a restore to another place
        finds it (an absolute path, kept by a row the migration could not place, stays absolute)."""
        return Path(settings.MEDIA_ROOT) / self.path


class ExportEvent(ClinicalModel):
    """Append-only and audited: each export request and each download of its package is one row,
    with who, when, what (the level and the options) and why (the purpose), so the audit pages and
    their CSV show every export. The job itself (ExportJob) is worker bookkeeping, not audited."""

    lock_exempt = True  # exports are made and fetched while the database is locked

    class Action(models.TextChoices):
        REQUESTED = "requested", _("Export requested")
        DOWNLOADED = "downloaded", _("Export downloaded")

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    job = models.ForeignKey(
        ExportJob, on_delete=models.PROTECT, related_name="events", verbose_name=_("export job")
    )
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    blinding = models.CharField(_("blinding"), max_length=12, choices=ExportJob.Blinding.choices)
    forms = models.JSONField(_("forms"), default=list)
    visits = models.JSONField(_("visits"), default=list)
    timepoints = models.JSONField(_("timepoints"), default=list, blank=True)
    identifiers = models.CharField(_("identifiers"), max_length=10, choices=ExportIdentifiers.choices)
    date_shift = models.BooleanField(_("dates shifted per participant"), default=False)
    purpose = models.TextField(_("purpose"))

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("export event")

    def __str__(self) -> str:
        return f"{self.action} export {self.job_id} {self.at:%Y-%m-%d %H:%M}"

    def delete(self, *args: object, **kwargs: object) -> None:
        from django.core.exceptions import ValidationError

        raise ValidationError(_("Export events are kept: they are the audit trail of the exports."))


class AnalysisRun(models.Model):
    """One stored run of the analyses: what it found, the hash of the data it used and the code
    version, so a figure in a report can be traced to its inputs."""

    class Kind(models.TextChoices):
        MONITORING = "monitoring", _("Blinded monitoring (pooled)")
        EFFICACY = "efficacy", _("Efficacy analyses (after release)")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    run_at = models.DateTimeField()
    trigger = models.CharField(max_length=20)  # nightly / on demand
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data_hash = models.CharField(max_length=64)
    code_version = models.CharField(max_length=60)
    results = models.JSONField(default=dict)
    # The outbox job that made it: one run of each kind per job, however often it is delivered.
    job = models.ForeignKey(
        "ketatrial.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-run_at"]
        constraints = [models.UniqueConstraint(fields=["job", "kind"], name="analysis_run_once_per_job")]

    def __str__(self) -> str:
        return f"{self.kind} {self.run_at:%Y-%m-%d %H:%M}"
