"""The whole quantification of one MEGA-PRESS scan, file or arrays in, flat result out. Pure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from spectroscopy import fitting, processing
from spectroscopy.io import MRSData
from spectroscopy.processing import WATER_PPM
from spectroscopy.versions import PIPELINE_VERSION  # noqa: E402  (re-exported)

TCR_PPM = 3.027  # total creatine CH3 (Govindaraju 2000): the reference line of the OFF spectrum
NAA_PPM = 2.008


class SpectrumRefused(ValueError):
    """The data cannot be quantified as a 1H brain spectrum; the message says why."""


@dataclass(frozen=True)
class QCLimits:
    fwhm_max_hz: float = 12.0
    gaba_fit_error_max_pct: float = 15.0
    rejected_max_pct: float = 20.0
    drift_range_max_hz: float = 10.0


def limits_from_protocol(p: Any) -> QCLimits:
    """The quality limits in force (study parameters of the protocol definition)."""
    return QCLimits(
        p.mrs_fwhm_max_hz,
        p.mrs_gaba_fit_error_max_pct,
        p.mrs_rejected_transients_max_pct,
        p.mrs_drift_range_max_hz,
    )


@dataclass
class Result:
    values: dict[str, Any]
    ppm: np.ndarray
    diff: np.ndarray
    off: np.ndarray
    diff_fit: fitting.Fit
    off_fit: fitting.Fit
    drift_hz: np.ndarray
    constants: dict[str, Any]
    water_area: float | None = None


def _header_on_off(metab: MRSData) -> tuple[int, int] | None:
    """(ON index, OFF index) from the header's EditCondition, None when it does not say."""
    conditions = [c.strip().upper() for c in metab.edit_conditions]
    if sorted(conditions) == ["OFF", "ON"]:
        return conditions.index("ON"), conditions.index("OFF")
    return None


def _band_peak(ppm: np.ndarray, magnitude: np.ndarray, low: float, high: float) -> tuple[float, float]:
    band = (ppm >= low) & (ppm <= high)
    if not band.any():
        return float("nan"), 0.0
    i = int(np.argmax(magnitude[band]))
    return float(ppm[band][i]), float(magnitude[band][i])


def _noise_sd(ppm: np.ndarray, real_spec: np.ndarray) -> float:
    """SD of the detrended real spectrum where no 1H signal lies (10-12 ppm, else the upper end)."""
    band = (ppm >= 10.0) & (ppm <= 12.0)
    if band.sum() < 16:
        band = ppm >= np.quantile(ppm, 0.9)
    y = real_spec[band]
    x = ppm[band]
    return float(np.std(y - np.polyval(np.polyfit(x, y, 1), x)))


def orientation(ppm: np.ndarray, fid: np.ndarray, dwell_s: float, mhz: float) -> dict[str, float]:
    """Where the strongest metabolite peak lies on the normal side of water (1.8-4.2 ppm) and on
    its mirror image (5.16-7.56 ppm), in units of the noise SD: a spectrum read with the wrong
    phase convention shows NAA at ~7.35 and tCr at ~6.33 ppm instead."""
    cleaned = processing.hsvd_remove(fid, dwell_s, mhz, points=256)  # enough to find the peaks
    spec = processing.spectrum(cleaned)
    noise = _noise_sd(ppm, spec.real) or 1e-30
    magnitude = np.abs(spec)
    normal_ppm, normal = _band_peak(ppm, magnitude, 1.8, 4.2)
    mirror_ppm, mirror = _band_peak(ppm, magnitude, 2 * WATER_PPM - 4.2, 2 * WATER_PPM - 1.8)
    return {
        "normal_ppm": normal_ppm,
        "normal_snr": normal / noise,
        "mirror_ppm": mirror_ppm,
        "mirror_snr": mirror / noise,
    }


def orientation_of(data: MRSData) -> dict[str, float]:
    """`orientation` of a whole series before any processing: the mean of every transient per coil,
    coils summed with the phase of their first point (enough to see where the peaks lie)."""
    n = data.n_points
    per_coil = data.fids.reshape(-1, data.n_coils, n).mean(axis=0).astype(np.complex128)
    first = per_coil[:, 0]
    fid = (np.conj(first)[:, None] * per_coil).sum(axis=0) / (np.abs(first).sum() or 1.0)
    fid = _shift(fid, (data.centre_ppm - WATER_PPM) * data.spectrometer_mhz, data.dwell_s)
    ppm = processing.ppm_axis(n, data.dwell_s, data.spectrometer_mhz)
    return orientation(ppm, fid, data.dwell_s, data.spectrometer_mhz)


def check_orientation(seen: dict[str, float]) -> None:
    """Refuse a mirrored or signal-free spectrum (never quantify it silently)."""
    if seen["mirror_snr"] > 2 * seen["normal_snr"] and seen["mirror_snr"] > 10:
        raise SpectrumRefused(
            f"the spectrum is mirrored about water: its strongest peak is at {seen['mirror_ppm']:.2f} ppm, "
            f"in the mirror image of the metabolite region (NAA would show at ~7.35 ppm, tCr at ~6.33 ppm), "
            f"and nothing comparable lies at 1.8-4.2 ppm. The file does not follow the NIfTI-MRS "
            f"phase/frequency convention: convert the scanner's file with spec2nii, or write it with "
            f"the nifti_mrs library"
        )
    if seen["normal_snr"] < 5:
        raise SpectrumRefused(
            "no metabolite peak stands above the noise at 1.8-4.2 ppm (strongest "
            f"{seen['normal_snr']:.1f} x noise SD): not a quantifiable 1H brain spectrum"
        )


def _naa_height(ppm: np.ndarray, fid: np.ndarray) -> float:
    """Height of the magnitude spectrum at NAA (1.95-2.07 ppm): lowered in ON by the 1.9 ppm
    editing pulse, which is how ON is told from OFF when the header does not say."""
    return _band_peak(ppm, np.abs(processing.spectrum(fid)), 1.95, 2.07)[1]


def _shift(fids: np.ndarray, hz: float, dwell_s: float) -> np.ndarray:
    if not hz:
        return fids
    return fids * np.exp(2j * np.pi * hz * np.arange(fids.shape[-1]) * dwell_s)


def quality_checks(
    values: dict[str, Any], limits: QCLimits, *, contradicted: bool = False
) -> list[dict[str, Any]]:
    """Every quality limit the scan exceeds, as {code, value, limit} (the pages translate them;
    `check_text` gives the English line the CLI and exports carry)."""
    checks: list[dict[str, Any]] = []

    def over(code: str, value: float | None, limit: float) -> None:
        if value is not None and (not np.isfinite(value) or value > limit):
            checks.append({"code": code, "value": float(value), "limit": float(limit)})

    over("cr_fwhm", values.get("cr_fwhm_hz"), limits.fwhm_max_hz)
    over("water_fwhm", values.get("water_fwhm_hz"), limits.fwhm_max_hz)
    over("gaba_fit_error", values.get("gaba_plus_fit_error_pct"), limits.gaba_fit_error_max_pct)
    if values.get("n_transients"):
        over("rejected", 100 * values["n_rejected"] / values["n_transients"], limits.rejected_max_pct)
    over("drift", values.get("freq_drift_hz_range"), limits.drift_range_max_hz)
    if contradicted:
        checks.append({"code": "edit_labels", "value": 1.0, "limit": 0.0})
    return checks


CHECK_TEXT = {
    "cr_fwhm": "tCr FWHM {value:.1f} Hz > {limit:g} Hz",
    "water_fwhm": "water FWHM {value:.1f} Hz > {limit:g} Hz",
    "gaba_fit_error": "GABA+ fit error (Cramer-Rao SD) {value:.1f} % > {limit:g} %",
    "rejected": "{value:.1f} % of transients rejected > {limit:g} %",
    "drift": "frequency drift range {value:.1f} Hz > {limit:g} Hz",
    "edit_labels": "ON/OFF labels in the header contradict the data",
}


def check_text(check: dict[str, Any]) -> str:
    return CHECK_TEXT[check["code"]].format(**check)


def _lap(timings: dict[str, float] | None, stage: str, since: float) -> float:
    """Add the seconds since `since` to `timings[stage]` (when timings are wanted); now."""
    now = time.perf_counter()
    if timings is not None:
        timings[stage] = timings.get(stage, 0.0) + now - since
    return now


def quantify(
    metab: MRSData,
    water: MRSData | None = None,
    *,
    limits: QCLimits | None = None,
    timings: dict[str, float] | None = None,
) -> Result:
    """Coil combination, eddy-current correction, alignment, outlier rejection, DIFF/SUM, water
    removal, fits, ratios, institutional units and quality metrics, every constant recorded.

    `timings`, when given, receives the seconds of each stage (benchmarks/mrs_speed.py):
    `combine` (coil weights and combination, eddy-current correction, the orientation check),
    `align` (registration of every transient, outliers, ON/OFF, pairing) and `fit` (residual water
    removal, the fits, quantities and quality checks)."""
    started = time.perf_counter()
    limits = limits or QCLimits()
    if metab.fids.shape[0] != 2:
        raise ValueError("MEGA-PRESS needs two edit conditions (ON and OFF)")
    dwell, mhz, n = metab.dwell_s, metab.spectrometer_mhz, metab.n_points
    ppm = processing.ppm_axis(n, dwell, mhz)
    notes: list[str] = []

    reference = water.fids if water is not None else metab.fids
    weights = processing.coil_weights(
        reference.reshape(-1, reference.shape[-2], reference.shape[-1]),
        metab.fids.reshape(-1, metab.n_coils, n),
    )
    combined = processing.combine(metab.fids, weights)  # (2, dyn, n)
    water_fid = None
    if water is not None:
        water_fid = processing.combine(water.fids, weights).reshape(-1, water.n_points).mean(axis=0)
        # Klose's correction also puts water on resonance: the axis then has water at 4.68 ppm.
        combined = processing.eddy_current_correct(combined, water_fid)
        water_fid = processing.eddy_current_correct(water_fid, water_fid)
    else:
        # The header's receiver shift (SpecFreqChemShift + RxOffset) onto the 4.68 ppm axis.
        combined = _shift(combined, (metab.centre_ppm - WATER_PPM) * mhz, dwell)
    seen = orientation(ppm, combined.reshape(-1, n).mean(axis=0), dwell, mhz)
    check_orientation(seen)
    mark = _lap(timings, "combine", started)

    # Each condition is aligned to its own average (two passes); the two are then put in one frame
    # from the paired corrections (processing.pair_offset): each condition's reference carries its
    # own frequency and phase, and the ON/OFF subtraction of tCr turns a mismatch of 0.01 rad
    # into a line under GABA+ (~7 % of it).
    aligned = np.empty_like(combined)
    freqs = np.empty(combined.shape[:2])
    alignments = []
    # The second pass's reference is needed only where `register` looks (its first points).
    window = processing.registration_points(n, dwell)
    for edit in (0, 1):
        transients = combined[edit]
        first = processing.register(transients, transients[: min(8, len(transients))].mean(axis=0), dwell)
        reference = processing.apply_alignment(transients[:, :window], first, dwell).mean(axis=0)
        alignment = processing.register(transients, reference, dwell)
        aligned[edit] = processing.apply_alignment(transients, alignment, dwell)
        freqs[edit] = alignment.freq_hz
        alignments.append(alignment)

    rejected = np.zeros(combined.shape[:2], dtype=bool)
    for edit in (0, 1):
        rejected[edit] = processing.outliers(aligned[edit], ppm)
    means = [aligned[e][~rejected[e]].mean(axis=0) for e in (0, 1)]
    heights = [_naa_height(ppm, m) for m in means]
    by_data = (0, 1) if heights[0] < heights[1] else (1, 0)
    by_header = _header_on_off(metab)
    if by_header is None:
        on_i, off_i = by_data
        assignment = "inferred"
        notes.append(
            "ON and OFF are not labelled in the header: decided from the data "
            f"(NAA at 2.01 ppm is {min(heights) / max(heights):.0%} as high in the condition taken as ON)"
        )
    else:
        on_i, off_i = by_header
        assignment = "header"
    # Drift of the scanner over the accepted OFF transients (motion outliers are not drift).
    drift = -freqs[off_i][~rejected[off_i]]
    on, off = means[on_i], means[off_i]
    # Reference the axis on tCr (3.027 ppm) in the OFF average, as Gannet does: the water
    # reference (or the header) places it within a few Hz; the line itself places it exactly.
    cr_ppm, _cr_height = _band_peak(ppm, np.abs(processing.spectrum(off)), 2.9, 3.15)
    reference_hz = float((TCR_PPM - cr_ppm) * mhz) if np.isfinite(cr_ppm) else 0.0
    on, off = _shift(on, reference_hz, dwell), _shift(off, reference_hz, dwell)
    pair = processing.pair_offset(alignments[on_i], alignments[off_i], ~rejected[[on_i, off_i]])
    on = processing.apply_alignment(on[None, :], pair, dwell)[0]
    mark = _lap(timings, "align", mark)
    # Residual water out of each (its tails, of any phase, reach tCr at 3.0 ppm).
    water_left = processing.hsvd_water((on + off) / 2, dwell, mhz)
    on, off = on - water_left, off - water_left

    off_spec = processing.spectrum(off)
    off_fit = fitting.fit_off_voigt(ppm, off_spec)
    phase = off_fit.params["phase_rad"]
    diff_fit = fitting.fit_diff(
        ppm,
        on * np.exp(-1j * phase),
        off * np.exp(-1j * phase),
        dwell_s=dwell,
        mhz=mhz,
        sigma_ppm=off_fit.params["sigma_ppm"],
        gamma_ppm=off_fit.params["gamma_ppm"],
    )
    # The DIFF as the fit subtracted it (the ON/OFF mismatch it found taken out).
    residual_pair = processing.Alignment(
        np.array([diff_fit.params["on_to_off_hz"]]), np.array([diff_fit.params["on_to_off_rad"]])
    )
    diff_fid = (processing.apply_alignment(on[None, :], residual_pair, dwell)[0] - off) / 2
    diff_spec = processing.spectrum(diff_fid) * np.exp(-1j * phase)
    # Model 1 (Gannet 3.x) beside it, on the same spectra: the field's reference numbers.
    gannet_off = fitting.fit_off(ppm, off_spec)
    gannet_diff = fitting.fit_diff_gannet(
        ppm, processing.spectrum(diff_fid) * np.exp(-1j * gannet_off.params["phase_rad"])
    )
    off_real = np.real(off_spec * np.exp(-1j * phase))
    if by_header is not None and by_header != by_data and max(heights) > 1.05 * min(heights):
        notes.append("the header's ON/OFF labels contradict the data (NAA at 2.01 ppm is higher in ON)")

    gaba, glx = diff_fit.areas["gaba"], diff_fit.areas["glx"]
    cr, naa = off_fit.areas["cr"], off_fit.areas["naa"]
    values: dict[str, Any] = {
        "gaba_plus_cr": gaba / cr,
        "glx_cr": glx / cr,
        "glx_naa": glx / naa if naa else None,
        "gaba_plus_iu": None,
        "glx_iu": None,
        "gaba_plus_fit_error_pct": diff_fit.fit_error_pct["gaba"],
        "glx_fit_error_pct": diff_fit.fit_error_pct["glx"],
        "gaba_plus_residual_pct": diff_fit.fit_error_pct["gaba_residual"],
        "gaba_plus_cr_gannet": gannet_diff.areas["gaba"] / gannet_off.areas["cr"],
        "glx_cr_gannet": gannet_diff.areas["glx"] / gannet_off.areas["cr"],
        "gaba_plus_fit_error_gannet_pct": gannet_diff.fit_error_pct["gaba"],
        "mm_fraction_of_gaba_plus": diff_fit.params["mm_area_fraction"],
        "edit_assignment": assignment,
        "reference_shift_hz": reference_hz,
        "naa_ppm_before_reference": seen["normal_ppm"] if abs(seen["normal_ppm"] - NAA_PPM) < 0.3 else None,
        "cr_fwhm_hz": off_fit.fwhm_ppm["cr"] * mhz,
        "water_fwhm_hz": None,
        "naa_snr": fitting.snr(ppm, off_real, off_fit.heights["naa"]),
        "gaba_plus_snr": fitting.snr(ppm, np.real(diff_spec), diff_fit.heights["gaba"]),
        "freq_drift_hz_sd": float(np.std(drift)),
        "freq_drift_hz_range": float(np.ptp(drift)),
        "n_transients": int(combined.shape[0] * combined.shape[1]),
        "n_rejected": int(rejected.sum()),
    }
    constants: dict[str, Any] = {
        "coil_weights": len(weights),
        "alignment_window_s": processing.REGISTRATION_WINDOW_S,
        "outlier_z_max": 3.0,
        "on_to_off_hz": float(pair.freq_hz[0]) + diff_fit.params["on_to_off_hz"],
        "on_to_off_rad": float(pair.phase_rad[0]) + diff_fit.params["on_to_off_rad"],
        "axis": "water at 4.68 ppm (eddy-current correction on the water reference, else the header), "
        "then tCr at 3.027 ppm",
        "model": "2: DIFF as a linear combination of simulated MEGA-PRESS GABA, co-edited MM, Glu and Gln "
        "with the scan's tCr lineshape; Cramer-Rao errors",
        "lineshape_sigma_ppm": off_fit.params["sigma_ppm"],
        "lineshape_gamma_ppm": off_fit.params["gamma_ppm"],
        "orientation": seen,
    }
    if water_fid is not None and water is not None:
        water_fit = fitting.fit_water(ppm, processing.spectrum(water_fid))
        values["water_fwhm_hz"] = water_fit.fwhm_ppm["water"] * mhz
        te = float(metab.echo_time_s or 0.068)
        tr = float(metab.repetition_time_s or 2.0)
        te_w = float(water.echo_time_s or te)
        tr_w = float(water.repetition_time_s or tr)
        for key, name, area in (("gaba_plus_iu", "gaba", gaba), ("glx_iu", "glx", glx)):
            values[key], constants[name] = fitting.institutional_units(
                name, area, water_fit.areas["water"], te_s=te, tr_s=tr, te_water_s=te_w, tr_water_s=tr_w
            )
    water_area = None if water_fid is None else water_fit.areas["water"]
    checks = quality_checks(values, limits, contradicted=any("contradict" in note for note in notes))
    flags = [check_text(check) for check in checks]
    values["qc_pass"] = not flags
    values["qc_flags"] = flags
    values["qc_checks"] = checks
    values["qc_notes"] = notes
    values["pipeline_version"] = PIPELINE_VERSION
    _lap(timings, "fit", mark)
    values["elapsed_s"] = round(time.perf_counter() - started, 4)
    values = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in values.items()}
    return Result(
        values,
        ppm,
        diff_spec,
        off_spec * np.exp(-1j * phase),
        diff_fit,
        off_fit,
        drift,
        constants,
        water_area,
    )
