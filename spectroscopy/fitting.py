"""Peak fits on the ppm axis and the quantities built from them. Pure: no Django.

Model 2 (the reported one since pipeline 2.0.0; `fit_off_voigt`, `fit_diff`):
- OFF 2.6-3.6 ppm: tCr and tCho as Voigt lines sharing one lineshape (Gaussian SD sigma and
  Lorentzian HWHM gamma, in ppm), zero-order phase, linear baseline. The tCr lineshape is the
  scan's instrument lineshape, measured; a Lorentzian alone misreads a shim-broadened
  (Gaussian) line and biases the tCr area.
- DIFF 2.79-4.10 ppm, one joint fit: GABA as its pseudo-doublet (two Voigt lines about
  3.01 ppm, split 0.09-0.15 ppm by the 7.3 Hz couplings at 3 T, amplitudes free), the co-edited
  macromolecules as a broad Gaussian at 3.00 ppm, Glx as two Voigt lines at 3.71 and 3.79 ppm;
  every line takes the tCr lineshape plus an extra Gaussian broadening (bounded), so the
  lineshape is tied to what the scan shows; Gannet's baseline (linear + sin/cos), points in
  3.16-3.285 ppm weighted 0.001, a small zero-order phase. GABA+ = GABA + co-edited MM: their sum
  is well determined even where the split between them is not. Voigt areas are the fitted
  parameters themselves (area-normalised profiles), so no area formula can drift from the shape.
- Uncertainty: Cramer-Rao SD of each area from sigma^2 (J^T J)^-1 at the optimum (J the
  Jacobian of all parameters, so the trade with lineshape and baseline is included; sigma from
  the residual), as % of the area: the `*_fit_error_pct` values.

Model 1 (Gannet 3.x, MRS.md; kept as the field's reference, `fit_diff_gannet`, reported beside):
- DIFF 2.79-4.10 ppm: GABA+ Gaussian at 3.02 (+-0.05), Glx two Gaussians at 3.71 and 3.79
  (+-0.02, shared width), baseline linear + sin/cos(pi f / 1.31 / 4); points in 3.16-3.285 ppm
  weighted 0.001. Gaussian A exp(x2 (f - f0)^2) has area A sqrt(pi / |x2|).
- OFF 2.6-3.6 ppm: tCr (3.0) and tCho (3.2) Lorentzians with a zero-order phase and a linear
  baseline; NAA Lorentzian in 1.75-2.25 ppm; water Lorentz-Gauss with phase in 3.8-5.6 ppm.
Lorentzian A / (1 + ((f - f0) / g)^2) has area A pi g and FWHM 2 g.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.special import wofz

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


def fit_diff_gannet(ppm: np.ndarray, diff: np.ndarray) -> Fit:
    """GABA+ and Glx on the real DIFF spectrum, Gannet 3.x's model (model 1)."""
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


# --- model 2 -----------------------------------------------------------------------------------


def voigt(f: np.ndarray, centre: float, sigma: float, gamma: float) -> np.ndarray:
    """Area-normalised Voigt profile (Faddeeva function): Gaussian SD `sigma` and Lorentzian
    HWHM `gamma`, all in the units of `f`."""
    sigma = max(sigma, 1e-6)
    z = ((f - centre) + 1j * gamma) / (sigma * np.sqrt(2))
    return np.real(wofz(z)) / (sigma * np.sqrt(2 * np.pi))


def voigt_fwhm(sigma: float, gamma: float) -> float:
    """FWHM of a Voigt line (Olivero-Longbothum, 0.02 %)."""
    fg, fl = 2 * sigma * np.sqrt(2 * np.log(2)), 2 * gamma
    return float(0.5346 * fl + np.sqrt(0.2166 * fl**2 + fg**2))


NOISE_PPM = (9.5, 11.5)  # no 1H signal (NAA's amide at 7.8 ppm stays outside), inside +-8 ppm


def noise_sd(ppm: np.ndarray, real_spec: np.ndarray) -> float:
    """SD of the linearly detrended real spectrum over NOISE_PPM: the noise that the Cramer-Rao
    bound needs (a residual would also hold whatever the model misses, which is not noise)."""
    band = (ppm >= NOISE_PPM[0]) & (ppm <= NOISE_PPM[1])
    if band.sum() < 16:
        return float("nan")
    x, y = ppm[band], real_spec[band]
    return float(np.std(y - np.polyval(np.polyfit(x, y, 1), x), ddof=2))


def _crlb(sol: Any, sigma: float, groups: dict[str, list[int]]) -> dict[str, float]:
    """Cramer-Rao SD of sums of parameters: sigma^2 (J^T J)^+ (sigma the noise SD, in the units
    of the residual)."""
    jac = np.asarray(sol.jac)
    cov = sigma**2 * np.linalg.pinv(jac.T @ jac)
    out = {}
    for name, idx in groups.items():
        g = np.zeros(jac.shape[1])
        g[idx] = 1.0
        out[name] = float(np.sqrt(max(g @ cov @ g, 0.0)))
    return out


# 2.85-3.35 ppm: tCr, tCho and what lies under them, short of the anti-phase multiplets of
# aspartate, NAA and GSH at 2.5-2.8 ppm that a linear baseline cannot follow (they pull the phase).
OFF_WINDOW = (2.85, 3.35)


def fit_off_voigt(ppm: np.ndarray, off: np.ndarray) -> Fit:
    """tCr and tCho Voigt lines sharing one lineshape (tCho with an extra Gaussian of its own),
    zero-order phase, linear baseline (OFF_WINDOW); NAA (1.75-2.25 ppm) on the phased spectrum. params carry the lineshape
    (sigma_ppm, gamma_ppm) that the DIFF fit takes."""
    f, y = _window(ppm, off, OFF_WINDOW[0], OFF_WINDOW[1])
    scale = float(np.max(np.abs(y))) or 1.0
    yn = y / scale

    def model(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acr, fcr, ach, fch, sig, gam, c0, c1, _phase, sch = p
        # tCho is two N-methyl singlets 0.02 ppm apart (GPC, PCho): broader than tCr, so it takes
        # an extra Gaussian of its own and does not widen tCr's lineshape.
        peaks = acr * voigt(f, fcr, sig, gam) + ach * voigt(f, fch, np.hypot(sig, sch), gam)
        return peaks, c0 + c1 * (f - 3.1)

    def residuals(p: np.ndarray) -> np.ndarray:
        peaks, base = model(p)
        return _phased(yn, p[8]) - peaks - base

    cr_point = yn[np.argmin(np.abs(f - 3.027))]
    height = abs(cr_point)
    # Start from a 7 Hz line at 123 MHz: area = height x pi x HWHM for a Lorentzian.
    a0 = height * np.pi * 0.028
    p0 = np.array([a0, 3.027, 0.7 * a0, 3.2, 0.01, 0.015, 0.0, 0.0, float(np.angle(cr_point)), 0.005])
    lower = [0, 2.95, 0, 3.13, 1e-4, 1e-4, -np.inf, -np.inf, -2 * np.pi, 0.0]
    upper = [np.inf, 3.09, np.inf, 3.27, 0.08, 0.08, np.inf, np.inf, 2 * np.pi, 0.04]
    sol = least_squares(residuals, p0, bounds=(lower, upper), x_scale="jac", max_nfev=600)
    acr, fcr, ach, fch, sig, gam, _c0, _c1, phase = sol.x[:9]
    peaks, base = model(sol.x)
    res = residuals(sol.x)
    errors = _crlb(sol, noise_sd(ppm, _phased(off, phase)) / scale, {"cr": [0], "cho": [2]})
    naa = fit_lorentz_window(ppm, _phased(off, phase), 1.75, 2.25, 2.01)
    fwhm = voigt_fwhm(sig, gam)
    cr_height = float(acr * voigt(np.array([fcr]), fcr, sig, gam)[0] * scale)
    ch_height = float(ach * voigt(np.array([fch]), fch, np.hypot(sig, sol.x[9]), gam)[0] * scale)
    return Fit(
        params={
            "phase_rad": float(phase),
            "cr_centre_ppm": float(fcr),
            "cho_centre_ppm": float(fch),
            "sigma_ppm": float(sig),
            "gamma_ppm": float(gam),
        },
        areas={"cr": float(acr * scale), "cho": float(ach * scale), "naa": naa.areas["peak"]},
        heights={"cr": cr_height, "cho": ch_height, "naa": naa.heights["peak"]},
        fwhm_ppm={
            "cr": fwhm,
            "cho": voigt_fwhm(float(np.hypot(sig, sol.x[9])), gam),
            "naa": naa.fwhm_ppm["peak"],
        },
        residual=res * scale,
        model=(peaks + base) * scale,
        baseline=base * scale,
        ppm=f,
        fit_error_pct={
            "cr": 100 * errors["cr"] / acr if acr else float("inf"),
            "cho": 100 * errors["cho"] / ach if ach else float("inf"),
        },
    )


DIFF_BASIS = ("gaba", "mm30", "glu", "gln")
GABA_PLUS_WINDOW, GLX_WINDOW = (2.75, 3.25), (3.55, 3.95)
# The co-edited MM at 3.0 ppm is broad (short T2, overlapping residues): its basis line takes a
# Gaussian of 0.12 ppm FWHM (15 Hz at 3 T) on top of the scan's lineshape. Fixed, not fitted: a
# free width trades with the baseline and made single-scan GABA+ spread twice its Cramer-Rao
# bound on the independent data; the GABA+ level depends on this prior (+-3 Hz moves it about
# +-8 %, the same for every scan, so within-participant changes keep their size). The value is
# the consensus width of the 3.0 ppm MM component (Cudalbu et al. 2021; Osprey's MM3co).
MM_EXTRA_GAUSS_PPM = 0.12
# The residual ON/OFF mismatch the DIFF fit may take up after processing.pair_offset.
PAIR_MAX_HZ, PAIR_MAX_RAD = 1.0, 0.1
EXTRA_GAUSS_MAX_HZ = 12.0  # broadening of the edited lines beyond tCr's


def _diff_basis(n: int, dwell_s: float, mhz: float) -> np.ndarray:
    """Unbroadened DIFF = (ON - OFF) / 2 FIDs of the MEGA basis (basis.py), one row per name
    (rendered once per acquisition grid)."""
    return _diff_basis_cached(int(n), float(dwell_s), round(float(mhz), 4))


@lru_cache(maxsize=8)
def _diff_basis_cached(n: int, dwell_s: float, mhz: float) -> np.ndarray:
    from spectroscopy import basis as basis_module

    lines = basis_module.mega_lines(mhz=round(mhz, 4))
    rows = []
    for name in DIFF_BASIS:
        ppm = np.concatenate([lines[name]["on"][0], lines[name]["off"][0]])
        amps = np.concatenate([0.5 * lines[name]["on"][1], -0.5 * lines[name]["off"][1]])
        rows.append(basis_module.render(ppm, amps, mhz=mhz, dwell_s=dwell_s, n_points=n))
    stack = np.array(rows)
    stack.setflags(write=False)
    return stack


def fit_diff(
    ppm: np.ndarray,
    on_fid: np.ndarray,
    off_fid: np.ndarray,
    *,
    dwell_s: float,
    mhz: float,
    sigma_ppm: float,
    gamma_ppm: float,
) -> Fit:
    """Model 2 on DIFF = (ON - OFF) / 2 over 2.79-4.10 ppm: a linear combination of the simulated
    MEGA-PRESS DIFF of GABA, the co-edited macromolecules (MM 3.0), Glu and Gln with the scan's own
    tCr lineshape (Lorentzian and Gaussian widths from `fit_off_voigt`), one extra Gaussian for
    all (fitted) and a fixed broader one for MM (MM_EXTRA_GAUSS_PPM), a frequency shift, and
    Gannet's baseline (linear + sin/cos).

    The ON/OFF subtraction is part of the model: a residual frequency and phase of ON against OFF
    (what is left after `processing.pair_offset`) are fitted with the rest, since 0.01 rad of it
    turns tCr into a dispersive line under GABA+ worth ~7 % of it, and no registration of the
    averages alone is free of the edited signals. The choline region, where that artefact shows
    best and nothing edited is sharp, therefore keeps its full weight (Gannet weights it 0.001
    because its model has no such term).

    Variable projection: bounded linear least squares (amplitudes >= 0, baseline free) inside
    scipy's least_squares for the non-linear parameters. Areas are exact sums of the basis lines
    inside the GABA+ (2.75-3.25) and Glx (3.55-3.95 ppm) windows times the fitted amplitudes;
    their Cramer-Rao SDs come from the full Jacobian (amplitudes, baseline and every non-linear
    parameter) and the noise SD measured where there is no signal (NOISE_PPM)."""
    from spectroscopy import basis as basis_module
    from spectroscopy.processing import spectrum

    n = len(on_fid)
    t = np.arange(n) * dwell_s
    window = (ppm >= 2.79) & (ppm <= 4.10)
    f = ppm[window]
    bfreq = np.pi * f / 1.31 / 4
    baseline_cols = np.column_stack([np.ones_like(f), f - 3.4, np.sin(bfreq), np.cos(bfreq)])
    on_spec_t, off_spec = on_fid, spectrum(off_fid)[window]
    scale = float(np.max(np.abs(spectrum((on_fid - off_fid) / 2)[window].real))) or 1.0
    stack = _diff_basis(n, dwell_s, mhz)
    lorentz_hz = 2 * gamma_ppm * mhz
    gauss_hz = 2 * np.sqrt(2 * np.log(2)) * sigma_ppm * mhz
    n_b = len(DIFF_BASIS)
    mm_row = DIFF_BASIS.index("mm30")
    mm_extra_hz = MM_EXTRA_GAUSS_PPM * mhz
    lower = np.concatenate([np.zeros(n_b), np.full(4, -np.inf)])
    upper = np.full(n_b + 4, np.inf)

    def data(theta: np.ndarray) -> np.ndarray:
        _shift, _extra, pair_hz, pair_rad = theta
        on = spectrum(on_spec_t * np.exp(1j * (2 * np.pi * pair_hz * t + pair_rad)))[window]
        return np.real(on - off_spec) / 2 / scale

    def columns(theta: np.ndarray) -> np.ndarray:
        shift, extra, _pair_hz, _pair_rad = theta
        g = np.hypot(gauss_hz, extra)
        decay = 2j * np.pi * shift * t - np.pi * lorentz_hz * t
        fids = stack * np.exp(decay - (np.pi * g * t) ** 2 / (4 * np.log(2)))[None, :]
        g_mm = np.hypot(g, mm_extra_hz)
        fids[mm_row] = stack[mm_row] * np.exp(decay - (np.pi * g_mm * t) ** 2 / (4 * np.log(2)))
        cols = np.real(spectrum(fids)[:, window]).T / scale
        return np.hstack([cols, baseline_cols])

    def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, y = columns(theta), data(theta)
        return a, y, _bvls(a, y, lower, upper)

    def residual(theta: np.ndarray) -> np.ndarray:
        a, y, coef = solve(theta)
        return y - a @ coef

    bounds = (
        [-4.0, 0.0, -PAIR_MAX_HZ, -PAIR_MAX_RAD],
        [4.0, EXTRA_GAUSS_MAX_HZ, PAIR_MAX_HZ, PAIR_MAX_RAD],
    )
    start = np.clip(np.array([0.0, 2.0, 0.0, 0.0]), bounds[0], bounds[1])
    sol = least_squares(residual, start, bounds=bounds, x_scale=[1.0, 2.0, 0.1, 0.01], max_nfev=200)
    theta = sol.x
    a, y, coef = solve(theta)
    model = a @ coef
    res = y - model
    # Cramer-Rao: Jacobian of the residual in every parameter (linear ones are the columns).
    jac_theta = []
    for k, step in enumerate((0.01, 0.05, 0.002, 0.0002)):
        moved = theta.copy()
        moved[k] += step
        jac_theta.append(((columns(moved) @ coef - data(moved)) - (model - y)) / step)
    jac = np.hstack([a, np.array(jac_theta).T])
    diff_full = spectrum((on_fid * np.exp(1j * (2 * np.pi * theta[2] * t + theta[3])) - off_fid) / 2)
    sigma = noise_sd(ppm, diff_full.real) / scale
    if not np.isfinite(sigma) or sigma == 0:  # a noise-free spectrum: the residual is all there is
        sigma = float(np.std(res))
    cov = sigma**2 * np.linalg.pinv(jac.T @ jac)
    unit = 1 / (2 * dwell_s * mhz)
    per_unit = {
        name: {
            "gaba": basis_module.edited_area(name, *GABA_PLUS_WINDOW, mhz=round(mhz, 4)),
            "glx": basis_module.edited_area(name, *GLX_WINDOW, mhz=round(mhz, 4)),
        }
        for name in DIFF_BASIS
    }
    areas, sds = {}, {}
    for quantity, names in (("gaba", ("gaba", "mm30")), ("glx", ("glu", "gln"))):
        g = np.zeros(jac.shape[1])
        for name in names:
            g[DIFF_BASIS.index(name)] = per_unit[name][quantity] * unit
        areas[quantity] = float(g[:n_b] @ coef[:n_b])
        sds[quantity] = float(np.sqrt(max(g @ cov @ g, 0.0)))
    components = {name: a[:, i] * coef[i] * scale for i, name in enumerate(DIFF_BASIS)}
    gaba_model = components["gaba"] + components["mm30"]
    glx_model = components["glu"] + components["gln"]
    heights = {"gaba": float(np.max(gaba_model)), "glx": float(np.max(glx_model))}
    above = f[gaba_model >= heights["gaba"] / 2] if heights["gaba"] > 0 else f[:1]
    above_x = f[glx_model >= heights["glx"] / 2] if heights["glx"] > 0 else f[:1]
    gaba_band = (f >= 2.79) & (f <= 3.55)
    mm_share = (
        float(coef[mm_row] * per_unit["mm30"]["gaba"] * unit / areas["gaba"]) if areas["gaba"] > 0 else 0.0
    )
    return Fit(
        params={
            "shift_hz": float(theta[0]),
            "extra_gauss_hz": float(theta[1]),
            "mm_extra_gauss_hz": float(mm_extra_hz),
            "on_to_off_hz": float(theta[2]),
            "on_to_off_rad": float(theta[3]),
            "lorentz_hz": float(lorentz_hz),
            "gauss_hz": float(gauss_hz),
            "mm_area_fraction": mm_share,
            "gaba_centre_ppm": float(f[np.argmax(gaba_model)]),
        },
        areas=areas,
        heights=heights,
        fwhm_ppm={"gaba": float(above.max() - above.min()), "glx": float(above_x.max() - above_x.min())},
        residual=res * scale,
        model=model * scale,
        baseline=baseline_cols @ coef[n_b:] * scale,
        ppm=f,
        fit_error_pct={
            "gaba": 100 * sds["gaba"] / areas["gaba"] if areas["gaba"] > 0 else float("inf"),
            "glx": 100 * sds["glx"] / areas["glx"] if areas["glx"] > 0 else float("inf"),
            "gaba_residual": _error_pct(res[gaba_band] * scale, heights["gaba"]),
        },
    )


def _bvls(a: np.ndarray, y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    from scipy.optimize import lsq_linear

    return lsq_linear(a, y, bounds=(lower, upper), method="bvls").x


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
    """Peak height over noise, noise = 2 x SD of the linearly detrended real spectrum over
    NOISE_PPM (9.5-11.5 ppm). Not 8-10 ppm (MRS.md's first choice): NAA's amide proton at 7.8 ppm
    reaches into it at TE 68 and made a noise-free scan read SNR ~50."""
    sd = noise_sd(ppm, real_spec)
    if not np.isfinite(sd):
        return float("nan")
    noise = 2 * sd
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
