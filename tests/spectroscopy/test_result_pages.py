"""What people read of an MRS result: labelled values with units and sensible precision, a
quality verdict with its reason, the constants as a table, the PDF, and a participant's timepoints
side by side; `finished_at` is when the run really ended."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from spectroscopy import services
from spectroscopy.pipeline import QCLimits
from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs
from tests.factories import enrolled

RAW_KEYS = (
    "gaba_plus_cr",
    "glx_cr",
    "qc_flags",
    "cr_fwhm_hz",
    "water_concentration_mM",
    "'editing_efficiency'",
)


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="module")
def series(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("pages")
    scan = independent_mega_scan(noise=1.0, seed=21, n_dyn=48)
    common = {"dwell_s": scan.dwell_s, "spectrometer_mhz": scan.mhz}
    metab = write_nifti_mrs(
        folder / "metab.nii.gz",
        np.transpose(scan.metab, (3, 2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
        **common,
    )
    water = write_nifti_mrs(
        folder / "water.nii.gz",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        **common,
    )
    return metab.read_bytes(), water.read_bytes()


def _quantified(coordinator, series, session="s1", limits=None, monkeypatch=None):  # type: ignore[no-untyped-def]
    person = enrolled(coordinator)
    uploads = []
    for name, data, kind in (("metab.nii.gz", series[0], "mega"), ("water.nii.gz", series[1], "mega_water")):
        upload, _ = services.upload_store(
            participant=person,
            session_code=session,
            kind=kind,
            source=io.BytesIO(data),
            original_name=name,
            by=coordinator,
            now=timezone.now(),
        )
        uploads.append(upload)
    result, _ = services.result_queue(upload=uploads[0], water=uploads[1], now=timezone.now())
    return person, services.result_run(result.pk, now=timezone.now())


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", " ", html, flags=re.S))


def test_the_result_page_shows_labelled_values_with_units_and_no_raw_keys_or_long_floats(
    coordinator, series, client_for, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _person, result = _quantified(coordinator, series)
    assert result.status == "done", result.error
    page = client_for(coordinator).get(reverse("spectroscopy:result", args=[result.pk])).content.decode()
    text = _text(page)

    for label in (
        "GABA+ / tCr",
        "Glx / tCr",
        "tCr linewidth (FWHM)",
        "GABA+ fit error (Cramér-Rao SD)",
        "Water T2",
    ):
        assert label in text, label
    assert re.search(r"GABA\+ / tCr\s+0\.\d{3}\s", text)
    assert re.search(r"tCr linewidth \(FWHM\)\s+\d+\.\d Hz", text)
    assert not any(key in text for key in RAW_KEYS)
    assert not re.search(r"\d\.\d{7,}", text), "a float printed with its full precision"
    assert "{" not in text and "}" not in text  # no dictionary dumps
    assert "Passed every quality check" in text or "Quality limits exceeded" in text


def test_a_flagged_result_says_which_limit_and_by_how_much(
    coordinator, series, client_for, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    monkeypatch.setattr(services, "limits_from_protocol", lambda p: QCLimits(fwhm_max_hz=3.0))
    with django_capture_on_commit_callbacks(execute=False):
        _person, result = _quantified(coordinator, series)
    page = _text(
        client_for(coordinator).get(reverse("spectroscopy:result", args=[result.pk])).content.decode()
    )

    assert "Quality limits exceeded" in page
    assert re.search(r"tCr linewidth \d+\.\d Hz is above the limit of 3 Hz", page)


def test_the_pdf_report_reads_as_the_page_does(
    coordinator, series, client_for, django_capture_on_commit_callbacks
) -> None:
    from pypdf import PdfReader

    with django_capture_on_commit_callbacks(execute=False):
        _person, result = _quantified(coordinator, series)
    pdf = client_for(coordinator).get(reverse("spectroscopy:report", args=[result.pk]))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)

    for label in ("GABA+ / tCr", "Glx / tCr", "MRSinMRS", "Cramér-Rao", "Water concentration"):
        assert label in text, label
    assert not any(key in text for key in RAW_KEYS)
    assert not re.search(r"\d\.\d{7,}", text)


def test_the_participant_page_shows_every_timepoint_side_by_side(
    coordinator, series, client_for, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        person, first = _quantified(coordinator, series, session="p1-mrs-24h")
    page = client_for(coordinator).get(reverse("spectroscopy:participant", args=[person.pk])).content.decode()
    table = page[page.index('id="mrs-timeline"') :]
    table = table[: table.index("</table>")]

    assert "p1-mrs-24h" in table or "24 h" in table
    assert f"{first.values['gaba_plus_cr']:.3f}" in table
    assert reverse("spectroscopy:result", args=[first.pk]) in table


def test_finished_at_is_when_the_run_ended_not_when_it_started(
    coordinator, series, django_capture_on_commit_callbacks
) -> None:
    started = timezone.now() - timezone.timedelta(minutes=5)
    person = enrolled(coordinator)
    upload, _ = services.upload_store(
        participant=person, session_code="s1", kind="mega", source=io.BytesIO(series[0]),
        original_name="metab.nii.gz", by=coordinator, now=timezone.now(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        queued, _ = services.result_queue(upload=upload, water=None, now=started)
    result = services.result_run(queued.pk, now=started)

    assert result.started_at == started
    assert result.finished_at > started + timezone.timedelta(minutes=4)
