"""MRS speed: seconds per dataset from file to result, on one thread. Prints its figures; not a test.

    DEBUG=1 .venv/bin/python -m benchmarks.mrs_speed              # 7 runs per file
    DEBUG=1 .venv/bin/python -m benchmarks.mrs_speed --runs 15
    DEBUG=1 .venv/bin/python -m benchmarks.mrs_speed --fsl-mrs /tmp/fslvenv   # and FSL-MRS beside it

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

`--fsl-mrs VENV` (a venv or bin folder holding FSL-MRS, installed apart from ours) puts FSL-MRS
beside us on the 32-coil `.nii.gz` and its water reference, the same number of runs, one thread:
its scripts as a user runs them (benchmarks/fsl_mrs_side.py says which, and why), each a new
process, and the same scripts' `main()` in one warm process; we likewise in process and in a new
process each run (start-up, imports and our basis simulation). It prints the medians, the ratios,
and GABA+/tCr and Glx/tCr from both beside the truth of the scan, FSL-MRS's taken from its fitted
concentrations as the truth is (synthetic.independent_truth). Its basis folders are set up first,
untimed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"  # one thread, whatever the shell says

import numpy as np  # noqa: E402

from benchmarks.fsl_mrs_side import fsl_steps  # noqa: E402
from spectroscopy.io import read_nifti_mrs  # noqa: E402
from spectroscopy.pipeline import quantify  # noqa: E402
from spectroscopy.synthetic import independent_mega_scan, independent_truth, write_nifti_mrs  # noqa: E402

STAGES = ("read", "combine", "align", "fit")
SCAN = {"noise": 1.0, "drift_hz": 3.0, "seed": 7}  # the benchmark scan, besides its coils
HERE = Path(__file__).resolve().parent
# One dataset from its files in a new Python process: what a command-line tool of ours would pay.
FRESH_RUN = (
    "import sys; from spectroscopy.io import read_nifti_mrs; from spectroscopy.pipeline import quantify; "
    "quantify(read_nifti_mrs(sys.argv[1], require_edit=True), read_nifti_mrs(sys.argv[2]))"
)


def write_scan(folder: Path, coils: int, ext: str) -> tuple[Path, Path]:
    """The benchmark scan as NIfTI-MRS files (metabolites, water reference)."""
    scan = independent_mega_scan(n_coils=coils, **SCAN)
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


def seconds_of(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall-clock and CPU seconds (its own and its children's) of one command, its output dropped."""
    before, started = os.times(), time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, after = time.perf_counter() - started, os.times()
    return wall, after.children_user - before.children_user + after.children_system - before.children_system


def fsl_mrs_runs(bin_dir: Path, steps: list[tuple[str, list[str]]], runs: int) -> list[dict[str, float]]:
    """FSL-MRS's scripts run as a user runs them, one after the other, after one warm run."""
    results = []
    for _ in range(runs + 1):
        timings = {"total": 0.0, "cpu": 0.0}
        for name, argv in steps:
            wall, cpu = seconds_of([str(bin_dir / argv[0]), *argv[1:]])
            timings[name] = wall
            timings["total"] += wall
            timings["cpu"] += cpu
        results.append(timings)
    return results[1:]


def ratios(values: dict[str, float]) -> dict[str, float]:
    """GABA+/tCr and Glx/tCr from fitted concentrations, as the scan's truth defines them."""
    truth = independent_truth(values)
    return {"gaba_plus_cr": truth["gaba_plus_cr"], "glx_cr": truth["glx_cr"]}


def side_by_side(
    fsl: Path, metab_path: Path, water_path: Path, runs: int, ours: list[dict[str, float]]
) -> None:
    """FSL-MRS beside our pipeline on the same files: medians, ratios and accuracy."""
    bin_dir = fsl / "bin" if (fsl / "bin").is_dir() else fsl
    python = str(bin_dir / "python")
    helper = str(HERE / "fsl_mrs_side.py")
    version = subprocess.run(
        [str(bin_dir / "fsl_mrs"), "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    basis, work = metab_path.parent / "fsl_basis", metab_path.parent / "fsl_work"
    work.mkdir(exist_ok=True)
    subprocess.run([python, helper, "basis", str(basis)], check=True)  # setup, not timed
    steps = fsl_steps(metab_path, water_path, basis, work)

    fresh = [
        seconds_of([sys.executable, "-c", FRESH_RUN, str(metab_path), str(water_path)], cwd=HERE.parent)
        for _ in range(runs + 1)
    ][1:]
    cli = fsl_mrs_runs(bin_dir, steps, runs)
    in_process = json.loads(
        subprocess.run(
            [python, helper, "in-process", str(metab_path), str(water_path), str(basis), str(work)]
            + ["--runs", str(runs)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    amounts = json.loads(
        subprocess.run(
            [python, helper, "amounts", str(work), str(basis)], check=True, capture_output=True, text=True
        ).stdout
    )

    def median(results: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in results)

    ours_fresh = statistics.median(wall for wall, _cpu in fresh)
    rows = [
        ("ours, in process", median(ours, "total"), f"CPU {median(ours, 'cpu'):.3f}"),
        (
            "ours, a new process each run",
            ours_fresh,
            f"CPU {statistics.median(cpu for _wall, cpu in fresh):.3f}",
        ),
    ]
    for label, results in (
        ("its scripts, a new process each", cli),
        ("its scripts' main() in one process", in_process),
    ):
        steps_text = ", ".join(f"{name} {median(results, name):.2f}" for name, _argv in steps)
        rows.append(
            (
                f"FSL-MRS, {label}",
                median(results, "total"),
                f"CPU {median(results, 'cpu'):.3f} | {steps_text}",
            )
        )
    print(f"\nbeside FSL-MRS {version}, 32 coils, .nii.gz, same files and runs (median seconds):")
    for label, seconds, extra in rows:
        print(f"  {label:<45}{seconds:7.3f}  {extra}")
    print(
        f"  FSL-MRS / ours: {median(cli, 'total') / ours_fresh:.1f}x as new processes, "
        f"{median(in_process, 'total') / median(ours, 'total'):.1f}x in process, "
        f"{median(cli, 'total') / median(ours, 'total'):.1f}x its scripts against ours in process"
    )

    truth = independent_mega_scan(n_coils=32, **SCAN).truth
    ours_values = quantify(read_nifti_mrs(metab_path, require_edit=True), read_nifti_mrs(water_path)).values
    # GABA+ (GABA, co-edited MM) and Glx from the DIFF fit, tCr from the OFF fit.
    theirs = ratios({**amounts["diff"], "Cr": amounts["off"]["Cr"], "PCr": amounts["off"]["PCr"]})
    for key, label in (("gaba_plus_cr", "GABA+/tCr"), ("glx_cr", "Glx/tCr")):
        print(
            f"  {label:<10} truth {truth[key]:.4f}"
            + "".join(
                f", {who} {value:.4f} ({value / truth[key] - 1:+.1%})"
                for who, value in (("ours", ours_values[key]), ("FSL-MRS", theirs[key]))
            )
        )


def main(runs: int = 7, fsl_mrs: Path | None = None) -> None:
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
                if fsl_mrs is not None and (coils, ext) == (32, "nii.gz"):
                    side_by_side(fsl_mrs, metab_path, water_path, runs, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per file (default 7)")
    parser.add_argument(
        "--fsl-mrs", type=Path, metavar="VENV", help="a venv or bin folder holding FSL-MRS: run it beside us"
    )
    args = parser.parse_args()
    main(args.runs, args.fsl_mrs)
