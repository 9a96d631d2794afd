"""Synthetic MEGA-PRESS data with known truth, for tests and benchmarks. Pure: no Django.

Time-domain signals a * exp(i 2 pi nu t) with Lorentzian (exp(-t/T2)) or Gaussian
(exp(-2 pi^2 sigma^2 t^2)) decay, nu = (ppm - 4.68) * MHz. With the first point halved, the
spectrum's area of a component in ppm units is a / (2 dwell MHz): `true_area` gives it, so a fit
can be checked against an exact number. ON = base + 2E and OFF = base, so
DIFF = (ON - OFF) / 2 = E holds the edited GABA+ and Glx; SUM = base + E.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WATER_PPM = 4.68


@dataclass(frozen=True)
class Peak:
    ppm: float
    amplitude: float
    width_hz: float  # Lorentzian FWHM or Gaussian FWHM
    shape: str = "lorentz"  # or "gauss"


# Uncoupled approximations of the in-vivo peaks (amplitudes in arbitrary units, ~3 T pgACC).
BASE_PEAKS = (
    Peak(2.008, 12.0, 5.0),  # NAA
    Peak(3.027, 9.0, 5.0),  # tCr (CH3)
    Peak(3.913, 7.0, 5.5),  # tCr (CH2)
    Peak(3.185, 7.0, 5.0),  # tCho
    Peak(2.35, 2.0, 12.0, "gauss"),  # Glu/Gln C4 (not edited here)
    Peak(3.72, 2.5, 14.0, "gauss"),  # Glx in the OFF spectrum
)


def gaba_peaks(gaba: float) -> tuple[Peak, ...]:
    return (Peak(3.02, gaba, 14.0, "gauss"),)


def glx_peaks(glx: float) -> tuple[Peak, ...]:
    return (Peak(3.71, glx / 2, 9.0, "gauss"), Peak(3.79, glx / 2, 9.0, "gauss"))


@dataclass
class Scan:
    metab: np.ndarray  # (edit=2 [ON, OFF], dyn, coils, points)
    water: np.ndarray  # (1, dyn, coils, points)
    dwell_s: float
    mhz: float
    truth: dict[str, float] = field(default_factory=dict)
    drift_hz: np.ndarray | None = None


def coil_sensitivities(rng: np.random.Generator, n_coils: int) -> np.ndarray:
    """Complex receive sensitivities (one coil: 1)."""
    if n_coils == 1:
        return np.ones(1)
    return rng.normal(1, 0.3, n_coils) * np.exp(1j * rng.uniform(-np.pi, np.pi, n_coils))


def water_reference(sens: np.ndarray, t: np.ndarray, mhz: float, amplitude: float) -> np.ndarray:
    """Unsuppressed water, (1, 1, coils, points), 6 Hz Lorentzian at the receiver frequency."""
    water_fid = fid((Peak(WATER_PPM, amplitude, 6.0),), t, mhz)
    return np.broadcast_to(sens[None, None, :, None] * water_fid, (1, 1, len(sens), len(t))).copy()


def fid(peaks: tuple[Peak, ...], t: np.ndarray, mhz: float, shift_hz: float = 0.0) -> np.ndarray:
    out = np.zeros_like(t, dtype=np.complex128)
    for p in peaks:
        nu = (p.ppm - WATER_PPM) * mhz + shift_hz
        if p.shape == "gauss":
            sigma = p.width_hz / 2.3548
            decay = np.exp(-2 * np.pi**2 * sigma**2 * t**2)
        else:
            decay = np.exp(-np.pi * p.width_hz * t)
        out += p.amplitude * np.exp(2j * np.pi * nu * t) * decay
    return out


def true_area(amplitude: float, dwell_s: float, mhz: float) -> float:
    """Area in ppm units of a component of time-domain amplitude `amplitude` in `spectrum()`:
    the one-sided transform integrates to half the first point."""
    return amplitude / (2 * dwell_s * mhz)


def mega_scan(
    *,
    gaba: float = 1.0,
    glx: float = 1.5,
    n_dyn: int = 160,
    n_points: int = 2048,
    dwell_s: float = 1 / 2000,
    mhz: float = 123.25,
    n_coils: int = 1,
    noise: float = 0.0,
    drift_hz: float = 0.0,
    phase_jitter_deg: float = 0.0,
    motion: int = 0,
    water_amplitude: float = 3000.0,
    residual_water: float = 20.0,
    seed: int = 0,
) -> Scan:
    """One MEGA-PRESS scan: 2 x n_dyn transients, water reference, optional coils, noise (per
    transient and coil, complex Gaussian SD), linear-plus-random frequency drift (Hz), phase
    jitter (SD, degrees) and `motion` corrupted transients (scaled, dephased, shifted)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_points) * dwell_s
    edited = gaba_peaks(gaba) + glx_peaks(glx)
    base = BASE_PEAKS + (Peak(WATER_PPM, residual_water, 6.0),)
    drift = np.linspace(0, drift_hz, n_dyn) + (rng.normal(0, drift_hz / 6, n_dyn) if drift_hz else 0)
    phases = (
        np.deg2rad(rng.normal(0, phase_jitter_deg, (2, n_dyn))) if phase_jitter_deg else np.zeros((2, n_dyn))
    )
    sens = coil_sensitivities(rng, n_coils)
    metab = np.empty((2, n_dyn, n_coils, n_points), dtype=np.complex128)
    for d in range(n_dyn):
        b = fid(base, t, mhz, drift[d])
        e = fid(edited, t, mhz, drift[d])
        for edit, signal in ((0, b + 2 * e), (1, b)):
            metab[edit, d] = sens[:, None] * signal[None, :] * np.exp(1j * phases[edit, d])
    if motion:
        bad = rng.choice(n_dyn, size=motion, replace=False)
        for d in bad:
            edit = d % 2
            metab[edit, d] *= 0.6 * np.exp(1j * 1.2)
            metab[edit, d] *= np.exp(2j * np.pi * 15 * t)[None, :]
    # Noise from its own stream: the same seed gives the same noise with or without artefacts,
    # so a comparison isolates what the artefacts do.
    noise_rng = np.random.default_rng([seed, 1])
    if noise:
        metab += (
            noise
            * (noise_rng.normal(size=metab.shape) + 1j * noise_rng.normal(size=metab.shape))
            / np.sqrt(2)
        )
    water = water_reference(sens, t, mhz, water_amplitude)
    if noise:
        water += (
            noise
            * (noise_rng.normal(size=water.shape) + 1j * noise_rng.normal(size=water.shape))
            / np.sqrt(2)
        )
    # DIFF holds E once; the fit's Gaussian area equals the component's time-domain amplitude
    # over (dwell * MHz), phase-insensitive because E is real-amplitude by construction.
    truth = {
        "gaba_area": true_area(gaba, dwell_s, mhz),
        "glx_area": true_area(glx, dwell_s, mhz),
        "cr_area": true_area(BASE_PEAKS[1].amplitude, dwell_s, mhz),
        "water_area": true_area(water_amplitude, dwell_s, mhz),
    }
    return Scan(metab, water, dwell_s, mhz, truth, drift)


def write_philips_sdat(
    sdat: str | Path,
    spar: str | Path,
    fids: np.ndarray,
    *,
    dwell_s: float,
    mhz: float,
    te_ms: float = 68.0,
    tr_ms: float = 2000.0,
) -> None:
    """Philips SDAT/SPAR pair (tests only): `fids` is (rows, points); VAX F floats, left-handed as
    the scanner stores them (spec2nii conjugates on reading)."""
    rows, samples = fids.shape
    stored = np.conj(fids).astype(np.complex64)
    pairs = np.empty(rows * samples * 2, dtype=np.float32)
    pairs[0::2], pairs[1::2] = stored.real.ravel(), stored.imag.ravel()
    # VAX F = IEEE single scaled by 4 (exponent bias 128, hidden bit 0.1), 16-bit words swapped.
    words = (pairs * 4).astype(">f4").view(np.uint8).reshape(-1, 2)[:, ::-1]
    Path(sdat).write_bytes(words.tobytes())
    header = {
        "examination_name": "'synthetic'",
        "scan_id": "'MEGA'",
        "scan_date": "2026.11.26 10:00:00",
        "patient_name": "'Synthetic^Person'",
        "patient_birth_date": "'19800101'",
        "patient_position": '"head_first"',
        "patient_orientation": '"supine"',
        "samples": samples,
        "rows": rows,
        "synthesizer_frequency": int(round(mhz * 1e6)),
        "offset_frequency": 0,
        "sample_frequency": int(round(1 / dwell_s)),
        "echo_nr": 1,
        "mix_number": 1,
        "nucleus": '"1H"',
        "t0_mu1_direction": 0,
        "echo_time": te_ms,
        "repetition_time": tr_ms,
        "averages": 1,
        "volume_selection_enable": '"no"',
        "spectrum_inversion_time": 0,
    }
    Path(spar).write_text(
        "!-- synthetic SPAR written by KetaTrial tests\n" + "".join(f"{k} : {v}\n" for k, v in header.items())
    )


PRESS_TRUTH = {
    "cr": 8.0,
    "cho": 2.0,
    "naa": 10.0,
    "glu": 9.0,
    "gln": 3.0,
    "mi": 6.0,
    "gaba": 1.0,
    "tau": 1.5,
    "lac": 0.5,
    "si": 0.3,
    "mm": 1.0,
}


def press_scan(
    *,
    truth: dict[str, float] | None = None,
    te_s: float = 0.030,
    n_dyn: int = 32,
    n_points: int = 2048,
    dwell_s: float = 1 / 2000,
    mhz: float = 123.25,
    n_coils: int = 1,
    noise: float = 0.0,
    drift_hz: float = 0.0,
    lorentz_hz: float = 2.0,
    gauss_hz: float = 5.0,
    water_amplitude: float = 20000.0,
    seed: int = 0,
) -> Scan:
    """Short-TE PRESS transients from the simulated basis (basis.py) with known amplitudes per
    molecule, a common Voigt lineshape, linear drift, coils and noise; `metab` is (1, dyn, coils,
    points). Noise is per transient (the average has noise / sqrt(n_dyn))."""
    from spectroscopy import basis as basis_module

    truth = dict(PRESS_TRUTH if truth is None else truth)
    basis = basis_module.press_basis(te_s=te_s, mhz=mhz, dwell_s=dwell_s, n_points=n_points)
    t = np.arange(n_points) * dwell_s
    shape = np.exp(-np.pi * lorentz_hz * t - (np.pi * gauss_hz * t) ** 2 / (4 * np.log(2)))
    signal = sum(truth[k] * basis[k] for k in truth) * shape
    rng = np.random.default_rng(seed)
    drift = np.linspace(0, drift_hz, n_dyn)
    sens = coil_sensitivities(rng, n_coils)
    metab = np.empty((1, n_dyn, n_coils, n_points), dtype=np.complex128)
    for d in range(n_dyn):
        metab[0, d] = sens[:, None] * (signal * np.exp(2j * np.pi * drift[d] * t))[None, :]
    if noise:
        metab += noise * (rng.normal(size=metab.shape) + 1j * rng.normal(size=metab.shape)) / np.sqrt(2)
    water = water_reference(sens, t, mhz, water_amplitude)
    return Scan(metab, water, dwell_s, mhz, truth, drift)
