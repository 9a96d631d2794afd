"""Database lock, export jobs and stored analyses."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.blinding})"

    @property
    def file(self) -> Path:
        """The package on disk: `path` is relative to MEDIA_ROOT, so a restore to another place
        finds it (an absolute path, kept by a row the migration could not place, stays absolute)."""
        return Path(settings.MEDIA_ROOT) / self.path


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
