"""Linear-combination fit of a short-TE PRESS spectrum (Glu, Gln, Glx) and its pipeline. Pure.

Model (real part, 0.2-4.0 ppm): data x exp(-i (phi0 + phi1 (ppm - 3.0))) = sum_m a_m B_m(theta)
+ baseline, where B_m is the spectrum of the simulated basis FID (basis.py) times one common
lineshape exp(2 pi i df t) exp(-pi L t) exp(-(pi G t)^2 / (4 ln 2)) (frequency shift df, Lorentzian
and Gaussian widths L and G in Hz), a_m >= 0, and the baseline a cubic B-spline with knots every
0.5 ppm (coefficients free). Variable projection: for each theta = (df, L, G, phi0, phi1) the
amplitudes come from a bounded linear least squares; theta from scipy's bounded least_squares
over the residual. Uncertainty: Cramer-Rao-type SD of each amplitude from sigma^2 (A^T A)^-1 at
the optimum (sigma from the residual), as a percentage of the amplitude (the "%SD" LCModel
reports); it ignores the small coupling with theta and is a lower bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import interpolate, optimize

from spectroscopy import basis as basis_module
from spectroscopy import fitting, processing
from spectroscopy.io import MRSData
from spectroscopy.versions import LCM_VERSION  # noqa: E402  (re-exported)

LOW_PPM, HIGH_PPM, KNOT_PPM = 0.2, 4.0, 0.5
METABOLITES = ("cr", "cho", "naa", "glu", "gln", "mi", "gaba", "tau", "lac", "si", "mm")


@dataclass
class LCMFit:
    amplitudes: dict[str, float]
    sd_pct: dict[str, float]
    theta: dict[str, float]
    ppm: np.ndarray
    data: np.ndarray
    model: np.ndarray
    baseline: np.ndarray
    residual: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)


def _lineshape(t: np.ndarray, shift_hz: float, lorentz_hz: float, gauss_hz: float) -> np.ndarray:
    return np.exp(
        2j * np.pi * shift_hz * t - np.pi * lorentz_hz * t - (np.pi * gauss_hz * t) ** 2 / (4 * np.log(2))
    )


def _spline_basis(ppm: np.ndarray) -> np.ndarray:
    knots = np.arange(ppm.min(), ppm.max() + KNOT_PPM, KNOT_PPM)
    k = 3
    t = np.concatenate([[knots[0]] * k, knots, [knots[-1]] * k])
    n = len(t) - k - 1
    out = np.empty((len(ppm), n))
    for i in range(n):
        coefficients = np.zeros(n)
        coefficients[i] = 1.0
        out[:, i] = interpolate.BSpline(t, coefficients, k, extrapolate=False)(ppm)
    return np.nan_to_num(out)


def fit(
    fid: np.ndarray,
    basis: dict[str, np.ndarray],
    *,
    dwell_s: float,
    mhz: float,
    names: tuple[str, ...] = METABOLITES,
) -> LCMFit:
    n = len(fid)
    t = np.arange(n) * dwell_s
    ppm = processing.ppm_axis(n, dwell_s, mhz)
    window = (ppm >= LOW_PPM) & (ppm <= HIGH_PPM)
    x = ppm[window]
    spec = processing.spectrum(fid)[window]
    stack = np.array([basis[name] for name in names])
    spline = _spline_basis(x)
    n_m = len(names)
    lower = np.concatenate([np.zeros(n_m), np.full(spline.shape[1], -np.inf)])
    upper = np.full(n_m + spline.shape[1], np.inf)
    scale = float(np.max(np.abs(spec))) or 1.0

    def columns(theta: np.ndarray) -> np.ndarray:
        shape = _lineshape(t, theta[0], theta[1], theta[2])
        return np.real(processing.spectrum(stack * shape[None, :])[:, window]).T

    def phased(theta: np.ndarray) -> np.ndarray:
        return np.real(spec * np.exp(-1j * (theta[3] + theta[4] * (x - 3.0)))) / scale

    def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.hstack([columns(theta), spline])
        y = phased(theta)
        coef = optimize.lsq_linear(a, y, bounds=(lower, upper), method="bvls").x
        return a, y, coef

    def residual(theta: np.ndarray) -> np.ndarray:
        a, y, coef = solve(theta)
        return y - a @ coef

    # Start: frequency from the tCr + NAA singlets (a correlation over +-20 Hz), phase from tCr.
    singlets = basis.get("cr", stack[0]) + basis.get("naa", stack[0])
    best, start_shift = -np.inf, 0.0
    for shift in np.arange(-20.0, 20.5, 0.5):
        template = np.abs(processing.spectrum(singlets * _lineshape(t, shift, 4.0, 4.0))[window])
        score = float(template @ np.abs(spec))
        if score > best:
            best, start_shift = score, float(shift)
    cr_index = int(np.argmin(np.abs(x - 3.027 - start_shift / mhz)))
    start = np.array([start_shift, 3.0, 4.0, float(np.angle(spec[cr_index])), 0.0])
    bounds = ([start_shift - 5, 0.0, 0.0, -np.pi * 2, -0.5], [start_shift + 5, 20.0, 25.0, np.pi * 2, 0.5])
    result = optimize.least_squares(residual, start, bounds=bounds, x_scale=[1.0, 1.0, 1.0, 0.1, 0.05])
    theta = result.x
    a, y, coef = solve(theta)
    model = a @ coef
    res = y - model
    dof = max(1, len(y) - np.count_nonzero(coef))
    sigma2 = float(res @ res) / dof
    try:
        cov = sigma2 * np.linalg.pinv(a.T @ a)
    except np.linalg.LinAlgError:
        cov = np.full((a.shape[1], a.shape[1]), np.nan)
    amps = {name: float(coef[i]) * scale for i, name in enumerate(names)}
    sds = {name: float(np.sqrt(max(cov[i, i], 0.0))) * scale for i, name in enumerate(names)}
    if "glu" in names and "gln" in names:
        i, j = names.index("glu"), names.index("gln")
        amps["glx"] = amps["glu"] + amps["gln"]
        sds["glx"] = float(np.sqrt(max(cov[i, i] + cov[j, j] + 2 * cov[i, j], 0.0))) * scale
    sd_pct = {k: (100 * sds[k] / amps[k] if amps[k] > 0 else float("inf")) for k in amps}
    components = {name: a[:, i] * coef[i] * scale for i, name in enumerate(names)}
    return LCMFit(
        amplitudes=amps,
        sd_pct=sd_pct,
        theta={
            "shift_hz": float(theta[0]),
            "lorentz_hz": float(theta[1]),
            "gauss_hz": float(theta[2]),
            "phase0_rad": float(theta[3]),
            "phase1_rad_per_ppm": float(theta[4]),
        },
        ppm=x,
        data=y * scale,
        model=model * scale,
        baseline=spline @ coef[n_m:] * scale,
        residual=res * scale,
        components=components,
    )


def linewidth_hz(lorentz_hz: float, gauss_hz: float, *, intrinsic_hz: float = 0.0) -> float:
    """FWHM of the fitted Voigt lineshape (Olivero-Longbothum approximation, 0.02 % accurate)."""
    fl = lorentz_hz + intrinsic_hz
    return 0.5346 * fl + float(np.sqrt(0.2166 * fl**2 + gauss_hz**2))


@dataclass
class PressResult:
    values: dict[str, Any]
    fit: LCMFit
    drift_hz: np.ndarray
    constants: dict[str, Any]
    water_area: float | None


def quantify_press(
    metab: MRSData, water: MRSData | None = None, *, sd_max_pct: float = 20.0, fwhm_max_hz: float = 12.0
) -> PressResult:
    """Coil combination, eddy-current correction, alignment of every transient, outlier rejection,
    average, linear-combination fit; Glu, Gln and Glx relative to tCr and in institutional units."""
    started = time.perf_counter()
    if metab.fids.shape[0] != 1:
        raise ValueError("a short-TE PRESS series has no edit dimension")
    dwell, mhz, n = metab.dwell_s, metab.spectrometer_mhz, metab.n_points
    ppm = processing.ppm_axis(n, dwell, mhz)
    reference = water.fids if water is not None else metab.fids
    weights = processing.coil_weights(
        reference.reshape(-1, reference.shape[-2], reference.shape[-1]),
        metab.fids.reshape(-1, metab.n_coils, n),
    )
    transients = processing.combine(metab.fids, weights)[0]  # (dyn, n)
    water_fid = None
    if water is not None:
        water_fid = processing.combine(water.fids, weights).reshape(-1, water.n_points).mean(axis=0)
        transients = processing.eddy_current_correct(transients, water_fid)
        water_fid = processing.eddy_current_correct(water_fid, water_fid)
    first = processing.register(transients, transients[: min(8, len(transients))].mean(axis=0), dwell)
    aligned = processing.apply_alignment(transients, first, dwell)
    alignment = processing.register(transients, aligned.mean(axis=0), dwell)
    aligned = processing.apply_alignment(transients, alignment, dwell)
    rejected = processing.outliers(aligned, ppm, low=1.8, high=4.0)
    average = aligned[~rejected].mean(axis=0)
    average = processing.hsvd_remove(average, dwell, mhz)
    te = float(metab.echo_time_s or 0.030)
    basis = basis_module.press_basis(te_s=round(te, 4), mhz=round(mhz, 4), dwell_s=dwell, n_points=n)
    result = fit(average, basis, dwell_s=dwell, mhz=mhz)
    amps, sd = result.amplitudes, result.sd_pct
    cr = amps["cr"]
    drift = -alignment.freq_hz[~rejected]
    # Linewidth of tCr: the fitted lineshape's FWHM (the basis singlet itself is a delta).
    fwhm = linewidth_hz(result.theta["lorentz_hz"], result.theta["gauss_hz"])
    real_spec = np.real(processing.spectrum(average) * np.exp(-1j * result.theta["phase0_rad"]))
    naa_height = float(np.max(result.components["naa"])) if "naa" in result.components else 0.0
    values: dict[str, Any] = {
        "glu_cr": amps["glu"] / cr if cr else None,
        "gln_cr": amps["gln"] / cr if cr else None,
        "glx_cr": amps["glx"] / cr if cr else None,
        "naa_cr": amps["naa"] / cr if cr else None,
        "mi_cr": amps["mi"] / cr if cr else None,
        "cho_cr": amps["cho"] / cr if cr else None,
        "glu_sd_pct": sd["glu"],
        "gln_sd_pct": sd["gln"],
        "glx_sd_pct": sd["glx"],
        "cr_sd_pct": sd["cr"],
        "glu_iu": None,
        "glx_iu": None,
        "cr_fwhm_hz": fwhm,
        "water_fwhm_hz": None,
        "naa_snr": fitting.snr(ppm, real_spec, naa_height),
        "freq_drift_hz_sd": float(np.std(drift)),
        "freq_drift_hz_range": float(np.ptp(drift)) if len(drift) else 0.0,
        "n_transients": int(len(transients)),
        "n_rejected": int(rejected.sum()),
    }
    constants: dict[str, Any] = {
        "method": "linear combination, simulated ideal-PRESS basis (basis.py)",
        "basis": list(METABOLITES),
        "te_s": te,
        "te1_s": te / 2,
        "fit_range_ppm": [LOW_PPM, HIGH_PPM],
        "baseline_knot_ppm": KNOT_PPM,
        "theta": result.theta,
    }
    water_area = None
    if water_fid is not None and water is not None:
        water_fit = fitting.fit_water(ppm, processing.spectrum(water_fid))
        water_area = water_fit.areas["water"]
        values["water_fwhm_hz"] = water_fit.fwhm_ppm["water"] * mhz
        # One molecule of the basis is the sum of its protons; the water fit's area is in the same
        # spectral units per proton, 2 protons per water molecule: per-molecule concentration =
        # amplitude x (area of one proton) / (water area / 2) x [water], with the T1/T2 factors.
        proton_area = 1 / (2 * dwell * mhz)  # a unit time-domain amplitude's area (synthetic.true_area)
        te_w = float(water.echo_time_s or te)
        tr = float(metab.repetition_time_s or 2.0)
        tr_w = float(water.repetition_time_s or tr)
        for key, name in (("glu_iu", "glu"), ("glx_iu", "glx")):
            area = amps[name] * proton_area
            values[key], constants[f"{name}_iu"] = fitting.institutional_units(
                "glx_press", area, water_area, te_s=te, tr_s=tr, te_water_s=te_w, tr_water_s=tr_w
            )
    flags = []
    if fwhm > fwhm_max_hz:
        flags.append(f"tCr FWHM {fwhm:.1f} Hz > {fwhm_max_hz:g} Hz")
    if values["water_fwhm_hz"] is not None and values["water_fwhm_hz"] > fwhm_max_hz:
        flags.append(f"water FWHM {values['water_fwhm_hz']:.1f} Hz > {fwhm_max_hz:g} Hz")
    if not np.isfinite(sd["glu"]) or sd["glu"] > sd_max_pct:
        flags.append(f"Glu SD {sd['glu']:.0f} % > {sd_max_pct:g} %")
    values["qc_pass"] = not flags
    values["qc_flags"] = flags
    values["pipeline_version"] = f"lcm-{LCM_VERSION}"
    values["elapsed_s"] = round(time.perf_counter() - started, 4)
    clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in values.items()}
    return PressResult(clean, result, drift, constants, water_area)
