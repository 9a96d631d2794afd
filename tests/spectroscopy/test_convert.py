"""Vendor files through spec2nii: a Philips SDAT/SPAR pair written in the test (VAX floats, as the
scanner stores them) converts to NIfTI-MRS equal to the data written; failures are refused with
spec2nii's reason and the original kept."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from spectroscopy import convert, services
from spectroscopy.io import MRSFormatError, read_nifti_mrs
from spectroscopy.models import MRSUpload, media_path
from spectroscopy.synthetic import independent_mega_scan, write_philips_sdat
from tests.factories import enrolled


@pytest.fixture(scope="module")
def philips(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("philips")
    scan = independent_mega_scan(noise=1.0, drift_hz=1.0, seed=5, n_dyn=24)
    # Interleaved rows, as the scanner writes dynamics: ON, OFF, ON, OFF, ...
    rows = np.stack([scan.metab[0, :, 0], scan.metab[1, :, 0]], axis=1).reshape(-1, scan.metab.shape[-1])
    write_philips_sdat(folder / "mega.SDAT", folder / "mega.SPAR", rows, dwell_s=scan.dwell_s, mhz=scan.mhz)
    write_philips_sdat(
        folder / "water.SDAT", folder / "water.SPAR", scan.water[0, :, 0], dwell_s=scan.dwell_s, mhz=scan.mhz
    )
    return folder, scan


def test_a_philips_mega_pair_converts_to_the_data_written_with_edit_and_dynamics(philips, tmp_path) -> None:
    folder, scan = philips
    converted = convert.convert(folder / "mega.SDAT", tmp_path, companion=folder / "mega.SPAR", edited=True)
    assert converted.command == "spec2nii philips -s 2 24 -t DIM_EDIT DIM_DYN --anon"
    data = read_nifti_mrs(converted.output, require_edit=True)
    assert data.fids.shape == (2, 24, 1, 2048)
    assert data.spectrometer_mhz == pytest.approx(scan.mhz) and data.dwell_s == pytest.approx(scan.dwell_s)
    assert data.echo_time_s == pytest.approx(0.068)
    scale = np.abs(scan.metab).max()
    assert np.abs(data.fids[:, :, 0] - scan.metab[:, :, 0]).max() < 1e-5 * scale  # float32 on disk
    assert "PatientName" not in data.header and "PatientDoB" not in data.header  # --anon


def test_a_philips_series_without_its_spar_or_with_a_wrong_one_is_refused(philips, tmp_path) -> None:
    folder, _ = philips
    with pytest.raises(MRSFormatError, match="SPAR header"):
        convert.convert(folder / "mega.SDAT", tmp_path)
    broken = tmp_path / "broken.SPAR"
    broken.write_text("samples : 2048\n")
    with pytest.raises(MRSFormatError, match="rows"):
        convert.convert(folder / "mega.SDAT", tmp_path, companion=broken, edited=True)


def test_a_file_spec2nii_cannot_read_gives_spec2nii_reason(tmp_path) -> None:
    fake = tmp_path / "scan.rda"
    fake.write_bytes(b"this is no RDA file\r\n")
    with pytest.raises(MRSFormatError, match="spec2nii could not convert this file"):
        convert.convert(fake, tmp_path)
    assert fake.read_bytes() == b"this is no RDA file\r\n"


def test_a_non_spectroscopy_dicom_is_refused_before_spec2nii(tmp_path) -> None:
    fake = tmp_path / "scan.dcm"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(MRSFormatError, match="DICOM"):
        convert.convert(fake, tmp_path)


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _store(person, user, folder, stem, kind, *, with_spar=True):  # type: ignore[no-untyped-def]
    return services.upload_store(
        participant=person,
        session_code="s1",
        kind=kind,
        source=io.BytesIO((folder / f"{stem}.SDAT").read_bytes()),
        original_name=f"{stem}.SDAT",
        companion=io.BytesIO((folder / f"{stem}.SPAR").read_bytes()) if with_spar else None,
        companion_name=f"{stem}.SPAR",
        by=user,
        now=timezone.now(),
    )


def test_a_philips_upload_is_converted_kept_unchanged_and_quantified(
    coordinator, philips, django_capture_on_commit_callbacks
) -> None:
    folder, _ = philips
    person = enrolled(coordinator)
    metab, created = _store(person, coordinator, folder, "mega", "mega")
    water, _ = _store(person, coordinator, folder, "water", "mega_water")
    assert created and metab.status == "accepted" and water.status == "accepted"
    original = (folder / "mega.SDAT").read_bytes()
    assert media_path(metab.stored_path).read_bytes() == original
    assert metab.sha256 == hashlib.sha256(original).hexdigest()
    assert media_path(metab.companion_path).read_bytes() == (folder / "mega.SPAR").read_bytes()
    assert metab.companion_sha256 == hashlib.sha256((folder / "mega.SPAR").read_bytes()).hexdigest()
    assert metab.conversion.startswith("spec2nii philips") and media_path(metab.converted_path).exists()
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = services.result_queue(upload=metab, water=water, now=timezone.now())
    result = services.result_run(result.pk, now=timezone.now())
    assert result.status == "done", result.error
    assert 0.1 < result.values["gaba_plus_cr"] < 0.3 and result.values["gaba_plus_iu"]


def test_a_philips_upload_without_its_header_is_refused_with_the_reason_and_kept(
    coordinator, philips
) -> None:
    folder, _ = philips
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, folder, "mega", "mega", with_spar=False)
    assert upload.status == "refused" and "SPAR" in upload.refusal_reason
    assert media_path(upload.stored_path).read_bytes() == (folder / "mega.SDAT").read_bytes()


def test_a_header_file_with_anything_but_an_sdat_is_an_error(coordinator) -> None:
    person = enrolled(coordinator)
    with pytest.raises(ValidationError):
        services.upload_store(
            participant=person,
            session_code="s1",
            kind="mega",
            source=io.BytesIO(b"x"),
            original_name="scan.nii",
            companion=io.BytesIO(b"y"),
            companion_name="scan.SPAR",
            by=coordinator,
            now=timezone.now(),
        )
    assert not MRSUpload.objects.exists()


def test_the_upload_page_takes_an_sdat_with_its_spar(coordinator, philips, client_for) -> None:
    folder, _ = philips
    person = enrolled(coordinator)
    response = client_for(coordinator).post(
        reverse("spectroscopy:upload", args=[person.pk]),
        {
            "session_code": "unscheduled",
            "scanned_at": "2026-11-20T10:00",
            "kind": "mega",
            "file": SimpleUploadedFile("mega.SDAT", (folder / "mega.SDAT").read_bytes()),
            "companion": SimpleUploadedFile("mega.SPAR", (folder / "mega.SPAR").read_bytes()),
        },
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "File accepted" in page and "spec2nii philips" in page and "mega.SPAR" in page
