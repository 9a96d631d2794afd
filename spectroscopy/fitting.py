"""Peak fits on the ppm axis and the quantities built from them. Pure: no Django.

Models (MRS.md, after Gannet 3.x):
- DIFF 2.79-4.10 ppm: GABA+ Gaussian at 3.02 (+-0.05), Glx two Gaussians at 3.71 and 3.79
  (+-0.02, shared width), baseline linear + sin/cos(pi f / 1.31 / 4); points in 3.16-3.285 ppm
  weighted 0.001. Gaussian A exp(x2 (f - f0)^2) has area A sqrt(pi / |x2|).
- OFF 2.6-3.6 ppm: tCr (3.0) and tCho (3.2) Lorentzians with a zero-order phase and a linear
  baseline; NAA Lorentzian in 1.75-2.25 ppm; water Lorentz-Gauss with phase in 3.8-5.6 ppm.
Lorentzian A / (1 + ((f - f0) / g)^2) has area A pi g and FWHM 2 g.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

GABA_CENTRE, GABA_TOL = 3.02, 0.05
GLX_CENTRES, GLX_TOL = (3.71, 3.79), 0.02
CHO_ARTEFACT = (3.16, 3.285)


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    areas: dict[str, float]
    heights: dict[str, float]
    fwhm_ppm: dict[str, float]
    residual: np.ndarray
    model: np.ndarray
    baseline: np.ndarray
    ppm: np.ndarray
    fit_error_pct: dict[str, float] = field(default_factory=dict)


def _gauss(f: np.ndarray, a: float, x2: float, f0: float) -> np.ndarray:
    return a * np.exp(x2 * (f - f0) ** 2)


def _lorentz(f: np.ndarray, a: float, g: float, f0: float) -> np.ndarray:
    return a / (1 + ((f - f0) / g) ** 2)


def _window(ppm: np.ndarray, spec: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    keep = (ppm >= low) & (ppm <= high)
    return ppm[keep], spec[keep]


def _error_pct(residual: np.ndarray, height: float) -> float:
    return float(100 * np.std(residual) / abs(height)) if height else float("inf")


def fit_diff(ppm: np.ndarray, diff: np.ndarray) -> Fit:
    """GABA+ and Glx on the real DIFF spectrum."""
    f, y = _window(ppm, np.real(diff), 2.79, 4.10)
    weights = np.where((f >= CHO_ARTEFACT[0]) & (f <= CHO_ARTEFACT[1]), 0.001, 1.0)
    bfreq = np.pi * f / 1.31 / 4
    scale = float(np.max(np.abs(y))) or 1.0
    yn = y / scale

    def model(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ag, x2g, fg, a1, a2, x2x, fx, c0, c1, cs, cc = p
        peaks = (
            _gauss(f, ag, x2g, fg)
            + _gauss(f, a1, x2x, GLX_CENTRES[0] + fx)
            + _gauss(f, a2, x2x, GLX_CENTRES[1] + fx)
        )
        base = c0 + c1 * (f - 3.4) + cs * np.sin(bfreq) + cc * np.cos(bfreq)
        return peaks, base

    def residuals(p: np.ndarray) -> np.ndarray:
        peaks, base = model(p)
        return weights * (yn - peaks - base)

    g_guess = max(float(yn[np.argmin(np.abs(f - GABA_CENTRE))]), 0.05)
    x_guess = max(float(yn[np.argmin(np.abs(f - 3.75))]), 0.05)
    p0 = np.array([g_guess, -250.0, GABA_CENTRE, x_guess, x_guess, -700.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    lower = [0, -5000, GABA_CENTRE - GABA_TOL, 0, 0, -8000, -GLX_TOL, -np.inf, -np.inf, -np.inf, -np.inf]
    upper = [
        np.inf,
        -20,
        GABA_CENTRE + GABA_TOL,
        np.inf,
        np.inf,
        -60,
        GLX_TOL,
        np.inf,
        np.inf,
        np.inf,
        np.inf,
    ]
    sol = least_squares(residuals, p0, bounds=(lower, upper), x_scale="jac", max_nfev=400)
    ag, x2g, fg, a1, a2, x2x, fx, *_ = sol.x
    peaks, base = model(sol.x)
    residual = (yn - peaks - base) * scale
    gaba_area = ag * scale * np.sqrt(np.pi / abs(x2g))
    glx_area = (a1 + a2) * scale * np.sqrt(np.pi / abs(x2x))
    glx_model = _gauss(f, a1, x2x, GLX_CENTRES[0] + fx) + _gauss(f, a2, x2x, GLX_CENTRES[1] + fx)
    heights = {"gaba": float(ag * scale), "glx": float(np.max(glx_model) * scale)}
    gaba_band = (f >= 2.79) & (f <= 3.55)
    glx_band = (f >= 3.45) & (f <= 4.10)
    return Fit(
        params={
            "gaba_centre_ppm": float(fg),
            "gaba_x2": float(x2g),
            "glx_shift_ppm": float(fx),
            "glx_x2": float(x2x),
        },
        areas={"gaba": float(gaba_area), "glx": float(glx_area)},
        heights=heights,
        fwhm_ppm={
            "gaba": float(2 * np.sqrt(np.log(2) / abs(x2g))),
            "glx": float(2 * np.sqrt(np.log(2) / abs(x2x))),
        },
        residual=residual,
        model=(peaks + base) * scale,
        baseline=base * scale,
        ppm=f,
        fit_error_pct={
            "gaba": _error_pct(residual[gaba_band & (weights == 1)], heights["gaba"]),
            "glx": _error_pct(residual[glx_band], heights["glx"]),
        },
    )


def _phased(spec: np.ndarray, phase: float) -> np.ndarray:
    return np.real(spec * np.exp(-1j * phase))


def fit_off(ppm: np.ndarray, off: np.ndarray) -> Fit:
    """tCr and tCho Lorentzians with zero-order phase and a linear baseline (2.6-3.6 ppm), then
    NAA (1.75-2.25 ppm) on the phased spectrum."""
    f, y = _window(ppm, off, 2.6, 3.6)
    scale = float(np.max(np.abs(y))) or 1.0
    yn = y / scale

    def model(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acr, gcr, fcr, ach, gch, fch, c0, c1, _phase = p
        return _lorentz(f, acr, gcr, fcr) + _lorentz(f, ach, gch, fch), c0 + c1 * (f - 3.1)

    def residuals(p: np.ndarray) -> np.ndarray:
        peaks, base = model(p)
        return _phased(yn, p[8]) - peaks - base

    # Initial phase: the one that makes the tCr point most positive.
    cr_point = yn[np.argmin(np.abs(f - 3.02))]
    p0 = np.array(
        [abs(cr_point), 0.02, 3.02, abs(cr_point) * 0.7, 0.02, 3.2, 0.0, 0.0, float(np.angle(cr_point))]
    )
    lower = [0, 0.003, 2.95, 0, 0.003, 3.13, -np.inf, -np.inf, -2 * np.pi]
    upper = [np.inf, 0.1, 3.09, np.inf, 0.1, 3.27, np.inf, np.inf, 2 * np.pi]
    sol = least_squares(residuals, p0, bounds=(lower, upper), x_scale="jac", max_nfev=400)
    acr, gcr, fcr, ach, gch, fch, _c0, _c1, phase = sol.x
    peaks, base = model(sol.x)
    residual = (_phased(yn, phase) - peaks - base) * scale
    naa = fit_lorentz_window(ppm, _phased(off, phase), 1.75, 2.25, 2.01)
    return Fit(
        params={"phase_rad": float(phase), "cr_centre_ppm": float(fcr), "cho_centre_ppm": float(fch)},
        areas={
            "cr": float(acr * scale * np.pi * gcr),
            "cho": float(ach * scale * np.pi * gch),
            "naa": naa.areas["peak"],
        },
        heights={"cr": float(acr * scale), "cho": float(ach * scale), "naa": naa.heights["peak"]},
        fwhm_ppm={"cr": float(2 * gcr), "cho": float(2 * gch), "naa": naa.fwhm_ppm["peak"]},
        residual=residual,
        model=(peaks + base) * scale,
        baseline=base * scale,
        ppm=f,
        fit_error_pct={"cr": _error_pct(residual, acr * scale)},
    )


def fit_lorentz_window(ppm: np.ndarray, real_spec: np.ndarray, low: float, high: float, centre: float) -> Fit:
    """One Lorentzian with a linear baseline on an already phased real spectrum."""
    f, y = _window(ppm, real_spec, low, high)
    scale = float(np.max(np.abs(y))) or 1.0
    yn = y / scale

    def residuals(p: np.ndarray) -> np.ndarray:
        return yn - _lorentz(f, p[0], p[1], p[2]) - p[3] - p[4] * (f - centre)

    sol = least_squares(
        residuals,
        [1.0, 0.02, centre, 0.0, 0.0],
        bounds=([0, 0.003, centre - 0.1, -np.inf, -np.inf], [np.inf, 0.2, centre + 0.1, np.inf, np.inf]),
    )
    a, g, f0, *_ = sol.x
    residual = residuals(sol.x) * scale
    return Fit(
        params={"centre_ppm": float(f0)},
        areas={"peak": float(a * scale * np.pi * g)},
        heights={"peak": float(a * scale)},
        fwhm_ppm={"peak": float(2 * g)},
        residual=residual,
        model=(yn - residual / scale) * scale,
        baseline=np.zeros_like(f),
        ppm=f,
        fit_error_pct={"peak": _error_pct(residual, a * scale)},
    )


def fit_water(ppm: np.ndarray, water: np.ndarray) -> Fit:
    """Lorentz-Gauss (Voigt-like product in time is approximated by a pseudo-Voigt here) with a
    zero-order phase, 3.8-5.6 ppm; the area is integrated from the fitted model."""
    f, y = _window(ppm, water, 3.8, 5.6)
    scale = float(np.max(np.abs(y))) or 1.0
    yn = y / scale

    def shape(p: np.ndarray) -> np.ndarray:
        a, g, s, f0, eta = p[:5]
        return a * (eta * _lorentz(f, 1.0, g, f0) + (1 - eta) * np.exp(-((f - f0) ** 2) / (2 * s**2)))

    def residuals(p: np.ndarray) -> np.ndarray:
        return _phased(yn, p[7]) - shape(p) - p[5] - p[6] * (f - 4.68)

    peak = yn[np.argmax(np.abs(yn))]
    p0 = [abs(peak), 0.02, 0.02, 4.68, 0.8, 0.0, 0.0, float(np.angle(peak))]
    sol = least_squares(
        residuals,
        p0,
        bounds=(
            [0, 0.002, 0.002, 4.4, 0, -np.inf, -np.inf, -2 * np.pi],
            [np.inf, 0.2, 0.2, 5.0, 1, np.inf, np.inf, 2 * np.pi],
        ),
    )
    a, g, s, f0, eta = sol.x[:5]
    fine = np.linspace(f0 - 1.0, f0 + 1.0, 20001)
    profile = a * (eta * _lorentz(fine, 1.0, g, f0) + (1 - eta) * np.exp(-((fine - f0) ** 2) / (2 * s**2)))
    # Area of the full line (the Lorentzian tails beyond the window included analytically).
    area = a * (eta * np.pi * g + (1 - eta) * s * np.sqrt(2 * np.pi)) * scale
    half = profile >= profile.max() / 2
    fwhm = float(fine[half][-1] - fine[half][0])
    residual = residuals(sol.x) * scale
    return Fit(
        params={"centre_ppm": float(f0), "phase_rad": float(sol.x[7]), "lorentz_fraction": float(eta)},
        areas={"water": float(area)},
        heights={"water": float(a * scale)},
        fwhm_ppm={"water": fwhm},
        residual=residual,
        model=(shape(sol.x) + sol.x[5] + sol.x[6] * (f - 4.68)) * scale,
        baseline=(sol.x[5] + sol.x[6] * (f - 4.68)) * np.ones_like(f) * scale,
        ppm=f,
        fit_error_pct={"water": _error_pct(residual, a * scale)},
    )


def snr(ppm: np.ndarray, real_spec: np.ndarray, height: float) -> float:
    """Peak height over noise, noise = 2 x SD of the linearly detrended 8-10 ppm region."""
    f, y = _window(ppm, real_spec, 8.0, 10.0)
    if len(f) < 8:
        return float("nan")
    detrended = y - np.polyval(np.polyfit(f, y, 1), f)
    noise = 2 * np.std(detrended)
    return float(height / noise) if noise else float("inf")


# --- quantities --------------------------------------------------------------------------------

WATER_T1, WATER_T2 = 1.100, 0.095
METABOLITES = {
    "gaba": {"edit_eff": 0.5, "t1": 1.31, "t2": 0.088, "n_h": 2, "mm": 0.45},
    "glx": {"edit_eff": 0.4, "t1": 1.23, "t2": 0.18, "n_h": 1, "mm": 1.0},
    # Short-TE PRESS linear-combination amplitudes (lcm.py): per molecule, as one-proton areas,
    # no editing; Glx relaxation constants as above.
    "glx_press": {"edit_eff": 1.0, "t1": 1.23, "t2": 0.18, "n_h": 1, "mm": 1.0},
}
WATER_CONCENTRATION_MM = 55510.0
WATER_VISIBILITY = 0.65


def institutional_units(
    metabolite: str,
    area: float,
    water_area: float,
    *,
    te_s: float,
    tr_s: float,
    te_water_s: float,
    tr_water_s: float,
) -> tuple[float, dict[str, float]]:
    """C = (A_m / A_w) x 55510 x 0.65 x T1f x T2f x (2 / N_H) x MM / EditEff, with every
    constant returned so the result can be reproduced."""
    k = METABOLITES[metabolite]
    t1f = (1 - np.exp(-tr_water_s / WATER_T1)) / (1 - np.exp(-tr_s / k["t1"]))
    t2f = np.exp(-te_water_s / WATER_T2) / np.exp(-te_s / k["t2"])
    value = (
        area
        / water_area
        * WATER_CONCENTRATION_MM
        * WATER_VISIBILITY
        * t1f
        * t2f
        * (2 / k["n_h"])
        * k["mm"]
        / k["edit_eff"]
    )
    constants = {
        "water_concentration_mM": WATER_CONCENTRATION_MM,
        "water_visibility": WATER_VISIBILITY,
        "water_t1_s": WATER_T1,
        "water_t2_s": WATER_T2,
        "t1_s": k["t1"],
        "t2_s": k["t2"],
        "n_h": k["n_h"],
        "mm_factor": k["mm"],
        "editing_efficiency": k["edit_eff"],
        "te_s": te_s,
        "tr_s": tr_s,
        "te_water_s": te_water_s,
        "tr_water_s": tr_water_s,
        "t1_factor": float(t1f),
        "t2_factor": float(t2f),
    }
    return float(value), constants


def csf_corrected(value: float, f_csf: float) -> float:
    """C / (1 - fCSF)."""
    if not 0 <= f_csf < 1:
        raise ValueError("fCSF must be in [0, 1)")
    return value / (1 - f_csf)


# --- tissue corrections ------------------------------------------------------------------------
# Water relaxation per tissue at 3 T: GM and WM from Wansapura et al. 1999, CSF T1 from Lu et al.
# 2005 and T2 from Piechnik et al. 2009. Tissue water content relative to pure water (Ernst et al.
# 1993, as used by Gasparovic et al. 2006): GM 0.78, WM 0.65, CSF 0.97 of 55.51 mol/kg.
TISSUE_WATER = {
    "gm": {"t1": 1.331, "t2": 0.110, "conc_mM": 0.78 * 55510.0},
    "wm": {"t1": 0.832, "t2": 0.0792, "conc_mM": 0.65 * 55510.0},
    "csf": {"t1": 3.817, "t2": 0.503, "conc_mM": 0.97 * 55510.0},
}
# Relative intrinsic concentration WM/GM (Harris et al. 2015): GABA and Glx are twice as
# concentrated in GM as in WM.
ALPHA = {"gaba": 0.5, "glx": 0.5}


def _relaxation_ratio(
    tissue: str, metabolite: str, *, te_s: float, tr_s: float, te_water_s: float, tr_water_s: float
) -> float:
    """Water signal attenuation in the tissue over metabolite attenuation."""
    w = TISSUE_WATER[tissue]
    k = METABOLITES[metabolite]
    water = (1 - np.exp(-tr_water_s / w["t1"])) * np.exp(-te_water_s / w["t2"])
    metab = (1 - np.exp(-tr_s / k["t1"])) * np.exp(-te_s / k["t2"])
    return float(water / metab)


def tissue_corrected(
    metabolite: str,
    area: float,
    water_area: float,
    *,
    f_gm: float,
    f_wm: float,
    f_csf: float,
    te_s: float,
    tr_s: float,
    te_water_s: float,
    tr_water_s: float,
) -> dict[str, float]:
    """Tissue-corrected concentrations from voxel volume fractions.

    - `molal`: Gasparovic et al. 2006. Volume fractions become molal water fractions
      (f_t c_t / sum f c); each tissue's water signal is corrected for its own relaxation; the
      result is divided by the non-CSF water fraction and scaled by pure water (55.51 mol/kg).
    - `alpha`: Harris et al. 2015. The water-weighted sum over tissues, divided by
      (fGM + alpha fWM): the concentration in GM-equivalent tissue.
    """
    total = f_gm + f_wm + f_csf
    if min(f_gm, f_wm, f_csf) < 0 or not 0.98 <= total <= 1.02:
        raise ValueError("tissue fractions must be non-negative and add up to 1")
    if f_csf >= 1:
        raise ValueError("a voxel of pure CSF has no tissue")
    k = METABOLITES[metabolite]
    scale = area / water_area * (2 / k["n_h"]) * k["mm"] / k["edit_eff"]
    volume = {"gm": f_gm, "wm": f_wm, "csf": f_csf}
    ratios = {
        t: _relaxation_ratio(
            t, metabolite, te_s=te_s, tr_s=tr_s, te_water_s=te_water_s, tr_water_s=tr_water_s
        )
        for t in volume
    }
    weighted = {t: volume[t] * TISSUE_WATER[t]["conc_mM"] for t in volume}
    molal = {t: weighted[t] / sum(weighted.values()) for t in volume}
    gasparovic = (
        scale * WATER_CONCENTRATION_MM * sum(molal[t] * ratios[t] for t in volume) / (1 - molal["csf"])
    )
    harris = scale * sum(weighted[t] * ratios[t] for t in volume)
    alpha = ALPHA[metabolite]
    return {"molal": float(gasparovic), "alpha": float(harris / (f_gm + alpha * f_wm)), "alpha_value": alpha}
