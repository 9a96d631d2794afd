"""MRS accuracy on physics this project did not write. Prints its figures; not a test.

    DEBUG=1 .venv/bin/python -m benchmarks.mrs_accuracy            # everything (~4 min)
    DEBUG=1 .venv/bin/python -m benchmarks.mrs_accuracy --quick    # 5 realisations per level

Data: `synthetic.independent_mega_scan`, built from MRSandbox's density-matrix MEGA-PRESS basis
(benchmarks/independent/, written and read with the `nifti_mrs` library): a full brain metabolite
set, co-edited macromolecules under GABA, a Voigt lineshape (Lorentzian + Gaussian shim
broadening), residual water of random phase, drift, phase jitter, motion-corrupted transients,
lipids and uncombined coils on request. Every scan goes through a NIfTI-MRS file written by
`nifti_mrs` and read by our reader (the standard's convention, end to end). Truth: MRSandbox's
own transition amplitudes summed inside each window (synthetic.independent_truth).

1. Noise-free recovery of GABA+/tCr and Glx/tCr (goal: areas within 2 %).
2. Linearity at in-vivo noise (GABA+ SNR about 15): GABA 1.0-3.0 mM and Glu 6-12 mM, >= 20
   realisations per level. Goals: level means within 5 % of the truth, R^2 >= 0.98 on the level
   means, single-scan SD <= 1.25 x the Cramer-Rao SD (and beside it, the SD of an ideal window
   integral on the same data: the DIFF summed over the truth window with the true phase and no
   baseline, over the tCr window likewise).
3. Robustness, same noise seeds as the clean case: 6 Hz drift over the scan, 5 % motion-corrupted
   transients, 8 uncombined coils, tCr linewidth 9 Hz (goal: within 5 % of the clean case).
4. Short-TE PRESS (second stage) on our own simulation.
5. Quality checks: no flag on clean scans; a flag, with its reason, on linewidth > 12 Hz, > 20 %
   rejected transients, drift range > 10 Hz and a fit error past its limit; an ON/OFF assignment
   inferred from the data noted; a mirrored spectrum refused.
Model 1 (Gannet 3.x) is printed beside model 2 in 1.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from spectroscopy import processing, synthetic
from spectroscopy.io import read_nifti_mrs
from spectroscopy.pipeline import quantify

NOISE = 2.0  # per transient and coil: GABA+ SNR about 15 at GABA 2 mM (printed below)


def to_files(scan: synthetic.Scan, folder: Path, name: str) -> tuple[Path, Path]:
    """The scan as spec2nii lays out an uncombined MEGA series: (points, coil, dyn, edit)."""
    metab = synthetic.write_nifti_mrs(
        folder / f"{name}.nii",
        np.transpose(scan.metab, (3, 2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    water = synthetic.write_nifti_mrs(
        folder / f"{name}_ref.nii",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    return metab, water


def run(scan: synthetic.Scan, folder: Path) -> dict:
    metab, water = to_files(scan, folder, "scan")
    return quantify(read_nifti_mrs(metab, require_edit=True), read_nifti_mrs(water)).values


def ideal_integral(scan: synthetic.Scan, quantity: str) -> float:
    """Window integrals of the averaged, noisy DIFF (or OFF) with nothing fitted: the spread of
    the simplest estimator on the same noise, a yardstick for a model's spread."""
    combined = scan.metab[:, :, 0, :]  # one coil of sensitivity 1
    on, off = combined[0].mean(axis=0), combined[1].mean(axis=0)
    ppm = processing.ppm_axis(len(on), scan.dwell_s, scan.mhz) - processing.WATER_PPM + synthetic.RECEIVER_PPM
    step = abs(ppm[1] - ppm[0])

    def area(fid: np.ndarray, window: tuple[float, float]) -> float:
        keep = (ppm >= window[0]) & (ppm <= window[1])
        return float(np.sum(np.real(processing.spectrum(fid))[keep]) * step)

    tcr = area(off, synthetic.TRUTH_WINDOWS["tcr"])
    return area((on - off) / 2, synthetic.TRUTH_WINDOWS[quantity]) / tcr


def linearity(folder: Path, *, key: str, levels: list[float], arg: str, repeats: int) -> None:
    truth_key = "gaba_plus_cr" if key == "gaba_plus_cr" else "glx_cr"
    err_key = "gaba_plus_fit_error_pct" if key == "gaba_plus_cr" else "glx_fit_error_pct"
    window = "gaba_plus" if key == "gaba_plus_cr" else "glx"
    means, truths = [], []
    print(f"   {arg} level: truth, mean (bias), single-scan SD, mean CRLB SD, ideal-integral SD, SD/CRLB")
    for level in levels:
        fitted, crlb, ideal, snr = [], [], [], []
        truth = None
        for seed in range(repeats):
            scan = synthetic.independent_mega_scan(**{arg: level}, noise=NOISE, seed=1000 + seed)
            values = run(scan, folder)
            truth = scan.truth[truth_key]
            fitted.append(values[key])
            crlb.append(values[err_key] / 100 * values[key])
            ideal.append(ideal_integral(scan, window))
            snr.append(values["gaba_plus_snr"])
        mean, sd = float(np.mean(fitted)), float(np.std(fitted, ddof=1))
        means.append(mean)
        truths.append(truth)
        print(
            f"   {level:5.2f}: {truth:.4f}, {mean:.4f} ({100 * (mean / truth - 1):+.1f} %), {sd:.4f}, "
            f"{np.mean(crlb):.4f}, {np.std(ideal, ddof=1):.4f}, {sd / np.mean(crlb):.2f}"
            + (f"  [GABA+ SNR {np.median(snr):.1f}]" if key == "gaba_plus_cr" else "")
        )
    x, y = np.array(truths), np.array(means)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - np.sum((y - (slope * x + intercept)) ** 2) / np.sum((y - y.mean()) ** 2)
    print(f"   level means vs truth: R^2 = {r2:.4f}, slope {slope:.3f}, intercept {intercept:+.4f}")


def main(quick: bool = False) -> None:
    repeats = 5 if quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clean = synthetic.independent_mega_scan()
        values = run(clean, folder)
        print("1. noise-free (fitted / truth):")
        for key in ("gaba_plus_cr", "glx_cr"):
            print(
                f"   {key:<13} {values[key]:.4f} / {clean.truth[key]:.4f} ({100 * (values[key] / clean.truth[key] - 1):+.2f} %)"
                f"   model 1 (Gannet) {values[key.replace('_cr', '_cr_gannet')]:.4f} "
                f"({100 * (values[key.replace('_cr', '_cr_gannet')] / clean.truth[key] - 1):+.2f} %)"
            )
        print(f"2. linearity at noise {NOISE} per transient ({repeats} realisations per level):")
        linearity(folder, key="gaba_plus_cr", levels=[1.0, 1.5, 2.0, 2.5, 3.0], arg="gaba", repeats=repeats)
        linearity(folder, key="glx_cr", levels=[6.0, 8.0, 10.0, 12.0], arg="glu", repeats=repeats)
        print("3. robustness (GABA+/tCr and Glx/tCr, change from the clean case with the same noise seeds):")
        cases = {
            "drift 6 Hz": {"drift_hz": 6.0},
            "motion 5 %": {"motion_fraction": 0.05},
            "8 coils": {"n_coils": 8},
            "tCr 9 Hz": {"lorentz_hz": 5.0, "gauss_hz": 6.5},
            "all of them": {"drift_hz": 6.0, "motion_fraction": 0.05, "n_coils": 8, "phase_jitter_deg": 10.0},
        }
        base = [
            run(synthetic.independent_mega_scan(noise=NOISE, seed=2000 + s), folder) for s in range(repeats)
        ]
        for name, kwargs in cases.items():
            hard = [
                run(synthetic.independent_mega_scan(noise=NOISE, seed=2000 + s, **kwargs), folder)
                for s in range(repeats)
            ]
            for key in ("gaba_plus_cr", "glx_cr"):
                change = 100 * (np.mean([h[key] for h in hard]) / np.mean([b[key] for b in base]) - 1)
                print(f"   {name:<12} {key:<13} mean change {change:+.2f} %", end="")
                if key == "glx_cr":
                    print(
                        f"   (tCr FWHM {np.median([h['cr_fwhm_hz'] for h in hard]):.1f} Hz, rejected "
                        f"{np.median([h['n_rejected'] for h in hard]):.0f}, drift range "
                        f"{np.median([h['freq_drift_hz_range'] for h in hard]):.1f} Hz, QC pass "
                        f"{sum(h['qc_pass'] for h in hard)}/{len(hard)})"
                    )
                else:
                    print()
        print(f"   clean cases passing QC: {sum(b['qc_pass'] for b in base)}/{len(base)}")
        quality(folder, repeats)
    press()


def quality(folder: Path, repeats: int) -> None:
    """5. What the quality checks say: nothing on clean in-vivo-like scans, the reason otherwise."""
    from spectroscopy.io import MRSData
    from spectroscopy.pipeline import SpectrumRefused

    print("5. quality checks (default limits: FWHM 12 Hz, GABA+ fit error 15 %, 20 % rejected, drift 10 Hz):")
    clean = [run(synthetic.independent_mega_scan(noise=NOISE, seed=3000 + s), folder) for s in range(repeats)]
    flagged = [c["qc_flags"] for c in clean if not c["qc_pass"]]
    print(f"   clean in-vivo-like scans flagged: {len(flagged)}/{len(clean)} {flagged[:3]}")
    cases = {
        "tCr linewidth ~14 Hz": {"lorentz_hz": 8.0, "gauss_hz": 9.0},
        "25 % motion-corrupted": {"motion_fraction": 0.25},
        "drift 14 Hz": {"drift_hz": 14.0},
        "noise x6 (GABA+ SNR ~2)": {"noise": 6 * NOISE},
    }
    for name, kwargs in cases.items():
        values = run(synthetic.independent_mega_scan(**{"noise": NOISE, "seed": 3100, **kwargs}), folder)
        print(f"   {name:<26} pass={values['qc_pass']!s:<5} {values['qc_flags']}")
    scan = synthetic.independent_mega_scan(noise=NOISE, seed=3100)
    unlabelled = MRSData(scan.metab, scan.dwell_s, scan.mhz)
    values = quantify(unlabelled).values
    print(f"   {'ON/OFF unlabelled':<26} pass={values['qc_pass']!s:<5} notes: {values['qc_notes']}")
    mirrored = MRSData(np.conj(scan.metab), scan.dwell_s, scan.mhz, edit_conditions=("ON", "OFF"))
    try:
        quantify(mirrored)
        print("   mirrored spectrum: QUANTIFIED (wrong)")
    except SpectrumRefused as exc:
        print(f"   {'mirrored spectrum':<26} refused: {exc}")


def press() -> None:
    """Short-TE PRESS linear combination (second stage, lcm.py), on our own simulation."""
    from spectroscopy.io import MRSData
    from spectroscopy.lcm import quantify_press
    from spectroscopy.synthetic import PRESS_TRUTH, press_scan

    def glu_cr(scan) -> float:  # type: ignore[no-untyped-def]
        metab = MRSData(scan.metab, scan.dwell_s, scan.mhz, echo_time_s=0.030, repetition_time_s=2.0)
        water = MRSData(scan.water, scan.dwell_s, scan.mhz, echo_time_s=0.030, repetition_time_s=2.0)
        return quantify_press(metab, water).values["glu_cr"]

    truth = PRESS_TRUTH["glu"] / PRESS_TRUTH["cr"]
    clean = glu_cr(press_scan(n_dyn=8, seed=1))
    print(
        f"4. short-TE PRESS (own simulation), noise-free: Glu/tCr {clean:.4f} vs {truth:.4f} "
        f"({100 * (clean / truth - 1):+.2f} %)"
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
