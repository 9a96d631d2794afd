"""MRS uploads and results: originals kept byte for byte, results immutable per pipeline version."""

from __future__ import annotations

import hashlib
import shutil
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

from ketatrial.audit import clinical_create
from ketatrial.lock import require_unlocked
from ketatrial.trial import protocol
from participants.models import Participant

# The numerical modules (numpy, scipy, nibabel) are imported inside the functions that quantify or
# read files: pages that only list uploads and results do not load them.
from spectroscopy import convert
from spectroscopy.errors import MRSFormatError
from spectroscopy.models import MRSResult, MRSUpload, TissueFractions
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


def _working_copy(original: Path) -> Path:
    """An uncompressed copy for fast reading; the original stays as uploaded."""
    if original.name.endswith(".nii.gz"):
        working = original.parent / (original.name[: -len(".nii.gz")] + ".work.nii")
        from isal import igzip  # ISA-L inflate: 2-3x zlib's speed for a ~170 MB 32-coil series

        with igzip.open(original, "rb") as src, working.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        return working
    return original


def _validate(path: Path, kind: str) -> str:
    """'' when the file is usable for its kind, else the reason (for the person who uploaded)."""
    import nibabel as nib

    from spectroscopy.io import read_nifti_mrs

    if kind in MAP_KINDS:
        try:
            image = nib.load(str(path))
        except Exception:  # nibabel raises many types for non-NIfTI input
            return _("A probability map must be a NIfTI image.")
        return "" if len(image.shape) == 3 else _("A probability map must be a 3-D image.")
    if not path.name.lower().endswith(NIFTI_SUFFIXES):
        return _(
            "This is neither NIfTI-MRS (.nii, .nii.gz) nor a vendor format that spec2nii converts here "
            "(Siemens .dat/.rda/.dcm/.ima, Philips .sdat with .spar, GE .7)."
        )
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
) -> tuple[MRSUpload, bool]:
    """Keep the original unchanged (with its SHA-256), convert a vendor file with spec2nii, check
    it, and record it accepted or refused with the reason. A file already uploaded for this
    participant is recognised: (upload, False). `companion` is a Philips SDAT's SPAR header."""
    if kind not in MRSUpload.Kind.values:
        raise ValidationError({"kind": _("Choose what the file is.")})
    if companion is not None and not Path(original_name).name.lower().endswith(".sdat"):
        raise ValidationError({"companion": _("A header file goes only with a Philips .sdat file.")})
    folder = Path(settings.MEDIA_ROOT) / "mrs" / participant.code / session_code
    folder.mkdir(parents=True, exist_ok=True)
    safe_name = Path(original_name).name or "upload"
    partial = folder / f".incoming-{now.timestamp():.6f}-{safe_name}"
    try:
        sha, size = _store_stream(source, partial, settings.MRS_MAX_UPLOAD_BYTES)
    except ValidationError:
        partial.unlink(missing_ok=True)
        raise
    existing = MRSUpload.objects.filter(participant=participant, sha256=sha).first()
    if existing is not None:
        partial.unlink(missing_ok=True)
        return existing, False
    target = folder / f"{sha[:12]}-{safe_name}"
    partial.replace(target)
    extra = _store_companion(companion, companion_name, folder, prefix=sha[:12]) if companion else {}
    reason, working = "", ""
    if convert.is_vendor(safe_name) and kind not in MAP_KINDS:
        try:
            converted = convert.convert(
                target,
                folder,
                companion=extra.get("companion_path"),
                edited=kind == MRSUpload.Kind.MEGA,
            )
        except MRSFormatError as exc:
            reason = str(exc)
        else:
            extra.update(converted_path=str(converted.output), conversion=converted.command)
    if not reason:
        reason = _validate(Path(extra.get("converted_path", target)), kind)
    if not reason and kind not in MAP_KINDS:
        working = str(_working_copy(Path(extra.get("converted_path", target))))
    upload = MRSUpload(
        participant=participant,
        session_code=session_code,
        kind=kind,
        original_name=safe_name,
        stored_path=str(target),
        working_path=working,
        sha256=sha,
        size_bytes=size,
        status=MRSUpload.Status.REFUSED if reason else MRSUpload.Status.ACCEPTED,
        refusal_reason=reason,
        uploaded_by=by,
        uploaded_at=now,
        **extra,
    )
    try:
        with transaction.atomic():
            upload = clinical_create(upload, by=by, reason="uploaded")
    except IntegrityError:  # the same file arrived twice at once: the other request stored it
        return MRSUpload.objects.get(participant=participant, sha256=sha), False
    _tissue_from_maps(participant, session_code, by=by)
    return upload, True


def _store_companion(source: IO[bytes], name: str, folder: Path, *, prefix: str) -> dict[str, str]:
    safe = Path(name).name or "header"
    target = folder / f"{prefix}-{safe}"
    sha, _size = _store_stream(source, target, settings.MRS_MAX_UPLOAD_BYTES)
    return {"companion_name": safe, "companion_path": str(target), "companion_sha256": sha}


def _tissue_from_maps(participant: Participant, session_code: str, *, by: AbstractBaseUser) -> None:
    """Once the session has its MEGA series and the three maps, and no fractions yet, compute them."""
    from spectroscopy.io import voxel_tissue_fractions

    accepted = MRSUpload.objects.filter(
        participant=participant, session_code=session_code, status=MRSUpload.Status.ACCEPTED
    )
    latest = {
        kind: accepted.filter(kind=kind).order_by("-uploaded_at").first()
        for kind in (MRSUpload.Kind.MEGA, *MAP_KINDS)
    }
    if (
        None in latest.values()
        or TissueFractions.objects.filter(participant=participant, session_code=session_code).exists()
    ):
        return
    try:
        fractions = voxel_tissue_fractions(
            latest[MRSUpload.Kind.MEGA].nifti_path,
            latest[MRSUpload.Kind.GM_MAP].stored_path,
            latest[MRSUpload.Kind.WM_MAP].stored_path,
            latest[MRSUpload.Kind.CSF_MAP].stored_path,
        )
    except MRSFormatError:
        return  # the page shows that no fractions exist; they can be entered by hand
    clinical_create(
        TissueFractions(
            participant=participant,
            session_code=session_code,
            source="probability maps",
            **{k: Decimal(f"{v:.4f}") for k, v in fractions.items()},
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
        from spectroscopy.tasks import quantify_result

        transaction.on_commit(lambda: quantify_result.delay(result.pk))
    return result, created


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


def result_run(result_id: int, *, now: datetime) -> MRSResult:
    """Run the pipeline for a queued result; a finished result is never run again."""
    import numpy as np

    from spectroscopy.io import read_nifti_mrs
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
        metab = read_nifti_mrs(result.upload.working_path or result.upload.nifti_path, require_edit=True)
        water = read_nifti_mrs(result.water.working_path or result.water.nifti_path) if result.water else None
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
    from spectroscopy.io import read_nifti_mrs

    try:
        metab = read_nifti_mrs(result.upload.working_path or result.upload.nifti_path)
        water = read_nifti_mrs(result.water.working_path or result.water.nifti_path) if result.water else None
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
    from ketatrial.audit import clinical_update

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
