"""Tissue corrections: CSF, Gasparovic et al. 2006 (molal) and Harris et al. 2015 (alpha)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from spectroscopy.fitting import csf_corrected, tissue_corrected

ACQ = {"te_s": 0.068, "tr_s": 2.0, "te_water_s": 0.068, "tr_water_s": 2.0}


def _r(t1w: float, t2w: float, t1m: float = 1.31, t2m: float = 0.088) -> float:
    """Water attenuation over GABA attenuation, written out by hand for the test."""
    return ((1 - math.exp(-2.0 / t1w)) * math.exp(-0.068 / t2w)) / (
        (1 - math.exp(-2.0 / t1m)) * math.exp(-0.068 / t2m)
    )


def test_a_pure_grey_matter_voxel_gives_the_textbook_numbers() -> None:
    out = tissue_corrected("gaba", 1.0, 100.0, f_gm=1.0, f_wm=0.0, f_csf=0.0, **ACQ)
    scale = 1.0 / 100.0 * (2 / 2) * 0.45 / 0.5
    assert out["molal"] == pytest.approx(scale * 55510 * _r(1.331, 0.110))
    assert out["alpha"] == pytest.approx(scale * 0.78 * 55510 * _r(1.331, 0.110))
    assert out["molal"] / out["alpha"] == pytest.approx(1 / 0.78)


def test_a_mixed_voxel_follows_the_molal_fractions_and_the_csf_term() -> None:
    f = {"gm": 0.6, "wm": 0.3, "csf": 0.1}
    conc = {"gm": 0.78 * 55510, "wm": 0.65 * 55510, "csf": 0.97 * 55510}
    ratio = {"gm": _r(1.331, 0.110), "wm": _r(0.832, 0.0792), "csf": _r(3.817, 0.503)}
    weighted = {t: f[t] * conc[t] for t in f}
    molal = {t: weighted[t] / sum(weighted.values()) for t in f}
    scale = 1.0 / 100.0 * 0.9
    expected_molal = scale * 55510 * sum(molal[t] * ratio[t] for t in f) / (1 - molal["csf"])
    expected_alpha = scale * sum(weighted[t] * ratio[t] for t in f) / (0.6 + 0.5 * 0.3)
    out = tissue_corrected("gaba", 1.0, 100.0, f_gm=0.6, f_wm=0.3, f_csf=0.1, **ACQ)
    assert out["molal"] == pytest.approx(expected_molal)
    assert out["alpha"] == pytest.approx(expected_alpha)


@pytest.mark.parametrize("fractions", [(0.5, 0.3, 0.1), (0.6, 0.5, 0.0), (-0.1, 0.6, 0.5), (0.0, 0.0, 1.0)])
def test_it_refuses_fractions_that_are_not_a_voxel(fractions) -> None:  # type: ignore[no-untyped-def]
    gm, wm, csf = fractions
    with pytest.raises(ValueError):
        tissue_corrected("glx", 1.0, 100.0, f_gm=gm, f_wm=wm, f_csf=csf, **ACQ)


def test_the_csf_correction_divides_by_the_tissue_fraction() -> None:
    assert csf_corrected(3.0, 0.25) == pytest.approx(4.0)


def test_fractions_entered_later_apply_to_a_stored_result(
    coordinator, django_capture_on_commit_callbacks, settings, tmp_path
) -> None:
    import io

    import numpy as np
    from django.utils import timezone

    from spectroscopy import services
    from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs
    from tests.factories import enrolled

    settings.MEDIA_ROOT = str(tmp_path)
    scan = independent_mega_scan(noise=1.0, seed=5, n_dyn=24)
    metab = write_nifti_mrs(
        tmp_path / "m.nii",
        np.transpose(scan.metab, (3, 2, 0, 1)),
        dims=("DIM_COIL", "DIM_EDIT", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    water = write_nifti_mrs(
        tmp_path / "w.nii",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    person = enrolled(coordinator)
    m, _ = services.upload_store(
        participant=person,
        session_code="s1",
        kind="mega",
        source=io.BytesIO(metab.read_bytes()),
        original_name="m.nii",
        by=coordinator,
        now=timezone.now(),
    )
    w, _ = services.upload_store(
        participant=person,
        session_code="s1",
        kind="mega_water",
        source=io.BytesIO(water.read_bytes()),
        original_name="w.nii",
        by=coordinator,
        now=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = services.result_queue(upload=m, water=w, now=timezone.now())
    result = services.result_run(result.pk, now=timezone.now())
    assert services.tissue_values(result) == {}
    services.tissue_record(
        participant=person,
        session_code="s1",
        f_gm=Decimal("0.6"),
        f_wm=Decimal("0.3"),
        f_csf=Decimal("0.1"),
        by=coordinator,
    )
    values = services.tissue_values(result)
    assert values["gaba_plus_iu_csf"] == pytest.approx(result.values["gaba_plus_iu"] / 0.9)
    assert values["gaba_plus_iu_molal"] > 0 and values["glx_iu_alpha"] > 0
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.tissue_record(
            participant=person,
            session_code="s1",
            f_gm=Decimal("0.7"),
            f_wm=Decimal("0.3"),
            f_csf=Decimal("0.1"),
            by=coordinator,
            reason="re-segmented",
        )
