"""MRS speed: seconds per dataset from file to result, on one thread. Prints its figures; not a test.

    DEBUG=1 .venv/bin/python -m benchmarks.mrs_speed              # 7 runs per file
    DEBUG=1 .venv/bin/python -m benchmarks.mrs_speed --runs 15

Datasets: MRSandbox-physics MEGA-PRESS scans (synthetic.independent_mega_scan), 2 x 160 transients
x 2048 points, with 32 coils and with one, written by the `nifti_mrs` library as spec2nii writes
them (NIfTI-2, gzip level 1 for a .nii.gz, an uncombined series as (points, coil, dyn, edit)) and
read back: reading is part of the time. Goal: under 1 s for the 32-coil `.nii.gz`.

The numerical libraries are held to one thread (OMP/OpenBLAS/MKL variables set before numpy is
imported). For each file: the median and minimum wall-clock seconds over the runs, the median CPU
seconds of the process (steadier than wall-clock on a shared machine), and the median of each
stage: `read` (both files: inflate, conjugate, check, reorder), `combine` (coil weights and
combination, eddy-current correction, orientation check), `align` (every transient's frequency
and phase, outliers, ON/OFF pairing), `fit` (residual water removal, fits, quantities, QC).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"  # one thread, whatever the shell says

import numpy as np  # noqa: E402

from spectroscopy.io import read_nifti_mrs  # noqa: E402
from spectroscopy.pipeline import quantify  # noqa: E402
from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs  # noqa: E402

STAGES = ("read", "combine", "align", "fit")


def write_scan(folder: Path, coils: int, ext: str) -> tuple[Path, Path]:
    """The benchmark scan as NIfTI-MRS files (metabolites, water reference)."""
    scan = independent_mega_scan(n_coils=coils, noise=1.0, drift_hz=3.0, seed=7)
    metab = write_nifti_mrs(
        folder / f"metab{coils}.{ext}",
        np.transpose(scan.metab, (3, 2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    water = write_nifti_mrs(
        folder / f"water{coils}.{ext}",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    return metab, water


def one_run(metab_path: Path, water_path: Path) -> dict[str, float]:
    """Seconds of one dataset from its files to its result: total, CPU and per stage."""
    timings: dict[str, float] = {}
    cpu, started = time.process_time(), time.perf_counter()
    metab = read_nifti_mrs(metab_path, require_edit=True)
    water = read_nifti_mrs(water_path)
    timings["read"] = time.perf_counter() - started
    quantify(metab, water, timings=timings)
    timings["total"] = time.perf_counter() - started
    timings["cpu"] = time.process_time() - cpu
    return timings


def main(runs: int = 7) -> None:
    print(f"one thread, median of {runs} runs per file (wall-clock seconds unless said)")
    with tempfile.TemporaryDirectory() as tmp:
        for coils in (32, 1):
            for ext in ("nii.gz", "nii"):
                metab_path, water_path = write_scan(Path(tmp), coils, ext)
                one_run(metab_path, water_path)  # warm: the DIFF basis is simulated once per process
                results = [one_run(metab_path, water_path) for _ in range(runs)]
                total = [r["total"] for r in results]
                stages = ", ".join(f"{s} {statistics.median(r[s] for r in results):.3f}" for s in STAGES)
                size = (metab_path.stat().st_size + water_path.stat().st_size) / 1e6
                print(
                    f"{coils:>2} coil(s), .{ext:<6} ({size:5.0f} MB): median {statistics.median(total):.3f} s, "
                    f"min {min(total):.3f} s, CPU {statistics.median(r['cpu'] for r in results):.3f} s "
                    f"| {stages}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per file (default 7)")
    main(parser.parse_args().runs)
