"""FSL-MRS's side of `benchmarks.mrs_speed --fsl-mrs`, run with FSL-MRS's own Python, never ours.

    FSL=/tmp/fslvenv/bin
    $FSL/python benchmarks/fsl_mrs_side.py basis BASIS                 # FSL-MRS basis folders (setup)
    $FSL/python benchmarks/fsl_mrs_side.py in-process METAB WATER BASIS WORK --runs 7
    $FSL/python benchmarks/fsl_mrs_side.py amounts WORK BASIS           # what the fits found

FSL-MRS (Clarke et al. 2021) is a separate install (its own venv; it is not on PyPI): this file
imports only it, numpy and the standard library, so mrs_speed can import `fsl_steps` from our venv.

The pipeline is what a user runs on an uncombined MEGA-PRESS NIfTI-MRS file and its water
reference: `fsl_mrs_preproc_edit` with its defaults plus `--remove-water` (coil combination with
the water reference's weights, alignment, averaging, eddy-current correction, residual water
removal, referencing and phasing on tCr, ON/OFF alignment, subtraction), then `fsl_mrs` on the DIFF
and on the OFF average (the tCr that GABA+ is a ratio of), each macromolecule in its own metabolite
group as FSL-MRS recommends. The basis is MRSandbox's (benchmarks/independent/), the physics our
synthetic scan is made of, stored as FSL-MRS json by FSL-MRS's own `Basis.save`.

`fsl_mrs_preproc_edit` subtracts index 1 of DIM_EDIT from index 0 and turns the result by 180
degrees: it takes index 0 as OFF. Our file, like spec2nii's Siemens and GE conversions, has ON
first (EditCondition ["ON", "OFF"]), which FSL-MRS does not read, so its DIFF is (OFF - ON) / 2 and
its OFF average is `edit_1`. The DIFF basis is formed the same way; with (ON - OFF) / 2 every
metabolite of the DIFF fit comes out 0.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import time
from pathlib import Path

MRSANDBOX_BASIS = Path(__file__).resolve().parent / "independent" / "mega_basis_mrsandbox.nii.gz"
# The systems whose (ON - OFF) / 2 is not zero in that basis; the OFF fit takes every system but
# water and lipids (none in the scan).
DIFF_SYSTEMS = ("NAA", "NAAG", "PCr", "Glu", "Gln", "GABA", "MM091", "MM167")
NOT_FITTED = ("H2O", "Lip09", "Lip13")
FITS = {"diff": "pre/diff.nii.gz", "off": "pre/edit_1.nii.gz"}  # fit folder: its data


def fsl_steps(metab: Path, water: Path, basis: Path, work: Path) -> list[tuple[str, list[str]]]:
    """FSL-MRS's pipeline as command lines (name, argv), the files it writes under `work`."""
    mm_off = [name for name in _names(basis / "off") if name.startswith("MM")]
    return [
        (
            "preproc",
            ["fsl_mrs_preproc_edit", "--data", str(metab), "--reference", str(water)]
            + ["--output", str(work / "pre"), "--remove-water", "--overwrite"],
        ),
        (
            "fit DIFF",
            ["fsl_mrs", "--data", str(work / FITS["diff"]), "--basis", str(basis / "diff")]
            + ["--output", str(work / "diff"), "--metab_groups", "MM091", "MM167"]
            # The default internal reference, Cr + PCr, has no DIFF: any fitted system will do.
            + ["--internal_ref", "NAA", "--overwrite"],
        ),
        (
            "fit OFF",
            ["fsl_mrs", "--data", str(work / FITS["off"]), "--basis", str(basis / "off")]
            + ["--output", str(work / "off"), "--metab_groups", *mm_off, "--overwrite"],
        ),
    ]


def _names(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.json"))


def write_basis(out: Path) -> None:
    """The MRSandbox MEGA basis as two FSL-MRS basis folders, `diff` and `off`."""
    import numpy as np
    from fsl_mrs.core.basis import Basis
    from fsl_mrs.core.nifti_mrs import NIFTI_MRS

    image = NIFTI_MRS(str(MRSANDBOX_BASIS))
    names = json.loads(MRSANDBOX_BASIS.with_name("mega_basis_mrsandbox.json").read_text())["systems"]
    data = np.asarray(image[:]).reshape(image.shape[3:])  # (points, edit [ON, OFF], system)
    header = {
        "dwelltime": image.dwelltime,
        "bandwidth": 1 / image.dwelltime,
        "centralFrequency": image.spectrometer_frequency[0] * 1e6,
        "fwhm": 0.5,  # the Lorentzian MRSandbox rendered it with
        "nucleus": "1H",
    }
    on, off = data[:, 0, :], data[:, 1, :]
    sets = {
        "off": (off, [name for name in names if name not in NOT_FITTED]),
        "diff": ((off - on) / 2, list(DIFF_SYSTEMS)),  # as fsl_mrs_preproc_edit forms DIFF here
    }
    for folder, (fids, chosen) in sets.items():
        columns = [names.index(name) for name in chosen]
        Basis(fids[:, columns], chosen, [header] * len(chosen)).save(out / folder, overwrite=True)


def run_in_process(metab: Path, water: Path, basis: Path, work: Path, runs: int) -> list[dict[str, float]]:
    """The same scripts, their `main()` called in this one process: no start-up, no imports
    after the first (warm) run. Seconds of each step, the total and the process's CPU."""
    from fsl_mrs.scripts import fsl_mrs, fsl_mrs_preproc_edit

    mains = {"fsl_mrs_preproc_edit": fsl_mrs_preproc_edit.main, "fsl_mrs": fsl_mrs.main}
    steps = fsl_steps(metab, water, basis, work)
    results = []
    for _ in range(runs + 1):
        timings: dict[str, float] = {}
        cpu, started = time.process_time(), time.perf_counter()
        for name, argv in steps:
            mark = time.perf_counter()
            sys.argv = argv
            with contextlib.redirect_stdout(io.StringIO()):  # its notes on singleton dimensions
                mains[argv[0]]()
            timings[name] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        timings["cpu"] = time.process_time() - cpu
        results.append(timings)
    return results[1:]


def fitted_amounts(work: Path, basis: Path) -> dict[str, dict[str, float]]:
    """Each fit's concentrations in the data's own units (so DIFF and OFF compare): fsl_mrs
    reports them for its rescaled FID and basis ('raw'); its own MRS object, set up as the script
    sets it up, gives the two scalings."""
    from fsl_mrs.utils import mrs_io

    amounts = {}
    for fit, data in FITS.items():
        mrs = mrs_io.read_FID(str(work / data)).mrs(basis=mrs_io.read_basis(str(basis / fit)))
        mrs.rescaleForFitting()
        to_data = mrs.scaling["basis"] / mrs.scaling["FID"]
        with open(work / fit / "concentrations.csv", newline="") as table:
            rows = list(csv.reader(table))[2:]  # two header rows: (mean, std) then (raw, internal)
        amounts[fit] = {row[0]: float(row[1]) * to_data for row in rows}
    return amounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("basis").add_argument("out", type=Path)
    timed = commands.add_parser("in-process")
    for name in ("metab", "water", "basis", "work"):
        timed.add_argument(name, type=Path)
    timed.add_argument("--runs", type=int, default=7)
    amounts = commands.add_parser("amounts")
    amounts.add_argument("work", type=Path)
    amounts.add_argument("basis", type=Path)
    args = parser.parse_args()
    if args.command == "basis":
        write_basis(args.out)
    elif args.command == "in-process":
        print(json.dumps(run_in_process(args.metab, args.water, args.basis, args.work, args.runs)))
    else:
        print(json.dumps(fitted_amounts(args.work, args.basis)))


if __name__ == "__main__":
    main()
