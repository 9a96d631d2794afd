"""MRS speed: median seconds per dataset from file to result, on one core. Prints its figures.

    DEBUG=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.mrs_speed

Datasets: MRSandbox-physics MEGA-PRESS scans (synthetic.independent_mega_scan), 2 x 160 transients
x 2048 points, with and without 32 coils, written as NIfTI-MRS by the `nifti_mrs` library and read
back (reading is part of the time). Goal: under 1 s each. A `.nii.gz` is inflated with ISA-L
(python-isal); uploads also keep an uncompressed working copy, so the workers read `.nii`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from spectroscopy.io import read_nifti_mrs  # noqa: E402
from spectroscopy.pipeline import quantify  # noqa: E402
from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs  # noqa: E402


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for coils in (1, 32):
            scan = independent_mega_scan(n_coils=coils, noise=1.0, drift_hz=3.0, seed=7)
            for ext in ("nii", "nii.gz"):
                # As spec2nii lays out an uncombined Siemens MEGA series: (points, coil, dyn, edit).
                metab_path = write_nifti_mrs(
                    os.path.join(tmp, f"metab{coils}.{ext}"),
                    np.transpose(scan.metab, (3, 2, 1, 0)),
                    dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
                    dwell_s=scan.dwell_s,
                    spectrometer_mhz=scan.mhz,
                )
                water_path = write_nifti_mrs(
                    os.path.join(tmp, f"water{coils}.{ext}"),
                    np.transpose(scan.water[0], (2, 1, 0)),
                    dims=("DIM_COIL", "DIM_DYN"),
                    dwell_s=scan.dwell_s,
                    spectrometer_mhz=scan.mhz,
                )
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    quantify(read_nifti_mrs(metab_path, require_edit=True), read_nifti_mrs(water_path))
                    times.append(time.perf_counter() - started)
                print(
                    f"{coils:>2} coil(s), .{ext:<6}: median {statistics.median(times):.3f} s per dataset "
                    f"(min {min(times):.3f}, max {max(times):.3f}, {repeats} runs, file to result)"
                )


if __name__ == "__main__":
    main()
