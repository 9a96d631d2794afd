"""MEGA-PRESS preprocessing, vectorized across transients. Pure: no Django.

Coil combination (noise-whitened SNR-optimal weights), eddy-current correction (Klose),
frequency-and-phase correction of every transient by spectral registration (Near 2015) solved for
all transients at once (a coarse frequency grid, then Gauss-Newton), outlier rejection on the
robust z-score of each transient's error against the median, DIFF and SUM, HSVD water removal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

WATER_PPM = 4.68


def ppm_axis(n_points: int, dwell_s: float, mhz: float) -> np.ndarray:
    """ppm of each point of `spectrum()`, water at 4.68 ppm on resonance."""
    return WATER_PPM + np.fft.fftshift(np.fft.fftfreq(n_points, dwell_s)) / mhz


def spectrum(fids: np.ndarray) -> np.ndarray:
    """Spectra (last axis) with the first FID point halved, so peak areas are exact."""
    scaled = fids.copy()
    scaled[..., 0] *= 0.5
    return np.fft.fftshift(np.fft.fft(scaled, axis=-1), axes=-1)


def coil_weights(reference: np.ndarray, noise_source: np.ndarray) -> np.ndarray:
    """w = (S^H Psi^-1 S)^-1 S^H Psi^-1: S = coil vector of the reference's first point (unit
    norm), Psi = coil noise covariance from the last 25 % of the points of `noise_source`
    (coils on axis -2, points on axis -1; any leading axes are pooled)."""
    n_coils, n_points = noise_source.shape[-2:]
    if n_coils == 1:
        s = complex(reference[..., 0, 0].reshape(-1).mean())
        return np.array([np.conj(s) / abs(s)]) if abs(s) else np.ones(1, dtype=complex)
    from scipy.linalg.blas import get_blas_funcs

    tail = noise_source[..., n_points - n_points // 4 :]
    noise = np.moveaxis(tail, -2, 0).reshape(n_coils, -1)  # (coils, samples)
    # Psi = N N^H / samples as a Hermitian rank-k update (half a matrix product's work) on N^T, a
    # Fortran-ordered view that BLAS reads in place: herk gives the upper triangle of
    # (N^T)^H N^T = conj(N N^H).
    upper = get_blas_funcs("herk", (noise,))(1.0, noise.T, trans=2)
    psi = np.conj(np.triu(upper) + np.triu(upper, 1).conj().T) / noise.shape[1]
    psi += np.eye(n_coils) * 1e-9 * np.trace(psi).real / n_coils
    s = reference[..., :, 0].reshape(-1, n_coils).mean(axis=0)
    s = s / np.linalg.norm(s)
    psi_inv_s = np.linalg.solve(psi, s)
    return psi_inv_s.conj() / np.real(s.conj() @ psi_inv_s)


def combine(fids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum over the coil axis (-2), in double precision."""
    if fids.shape[-2] == 1:
        return fids[..., 0, :].astype(np.complex128) * complex(weights[0])
    return np.matmul(weights.astype(fids.dtype), fids).astype(np.complex128)


def eddy_current_correct(fids: np.ndarray, water_fid: np.ndarray) -> np.ndarray:
    """Klose: remove the water reference's time-dependent phase from every FID."""
    phase = np.unwrap(np.angle(water_fid))
    return fids * np.exp(-1j * phase)


@dataclass(frozen=True)
class Alignment:
    freq_hz: np.ndarray
    phase_rad: np.ndarray


REGISTRATION_WINDOW_S = 0.2


def registration_points(n_points: int, dwell_s: float, window_s: float = REGISTRATION_WINDOW_S) -> int:
    """How many of the first FID points `register` compares (the first `window_s` seconds)."""
    return max(16, min(n_points, int(window_s / dwell_s)))


def register(
    fids: np.ndarray,
    reference: np.ndarray,
    dwell_s: float,
    *,
    window_s: float = REGISTRATION_WINDOW_S,
    search_hz: float = 20.0,
    grid_hz: float = 0.5,
    iterations: int = 8,
) -> Alignment:
    """Frequency and phase of every transient (rows of `fids`) that best match `reference`
    within the first `window_s` seconds: a grid search of the correlation over frequency (one
    matrix product for all transients), then Gauss-Newton on (f, phi) for all at once. Only the
    first `registration_points` points of `fids` and `reference` are used."""
    n_t = registration_points(fids.shape[-1], dwell_s, window_s)
    t = np.arange(n_t) * dwell_s
    s = fids[:, :n_t]
    r = reference[:n_t]
    grid = np.arange(-search_hz, search_hz + grid_hz / 2, grid_hz)
    rotors = np.exp(2j * np.pi * np.outer(grid, t))  # (n_grid, n_t)
    corr = (rotors * np.conj(r)[None, :]) @ s.T  # (n_grid, n_transients)
    best = np.argmax(np.abs(corr), axis=0)
    f = grid[best].astype(float)
    phi = -np.angle(corr[best, np.arange(s.shape[0])])
    two_pi_t = 2 * np.pi * t
    # Gauss-Newton for m = s exp(i (2 pi f t + phi)) against r. With the Jacobian columns
    # i 2 pi t m and i m, the normal matrix holds only |m|^2 = |s|^2 (the same at every step) and
    # the gradient only Im(conj(m) r) = Im(conj(s) r exp(-i (2 pi f t + phi))): one complex
    # exponential per transient and point per step.
    power = np.abs(s) ** 2
    a11 = power @ two_pi_t**2
    a12 = power @ two_pi_t
    a22 = power.sum(axis=1)
    det = a11 * a22 - a12**2
    det = np.where(det == 0, 1.0, det)
    cross = np.conj(s) * r[None, :]
    for _ in range(iterations):
        q = np.imag(cross * np.exp(-1j * (np.outer(f, two_pi_t) + phi[:, None])))
        b1 = q @ two_pi_t
        b2 = q.sum(axis=1)
        df = (a22 * b1 - a12 * b2) / det
        dp = (a11 * b2 - a12 * b1) / det
        f += df
        phi += dp
        if np.max(np.abs(df)) < 1e-4:
            break
    return Alignment(f, phi)


def apply_alignment(fids: np.ndarray, alignment: Alignment, dwell_s: float) -> np.ndarray:
    t = np.arange(fids.shape[-1]) * dwell_s
    return fids * np.exp(1j * (np.outer(alignment.freq_hz, 2 * np.pi * t) + alignment.phase_rad[:, None]))


def outliers(
    fids: np.ndarray, ppm: np.ndarray, *, low: float = 1.8, high: float = 4.2, z_max: float = 3.0
) -> np.ndarray:
    """True for transients whose squared error against the median transient (real spectra in
    low-high ppm) has a robust z-score above `z_max`."""
    spec = np.real(spectrum(fids))[:, (ppm >= low) & (ppm <= high)]
    median = np.median(spec, axis=0)
    mse = np.mean((spec - median) ** 2, axis=1)
    centre = np.median(mse)
    mad = 1.4826 * np.median(np.abs(mse - centre))
    if mad == 0:  # most transients identical (noise-free data): fall back on the mean deviation
        mad = 1.4826 * np.mean(np.abs(mse - centre))
        if mad == 0:
            return np.zeros(len(mse), dtype=bool)
    return (mse - centre) / mad > z_max


def hsvd_remove(fid: np.ndarray, dwell_s: float, mhz: float, **options: Any) -> np.ndarray:
    """`fid` less its residual water (`hsvd_water`, with the same options)."""
    return fid - hsvd_water(fid, dwell_s, mhz, **options)


def hsvd_water(
    fid: np.ndarray,
    dwell_s: float,
    mhz: float,
    *,
    low_ppm: float = 4.2,
    high_ppm: float = 5.2,
    components: int = 20,
    points: int = 512,
) -> np.ndarray:
    """The residual-water part of `fid`: `components` damped exponentials fitted to the first
    `points` (Hankel SVD, matrix pencil), those with a frequency in low-high ppm. Subtracted from
    several FIDs that share it (ON and OFF: editing leaves water alone).

    The signal subspace (the Hankel matrix H's leading left singular vectors) is taken as the
    leading eigenvectors of H H^H, only those computed: half the time of a full SVD, and the
    pencil's poles are those of any basis of that subspace."""
    from scipy.linalg import eigh

    n = min(points, fid.shape[-1])
    rows = n // 2
    hankel = np.lib.stride_tricks.sliding_window_view(fid[:n], n - rows + 1)[:rows]
    k = min(components, rows)
    _values, uk = eigh(hankel @ hankel.conj().T, subset_by_index=[rows - k, rows - 1])
    z = np.linalg.eigvals(np.linalg.pinv(uk[:-1]) @ uk[1:])
    amps, *_ = np.linalg.lstsq(_powers(z, n), fid[:n], rcond=None)
    freq_ppm = WATER_PPM + np.angle(z) / (2 * np.pi * dwell_s) / mhz
    water = (freq_ppm >= low_ppm) & (freq_ppm <= high_ppm) & (np.abs(z) <= 1.0)
    return _powers(z[water], fid.shape[-1]) @ amps[water]


def _powers(z: np.ndarray, count: int) -> np.ndarray:
    """z ** k for k = 0 .. count - 1, one column per pole, as exp(k log z) (a fifth of the time
    of a complex power)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.outer(np.arange(count), np.log(z)))
    out[0] = 1.0
    out[1:, z == 0] = 0.0
    return out


def pair_offset(on: Alignment, off: Alignment, accepted: np.ndarray) -> Alignment:
    """The correction that puts the aligned ON average in the aligned OFF average's frame.

    Each condition was aligned to its own reference, whose frequency and phase are arbitrary (the
    first transients' drift, jitter, a motion-corrupted one among them). MEGA interleaves ON and
    OFF, so the scanner's drift and phase are the same for the d-th ON and d-th OFF transient:
    the mean paired difference of their corrections is the offset between the two references,
    free of anything editing changes in the spectra (which biases any spectral registration of
    the averages: GABA's and MM's edited lines lie under tCr and tCho, and the 1.9 ppm pulse
    changes NAA). `accepted` is (2, n) with the rejected transients False."""
    n = min(len(on.freq_hz), len(off.freq_hz))
    keep = accepted[0, :n] & accepted[1, :n]
    if not keep.any():
        return Alignment(np.zeros(1), np.zeros(1))
    df = float(np.mean(on.freq_hz[:n][keep] - off.freq_hz[:n][keep]))
    dphi = float(np.angle(np.mean(np.exp(1j * (on.phase_rad[:n][keep] - off.phase_rad[:n][keep])))))
    return Alignment(np.array([-df]), np.array([-dphi]))
