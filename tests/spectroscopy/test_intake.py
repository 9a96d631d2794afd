"""spectroscopy.intake: declared sizes from NIfTI headers, bounded inflation, safe names (pure)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spectroscopy import intake
from spectroscopy.errors import MRSFormatError


def nifti2_header(
    shape: tuple[int, ...], *, datatype: int = 32, order: str = "<", offset: int = 544
) -> bytes:
    """A NIfTI-2 single-file header built by hand (the fields the declared size needs)."""
    raw = bytearray(540)
    struct.pack_into(order + "i", raw, 0, 540)
    raw[4:12] = b"n+2\x00\r\n\x1a\n"
    struct.pack_into(order + "h", raw, 12, datatype)
    struct.pack_into(order + "h", raw, 14, intake.BYTES_PER_VOXEL.get(datatype, 1) * 8)
    dim = [len(shape), *shape] + [1] * (7 - len(shape))
    struct.pack_into(order + "8q", raw, 16, *dim)
    struct.pack_into(order + "q", raw, 168, offset)
    return bytes(raw) + b"\x00" * 4


def nifti1_header(shape: tuple[int, ...], *, datatype: int = 16, order: str = "<") -> bytes:
    raw = bytearray(348)
    struct.pack_into(order + "i", raw, 0, 348)
    dim = [len(shape), *shape] + [1] * (7 - len(shape))
    struct.pack_into(order + "8h", raw, 40, *dim)
    struct.pack_into(order + "h", raw, 70, datatype)
    struct.pack_into(order + "f", raw, 108, 352.0)
    raw[344:348] = b"n+1\x00"
    return bytes(raw) + b"\x00" * 4


@pytest.mark.parametrize(
    ("header", "version", "data_bytes"),
    [
        # A 32-coil MEGA series, 2 x 160 transients of 2048 points, complex64: 160 MiB.
        (nifti2_header((1, 1, 1, 2048, 32, 2, 160)), 2, 2048 * 32 * 2 * 160 * 8),
        (nifti2_header((1, 1, 1, 2048, 32, 2, 160), order=">"), 2, 2048 * 32 * 2 * 160 * 8),
        (nifti2_header((1, 1, 1, 2048), datatype=1792), 2, 2048 * 16),
        (nifti1_header((64, 64, 40)), 1, 64 * 64 * 40 * 4),
        (nifti1_header((64, 64, 40), order=">"), 1, 64 * 64 * 40 * 4),
        # The testers' bomb: 2 MB of gzip declaring 2.1 GB.
        (nifti2_header((1, 1, 1, 2048, 32, 2, 2000)), 2, 2048 * 32 * 2 * 2000 * 8),
    ],
)
def test_the_declared_size_comes_from_the_header_alone(header: bytes, version: int, data_bytes: int) -> None:
    declared = intake.parse_nifti_header(header)
    assert declared.version == version and declared.data_bytes == data_bytes
    assert declared.total_bytes == data_bytes + declared.data_offset


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "shorter than a NIfTI header"),
        (b"\x00" * 400, "not a NIfTI-1 or NIfTI-2 header"),
        (b"PK\x03\x04" + b"\x00" * 600, "not a NIfTI-1 or NIfTI-2 header"),
        (nifti2_header((1, 1, 1, 2048))[:300], "shorter than a NIfTI header"),
        (nifti2_header((1, 1, 1, 2048), datatype=9999), "unknown data type code 9999"),
        (nifti2_header((1, 1, 1, -5)), "shape"),
        (nifti2_header((1, 1, 1, 0)), "shape"),
        (nifti2_header((1, 1, 1, 2048), offset=-1), "offset"),
        (nifti1_header((4, 4, 4)).replace(b"n+1\x00", b"ni1\x00"), ".hdr/.img"),
        (nifti1_header((4, 4, 4)).replace(b"n+1\x00", b"xxxx"), "magic"),
    ],
)
def test_a_header_that_is_no_nifti_is_refused_with_the_reason(raw: bytes, message: str) -> None:
    with pytest.raises(MRSFormatError, match="not a NIfTI file") as caught:
        intake.parse_nifti_header(raw)
    assert message in str(caught.value)


def test_the_declared_size_matches_nibabel_for_files_nibabel_writes(tmp_path: Path) -> None:
    for cls, name, shape, dtype in (
        (nib.Nifti1Image, "a.nii", (10, 12, 14), np.float32),
        (nib.Nifti2Image, "b.nii.gz", (1, 1, 1, 512, 4, 2), np.complex64),
        (nib.Nifti1Image, "c.nii.gz", (5, 6, 7), np.float64),
    ):
        path = tmp_path / name
        cls(np.zeros(shape, dtype), np.eye(4)).to_filename(str(path))
        declared = intake.read_declared(path)
        image = nib.load(str(path))
        assert declared.shape == image.shape
        assert declared.data_bytes == int(np.prod(shape)) * np.dtype(dtype).itemsize
        assert declared.data_offset == image.dataobj.offset


def test_reading_the_header_of_a_bomb_inflates_almost_nothing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.nii.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as out:
        out.write(nifti2_header((1, 1, 1, 2048, 32, 2, 2000)))
        zeros = b"\x00" * (1 << 20)
        for _ in range(64):
            out.write(zeros)
    calls: list[int] = []
    real_read = gzip.GzipFile.read

    def counting_read(self, size=-1):  # type: ignore[no-untyped-def]
        calls.append(size)
        return real_read(self, size)

    gzip.GzipFile.read = counting_read  # type: ignore[method-assign]
    try:
        declared = intake.read_declared(bomb)
    finally:
        gzip.GzipFile.read = real_read  # type: ignore[method-assign]
    assert declared.total_bytes > 2 * 10**9
    assert calls and all(0 < size <= intake.NIFTI2_HEADER_BYTES for size in calls)


def test_a_stream_cut_inside_its_header_is_named_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(gzip.compress(nifti2_header((1, 1, 1, 2048)))[:30])
    with pytest.raises(MRSFormatError, match="truncated or damaged"):
        intake.read_declared(path)


def test_a_missing_file_is_said_to_be_missing(tmp_path: Path) -> None:
    with pytest.raises(MRSFormatError, match="file missing at"):
        intake.read_declared(tmp_path / "gone.nii.gz")


def test_inflation_stops_at_the_ceiling_and_leaves_no_file(tmp_path: Path) -> None:
    source = tmp_path / "big.gz"
    with gzip.open(source, "wb", compresslevel=1) as out:
        for _ in range(8):
            out.write(b"\x00" * (1 << 20))
    target = tmp_path / "out.nii"
    with pytest.raises(intake.InflationCeilingPassed) as caught:
        intake.inflate_bounded(source, target, ceiling=3 * (1 << 20))
    assert caught.value.ceiling == 3 * (1 << 20) and not target.exists()
    assert intake.inflate_bounded(source, target, ceiling=8 * (1 << 20)) == 8 * (1 << 20)
    assert target.stat().st_size == 8 * (1 << 20)


def test_a_damaged_stream_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    source = tmp_path / "cut.gz"
    source.write_bytes(gzip.compress(b"x" * 100_000)[:-20])
    with pytest.raises(MRSFormatError, match="truncated or damaged"):
        intake.inflate_bounded(source, tmp_path / "out", ceiling=10**6)
    assert not (tmp_path / "out").exists()


LONG = "a" * 236 + ".nii.gz"  # 243 characters


@pytest.mark.parametrize(
    ("sent", "safe"),
    [
        ("metab.nii.gz", "metab.nii.gz"),
        ("MEGA.SDAT", "MEGA.SDAT"),
        ("meas_MID00123_FID45678_mega.dat", "meas_MID00123_FID45678_mega.dat"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\scan 1.nii.gz", "scan_1.nii.gz"),
        ("scan\x00\n\r\t.nii.gz", "scan.nii.gz"),
        ("se\u0301n\u0303al.nii", "séñal.nii"),  # NFD from a Mac becomes NFC
        ("a/b/..", "upload"),
        ("...", "upload"),
        ("", "upload"),
        (".nii.gz", "upload.nii.gz"),
        (".bashrc", "upload.bashrc"),
        ("\U0001f9e0.dat", "upload.dat"),
        ("<script>alert(1)</script>.rda", "script.rda"),
        ("<b onclick=x>.rda", "b_onclick_x.rda"),
        ("scan;rm -rf ~.dat", "scan_rm_-rf.dat"),
        ("résumé (copy).nii.gz", "résumé_copy.nii.gz"),
        ("x" * 90 + ".averyveryverylongsuffix", "x" * 90 + ".averyvery"),
    ],
)
def test_a_file_name_is_normalised_for_the_disk(sent: str, safe: str) -> None:
    assert intake.safe_filename(sent) == safe


@pytest.mark.parametrize(
    "sent",
    [LONG, "ñ" * 240 + ".nii.gz", "\U0001f9e0" * 200 + ".dat", "x" * 5000 + ".nii.gz", "a." + "b" * 300],
)
def test_a_long_file_name_is_shortened_keeping_its_extension(sent: str) -> None:
    safe = intake.safe_filename(sent)
    assert len(safe.encode("utf-8")) <= 100
    if sent.endswith(".nii.gz"):
        assert safe.endswith(".nii.gz") and len(safe) > len(".nii.gz")
    if sent.endswith(".dat"):
        assert safe.endswith(".dat")


def test_the_name_for_the_record_keeps_what_was_sent_within_255_characters() -> None:
    assert intake.display_name(LONG) == LONG
    assert intake.display_name("C:\\scans\\sen\u0303al\x07.nii.gz") == "señal.nii.gz"
    shown = intake.display_name("y" * 400 + ".nii.gz")
    assert len(shown) == 255 and shown.endswith(".nii.gz") and "…" in shown
    assert intake.display_name("\x00\x01") == "upload"
