"""Peak fits against synthetic spectra of known area, SNR, institutional units, CSF correction."""

from __future__ import annotations

import numpy as np
import pytest

from spectroscopy import fitting, processing, synthetic
from spectroscopy.synthetic import Peak

DWELL = 1 / 2000
MHZ = 123.25
N_POINTS = 2048
T = np.arange(N_POINTS) * DWELL
# The axis of synthetic.fid: the receiver at the standard's 4.65 ppm.
PPM = synthetic.RECEIVER_PPM + np.fft.fftshift(np.fft.fftfreq(N_POINTS, DWELL)) / MHZ


def area(amplitude: float) -> float:
    return synthetic.true_area(amplitude, DWELL, MHZ)


def spectrum_of(peaks: tuple[Peak, ...]) -> np.ndarray:
    return processing.spectrum(synthetic.fid(peaks, T, MHZ))


def relative_error(value: float, truth: float) -> float:
    return abs(value / truth - 1)


# --- DIFF: GABA+ and Glx ---------------------------------------------------------------------------


@pytest.mark.parametrize("gaba", [0.5, 1.0, 2.0])
def test_it_recovers_gaba_and_glx_areas_within_one_percent_on_a_noise_free_diff(gaba: float) -> None:
    glx = 1.5
    diff = spectrum_of(synthetic.gaba_peaks(gaba) + synthetic.glx_peaks(glx))

    fit = fitting.fit_diff_gannet(PPM, diff)

    assert relative_error(fit.areas["gaba"], area(gaba)) < 0.01
    assert relative_error(fit.areas["glx"], area(glx)) < 0.01
    assert fit.params["gaba_centre_ppm"] == pytest.approx(3.02, abs=0.002)


@pytest.mark.parametrize("shift_ppm", [0.02, -0.02])
def test_it_recovers_the_gaba_area_when_the_gaba_centre_is_shifted_by_two_hundredths_ppm(
    shift_ppm: float,
) -> None:
    gaba = Peak(3.02 + shift_ppm, 1.0, 14.0, "gauss")
    diff = spectrum_of((gaba, *synthetic.glx_peaks(1.5)))

    fit = fitting.fit_diff_gannet(PPM, diff)

    assert relative_error(fit.areas["gaba"], area(1.0)) < 0.01
    assert relative_error(fit.areas["glx"], area(1.5)) < 0.01
    assert fit.params["gaba_centre_ppm"] == pytest.approx(3.02 + shift_ppm, abs=0.002)


def test_it_reports_the_true_gaba_fwhm_not_two_sigma() -> None:
    # The synthetic GABA+ Gaussian is 14 Hz FWHM (sigma = 14 / 2.3548 = 5.95 Hz; 2 sigma = 11.9 Hz).
    fit = fitting.fit_diff_gannet(PPM, spectrum_of(synthetic.gaba_peaks(1.0) + synthetic.glx_peaks(1.5)))

    assert fit.fwhm_ppm["gaba"] * MHZ == pytest.approx(14.0, rel=0.02)
    assert fit.fwhm_ppm["glx"] * MHZ == pytest.approx(9.0, rel=0.02)


def test_it_recovers_the_gaba_area_under_a_linear_baseline() -> None:
    diff = spectrum_of(synthetic.gaba_peaks(1.0) + synthetic.glx_peaks(1.5))
    height = np.max(np.real(diff))
    tilted = diff + height * (0.05 + 0.1 * (PPM - 3.4))

    fit = fitting.fit_diff_gannet(PPM, tilted)

    assert relative_error(fit.areas["gaba"], area(1.0)) < 0.02
    assert relative_error(fit.areas["glx"], area(1.5)) < 0.02


# --- OFF: tCr, tCho, NAA ---------------------------------------------------------------------------


@pytest.mark.parametrize("phase", [0.0, 0.5])
def test_it_recovers_the_tcr_area_within_two_percent_on_the_off_spectrum(phase: float) -> None:
    off = spectrum_of(synthetic.BASE_PEAKS) * np.exp(1j * phase)

    fit = fitting.fit_off(PPM, off)

    tcr = synthetic.BASE_PEAKS[1]
    assert relative_error(fit.areas["cr"], area(tcr.amplitude)) < 0.02
    assert fit.params["phase_rad"] == pytest.approx(phase, abs=0.02)
    assert fit.params["cr_centre_ppm"] == pytest.approx(tcr.ppm, abs=0.002)
    assert fit.fwhm_ppm["cr"] * MHZ == pytest.approx(tcr.width_hz, rel=0.05)


def test_it_recovers_the_tcho_and_naa_areas_on_the_off_spectrum() -> None:
    fit = fitting.fit_off(PPM, spectrum_of(synthetic.BASE_PEAKS) * np.exp(0.5j))

    naa, _cr, _cr2, cho = synthetic.BASE_PEAKS[:4]
    assert relative_error(fit.areas["cho"], area(cho.amplitude)) < 0.03
    assert relative_error(fit.areas["naa"], area(naa.amplitude)) < 0.03


# --- water -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", [0.0, -0.4])
def test_it_recovers_the_water_area_and_true_fwhm_of_a_six_hertz_line(phase: float) -> None:
    water = Peak(4.68, 3000.0, 6.0)
    fit = fitting.fit_water(PPM, spectrum_of((water,)) * np.exp(1j * phase))

    assert relative_error(fit.areas["water"], area(3000.0)) < 0.02
    assert fit.fwhm_ppm["water"] * MHZ == pytest.approx(6.0, rel=0.05)
    assert fit.params["phase_rad"] == pytest.approx(phase, abs=0.02)


# --- SNR ---------------------------------------------------------------------------------------------


def test_it_defines_snr_as_height_over_twice_the_sd_of_the_detrended_signal_free_region() -> None:
    rng = np.random.default_rng(7)
    region = (PPM >= 9.5) & (PPM <= 11.5)
    f = PPM[region]
    # Noise with SD exactly 0.25 after removing its own straight line, on top of a steep trend.
    raw = rng.normal(size=f.size)
    design = np.column_stack([np.ones_like(f), f])
    raw -= design @ np.linalg.lstsq(design, raw, rcond=None)[0]
    noise = 0.25 * raw / np.std(raw, ddof=2)
    real_spec = np.zeros_like(PPM)
    real_spec[region] = 40.0 - 3.0 * f + noise
    # Whatever lies outside 9.5-11.5 ppm (here a huge peak and large noise; NAA's amide at 7.8
    # ppm in a real spectrum) is not noise.
    real_spec[PPM < 9.4] = 1000.0 * rng.normal(size=np.count_nonzero(PPM < 9.4))

    # SNR = 50 / (2 x 0.25) = 100
    assert fitting.snr(PPM, real_spec, 50.0) == pytest.approx(100.0, rel=1e-9)


def test_it_estimates_snr_from_white_noise_of_known_sd() -> None:
    rng = np.random.default_rng(11)
    sd = 0.5
    real_spec = np.real(spectrum_of(synthetic.BASE_PEAKS)) + rng.normal(0, sd, PPM.size)

    # ~250 points in 8-10 ppm: the SD estimate is good to a few percent; SNR ~ 20 / (2 x 0.5) = 20.
    assert fitting.snr(PPM, real_spec, 20.0) == pytest.approx(20.0, rel=0.15)


# --- quantities ----------------------------------------------------------------------------------------


def test_it_computes_gaba_institutional_units_as_in_the_specification() -> None:
    value, constants = fitting.institutional_units(
        "gaba", 2.0, 1000.0, te_s=0.068, tr_s=2.0, te_water_s=0.030, tr_water_s=10.0
    )
    # By hand (MRS.md constants; water T1 1.100 s, T2 0.095 s; GABA+ T1 1.31 s, T2 0.088 s,
    # N_H 2, MM 0.45, EditEff 0.5):
    #   T1f = (1 - exp(-10/1.1)) / (1 - exp(-2/1.31)) = 0.9998873 / 0.7827524 = 1.2773992
    #   T2f = exp(-0.030/0.095) / exp(-0.068/0.088) = 0.7292130 / 0.4617520 = 1.5792307
    #   C   = (2 / 1000) x 55510 x 0.65 x 1.2773992 x 1.5792307 x (2/2) x 0.45 / 0.5
    #       = 72.163 x 1.2773992 x 1.5792307 x 0.9 = 131.0175
    assert value == pytest.approx(131.0175, rel=1e-5)
    assert constants["t1_factor"] == pytest.approx(1.2773992, rel=1e-6)
    assert constants["t2_factor"] == pytest.approx(1.5792307, rel=1e-6)
    assert constants["editing_efficiency"] == 0.5
    assert constants["mm_factor"] == 0.45
    assert constants["te_water_s"] == 0.030
    assert constants["tr_water_s"] == 10.0


def test_it_computes_glx_institutional_units_as_in_the_specification() -> None:
    value, constants = fitting.institutional_units(
        "glx", 5.0, 1000.0, te_s=0.068, tr_s=2.0, te_water_s=0.030, tr_water_s=10.0
    )
    # By hand (Glx: T1 1.23 s, T2 0.18 s, N_H 1, MM 1, EditEff 0.4):
    #   T1f = (1 - exp(-10/1.1)) / (1 - exp(-2/1.23)) = 0.9998873 / 0.8032883 = 1.2447427
    #   T2f = exp(-0.030/0.095) / exp(-0.068/0.18) = 0.7292130 / 0.6853828 = 1.0639499
    #   C   = (5 / 1000) x 55510 x 0.65 x 1.2447427 x 1.0639499 x (2/1) x 1 / 0.4
    #       = 180.40750 x 1.2447427 x 1.0639499 x 5 = 1194.608
    assert value == pytest.approx(1194.608, rel=1e-5)
    assert constants["n_h"] == 1
    assert constants["editing_efficiency"] == 0.4


def test_it_records_every_constant_needed_to_reproduce_institutional_units() -> None:
    value, c = fitting.institutional_units(
        "gaba", 3.0, 700.0, te_s=0.068, tr_s=2.0, te_water_s=0.068, tr_water_s=2.0
    )

    t1f = (1 - np.exp(-c["tr_water_s"] / c["water_t1_s"])) / (1 - np.exp(-c["tr_s"] / c["t1_s"]))
    t2f = np.exp(-c["te_water_s"] / c["water_t2_s"]) / np.exp(-c["te_s"] / c["t2_s"])
    rebuilt = (
        3.0
        / 700.0
        * c["water_concentration_mM"]
        * c["water_visibility"]
        * t1f
        * t2f
        * (2 / c["n_h"])
        * c["mm_factor"]
        / c["editing_efficiency"]
    )
    assert rebuilt == pytest.approx(value, rel=1e-12)
    assert (c["water_concentration_mM"], c["water_visibility"]) == (55510.0, 0.65)
    assert (c["water_t1_s"], c["water_t2_s"]) == (1.100, 0.095)


def test_it_divides_by_one_minus_fcsf_for_the_csf_correction() -> None:
    assert fitting.csf_corrected(2.0, 0.0) == 2.0
    assert fitting.csf_corrected(2.0, 0.2) == pytest.approx(2.5)
    assert fitting.csf_corrected(3.0, 0.5) == pytest.approx(6.0)


@pytest.mark.parametrize("f_csf", [1.0, 1.2, -0.1])
def test_it_refuses_a_csf_fraction_outside_zero_to_one(f_csf: float) -> None:
    with pytest.raises(ValueError, match="fCSF"):
        fitting.csf_corrected(2.0, f_csf)
