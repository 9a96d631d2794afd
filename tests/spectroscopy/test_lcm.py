"""Short-TE PRESS: the simulated basis against analytic results, the linear-combination fit on
synthetic spectra with known amplitudes, and the stage through uploads and results."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from spectroscopy import basis, fitting, lcm, services
from spectroscopy.io import MRSData
from spectroscopy.synthetic import PRESS_TRUTH, press_scan, write_nifti_mrs
from tests.factories import enrolled

MHZ, DWELL, N = 123.25, 1 / 2000, 2048
T = np.arange(N) * DWELL


def test_a_singlet_is_n_protons_at_its_frequency() -> None:
    fid = basis.simulate(
        basis.Metabolite("s", (basis.Group(3.027, 3),)),
        te1_s=0.015,
        te2_s=0.015,
        mhz=MHZ,
        dwell_s=DWELL,
        n_points=N,
    )
    assert np.allclose(fid, 3 * np.exp(2j * np.pi * (3.027 - 4.68) * MHZ * T), atol=1e-9)


@pytest.mark.parametrize("te", [0.030, 0.068, 0.144, 0.288])
def test_a_weakly_coupled_pair_echoes_with_cos_pi_j_te(te: float) -> None:
    # Two protons with J = 7 Hz, 5 ppm apart at a field where J / delta-nu ~ 0.001 (weak coupling;
    # at 3 T the roof effect is first order in J / delta-nu): at the echo each line is modulated
    # by cos(pi J TE).
    pair = basis.Metabolite("ax", (basis.Group(0.5, 1), basis.Group(5.5, 1)), ((0, 1, 7.0),))
    fid = basis.simulate(pair, te1_s=te / 2, te2_s=te / 2, mhz=1000.0, dwell_s=DWELL, n_points=4)
    assert fid[0].real == pytest.approx(2 * np.cos(np.pi * 7.0 * te), abs=0.005)


def test_every_basis_molecule_starts_with_its_proton_count_before_any_evolution() -> None:
    for m in basis.METABOLITES:
        fid = basis.simulate(m, te1_s=1e-7, te2_s=1e-7, mhz=MHZ, dwell_s=DWELL, n_points=8)
        assert fid[0].real == pytest.approx(sum(g.protons for g in m.groups), rel=1e-4), m.name


def test_the_fit_recovers_known_amplitudes_from_noise_free_data() -> None:
    b = basis.press_basis(te_s=0.030, mhz=MHZ, dwell_s=DWELL, n_points=N)
    data = sum(PRESS_TRUTH[k] * b[k] for k in PRESS_TRUTH) * lcm._lineshape(T, 2.5, 2.0, 5.0) * np.exp(0.3j)
    fit = lcm.fit(data, b, dwell_s=DWELL, mhz=MHZ)
    for name, value in PRESS_TRUTH.items():
        assert fit.amplitudes[name] == pytest.approx(value, rel=0.005), name
    assert fit.theta["shift_hz"] == pytest.approx(2.5, abs=0.05)


def test_glu_is_linear_in_its_true_amplitude_at_in_vivo_noise() -> None:
    b = basis.press_basis(te_s=0.030, mhz=MHZ, dwell_s=DWELL, n_points=N)
    rng = np.random.default_rng(3)
    truths, estimates = [], []
    for glu in (5.0, 7.0, 9.0, 11.0, 13.0):
        for _ in range(3):
            amplitudes = {**PRESS_TRUTH, "glu": glu}
            clean = sum(amplitudes[k] * b[k] for k in amplitudes) * lcm._lineshape(T, 1.0, 2.0, 5.0)
            data = clean + 1.0 * (rng.normal(size=N) + 1j * rng.normal(size=N))
            fit = lcm.fit(data, b, dwell_s=DWELL, mhz=MHZ)
            truths.append(glu / PRESS_TRUTH["cr"])
            estimates.append(fit.amplitudes["glu"] / fit.amplitudes["cr"])
            assert fit.sd_pct["glu"] < 15
    r = np.corrcoef(truths, estimates)[0, 1]
    assert r**2 >= 0.95
    slope = np.polyfit(truths, estimates, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)


def _data(array: np.ndarray, scan) -> MRSData:  # type: ignore[no-untyped-def]
    return MRSData(array, scan.dwell_s, scan.mhz, echo_time_s=0.030, repetition_time_s=2.0)


def test_the_press_pipeline_with_coils_drift_and_water() -> None:
    scan = press_scan(n_coils=8, n_dyn=32, noise=4.0, drift_hz=4.0, seed=2)
    out = lcm.quantify_press(_data(scan.metab, scan), _data(scan.water, scan))
    v = out.values
    assert v["glu_cr"] == pytest.approx(PRESS_TRUTH["glu"] / PRESS_TRUTH["cr"], rel=0.08)
    assert v["glx_cr"] == pytest.approx(
        (PRESS_TRUTH["glu"] + PRESS_TRUTH["gln"]) / PRESS_TRUTH["cr"], rel=0.08
    )
    assert v["n_transients"] == 32 and v["freq_drift_hz_range"] == pytest.approx(4.0, abs=0.5)
    # Institutional units follow from the water reference (amplitude 20000, 2 protons per molecule).
    t1f = (1 - np.exp(-2.0 / fitting.WATER_T1)) / (1 - np.exp(-2.0 / 1.23))
    t2f = np.exp(-0.030 / fitting.WATER_T2) / np.exp(-0.030 / 0.18)
    expected = PRESS_TRUTH["glu"] / 20000 * 2 * 55510 * 0.65 * t1f * t2f
    assert v["glu_iu"] == pytest.approx(expected, rel=0.1)
    assert v["qc_pass"], v["qc_flags"]


def test_a_press_series_with_an_edit_dimension_is_refused() -> None:
    scan = press_scan(n_dyn=4)
    with pytest.raises(ValueError, match="no edit dimension"):
        lcm.quantify_press(_data(np.concatenate([scan.metab, scan.metab]), scan))


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_a_press_upload_is_quantified_with_its_water_and_shown(
    coordinator, client_for, tmp_path, django_capture_on_commit_callbacks
) -> None:
    scan = press_scan(n_dyn=16, noise=2.0, seed=5)
    metab_path = write_nifti_mrs(
        tmp_path / "press.nii",
        np.transpose(scan.metab[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        echo_time_s=0.030,
    )
    water_path = write_nifti_mrs(
        tmp_path / "press_w.nii",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        echo_time_s=0.030,
    )
    person = enrolled(coordinator)
    stored = {}
    for kind, path in (("press", metab_path), ("press_water", water_path)):
        stored[kind], _ = services.upload_store(
            participant=person,
            session_code="s1",
            kind=kind,
            source=io.BytesIO(path.read_bytes()),
            original_name=path.name,
            by=coordinator,
            now=timezone.now(),
        )
        assert stored[kind].status == "accepted", stored[kind].refusal_reason
    client = client_for(coordinator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("spectroscopy:quantify", args=[person.pk, stored["press"].pk]))
    assert len(callbacks) == 1
    result = stored["press"].results.get()
    assert result.pipeline_version.startswith("lcm-") and result.water == stored["press_water"]
    result = services.result_run(result.pk, now=timezone.now())
    assert result.status == "done", result.error
    assert result.values["glu_cr"] == pytest.approx(9 / 8, rel=0.1)
    page = client.get(reverse("spectroscopy:result", args=[result.pk])).content.decode()
    assert "Glu (green)" in page and "Glu / tCr" in page and "glu_cr" not in page
    pdf = client.get(reverse("spectroscopy:report", args=[result.pk]))
    assert pdf.content.startswith(b"%PDF")
