"""MRS uploads, results, pages and a real Celery worker, through the services and views."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from spectroscopy import services
from spectroscopy.models import MRSResult, MRSUpload, media_path
from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs
from spectroscopy.versions import PIPELINE_VERSION
from tests.factories import enrolled
from tests.workers import start_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("mrs")
    scan = independent_mega_scan(noise=1.0, drift_hz=2.0, seed=11, n_dyn=32)
    metab = write_nifti_mrs(
        folder / "metab.nii.gz",
        np.transpose(scan.metab, (3, 2, 0, 1)),
        dims=("DIM_COIL", "DIM_EDIT", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    water = write_nifti_mrs(
        folder / "water.nii.gz",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    no_edit = write_nifti_mrs(
        folder / "noedit.nii",
        np.transpose(scan.metab[1], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    # The same series stored without the standard's conjugation (a writer that ignores the
    # NIfTI-MRS convention): every peak mirrored about water.
    from nifti_mrs.create_nmrs import gen_nifti_mrs

    mirrored = gen_nifti_mrs(
        np.transpose(scan.metab, (3, 2, 0, 1))[None, None, None].astype(np.complex64),
        scan.dwell_s,
        scan.mhz,
        dim_tags=["DIM_COIL", "DIM_EDIT", "DIM_DYN"],
        no_conj=True,
    )
    mirrored.save(str(folder / "mirrored.nii.gz"))
    return {
        "metab": metab.read_bytes(),
        "water": water.read_bytes(),
        "no_edit": no_edit.read_bytes(),
        "mirrored": (folder / "mirrored.nii.gz").read_bytes(),
    }


def _store(person, user, name, data, kind="mega"):  # type: ignore[no-untyped-def]
    return services.upload_store(
        participant=person,
        session_code="s1",
        kind=kind,
        source=io.BytesIO(data),
        original_name=name,
        by=user,
        now=timezone.now(),
    )


def test_an_accepted_upload_keeps_the_original_byte_for_byte_with_its_sha256(coordinator, files) -> None:
    person = enrolled(coordinator)
    upload, created = _store(person, coordinator, "metab.nii.gz", files["metab"])
    assert created and upload.status == "accepted"
    import hashlib

    assert media_path(upload.stored_path).read_bytes() == files["metab"]
    assert upload.sha256 == hashlib.sha256(files["metab"]).hexdigest()
    assert upload.working_path.endswith(".work.nii") and media_path(upload.working_path).exists()


def test_a_repeated_upload_is_recognised(coordinator, files) -> None:
    person = enrolled(coordinator)
    first, _ = _store(person, coordinator, "metab.nii.gz", files["metab"])
    again, created = _store(person, coordinator, "copy.nii.gz", files["metab"])
    assert not created and again == first
    assert MRSUpload.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "payload", "kind", "reason"),
    [
        ("notes.txt", b"not MRS at all", "mega", "spec2nii"),
        ("broken.nii", b"\x00" * 400, "mega", "not a NIfTI file"),
        ("no_edit.nii", "no_edit", "mega", "edit dimension"),
        ("mirrored.nii.gz", "mirrored", "mega", "mirrored about water"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason_and_the_original_kept(
    coordinator, files, name, payload, kind, reason
) -> None:
    person = enrolled(coordinator)
    data = files[payload] if isinstance(payload, str) else payload
    upload, _ = _store(person, coordinator, name, data, kind)
    assert upload.status == "refused" and reason in upload.refusal_reason
    assert media_path(upload.stored_path).read_bytes() == data


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_left(coordinator, files, settings) -> None:
    from django.core.exceptions import ValidationError

    settings.MRS_MAX_UPLOAD_BYTES = 1000
    person = enrolled(coordinator)
    with pytest.raises(ValidationError, match="larger than"):
        _store(person, coordinator, "metab.nii.gz", files["metab"])
    assert not MRSUpload.objects.exists()
    assert not list(Path(settings.MEDIA_ROOT).rglob(".incoming-*"))


def test_quantification_is_queued_once_per_pipeline_version_and_keeps_old_results(
    coordinator, files, django_capture_on_commit_callbacks
) -> None:
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", files["metab"])
    water, _ = _store(person, coordinator, "water.nii.gz", files["water"], "mega_water")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, created = services.result_queue(upload=metab, water=water, now=timezone.now())
        again, created_again = services.result_queue(upload=metab, water=water, now=timezone.now())
    assert created and not created_again and first == again and len(callbacks) == 1
    first = services.result_run(first.pk, now=timezone.now())  # what the queued task does
    assert (
        first.status == "done" and 0.1 < first.values["gaba_plus_cr"] < 0.3 and first.values["gaba_plus_iu"]
    )
    assert first.figure["diff"]["model"] and first.figure["off"]["fit"] and first.figure["drift_hz"]
    rerun = services.result_run(first.pk, now=timezone.now())
    assert rerun.finished_at == first.finished_at  # a finished result is never run again
    newer, _ = services.result_queue(upload=metab, water=water, now=timezone.now(), version="9.9.9")
    assert MRSResult.objects.filter(upload=metab).count() == 2 and newer.pk != first.pk


def test_result_page_and_pdf_report_for_readers_not_for_raters(
    coordinator, files, rater, data_manager, client_for, django_capture_on_commit_callbacks
) -> None:
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", files["metab"])
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = services.result_queue(upload=metab, water=None, now=timezone.now())
    services.result_run(result.pk, now=timezone.now())
    page = client_for(coordinator).get(reverse("spectroscopy:result", args=[result.pk]))
    assert page.status_code == 200 and b"<svg" in page.content and b"GABA+ / tCr" in page.content
    assert b"gaba_plus_cr" not in page.content
    pdf = client_for(coordinator).get(reverse("spectroscopy:report", args=[result.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client_for(rater).get(reverse("spectroscopy:result", args=[result.pk])).status_code == 403
    qc = client_for(data_manager).get(reverse("spectroscopy:qc"))
    assert person.code in qc.content.decode()


def test_the_upload_page_refuses_a_text_file_with_the_reason(coordinator, client_for) -> None:
    person = enrolled(coordinator)
    response = client_for(coordinator).post(
        reverse("spectroscopy:upload", args=[person.pk]),
        {
            "session_code": "unscheduled",
            "scanned_at": "2026-11-20T10:00",
            "kind": "mega",
            "file": SimpleUploadedFile("scan.txt", b"hello"),
        },
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "spec2nii" in response.content.decode()
    assert MRSUpload.objects.get().status == "refused"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_quantifies_an_upload_end_to_end(make_user, files, settings, tmp_path) -> None:
    if not settings.CELERY_BROKER_URL or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_BROKER_URL (Redis) and PostgreSQL; CI has both")
    coordinator = make_user("coordinator", "coordinator")
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", files["metab"])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = start_worker(queue, MEDIA_ROOT=settings.MEDIA_ROOT)
    try:
        from spectroscopy.tasks import quantify_result

        result = MRSResult.objects.create(
            upload=metab, pipeline_version=PIPELINE_VERSION, queued_at=timezone.now()
        )
        assert quantify_result.apply_async(args=[result.pk], queue=queue).get(timeout=120) == "done"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    result.refresh_from_db()
    assert result.status == "done", output
    assert result.values["n_transients"] == 64 and result.values["pipeline_version"] == PIPELINE_VERSION
