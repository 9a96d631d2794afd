"""The whole quantification of one MEGA-PRESS scan, file or arrays in, flat result out. Pure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from spectroscopy import fitting, processing
from spectroscopy.io import MRSData

PIPELINE_VERSION = "1.0.0"


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


def _on_off(metab: MRSData) -> tuple[int, int]:
    conditions = [c.upper() for c in metab.edit_conditions]
    if len(conditions) == 2 and conditions[0] == "OFF":
        return 1, 0
    return 0, 1


def quantify(metab: MRSData, water: MRSData | None = None, *, limits: QCLimits | None = None) -> Result:
    """Coil combination, eddy-current correction, alignment, outlier rejection, DIFF/SUM, water
    removal, fits, ratios, institutional units and quality metrics, every constant recorded."""
    started = time.perf_counter()
    limits = limits or QCLimits()
    if metab.fids.shape[0] != 2:
        raise ValueError("MEGA-PRESS needs two edit conditions (ON and OFF)")
    on_i, off_i = _on_off(metab)
    dwell, mhz, n = metab.dwell_s, metab.spectrometer_mhz, metab.n_points
    ppm = processing.ppm_axis(n, dwell, mhz)

    reference = water.fids if water is not None else metab.fids
    weights = processing.coil_weights(
        reference.reshape(-1, reference.shape[-2], reference.shape[-1]),
        metab.fids.reshape(-1, metab.n_coils, n),
    )
    combined = processing.combine(metab.fids, weights)  # (2, dyn, n)
    water_fid = None
    if water is not None:
        water_fid = processing.combine(water.fids, weights).reshape(-1, water.n_points).mean(axis=0)
        combined = processing.eddy_current_correct(combined, water_fid)
        water_fid = processing.eddy_current_correct(water_fid, water_fid)

    # Each condition is aligned to its own average (two passes); then the ON average is aligned to
    # the OFF average on tCho, which editing leaves alone.
    aligned = np.empty_like(combined)
    freqs = np.empty(combined.shape[:2])
    for edit in (0, 1):
        transients = combined[edit]
        first = processing.register(transients, transients[: min(8, len(transients))].mean(axis=0), dwell)
        reference = processing.apply_alignment(transients, first, dwell).mean(axis=0)
        alignment = processing.register(transients, reference, dwell)
        aligned[edit] = processing.apply_alignment(transients, alignment, dwell)
        freqs[edit] = alignment.freq_hz

    rejected = np.zeros(combined.shape[:2], dtype=bool)
    for edit in (0, 1):
        rejected[edit] = processing.outliers(aligned[edit], ppm)
    # Drift of the scanner over the accepted OFF transients (motion outliers are not drift).
    drift = -freqs[off_i][~rejected[off_i]]
    on = aligned[on_i][~rejected[on_i]].mean(axis=0)
    off = aligned[off_i][~rejected[off_i]].mean(axis=0)
    on = processing.apply_alignment(on[None, :], processing.register_in_band(on, off, ppm, dwell), dwell)[0]
    diff_fid = processing.hsvd_remove((on - off) / 2, dwell, mhz)

    off_spec = processing.spectrum(off)
    off_fit = fitting.fit_off(ppm, off_spec)
    phase = off_fit.params["phase_rad"]
    diff_spec = processing.spectrum(diff_fid) * np.exp(-1j * phase)
    diff_fit = fitting.fit_diff(ppm, diff_spec)
    off_real = np.real(off_spec * np.exp(-1j * phase))

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
        "alignment_window_s": 0.2,
        "outlier_z_max": 3.0,
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
    flags = []
    if values["cr_fwhm_hz"] > limits.fwhm_max_hz:
        flags.append(f"tCr FWHM {values['cr_fwhm_hz']:.1f} Hz > {limits.fwhm_max_hz:g} Hz")
    if values["water_fwhm_hz"] is not None and values["water_fwhm_hz"] > limits.fwhm_max_hz:
        flags.append(f"water FWHM {values['water_fwhm_hz']:.1f} Hz > {limits.fwhm_max_hz:g} Hz")
    if values["gaba_plus_fit_error_pct"] > limits.gaba_fit_error_max_pct:
        flags.append(
            f"GABA+ fit error {values['gaba_plus_fit_error_pct']:.1f} % > {limits.gaba_fit_error_max_pct:g} %"
        )
    if 100 * values["n_rejected"] / values["n_transients"] > limits.rejected_max_pct:
        flags.append(f"{values['n_rejected']} of {values['n_transients']} transients rejected")
    if values["freq_drift_hz_range"] > limits.drift_range_max_hz:
        flags.append(
            f"frequency drift range {values['freq_drift_hz_range']:.1f} Hz > {limits.drift_range_max_hz:g} Hz"
        )
    values["qc_pass"] = not flags
    values["qc_flags"] = flags
    values["pipeline_version"] = PIPELINE_VERSION
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
