"""Regenerate the independent MEGA-PRESS basis (`mega_basis_mrsandbox.nii.gz` beside this file).

Not run by the tests or CI: it needs MRSandbox (J. P. Merkofer, MIT licence, PyPI `mrsandbox`),
a density-matrix simulator this project did not write, and a Keras backend. In a separate venv:

    python -m venv /tmp/simvenv && /tmp/simvenv/bin/pip install mrsandbox==0.1.3 jax==0.10.2
    KERAS_BACKEND=jax /tmp/simvenv/bin/python benchmarks/independent/make_mega_basis.py

Each spin system (metabolite group, macromolecule chain, lipid, water) is run through
MRSandbox's ideal MEGA-PRESS (Mescher 1998; FID-A timing, TE 68 ms, 20 ms editing pulses at
1.88 ppm ON and 7.5 ppm OFF) at 2.89 T, rendered noise-free with a 0.5 Hz Lorentzian, moved so the
receiver sits at 4.65 ppm exactly as MRSandbox's own NIfTI-MRS writer does, and stored through
the `nifti_mrs` library (the standard's own, which conjugates on creation): data shape
(1, 1, 1, 2048, 2 [DIM_EDIT: ON, OFF], n_systems [DIM_USER_0]). The sidecar JSON names the
systems, their proton counts and the simulation settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")

import mrsandbox  # noqa: E402
from mrsandbox import Engine, MegaPress, SpinSystem  # noqa: E402
from nifti_mrs.create_nmrs import gen_nifti_mrs_hdr_ext  # noqa: E402
from nifti_mrs.hdr_ext import Hdr_Ext  # noqa: E402

HERE = Path(__file__).resolve().parent
B0_T = 2.89
N_POINTS = 2048
DWELL_S = 1 / 2000
RECEIVER_PPM = 4.65
METABOLITES = (
    "NAA",
    "NAAG",
    "Cr",
    "PCr",
    "GPC",
    "PCho",
    "Ins",
    "sIns",
    "Glu",
    "Gln",
    "GSH",
    "GABA",
    "Asp",
    "Tau",
    "Lac",
    "Ala",
    "PE",
)
# Macromolecule chains as MRSandbox's CoupledMM states them (consensus couplings), plus
# lipid and water singlets: (name, ((ppm, protons), ...), coupled pairs, J Hz).
EXTRA = (
    ("MM091", ((0.91, 3), (2.04, 1)), ((0, 1),), 7.7),
    ("MM121", ((1.21, 3), (4.24, 1)), ((0, 1),), 6.6),
    ("MM143", ((1.43, 3), (4.32, 1)), ((0, 1),), 7.7),
    ("MM167", ((1.67, 2), (2.99, 2)), ((0, 1),), 7.7),
    ("MM226", ((2.26, 1),), (), 0.0),
    ("MM321", ((3.21, 1),), (), 0.0),
    ("MM377", ((3.77, 1),), (), 0.0),
    ("Lip09", ((0.90, 3),), (), 0.0),
    ("Lip13", ((1.30, 2),), (), 0.0),
    ("H2O", ((4.68, 2),), (), 0.0),
)


def chain(name, groups, couplings, j_hz, gamma):
    shifts = tuple(ppm for ppm, protons in groups for _ in range(protons))
    j = [[0.0] * len(shifts) for _ in shifts]
    offsets = [sum(p for _, p in groups[:k]) for k in range(len(groups))]
    for a, b in couplings:
        for i in range(offsets[a], offsets[a] + groups[a][1]):
            for k in range(offsets[b], offsets[b] + groups[b][1]):
                j[i][k] = j[k][i] = j_hz
    return SpinSystem(
        name=name, nucleus="1H", shifts_ppm=shifts, j_hz=tuple(map(tuple, j)), scale=1.0, gamma_mhz_t=gamma
    )


def main() -> None:
    engine = Engine(B0_T)
    pair = MegaPress.pair()
    systems = {m: SpinSystem.from_database(m) for m in METABOLITES}
    gamma = systems["Cr"][0].gamma_mhz_t
    for name, groups, couplings, j_hz in EXTRA:
        systems[name] = (chain(name, groups, couplings, j_hz, gamma),)
    f0 = float(engine.f0_mhz(*systems["Cr"]))
    t = np.arange(N_POINTS) * DWELL_S
    turn = np.exp(-2j * np.pi * RECEIVER_PPM * f0 * t)
    data = np.zeros((1, 1, 1, N_POINTS, 2, len(systems)), dtype=np.complex64)
    lines: dict[str, dict[str, list]] = {}
    for k, (name, group) in enumerate(systems.items()):
        for e, condition in enumerate(("on", "off")):
            # The transitions themselves (ppm, absorptive amplitude): the truth of an area is the
            # sum of the lines inside a window, free of the truncation and tails of any FID.
            freqs, amps = (np.asarray(x) for x in engine.lines(pair[condition], *group))
            keep = np.abs(amps) > 1e-5
            lines.setdefault(name, {})[condition] = [
                [round(float(f) / f0, 5), round(float(a.real), 6)]
                for f, a in zip(freqs[keep], amps[keep], strict=True)
            ]
            fid = np.asarray(
                engine.fid(pair[condition], *group, npoints=N_POINTS, dwell_s=DWELL_S, lw_hz=0.5)
            )[1]
            data[0, 0, 0, :, e, k] = fid * turn
        print(name, "done")
    header = Hdr_Ext(f0, "1H", dimensions=6)
    header.set_dim_info(0, "DIM_EDIT", hdr={"EditCondition": ["ON", "OFF"]})
    header.set_dim_info(1, "DIM_USER_0", info="spin systems, named in the sidecar JSON")
    header.set_standard_def("EchoTime", 0.068)
    header.set_standard_def("RepetitionTime", 2.0)
    image = gen_nifti_mrs_hdr_ext(data, DWELL_S, header)
    image.save(str(HERE / "mega_basis_mrsandbox.nii.gz"))
    (HERE / "mega_basis_mrsandbox.json").write_text(
        json.dumps(
            {
                "simulator": f"mrsandbox {mrsandbox.__version__} (KERAS_BACKEND={os.environ['KERAS_BACKEND']})",
                "sequence": "mrsandbox.MegaPress.pair(): ideal MEGA-PRESS, TE 68 ms, ON 1.88 ppm, OFF 7.5 ppm",
                "b0_t": B0_T,
                "spectrometer_mhz": f0,
                "dwell_s": DWELL_S,
                "points": N_POINTS,
                "receiver_ppm": RECEIVER_PPM,
                "render_lorentz_hz": 0.5,
                "systems": list(systems),
                "protons": {
                    name: int(round(sum(len(s.shifts_ppm) * s.scale for s in g)))
                    for name, g in systems.items()
                },
                "written_with": "nifti_mrs.create_nmrs.gen_nifti_mrs_hdr_ext (conjugates on creation)",
                "lines_ppm_and_real_amplitude": lines,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
