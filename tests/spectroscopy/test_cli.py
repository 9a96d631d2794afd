"""`python manage.py mrs_quantify`: one JSON object on success; status 2 and one stderr line on a bad file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectroscopy import synthetic
from spectroscopy.synthetic import write_nifti_mrs

ROOT = Path(__file__).resolve().parents[2]

DOCUMENTED_KEYS = {
    "gaba_plus_cr",
    "glx_cr",
    "gaba_plus_iu",
    "glx_iu",
    "gaba_plus_fit_error_pct",
    "glx_fit_error_pct",
    "cr_fwhm_hz",
    "water_fwhm_hz",
    "naa_snr",
    "gaba_plus_snr",
    "freq_drift_hz_sd",
    "freq_drift_hz_range",
    "n_transients",
    "n_rejected",
    "qc_pass",
    "qc_flags",
    "pipeline_version",
    "elapsed_s",
}


def mrs_quantify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "mrs_quantify", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mrs_cli")
    scan = synthetic.independent_mega_scan(seed=5, noise=1.0, n_dyn=32)
    stored = np.transpose(scan.metab, (3, 1, 0, 2))  # (points, dyn, edit, coil)
    common = {"dwell_s": scan.dwell_s, "spectrometer_mhz": scan.mhz}
    metab = write_nifti_mrs(
        folder / "metab.nii.gz", stored, dims=("DIM_DYN", "DIM_EDIT", "DIM_COIL"), **common
    )
    water = write_nifti_mrs(
        folder / "water.nii.gz",
        np.transpose(scan.water[0], (2, 0, 1)),
        dims=("DIM_DYN", "DIM_COIL"),
        **common,
    )
    unedited = write_nifti_mrs(
        folder / "no_edit.nii.gz",
        stored.reshape(stored.shape[0], 64, 1),
        dims=("DIM_DYN", "DIM_COIL"),
        **common,
    )
    text = folder / "notes.txt"
    text.write_text("not a spectrum\n")
    truncated = write_nifti_mrs(
        folder / "truncated.nii", stored, dims=("DIM_DYN", "DIM_EDIT", "DIM_COIL"), **common
    )
    content = truncated.read_bytes()
    truncated.write_bytes(content[: len(content) // 2])
    return {"metab": metab, "water": water, "no_edit": unedited, "text": text, "truncated": truncated}


def assert_refused(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mrs_quantify: ")
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


def test_it_prints_one_json_object_with_exactly_the_documented_keys(files: dict[str, Path]) -> None:
    done = mrs_quantify(files["metab"], "--water", files["water"])

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert isinstance(result, dict)
    assert set(result) == DOCUMENTED_KEYS
    assert result["n_transients"] == 64
    truth = synthetic.independent_truth(synthetic.BRAIN_MM)["gaba_plus_cr"]
    assert result["gaba_plus_cr"] == pytest.approx(truth, rel=0.2)
    assert result["gaba_plus_iu"] > 0 and result["glx_iu"] > 0 and result["water_fwhm_hz"] > 0
    assert isinstance(result["qc_flags"], list) and isinstance(result["qc_pass"], bool)


def test_it_prints_null_institutional_units_without_a_water_file(files: dict[str, Path]) -> None:
    done = mrs_quantify(files["metab"])

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == DOCUMENTED_KEYS
    assert result["gaba_plus_iu"] is None and result["glx_iu"] is None and result["water_fwhm_hz"] is None


def test_it_exits_with_status_two_and_one_stderr_line_for_a_text_file(files: dict[str, Path]) -> None:
    line = assert_refused(mrs_quantify(files["text"]), "not a NIfTI")
    assert str(files["text"]) in line


def test_it_exits_with_status_two_naming_the_edit_dimension_for_a_mega_file_without_it(
    files: dict[str, Path],
) -> None:
    assert_refused(mrs_quantify(files["no_edit"]), "edit dimension")


def test_it_exits_with_status_two_and_one_stderr_line_for_a_truncated_file(files: dict[str, Path]) -> None:
    assert_refused(mrs_quantify(files["truncated"]), "truncated")
