"""MRS uploads (originals kept unchanged) and immutable quantification results."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ketatrial.audit import ClinicalModel
from participants.models import Participant


def media_path(name: str) -> Path:
    """The file stored under `name`, a path relative to MEDIA_ROOT, joined at read time: the
    database and the media folder move together (a restore to another place, a new volume)."""
    return Path(settings.MEDIA_ROOT) / name


class MRSUpload(ClinicalModel):
    class Kind(models.TextChoices):
        MEGA = "mega", _("MEGA-PRESS metabolite series")
        MEGA_WATER = "mega_water", _("MEGA-PRESS water reference")
        PRESS = "press", _("Short-TE PRESS series")
        PRESS_WATER = "press_water", _("Short-TE PRESS water reference")
        GM_MAP = "gm_map", _("Grey matter probability map")
        WM_MAP = "wm_map", _("White matter probability map")
        CSF_MAP = "csf_map", _("CSF probability map")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REFUSED = "refused", _("Refused")
        # Recorded under the wrong kind and withdrawn with a reason; the file and its history are
        # kept, and the same file may be uploaded again under the right kind.
        SUPERSEDED = "superseded", _("Withdrawn")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="mrs_uploads")
    session_code = models.CharField(_("MRS session"), max_length=60)
    # When the scanner acquired the series (the coordinator enters it from the scanner's log:
    # NIfTI-MRS has no standard acquisition time). Empty on uploads recorded before it was asked.
    scanned_at = models.DateTimeField(_("scanned at"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # The name as the browser sent it (for the page and the audit); the file on disk has a short,
    # safe name. Every *_path below is relative to MEDIA_ROOT (media_path joins them).
    original_name = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(max_length=500)
    working_path = models.CharField(max_length=500, blank=True)
    # Philips SDAT comes with its SPAR header: kept beside it, with its own hash.
    companion_name = models.CharField(_("header file"), max_length=255, blank=True)
    companion_path = models.CharField(max_length=500, blank=True)
    companion_sha256 = models.CharField(max_length=64, blank=True)
    # Vendor files: the NIfTI-MRS spec2nii made from the original, and how.
    converted_path = models.CharField(max_length=500, blank=True)
    conversion = models.CharField(_("conversion"), max_length=500, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    refusal_reason = models.TextField(_("reason refused"), blank=True)
    superseded_reason = models.TextField(_("reason withdrawn"), blank=True)
    superseded_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        ordering = ["participant", "session_code", "uploaded_at"]
        verbose_name = _("MRS upload")
        constraints = [
            # A withdrawn upload does not block the same file uploaded again under the right kind.
            models.UniqueConstraint(
                fields=["participant", "sha256"],
                condition=~models.Q(status="superseded"),
                name="one_live_upload_per_file_and_participant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.session_code} {self.kind}"

    @property
    def nifti_path(self) -> str:
        """The NIfTI-MRS of this upload (relative to MEDIA_ROOT): the original, or what spec2nii
        converted it into."""
        return self.converted_path or self.stored_path

    @property
    def read_path(self) -> str:
        """What the pipeline reads (relative to MEDIA_ROOT): the uncompressed working copy when
        there is one."""
        return self.working_path or self.nifti_path

    @property
    def original_file(self) -> Path:
        return media_path(self.stored_path)

    @property
    def companion_file(self) -> Path | None:
        return media_path(self.companion_path) if self.companion_path else None


class MRSResult(models.Model):
    """One immutable result per (metabolite upload, pipeline version); reprocessing adds a row."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for the workers")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    upload = models.ForeignKey(MRSUpload, on_delete=models.PROTECT, related_name="results")
    water = models.ForeignKey(MRSUpload, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    pipeline_version = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    values = models.JSONField(default=dict, blank=True)
    constants = models.JSONField(default=dict, blank=True)
    figure = models.JSONField(default=dict, blank=True)
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "pipeline_version"], name="one_result_per_upload_and_version"
            )
        ]

    def __str__(self) -> str:
        return f"result {self.pk} of {self.upload} ({self.pipeline_version})"


class TissueFractions(ClinicalModel):
    """GM, WM and CSF volume fractions of the voxel of one MRS session (entered from the
    segmentation report)."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="tissue_fractions")
    session_code = models.CharField(_("MRS session"), max_length=60)
    f_gm = models.DecimalField(_("grey matter fraction"), max_digits=5, decimal_places=4)
    f_wm = models.DecimalField(_("white matter fraction"), max_digits=5, decimal_places=4)
    f_csf = models.DecimalField(_("CSF fraction"), max_digits=5, decimal_places=4)
    source = models.CharField(_("source"), max_length=200, default="entered")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "session_code"], name="one_tissue_record_per_session"
            )
        ]

    def __str__(self) -> str:
        return f"tissue of {self.participant} {self.session_code}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        values = (self.f_gm, self.f_wm, self.f_csf)
        if any(v is None or v < 0 or v > 1 for v in values):
            raise ValidationError(_("Each fraction lies between 0 and 1."))
        if abs(float(sum(values)) - 1) > 0.02:
            raise ValidationError(_("The fractions must add up to 1 (now %s).") % sum(values))
