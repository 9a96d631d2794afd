"""Hostile and mistaken uploads (issue 16): gzip bombs, long and odd file names, a file uploaded
under the wrong kind, and media paths that survive a move of MEDIA_ROOT."""

from __future__ import annotations

import gzip
import importlib
import io
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ketatrial.audit import audit_entries
from spectroscopy import intake, services
from spectroscopy.models import MRSResult, MRSUpload, TissueFractions, media_path
from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs
from tests.factories import enrolled
from tests.spectroscopy.test_intake import nifti2_header

MB = 1024 * 1024
# 2 x 2000 transients of 2048 points from 32 coils, complex64: the testers' 2.1 GB.
BOMB_SHAPE = (1, 1, 1, 2048, 32, 2, 2000)


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="module")
def scans(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    scan = independent_mega_scan(noise=1.0, drift_hz=1.0, seed=5, n_dyn=8)
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
    return {"metab": metab.read_bytes(), "water": water.read_bytes()}


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


def _bomb(zeros_mb: int) -> bytes:
    """A NIfTI-2 header declaring 2.1 GB, then `zeros_mb` MB of zeros, gzip-compressed (~1 kB/MB)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as stream:
        stream.write(nifti2_header(BOMB_SHAPE))
        for _ in range(zeros_mb):
            stream.write(b"\x00" * MB)
    return out.getvalue()


def _reason(upload: MRSUpload) -> str:
    return upload.refusal_reason.replace("\xa0", " ")  # sizes are written with no-break spaces


def _files_in_media(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def test_a_gzip_bomb_declaring_gigabytes_is_refused_from_its_header_unread(
    coordinator, client_for, settings, monkeypatch
) -> None:
    bomb = _bomb(32)
    assert len(bomb) < 100_000  # 32 MB of zeros behind a header that declares 2.1 GB

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the bomb was inflated")

    monkeypatch.setattr(intake, "inflate_bounded", never)
    person = enrolled(coordinator)
    tracemalloc.start()
    try:
        response = client_for(coordinator).post(
            reverse("spectroscopy:upload", args=[person.pk]),
            {
                "session_code": "unscheduled",
                "scanned_at": "2026-11-20T10:00",
                "kind": "mega",
                "file": SimpleUploadedFile("scan.nii.gz", bomb),
            },
            HTTP_ACCEPT_LANGUAGE="en",
            follow=True,
        )
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    upload = MRSUpload.objects.get()
    assert upload.status == "refused"
    # The declared size and the limit, both named, and what to do.
    assert "2.0 GB" in _reason(upload) and "512.0 MB" in _reason(upload)
    assert "2048 x 32 x 2 x 2000" in _reason(upload) and "MRS_MAX_DECLARED_MB" in _reason(upload)
    assert "2.0\xa0GB" in response.content.decode()
    # The refused original is kept as sent (issue: "refused with the reason, the original kept");
    # nothing was inflated next to it.
    assert media_path(upload.stored_path).read_bytes() == bomb
    assert _files_in_media(settings) == [media_path(upload.stored_path)]
    assert peak < 16 * MB, f"peak Python allocation {peak / MB:.1f} MB"


def test_a_real_nifti_mrs_header_tampered_to_declare_a_huge_size_is_refused(coordinator, scans) -> None:
    raw = bytearray(gzip.decompress(scans["metab"]))
    assert struct.unpack_from("<i", raw, 0)[0] == 540  # nifti_mrs writes NIfTI-2
    dim = list(struct.unpack_from("<8q", raw, 16))
    dim[7] = 10**6  # a million dynamics
    struct.pack_into("<8q", raw, 16, *dim)
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, "tampered.nii.gz", gzip.compress(bytes(raw)))
    assert upload.status == "refused" and "more than the limit of 512.0 MB" in _reason(upload)
    assert not upload.working_path


def test_a_stream_that_inflates_beyond_what_its_header_declares_is_refused_and_kept(
    coordinator, scans, settings
) -> None:
    genuine = gzip.decompress(scans["metab"])
    padded = gzip.compress(genuine + b"\x00" * (8 * MB), compresslevel=1)
    person = enrolled(coordinator)
    upload, created = _store(person, coordinator, "padded.nii.gz", padded)
    assert created and upload.status == "refused"
    assert "inflate to more than" in _reason(upload) and "header declares" in _reason(upload)
    assert media_path(upload.stored_path).read_bytes() == padded
    assert _files_in_media(settings) == [media_path(upload.stored_path)]  # no partial working copy


def test_the_ceiling_holds_when_the_header_is_small_and_the_stream_is_huge(coordinator, settings) -> None:
    header = nifti2_header((1, 1, 1, 64, 2))  # declares 1 kB of data
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as stream:
        stream.write(header)
        for _ in range(48):
            stream.write(b"\x00" * MB)
    person = enrolled(coordinator)
    tracemalloc.start()
    try:
        upload, _ = _store(person, coordinator, "small-header.nii.gz", out.getvalue())
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert upload.status == "refused" and "inflate to more than" in _reason(upload)
    assert peak < 16 * MB
    assert _files_in_media(settings) == [media_path(upload.stored_path)]


@pytest.mark.parametrize(
    ("cut", "reason"),
    [("compressed", "truncated or damaged"), ("uncompressed", "truncated: its header declares")],
)
def test_a_truncated_series_is_refused_as_truncated(coordinator, scans, cut, reason) -> None:
    if cut == "compressed":
        name, data = "cut.nii.gz", scans["metab"][: len(scans["metab"]) // 2]
    else:
        raw = gzip.decompress(scans["metab"])
        name, data = "cut.nii", raw[: len(raw) - 1000]
    upload, _ = _store(enrolled(coordinator), coordinator, name, data)
    assert upload.status == "refused" and reason in upload.refusal_reason


def test_the_declared_size_limit_is_a_setting(coordinator, scans, settings) -> None:
    settings.MRS_MAX_DECLARED_BYTES = 64 * 1024
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"])
    assert upload.status == "refused" and "64.0 KB" in _reason(upload)


def test_a_probability_map_bomb_is_refused_unread(coordinator, settings) -> None:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as stream:
        header = bytearray(nifti2_header((2048, 2048, 2048), datatype=16))
        stream.write(bytes(header))
        stream.write(b"\x00" * MB)
    upload, _ = _store(enrolled(coordinator), coordinator, "gm.nii.gz", out.getvalue(), "gm_map")
    assert upload.status == "refused" and "32.0 GB" in _reason(upload)


def test_a_deflated_dicom_is_refused_before_anything_inflates_it(coordinator, tmp_path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.2"  # MR Spectroscopy Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Manufacturer = "SIEMENS"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.add_new(0x56003020, "OF", b"\x00" * (16 * MB))  # SpectroscopyData, 16 MB of zeros
    path = tmp_path / "deflated.dcm"
    ds.save_as(str(path), enforce_file_format=True)
    assert path.stat().st_size < MB
    upload, _ = _store(enrolled(coordinator), coordinator, "deflated.dcm", path.read_bytes())
    assert upload.status == "refused" and "deflated" in _reason(upload)


def test_a_240_character_file_name_is_stored_under_a_short_safe_name_and_shown_as_sent(
    coordinator, client_for, scans
) -> None:
    name = "MEGA_pgACC_" + "x" * 222 + ".nii.gz"
    assert len(name) == 240
    person = enrolled(coordinator)
    response = client_for(coordinator).post(
        reverse("spectroscopy:upload", args=[person.pk]),
        {
            "session_code": "unscheduled",
            "scanned_at": "2026-11-20T10:00",
            "kind": "mega",
            "file": SimpleUploadedFile(name, scans["metab"]),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    upload = MRSUpload.objects.get()
    assert upload.status == "accepted" and upload.original_name == name
    for stored in (upload.stored_path, upload.working_path):
        file = media_path(stored)
        assert file.is_file() and len(file.name.encode()) <= 130
    assert Path(upload.stored_path).name.endswith(".nii.gz")
    page = client_for(coordinator).get(reverse("spectroscopy:participant", args=[person.pk]))
    assert name in page.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/cron.d/evil.nii.gz",
        "..\\..\\windows\\evil.nii.gz",
        "/absolute/path/scan.nii.gz",
        "scan\x00.nii.gz\x00.txt",
        "line\nbreak\r.nii.gz",
        "se\u0301n\u0303al-\u0441\u043a\u0430\u043d-\U0001f9e0.nii.gz",
        "ñ" * 250 + ".nii.gz",
        "",
        "..",
        "CON.nii.gz",
    ],
)
def test_a_hostile_file_name_stays_inside_the_session_folder(coordinator, scans, settings, name) -> None:
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, name, scans["metab"])
    folder = (Path(settings.MEDIA_ROOT) / "mrs" / person.code / "s1").resolve()
    for stored in filter(None, (upload.stored_path, upload.working_path)):
        assert not Path(stored).is_absolute() and ".." not in Path(stored).parts
        file = media_path(stored).resolve()
        assert file.parent == folder and file.is_file() and len(file.name.encode()) < 255
    assert "\x00" not in upload.original_name and "\n" not in upload.original_name
    assert len(upload.original_name) <= 255


def test_a_file_uploaded_under_the_wrong_kind_is_corrected_with_a_reason_and_kept_in_history(
    coordinator, client_for, scans
) -> None:
    person = enrolled(coordinator)
    wrong, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"], "press")
    assert wrong.status == "refused" and "edit conditions" in wrong.refusal_reason
    client = client_for(coordinator)
    prefix = f"correct-{wrong.pk}"
    response = client.post(
        reverse("spectroscopy:correct_kind", args=[person.pk, wrong.pk]),
        {f"{prefix}-kind": "mega", f"{prefix}-reason": "MEGA series picked as PRESS by mistake"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    wrong.refresh_from_db()
    right = MRSUpload.objects.get(replaces=wrong)
    assert (
        wrong.status == "superseded" and wrong.superseded_reason == "MEGA series picked as PRESS by mistake"
    )
    assert right.kind == "mega" and right.status == "accepted" and right.sha256 == wrong.sha256
    assert right.stored_path == wrong.stored_path  # one original, kept unchanged
    assert media_path(right.stored_path).read_bytes() == scans["metab"]
    assert media_path(right.working_path).is_file()
    # Audited: the withdrawal and the new record carry the reason.
    reasons = [e.reason for e in audit_entries(wrong)]
    assert reasons == ["uploaded", "MEGA series picked as PRESS by mistake"]
    assert audit_entries(right)[0].reason == "kind corrected: MEGA series picked as PRESS by mistake"
    page = client.get(reverse("spectroscopy:participant", args=[person.pk]), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Withdrawn" in text and "MEGA series picked as PRESS by mistake" in text
    assert "Replaces the record as Short-TE PRESS series" in text
    # The corrected series can be quantified; the withdrawn one cannot.
    result, created = services.result_queue(upload=right, water=None, now=timezone.now())
    assert created
    with pytest.raises(ValidationError):
        services.result_queue(upload=wrong, water=None, now=timezone.now())
    # The same file once more is recognised as the corrected upload.
    again, created = _store(person, coordinator, "metab.nii.gz", scans["metab"], "mega")
    assert not created and again == right


def test_a_withdrawn_upload_does_not_block_the_same_file_uploaded_again_under_the_right_kind(
    coordinator, scans
) -> None:
    person = enrolled(coordinator)
    wrong, _ = _store(person, coordinator, "water.nii.gz", scans["water"], "press_water")
    assert wrong.status == "accepted"  # a water reference reads as either kind: only people know
    services.upload_supersede(
        upload=wrong, reason="the MEGA water reference, not the PRESS one", by=coordinator, now=timezone.now()
    )
    right, created = _store(person, coordinator, "water.nii.gz", scans["water"], "mega_water")
    assert created and right.kind == "mega_water" and right.status == "accepted" and right.replaces == wrong
    # Each record keeps its own copy: the second one got a unique name.
    assert right.stored_path != wrong.stored_path
    assert media_path(right.stored_path).read_bytes() == media_path(wrong.stored_path).read_bytes()
    assert Path(right.stored_path).name.endswith("-2.nii.gz")
    again, created = _store(person, coordinator, "water.nii.gz", scans["water"], "mega_water")
    assert not created and again == right
    with pytest.raises(ValidationError, match="already withdrawn"):
        services.upload_supersede(upload=wrong, reason="again", by=coordinator, now=timezone.now())


def test_a_kind_correction_needs_a_reason_and_keeps_what_was_typed(coordinator, client_for, scans) -> None:
    person = enrolled(coordinator)
    wrong, _ = _store(person, coordinator, "water.nii.gz", scans["water"], "press_water")
    prefix = f"correct-{wrong.pk}"
    response = client_for(coordinator).post(
        reverse("spectroscopy:correct_kind", args=[person.pk, wrong.pk]),
        {f"{prefix}-kind": "mega_water", f"{prefix}-reason": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert '<option value="mega_water" selected>' in response.content.decode()
    wrong.refresh_from_db()
    assert wrong.status == "accepted" and MRSUpload.objects.count() == 1
    with pytest.raises(ValidationError):
        services.upload_correct_kind(
            upload=wrong, kind="press_water", reason="same kind", by=coordinator, now=timezone.now()
        )


def test_only_a_coordinator_corrects_a_kind_and_only_for_their_participants(
    coordinator, rater, client_for, scans
) -> None:
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, "water.nii.gz", scans["water"], "press_water")
    url = reverse("spectroscopy:correct_kind", args=[person.pk, upload.pk])
    prefix = f"correct-{upload.pk}"
    data = {f"{prefix}-kind": "mega_water", f"{prefix}-reason": "wrong kind"}
    assert client_for(rater).post(url, data).status_code == 403
    other = enrolled(coordinator, name="Otra Persona")
    elsewhere = reverse("spectroscopy:correct_kind", args=[other.pk, upload.pk])
    assert client_for(coordinator).post(elsewhere, data).status_code == 404
    upload.refresh_from_db()
    assert upload.status == "accepted"


def test_an_upload_with_results_is_not_withdrawn(
    coordinator, scans, django_capture_on_commit_callbacks
) -> None:
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"])
    with django_capture_on_commit_callbacks(execute=False):
        services.result_queue(upload=metab, water=None, now=timezone.now())
    with pytest.raises(ValidationError, match="quantification results"):
        services.upload_correct_kind(
            upload=metab, kind="press", reason="changed my mind", by=coordinator, now=timezone.now()
        )
    metab.refresh_from_db()
    assert metab.status == "accepted"


def test_swapped_probability_maps_once_corrected_give_the_fractions_again(
    coordinator, scans, tmp_path
) -> None:
    from tests.spectroscopy.test_tissue_maps import _maps

    person = enrolled(coordinator)
    # write_nifti_mrs puts a 1 mm voxel at the origin: half GM, a quarter WM, a quarter CSF.
    _store(person, coordinator, "metab.nii.gz", scans["metab"])
    gm, wm, csf = _maps(tmp_path, 1.0, 1.0, 1.0)
    # The GM and CSF maps uploaded swapped.
    as_csf, _ = _store(person, coordinator, "gm.nii", gm.read_bytes(), "csf_map")
    as_gm, _ = _store(person, coordinator, "csf.nii", csf.read_bytes(), "gm_map")
    _store(person, coordinator, "wm.nii", wm.read_bytes(), "wm_map")
    record = TissueFractions.objects.get()
    assert float(record.f_csf) == pytest.approx(0.5)
    for upload, kind in ((as_csf, "gm_map"), (as_gm, "csf_map")):
        services.upload_correct_kind(
            upload=upload, kind=kind, reason="GM and CSF maps swapped", by=coordinator, now=timezone.now()
        )
    record.refresh_from_db()
    assert (float(record.f_gm), float(record.f_wm), float(record.f_csf)) == pytest.approx((0.5, 0.25, 0.25))
    assert audit_entries(record)[-1].reason == "recomputed after a kind correction: GM and CSF maps swapped"


def test_media_paths_are_relative_and_survive_a_move_of_media_root(
    coordinator, scans, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"])
    water, _ = _store(person, coordinator, "water.nii.gz", scans["water"], "mega_water")
    for upload in (metab, water):
        for stored in (upload.stored_path, upload.working_path):
            assert stored.startswith(f"mrs/{person.code}/s1/") and not Path(stored).is_absolute()
    # A restore to another place: the media folder copied, the old one gone.
    moved = tmp_path / "restored" / "media"
    shutil.copytree(settings.MEDIA_ROOT, moved)
    shutil.rmtree(settings.MEDIA_ROOT)
    settings.MEDIA_ROOT = str(moved)
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = services.result_queue(upload=metab, water=water, now=timezone.now())
    result = services.result_run(result.pk, now=timezone.now())
    assert result.status == "done", result.error
    assert result.values["gaba_plus_iu"]


def test_a_missing_file_fails_with_file_missing_not_with_not_a_nifti_file(
    coordinator, scans, django_capture_on_commit_callbacks
) -> None:
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"])
    media_path(metab.working_path).unlink()
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = services.result_queue(upload=metab, water=None, now=timezone.now())
    result = services.result_run(result.pk, now=timezone.now())
    assert result.status == "failed"
    assert result.error.startswith(f"file missing at {metab.working_path}")
    assert "not a NIfTI" not in result.error


def test_the_migration_makes_absolute_paths_relative_with_a_history_row(coordinator, scans, settings) -> None:
    from django.apps import apps

    migration = importlib.import_module("spectroscopy.migrations.0007_media_paths_relative_to_media_root")
    person = enrolled(coordinator)
    upload, _ = _store(person, coordinator, "metab.nii.gz", scans["metab"])
    relative = {"stored_path": upload.stored_path, "working_path": upload.working_path}
    # As the code before it stored them: absolute under MEDIA_ROOT; and one restored elsewhere.
    MRSUpload.objects.filter(pk=upload.pk).update(
        stored_path=str(Path(settings.MEDIA_ROOT) / upload.stored_path),
        working_path=f"/old/server/media/{upload.working_path}",
    )
    other, _ = _store(person, coordinator, "water.nii.gz", scans["water"], "mega_water")
    migration.forwards(apps, None)
    upload.refresh_from_db()
    assert {"stored_path": upload.stored_path, "working_path": upload.working_path} == relative
    assert audit_entries(upload)[-1].reason == "media paths stored relative to MEDIA_ROOT"
    assert [e.reason for e in audit_entries(other)] == ["uploaded"]  # already relative: untouched
    migration.backwards(apps, None)
    upload.refresh_from_db()
    assert upload.stored_path == str(Path(settings.MEDIA_ROOT) / relative["stored_path"])
    assert MRSResult.objects.count() == 0
