"""MRS uploads and results: originals kept byte for byte, results immutable per pipeline version."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from infusions import selectors as infusion_selectors
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.lock import require_unlocked
from ketatrial.trial import protocol
from participants.models import Participant
from review import services as review_services
from review.soft_ranges import Unusual, scan_time_unusual

# The numerical modules (numpy, scipy, nibabel) are imported inside the functions that quantify or
# read files: pages that only list uploads and results do not load them.
from spectroscopy import convert, intake
from spectroscopy.errors import MRSFormatError
from spectroscopy.models import MRSResult, MRSUpload, TissueFractions, media_path
from spectroscopy.versions import PIPELINE_VERSION, PRESS_PIPELINE_VERSION

CHUNK = 1024 * 1024
NIFTI_SUFFIXES = (".nii", ".nii.gz")
MAP_KINDS = (MRSUpload.Kind.GM_MAP, MRSUpload.Kind.WM_MAP, MRSUpload.Kind.CSF_MAP)
QUANTIFIABLE = (MRSUpload.Kind.MEGA, MRSUpload.Kind.PRESS)


def limits_from_protocol(p: Any) -> Any:
    """The MRS quality limits in force (pipeline.QCLimits from the protocol definition)."""
    from spectroscopy.pipeline import limits_from_protocol as limits

    return limits(p)


WATER_FOR = {MRSUpload.Kind.MEGA: MRSUpload.Kind.MEGA_WATER, MRSUpload.Kind.PRESS: MRSUpload.Kind.PRESS_WATER}


def _store_stream(source: IO[bytes], target: Path, limit: int) -> tuple[str, int]:
    """Copy in chunks (never the whole file in memory), hashing as it goes."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            size += len(chunk)
            if size > limit:
                raise ValidationError(
                    _("The file is larger than the limit of %d MB.") % (limit // (1024 * 1024))
                )
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _human(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return str(filesizeformat(n))


def _relative(path: Path) -> str:
    """How a path under MEDIA_ROOT is stored: relative to it, so the media folder can move."""
    return path.relative_to(Path(settings.MEDIA_ROOT)).as_posix()


def _claim(folder: Path, name: str, source: Path) -> Path:
    """Move `source` to `name` in `folder`, or to `name` with -2, -3, ... before its extension when
    that name is taken (a hard link refuses an existing name, so two requests never share one)."""
    for n in range(1, 1000):
        target = folder / (name if n == 1 else _numbered(name, n))
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: a rename, after a look
            if target.exists():
                continue
            source.replace(target)
            return target
        source.unlink()
        return target
    raise ValidationError(_("Too many files of this name in the session folder."))


def _numbered(name: str, n: int) -> str:
    lower = name.lower()
    suffix = next(
        (name[-len(s) :] for s in (".work.nii", ".converted.nii.gz", ".nii.gz") if lower.endswith(s)),
        Path(name).suffix,
    )
    return f"{name[: len(name) - len(suffix)]}-{n}{suffix}"


def _size_reason(declared: Any) -> str:
    """'' when the size the header declares is within the limit, else the reason."""
    limit = settings.MRS_MAX_DECLARED_BYTES
    if declared.total_bytes <= limit:
        return ""
    return _(
        "The file's header declares %(declared)s of data (shape %(shape)s), more than the limit of "
        "%(limit)s for one series, so the file was not read. A single-voxel scan is far smaller: "
        "check that this is the right file; if it is, the administrator can raise MRS_MAX_DECLARED_MB."
    ) % {
        "declared": _human(declared.total_bytes),
        "shape": " x ".join(str(n) for n in declared.shape),
        "limit": _human(limit),
    }


def _work_name(name: str) -> str:
    lower = name.lower()
    for suffix in (".nii.gz", ".gz", ".nii"):
        if lower.endswith(suffix):
            return name[: -len(suffix)] + ".work.nii"
    return name + ".work.nii"


def _working_copy(nifti: Path, declared: Any) -> tuple[Path | None, str]:
    """An uncompressed copy for fast reading (the original stays as uploaded): a gzip stream is
    inflated in chunks and never beyond what its header declares. (copy, '') or (None, reason)."""
    if intake.is_gzip(nifti):
        partial = nifti.parent / f".inflating-{uuid.uuid4().hex}"
        try:
            written = intake.inflate_bounded(nifti, partial, ceiling=intake.inflate_ceiling(declared))
        except intake.InflationCeilingPassed as exc:
            return None, _(
                "The compressed data inflate to more than the %(declared)s the file's header declares "
                "(reading stopped at %(ceiling)s): the file is damaged or is not what it says. "
                "Export the series again."
            ) % {"declared": _human(declared.total_bytes), "ceiling": _human(exc.ceiling)}
        except MRSFormatError as exc:
            return None, str(exc)
        working = _claim(nifti.parent, _work_name(nifti.name), partial)
    else:
        working, written = nifti, nifti.stat().st_size
    if written < declared.total_bytes:
        if working != nifti:
            working.unlink(missing_ok=True)
        return None, _(
            "The file is truncated: its header declares %(declared)s but it holds %(held)s. "
            "Upload the complete file."
        ) % {"declared": _human(declared.total_bytes), "held": _human(written)}
    return working, ""


def _check(kind: str, nifti: Path) -> tuple[str, Path | None]:
    """('', working copy) when the file is usable for its kind, else (reason, None) for the person
    who uploaded. Nothing is read beyond the header before its declared size passes the limit."""
    if kind not in MAP_KINDS and not nifti.name.lower().endswith(NIFTI_SUFFIXES):
        return _(
            "This is neither NIfTI-MRS (.nii, .nii.gz) nor a vendor format that spec2nii converts here "
            "(Siemens .dat/.rda/.dcm/.ima, Philips .sdat with .spar, GE .7)."
        ), None
    try:
        declared = intake.read_declared(nifti)
    except MRSFormatError as exc:
        return (_("A probability map must be a NIfTI image.") if kind in MAP_KINDS else str(exc)), None
    reason = _size_reason(declared)
    if reason:
        return reason, None
    if kind in MAP_KINDS:  # maps are read where the fractions are computed: no working copy
        return _validate(nifti, kind), None
    working, reason = _working_copy(nifti, declared)
    if working is None:
        return reason, None
    reason = _validate(working, kind)
    if reason:
        if working != nifti:
            working.unlink(missing_ok=True)
        return reason, None
    return "", working


def _validate(path: Path, kind: str) -> str:
    """'' when the file (its declared size already checked) is usable for its kind, else the reason."""
    import nibabel as nib

    from spectroscopy.io import read_nifti_mrs

    if kind in MAP_KINDS:
        try:
            image = nib.load(str(path))
        except Exception:  # nibabel raises many types for non-NIfTI input
            return _("A probability map must be a NIfTI image.")
        return "" if len(image.shape) == 3 else _("A probability map must be a 3-D image.")
    try:
        data = read_nifti_mrs(path, require_edit=kind == MRSUpload.Kind.MEGA)
    except MRSFormatError as exc:
        return str(exc)
    if kind == MRSUpload.Kind.PRESS and data.fids.shape[0] != 1:
        return (
            _("A short-TE PRESS series has no edit dimension; this one has %d edit conditions.")
            % data.fids.shape[0]
        )
    if kind == MRSUpload.Kind.MEGA and data.fids.shape[0] != 2:
        return (
            _("A MEGA-PRESS series needs exactly two edit conditions (ON and OFF); this one has %d.")
            % data.fids.shape[0]
        )
    if kind in (MRSUpload.Kind.MEGA, MRSUpload.Kind.PRESS):
        # A mirrored (wrong phase convention) or signal-free series is refused now, with the
        # reason, rather than quantified into a wrong number later.
        from spectroscopy.pipeline import SpectrumRefused, check_orientation, orientation_of

        try:
            check_orientation(orientation_of(data))
        except SpectrumRefused as exc:
            return _("The spectrum cannot be used: %s") % exc
    return ""


def _convert_and_check(kind: str, original: Path, companion: Path | None) -> dict[str, Any]:
    """Convert a vendor file with spec2nii, check the NIfTI for its kind and make the working copy:
    the fields of the upload record that follow from the file and its kind (paths relative)."""
    fields: dict[str, Any] = {}
    reason, working = "", None
    nifti = original
    if convert.is_vendor(original.name) and kind not in MAP_KINDS:
        try:
            converted = convert.convert(
                original, original.parent, companion=companion, edited=kind == MRSUpload.Kind.MEGA
            )
        except MRSFormatError as exc:
            reason = str(exc)
        else:
            nifti = converted.output
            fields.update(converted_path=_relative(converted.output), conversion=converted.command)
    if not reason:
        reason, working = _check(kind, nifti)
    fields.update(
        working_path=_relative(working) if working else "",
        status=MRSUpload.Status.REFUSED if reason else MRSUpload.Status.ACCEPTED,
        refusal_reason=reason,
    )
    return fields


def _derived_files(fields: dict[str, Any], original: str) -> list[Path]:
    """Files made from the original for one record (to remove when the record is not kept)."""
    names = {fields.get("converted_path", ""), fields.get("working_path", "")} - {"", original}
    return [media_path(name) for name in names]


def _replaced(participant: Participant, sha: str) -> MRSUpload | None:
    """The withdrawn upload of the same file that a new one takes the place of, if any."""
    return (
        MRSUpload.objects.filter(
            participant=participant, sha256=sha, status=MRSUpload.Status.SUPERSEDED, replaced_by__isnull=True
        )
        .order_by("-superseded_at")
        .first()
    )


@transaction.atomic
def upload_store(
    *,
    participant: Participant,
    session_code: str,
    kind: str,
    source: IO[bytes],
    original_name: str,
    by: AbstractBaseUser,
    now: datetime,
    companion: IO[bytes] | None = None,
    companion_name: str = "",
    scanned_at: datetime | None = None,
    confirm_reason: str = "",
) -> tuple[MRSUpload, bool]:
    """Keep the original unchanged (with its SHA-256), convert a vendor file with spec2nii, check
    it (its header's declared size first, decompression bounded), and record it accepted or refused
    with the reason. The file gets a short, safe name on disk; the name as sent is kept on the
    record. A file already uploaded (and not withdrawn) for this participant is recognised:
    (upload, False). `companion` is a Philips SDAT's SPAR header. `scanned_at`, when the scanner
    acquired it, is checked against the session's window in the schedule before anything is
    stored (a cross-form check): a scan outside it is kept only once confirmed with a reason, and
    raises a query for the data manager (review/services.py run_edit_checks)."""
    if kind not in MRSUpload.Kind.values:
        raise ValidationError({"kind": _("Choose what the file is.")})
    unusual = scan_time_check(participant, session_code, scanned_at, now=now)
    review_services.soft_ranges_require_reason(unusual, confirm_reason)
    disk_name = intake.safe_filename(original_name)
    if companion is not None and not disk_name.lower().endswith(".sdat"):
        raise ValidationError({"companion": _("A header file goes only with a Philips .sdat file.")})
    folder = media_path(f"mrs/{participant.code}/{session_code}")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        sha, size = _store_stream(source, partial, settings.MRS_MAX_UPLOAD_BYTES)
    except ValidationError:
        partial.unlink(missing_ok=True)
        raise
    existing = (
        MRSUpload.objects.filter(participant=participant, sha256=sha)
        .exclude(status=MRSUpload.Status.SUPERSEDED)
        .first()
    )
    if existing is not None:
        partial.unlink(missing_ok=True)
        return existing, False
    target = _claim(folder, f"{sha[:12]}-{disk_name}", partial)
    try:
        extra = _store_companion(companion, companion_name, folder, prefix=sha[:12]) if companion else {}
    except ValidationError:  # nothing is recorded: nothing is left on disk either
        target.unlink(missing_ok=True)
        raise
    fields = _convert_and_check(kind, target, media_path(extra["companion_path"]) if extra else None)
    upload = MRSUpload(
        participant=participant,
        session_code=session_code,
        scanned_at=scanned_at,
        kind=kind,
        original_name=intake.display_name(original_name),
        stored_path=_relative(target),
        sha256=sha,
        size_bytes=size,
        uploaded_by=by,
        uploaded_at=now,
        replaces=_replaced(participant, sha),
        **extra,
        **fields,
    )
    try:
        with transaction.atomic():
            upload = clinical_create(upload, by=by, reason="uploaded")
    except IntegrityError:  # the same file arrived twice at once: the other request stored it
        for path in [target, *_derived_files(fields, upload.stored_path)]:
            path.unlink(missing_ok=True)
        if extra:
            media_path(extra["companion_path"]).unlink(missing_ok=True)
        live = MRSUpload.objects.exclude(status=MRSUpload.Status.SUPERSEDED)
        return live.get(participant=participant, sha256=sha), False
    if unusual:
        review_services.soft_ranges_confirm(
            record=upload, unusual=unusual, reason=confirm_reason, by=by, now=now
        )
    _tissue_from_maps(participant, session_code, by=by)
    return upload, True


def scan_time_check(
    participant: Participant, session_code: str, scanned_at: datetime | None, *, now: datetime
) -> list[Unusual]:
    """A scan time in the future is refused; one outside its session's window in the schedule is
    returned as unusual (an unscheduled session, or a participant without a schedule, has no
    window)."""
    if scanned_at is None:
        return []
    if scanned_at > now:
        raise ValidationError({"scanned_at": _("The scan time is in the future: check the date and time.")})
    window = infusion_selectors.mrs_window(participant, session_code)
    if window is None:
        return []
    return scan_time_unusual(
        "scanned_at", timezone.localtime(scanned_at), window_start=window[0], window_end=window[1]
    )


def _store_companion(source: IO[bytes], name: str, folder: Path, *, prefix: str) -> dict[str, str]:
    safe = intake.safe_filename(name)
    partial = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        sha, _size = _store_stream(source, partial, settings.MRS_MAX_UPLOAD_BYTES)
    except ValidationError:
        partial.unlink(missing_ok=True)
        raise
    target = _claim(folder, f"{prefix}-{safe}", partial)
    return {
        "companion_name": intake.display_name(name),
        "companion_path": _relative(target),
        "companion_sha256": sha,
    }


@transaction.atomic
def upload_supersede(*, upload: MRSUpload, reason: str, by: AbstractBaseUser, now: datetime) -> MRSUpload:
    """Withdraw an upload recorded under the wrong kind, with the reason (audited). Its file and
    history stay; the same file may then be uploaded again under the right kind. An upload with
    quantification results is not withdrawn: results are immutable and exported."""
    upload = MRSUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status == MRSUpload.Status.SUPERSEDED:
        raise ValidationError(_("This upload was already withdrawn."))
    if upload.results.exists():
        raise ValidationError(
            _("This series has quantification results, which are kept unchanged: it cannot be withdrawn.")
        )
    return clinical_update(
        upload,
        by=by,
        reason=reason,
        changes={
            "status": MRSUpload.Status.SUPERSEDED,
            "superseded_reason": (reason or "").strip(),
            "superseded_at": now,
        },
    )


@transaction.atomic
def upload_correct_kind(
    *, upload: MRSUpload, kind: str, reason: str, by: AbstractBaseUser, now: datetime
) -> MRSUpload:
    """Correct the kind of an upload, with the reason: the wrong record is withdrawn (audited) and
    the kept original is recorded again under the right kind, checked for it (accepted, or refused
    with the reason) and naming the record it replaces. Both records share the original file;
    nothing has to be uploaded again."""
    if kind not in MRSUpload.Kind.values:
        raise ValidationError({"kind": _("Choose what the file is.")})
    if kind == upload.kind:
        raise ValidationError({"kind": _("The upload is already recorded as this kind.")})
    if not upload.original_file.is_file():
        raise ValidationError(
            _("The original file is missing at %s (under the media folder): restore it before correcting.")
            % upload.stored_path
        )
    old = upload_supersede(upload=upload, reason=reason, by=by, now=now)
    fields = _convert_and_check(kind, old.original_file, old.companion_file)
    corrected = MRSUpload(
        participant=old.participant,
        session_code=old.session_code,
        scanned_at=old.scanned_at,
        kind=kind,
        original_name=old.original_name,
        stored_path=old.stored_path,
        companion_name=old.companion_name,
        companion_path=old.companion_path,
        companion_sha256=old.companion_sha256,
        sha256=old.sha256,
        size_bytes=old.size_bytes,
        uploaded_by=by,
        uploaded_at=now,
        replaces=old,
        **fields,
    )
    try:
        corrected = clinical_create(corrected, by=by, reason=f"kind corrected: {(reason or '').strip()}")
    except Exception:
        for path in _derived_files(fields, old.stored_path):
            path.unlink(missing_ok=True)
        raise
    correction = f"recomputed after a kind correction: {(reason or '').strip()}"
    _tissue_from_maps(old.participant, old.session_code, by=by, correction=correction)
    return corrected


def _tissue_from_maps(
    participant: Participant, session_code: str, *, by: AbstractBaseUser, correction: str = ""
) -> None:
    """Once the session has its MEGA series and the three maps, and no fractions yet, compute them.
    After a kind correction (`correction`, the audit reason), fractions computed from maps are
    computed again from the maps in force; fractions entered by hand are left alone."""
    from spectroscopy.io import voxel_tissue_fractions

    accepted = MRSUpload.objects.filter(
        participant=participant, session_code=session_code, status=MRSUpload.Status.ACCEPTED
    )
    latest = {
        kind: accepted.filter(kind=kind).order_by("-uploaded_at").first()
        for kind in (MRSUpload.Kind.MEGA, *MAP_KINDS)
    }
    existing = TissueFractions.objects.filter(participant=participant, session_code=session_code).first()
    if existing is not None and not (correction and existing.source == "probability maps"):
        return
    if None in latest.values():
        return
    try:
        fractions = voxel_tissue_fractions(
            media_path(latest[MRSUpload.Kind.MEGA].nifti_path),
            media_path(latest[MRSUpload.Kind.GM_MAP].stored_path),
            media_path(latest[MRSUpload.Kind.WM_MAP].stored_path),
            media_path(latest[MRSUpload.Kind.CSF_MAP].stored_path),
        )
    except MRSFormatError:
        return  # the page shows that no fractions exist; they can be entered by hand
    values = {k: Decimal(f"{v:.4f}") for k, v in fractions.items()}
    if existing is not None:
        if any(getattr(existing, k) != v for k, v in values.items()):
            clinical_update(existing, by=by, reason=correction, changes=values)
        return
    clinical_create(
        TissueFractions(
            participant=participant,
            session_code=session_code,
            source="probability maps",
            **values,
        ),
        by=by,
        reason="computed from probability maps",
    )


@transaction.atomic
def result_queue(
    *, upload: MRSUpload, water: MRSUpload | None, now: datetime, version: str = PIPELINE_VERSION
) -> tuple[MRSResult, bool]:
    """One result per (upload, pipeline version): queue it once, after the transaction commits."""
    if upload.status != MRSUpload.Status.ACCEPTED or upload.kind not in QUANTIFIABLE:
        raise ValidationError(_("Only an accepted MEGA-PRESS or short-TE PRESS series can be quantified."))
    require_unlocked()  # results are exported data: none is added while the database is locked
    if upload.kind == MRSUpload.Kind.PRESS and version == PIPELINE_VERSION:
        version = PRESS_PIPELINE_VERSION
    result, created = MRSResult.objects.get_or_create(
        upload=upload, pipeline_version=version, defaults={"water": water, "queued_at": now}
    )
    if created:
        from ketatrial.jobs import job_enqueue

        # In the outbox in this transaction (ketatrial/jobs.py): a broker outage leaves the result
        # waiting for the workers, never a server error after its row is saved nor lost.
        job_enqueue("mrs_quantify", f"mrs:{result.pk}", {"result_id": result.pk}, now=now)
    return result, created


def quantify_job(job: Any) -> None:
    """The outbox handler: the job's lease makes this worker the one quantifying the result (a
    result left running by a dead worker is taken over); a passing I/O fault is tried again later,
    a file that cannot be read fails the result with the reason."""
    from datetime import timedelta

    from ketatrial.jobs import TryLater

    try:
        result_run(job.payload["result_id"], now=timezone.now())
    except OSError as exc:
        raise TryLater(f"I/O: {exc}", timedelta(minutes=min(30, 2**job.attempts))) from exc


def _figure(result: Any) -> dict[str, Any]:
    """Downsampled arrays for the figures (DIFF with fit, residual, baseline; OFF; drift)."""
    import numpy as np

    fit = result.diff_fit
    off_band = (result.ppm >= 1.8) & (result.ppm <= 4.2)
    return {
        "diff": {
            "ppm": fit.ppm.round(4).tolist(),
            "data": np.real(result.diff[(result.ppm >= 2.79) & (result.ppm <= 4.10)]).round(3).tolist(),
            "model": fit.model.round(3).tolist(),
            "baseline": fit.baseline.round(3).tolist(),
            "residual": fit.residual.round(3).tolist(),
        },
        "off": {
            "ppm": result.ppm[off_band].round(4).tolist(),
            "data": np.real(result.off[off_band]).round(3).tolist(),
            "fit_ppm": result.off_fit.ppm.round(4).tolist(),
            "fit": result.off_fit.model.round(3).tolist(),
        },
        "drift_hz": np.asarray(result.drift_hz).round(3).tolist(),
    }


def _read_series(upload: MRSUpload, *, require_edit: bool = False) -> Any:
    """The upload's series read from under MEDIA_ROOT; a missing file is named as missing (with
    its stored, relative path), not taken for a file that is not NIfTI."""
    from spectroscopy.io import read_nifti_mrs

    path = media_path(upload.read_path)
    if not path.is_file():
        raise MRSFormatError(
            f"file missing at {upload.read_path} (under MEDIA_ROOT): restore the media folder, or point "
            "MEDIA_ROOT at where it is"
        )
    return read_nifti_mrs(path, require_edit=require_edit)


def result_run(result_id: int, *, now: datetime) -> MRSResult:
    """Run the pipeline for a queued result; a finished result is never run again."""
    import numpy as np

    from spectroscopy.pipeline import quantify

    with transaction.atomic():
        result = (
            MRSResult.objects.select_for_update(of=("self",))
            .select_related("upload", "water")
            .get(pk=result_id)
        )
        if result.status == MRSResult.Status.DONE:
            return result
        result.status, result.started_at, result.attempts = MRSResult.Status.RUNNING, now, result.attempts + 1
        result.save(update_fields=["status", "started_at", "attempts"])
    p = protocol()
    limits = limits_from_protocol(p)
    if result.upload.kind == MRSUpload.Kind.PRESS:
        return _run_press(result, limits=limits, now=now)
    try:
        metab = _read_series(result.upload, require_edit=True)
        water = _read_series(result.water) if result.water else None
        output = quantify(metab, water, limits=limits)
    except (MRSFormatError, ValueError, np.linalg.LinAlgError) as exc:
        return _failed(result_id, exc, now)
    values = dict(output.values)
    constants: dict[str, Any] = {**output.constants, "qc_limits": limits.__dict__}
    # Areas kept so tissue corrections can follow fractions entered later (see tissue_values).
    values.update(
        gaba_plus_area=output.diff_fit.areas["gaba"],
        glx_area=output.diff_fit.areas["glx"],
        water_area=output.water_area,
    )
    return _done(result_id, values, constants, _figure(output), now)


def _failed(result_id: int, exc: Exception, now: datetime) -> MRSResult:
    # finished_at is the real end of the run (`now` is when it started).
    MRSResult.objects.filter(pk=result_id).update(
        status=MRSResult.Status.FAILED, error=str(exc), finished_at=max(now, timezone.now())
    )
    return MRSResult.objects.get(pk=result_id)


def _done(
    result_id: int, values: dict[str, Any], constants: dict[str, Any], figure: dict[str, Any], now: datetime
) -> MRSResult:
    import numpy as np

    clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in values.items()}
    MRSResult.objects.filter(pk=result_id).update(
        status=MRSResult.Status.DONE,
        values=clean,
        constants=constants,
        figure=figure,
        finished_at=max(now, timezone.now()),  # the real end of the run (`now` is its start)
        error="",
    )
    return MRSResult.objects.get(pk=result_id)


def _run_press(result: MRSResult, *, limits: Any, now: datetime) -> MRSResult:
    """Short-TE PRESS: the linear-combination stage (lcm.py) for Glu, Gln and Glx."""
    import numpy as np

    from spectroscopy import lcm

    try:
        metab = _read_series(result.upload)
        water = _read_series(result.water) if result.water else None
        output = lcm.quantify_press(metab, water, fwhm_max_hz=limits.fwhm_max_hz)
    except (MRSFormatError, ValueError, np.linalg.LinAlgError) as exc:
        return _failed(result.pk, exc, now)
    fit = output.fit
    step = max(1, len(fit.ppm) // 600)
    figure = {
        "lcm": {
            "ppm": fit.ppm[::step].round(4).tolist(),
            "data": fit.data[::step].round(3).tolist(),
            "model": fit.model[::step].round(3).tolist(),
            "baseline": fit.baseline[::step].round(3).tolist(),
            "residual": fit.residual[::step].round(3).tolist(),
            "glu": fit.components["glu"][::step].round(3).tolist(),
            "gln": fit.components["gln"][::step].round(3).tolist(),
        },
        "drift_hz": np.asarray(output.drift_hz).round(3).tolist(),
    }
    values = {**output.values, "water_area": output.water_area}
    constants = {**output.constants, "qc_limits": limits.__dict__}
    return _done(result.pk, values, constants, figure, now)


@transaction.atomic
def tissue_record(
    *,
    participant: Participant,
    session_code: str,
    f_gm: Any,
    f_wm: Any,
    f_csf: Any,
    by: AbstractBaseUser,
    reason: str = "",
) -> TissueFractions:
    """Enter (or correct, with a reason) the voxel's tissue fractions of a session."""
    existing = TissueFractions.objects.filter(participant=participant, session_code=session_code).first()
    if existing is None:
        record = TissueFractions(
            participant=participant, session_code=session_code, f_gm=f_gm, f_wm=f_wm, f_csf=f_csf
        )
        return clinical_create(record, by=by, reason="entered")
    return clinical_update(
        existing, by=by, reason=reason, changes={"f_gm": f_gm, "f_wm": f_wm, "f_csf": f_csf}
    )


def tissue_values(result: MRSResult) -> dict[str, float]:
    """CSF-, Gasparovic- and Harris-corrected concentrations from the session's tissue fractions
    (computed from the stored areas and constants, so fractions entered later apply at once)."""
    from spectroscopy import fitting

    tissue = TissueFractions.objects.filter(
        participant_id=result.upload.participant_id, session_code=result.upload.session_code
    ).first()
    if tissue is None or result.status != MRSResult.Status.DONE or not result.values.get("water_area"):
        return {}
    fractions = {"f_gm": float(tissue.f_gm), "f_wm": float(tissue.f_wm), "f_csf": float(tissue.f_csf)}
    out: dict[str, float] = dict(fractions)
    if "gaba_plus_area" not in result.values:  # short-TE PRESS: the CSF correction of its values
        for key in ("glu_iu", "glx_iu"):
            if result.values.get(key) is not None:
                out[f"{key}_csf"] = fitting.csf_corrected(result.values[key], fractions["f_csf"])
        return out
    for key, name in (("gaba_plus", "gaba"), ("glx", "glx")):
        c = result.constants[name]
        corrected = fitting.tissue_corrected(
            name,
            result.values[f"{key}_area"],
            result.values["water_area"],
            **fractions,
            te_s=c["te_s"],
            tr_s=c["tr_s"],
            te_water_s=c["te_water_s"],
            tr_water_s=c["tr_water_s"],
        )
        out[f"{key}_iu_csf"] = fitting.csf_corrected(result.values[f"{key}_iu"], fractions["f_csf"])
        out[f"{key}_iu_molal"] = corrected["molal"]
        out[f"{key}_iu_alpha"] = corrected["alpha"]
    return out
