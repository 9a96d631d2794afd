"""Preprocessing pieces on signals with a known answer: registration of every transient at once
and HSVD water removal."""

from __future__ import annotations

import numpy as np
import pytest

from spectroscopy import processing

DWELL = 1 / 2000
MHZ = 123.25
N = 2048


def lines(t: np.ndarray, *peaks: tuple[float, float, float]) -> np.ndarray:
    """Sum of damped complex exponentials (amplitude, ppm, T2* in s) on the 4.68 ppm axis."""
    return sum(
        a * np.exp((2j * np.pi * (ppm - processing.WATER_PPM) * MHZ - 1 / t2) * t) for a, ppm, t2 in peaks
    )


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_register_recovers_the_frequency_and_phase_of_every_transient(noise: float) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(N) * DWELL
    reference = lines(t, (1.0, 2.01, 0.08), (0.8, 3.03, 0.08), (0.6, 3.21, 0.08))
    freq = rng.uniform(-8, 8, 64)
    phase = rng.uniform(-1, 1, 64)
    # Each transient is the reference moved by (freq, phase): the correction undoes it.
    transients = reference[None, :] * np.exp(-1j * (2 * np.pi * np.outer(freq, t) + phase[:, None]))
    transients = transients + noise * (
        rng.normal(size=transients.shape) + 1j * rng.normal(size=transients.shape)
    )

    found = processing.register(transients, reference, DWELL)

    tolerance = (1e-6, 1e-6) if noise == 0 else (0.05, 0.01)
    np.testing.assert_allclose(found.freq_hz, freq, atol=tolerance[0])
    np.testing.assert_allclose(found.phase_rad, phase, atol=tolerance[1])
    aligned = processing.apply_alignment(transients, found, DWELL)
    if noise == 0:
        np.testing.assert_allclose(aligned, np.broadcast_to(reference, aligned.shape), atol=1e-6)


def test_register_looks_only_at_its_window() -> None:
    t = np.arange(N) * DWELL
    reference = lines(t, (1.0, 2.01, 0.08), (0.8, 3.03, 0.08))
    transients = reference[None, :] * np.exp(-1j * 2 * np.pi * 3.0 * t)[None, :]
    window = processing.registration_points(N, DWELL)
    scrambled = transients.copy()
    scrambled[:, window:] = 0  # what lies past the window changes nothing

    whole = processing.register(transients, reference, DWELL)
    cut = processing.register(scrambled, reference[:window], DWELL)

    assert window == 400
    np.testing.assert_allclose(cut.freq_hz, whole.freq_hz, atol=1e-9)
    np.testing.assert_allclose(cut.freq_hz, [3.0], atol=1e-6)


def test_hsvd_water_returns_the_water_line_and_leaves_the_metabolites() -> None:
    t = np.arange(N) * DWELL
    water = lines(t, (50.0, 4.68, 0.05), (8.0, 4.75, 0.03))
    metabolites = lines(t, (1.0, 2.01, 0.08), (0.8, 3.03, 0.08), (0.6, 3.21, 0.08))

    found = processing.hsvd_water(water + metabolites, DWELL, MHZ)

    np.testing.assert_allclose(found, water, atol=1e-6 * np.abs(water).max())
    removed = processing.hsvd_remove(water + metabolites, DWELL, MHZ)
    np.testing.assert_allclose(removed, metabolites, atol=1e-6 * np.abs(water).max())


def test_powers_of_the_poles_include_a_pole_at_zero() -> None:
    z = np.array([0.0, 0.5j, 0.99 * np.exp(0.3j)])

    np.testing.assert_allclose(processing._powers(z, 40), z[None, :] ** np.arange(40)[:, None], atol=1e-14)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_coil_weights_follow_the_noise_whitened_formula(dtype: type) -> None:
    rng = np.random.default_rng(11)
    n_coils, n_transients = 6, 40
    mixing = rng.normal(size=(n_coils, n_coils)) + 1j * rng.normal(size=(n_coils, n_coils))
    white = rng.normal(size=(n_transients, n_coils, N)) + 1j * rng.normal(size=(n_transients, n_coils, N))
    sensitivities = rng.normal(size=n_coils) + 1j * rng.normal(size=n_coils)
    decay = np.exp(-np.arange(N) * DWELL / 0.05)  # the signal is gone in the last quarter
    signal = 100 * sensitivities[None, :, None] * decay[None, None, :]
    fids = (np.einsum("cd,tdn->tcn", mixing, white) + signal).astype(dtype)

    weights = processing.coil_weights(fids, fids)

    tail = np.moveaxis(fids[..., N - N // 4 :], 1, 0).reshape(n_coils, -1).astype(np.complex128)
    psi = tail @ tail.conj().T / tail.shape[1]
    psi += np.eye(n_coils) * 1e-9 * np.trace(psi).real / n_coils  # the same regularisation
    s = fids[:, :, 0].astype(np.complex128).mean(axis=0)
    s /= np.linalg.norm(s)
    expected = np.linalg.solve(psi, s).conj() / np.real(s.conj() @ np.linalg.solve(psi, s))
    np.testing.assert_allclose(weights, expected, rtol=1e-3 if dtype is np.complex64 else 1e-10)
    assert abs(weights @ s - 1) < 1e-4  # the signal passes with unit gain
