"""Our MEGA-PRESS simulation (basis.py, the fit's basis) against MRSandbox's (the independent
physics the benchmarks use), where both exist: the edited areas per proton and the shapes of the
DIFF lines the fit uses. Two independently written density-matrix simulations that agree here
are evidence for both; where they differ the number is stated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectroscopy import basis, processing, synthetic

PAIRS = [  # ours, MRSandbox's, window
    ("gaba", "GABA", (2.75, 3.25)),
    ("glu", "Glu", (3.55, 3.95)),
    ("mm30", "MM167", (2.75, 3.25)),
]


def theirs(name: str, window: tuple[float, float]) -> float:
    lines = json.loads(synthetic.INDEPENDENT_BASIS.with_name("mega_basis_mrsandbox.json").read_text())
    table = lines["lines_ppm_and_real_amplitude"][name]
    inside = {c: sum(a for p, a in table[c] if window[0] <= p <= window[1]) for c in ("on", "off")}
    return (inside["on"] - inside["off"]) / 2 * 2  # their unit is 0.5 per proton, ours 1


@pytest.mark.parametrize(("ours", "name", "window"), PAIRS, ids=[p[0] for p in PAIRS])
def test_the_edited_area_per_proton_agrees_with_mrsandbox_within_twelve_percent(ours, name, window) -> None:
    mhz = synthetic.independent_basis().mhz
    mine = basis.edited_area(ours, *window, mhz=round(mhz, 4))
    other = theirs(name, window)
    # Measured: GABA -3.5 %, Glu +0.6 %, MM +11 % (MRSandbox puts the chain's partner at 1.67
    # ppm, we at 1.70 ppm, nearer the 1.9 ppm editing pulse's band edge).
    assert mine == pytest.approx(other, rel=0.12)


@pytest.mark.parametrize(("ours", "name", "window"), PAIRS[:2], ids=[p[0] for p in PAIRS[:2]])
def test_the_edited_lines_have_the_same_shape_as_mrsandbox(ours, name, window) -> None:
    independent = synthetic.independent_basis()
    n, dwell, mhz = 2048, independent.dwell_s, independent.mhz
    t = np.arange(n) * dwell
    shape = np.exp(-np.pi * 3.0 * t - (np.pi * 4.0 * t) ** 2 / (4 * np.log(2)))
    lines = basis.mega_lines(mhz=round(mhz, 4))[ours]
    ppm = np.concatenate([lines["on"][0], lines["off"][0]])
    amps = np.concatenate([0.5 * lines["on"][1], -0.5 * lines["off"][1]])
    mine = np.real(processing.spectrum(basis.render(ppm, amps, mhz=mhz, dwell_s=dwell, n_points=n) * shape))
    fids = independent.fids[name]
    other = np.real(processing.spectrum((fids[0] - fids[1]) / 2 * shape))
    # Both on their own axes: ours has the receiver at 4.68 ppm, the file's at 4.65 ppm.
    axis_mine = processing.ppm_axis(n, dwell, mhz)
    axis_other = independent.centre_ppm + np.fft.fftshift(np.fft.fftfreq(n, dwell)) / mhz
    grid = np.linspace(*window, 400)
    a = np.interp(grid, axis_mine, mine)
    b = np.interp(grid, axis_other, other)
    # Measured: GABA 0.93 (our ideal editing band keeps the two outer lines a little closer), Glu
    # above 0.97.
    assert np.corrcoef(a, b)[0, 1] > (0.9 if ours == "gaba" else 0.97)
