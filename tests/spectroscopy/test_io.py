"""NIfTI-MRS reading: every dim order gives one canonical array; unusable files say why."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spectroscopy.io import MRSData, MRSFormatError, read_nifti_mrs
from spectroscopy.synthetic import write_nifti_mrs

DWELL = 1 / 2000
MHZ = 123.25
AXES = {"DIM_EDIT": 0, "DIM_DYN": 1, "DIM_COIL": 2}  # canonical (edit, dyn, coil, points)


@pytest.fixture(scope="module")
def canonical() -> np.ndarray:
    """Random complex FIDs, (edit=2, dyn=3, coil=4, points=64), distinct on every axis."""
    rng = np.random.default_rng(20240501)
    shape = (2, 3, 4, 64)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def stored(canonical: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
    """The array as a file with `dims` holds it: points first, then dims 5-7 in the given order."""
    return np.transpose(canonical, (3, *(AXES[d] for d in dims)))


def write_valid(path: Path, canonical: np.ndarray) -> Path:
    dims = ("DIM_EDIT", "DIM_DYN", "DIM_COIL")
    return write_nifti_mrs(path, stored(canonical, dims), dims=dims, dwell_s=DWELL, spectrometer_mhz=MHZ)


def save_with_extension(path: Path, data: np.ndarray, header: dict) -> Path:
    """A NIfTI image carrying `header` as its code-44 JSON extension, written with nibabel only."""
    image = nib.Nifti2Image(data, np.eye(4))
    image.header["pixdim"][4] = DWELL
    image.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(header).encode()))
    nib.save(image, str(path))
    return path


def assert_rejected(path: Path, *fragments: str, require_edit: bool = False) -> MRSFormatError:
    with pytest.raises(MRSFormatError) as caught:
        read_nifti_mrs(path, require_edit=require_edit)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    return caught.value


# --- valid files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", list(itertools.permutations(AXES)), ids="-".join)
def test_it_reads_every_order_of_coil_edit_and_dyn_into_the_same_canonical_array(
    tmp_path: Path, canonical: np.ndarray, dims: tuple[str, ...]
) -> None:
    path = write_nifti_mrs(
        tmp_path / "scan.nii", stored(canonical, dims), dims=dims, dwell_s=DWELL, spectrometer_mhz=MHZ
    )

    data = read_nifti_mrs(path)

    assert isinstance(data, MRSData)
    assert data.fids.shape == (2, 3, 4, 64)
    np.testing.assert_array_equal(data.fids, canonical)
    assert (data.n_points, data.n_coils, data.n_transients) == (64, 4, 6)


def test_it_gives_the_same_array_for_all_six_orders(tmp_path: Path, canonical: np.ndarray) -> None:
    arrays = []
    for n, dims in enumerate(itertools.permutations(AXES)):
        path = write_nifti_mrs(tmp_path / f"scan{n}.nii", stored(canonical, dims), dims=dims, dwell_s=DWELL)
        arrays.append(read_nifti_mrs(path).fids)
    assert len(arrays) == 6
    for other in arrays[1:]:
        np.testing.assert_array_equal(other, arrays[0])


@pytest.mark.parametrize("dims", [("DIM_EDIT", "DIM_DYN"), ("DIM_DYN", "DIM_EDIT")], ids="-".join)
def test_it_adds_a_coil_axis_of_size_one_when_the_file_has_no_coils(
    tmp_path: Path, canonical: np.ndarray, dims: tuple[str, ...]
) -> None:
    no_coils = canonical[:, :, 0]  # (edit, dyn, points)
    on_disk = np.transpose(no_coils, (2, *(AXES[d] for d in dims)))

    data = read_nifti_mrs(write_nifti_mrs(tmp_path / "scan.nii", on_disk, dims=dims, dwell_s=DWELL))

    assert data.fids.shape == (2, 3, 1, 64)
    assert data.n_coils == 1
    np.testing.assert_array_equal(data.fids[:, :, 0], no_coils)


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("conditions", [("ON", "OFF"), ("OFF", "ON")])
def test_it_reads_the_edit_conditions_from_the_edit_dimension_header(
    tmp_path: Path, canonical: np.ndarray, position: int, conditions: tuple[str, str]
) -> None:
    others = [d for d in AXES if d != "DIM_EDIT"]
    dims = tuple(others[:position] + ["DIM_EDIT"] + others[position:])
    path = write_nifti_mrs(
        tmp_path / "scan.nii", stored(canonical, dims), dims=dims, dwell_s=DWELL, edit_conditions=conditions
    )

    data = read_nifti_mrs(path, require_edit=True)

    assert data.edit_conditions == conditions
    header = json.loads(nib.load(str(path)).header.extensions[0].get_content())
    assert header[f"dim_{5 + position}"] == "DIM_EDIT"


def test_it_reads_the_acquisition_parameters_from_the_header(tmp_path: Path, canonical: np.ndarray) -> None:
    dims = ("DIM_COIL", "DIM_DYN", "DIM_EDIT")
    path = write_nifti_mrs(
        tmp_path / "scan.nii.gz",
        stored(canonical, dims),
        dims=dims,
        dwell_s=DWELL,
        spectrometer_mhz=127.8,
        echo_time_s=0.03,
        repetition_time_s=3.0,
    )

    data = read_nifti_mrs(path)

    np.testing.assert_array_equal(data.fids, canonical)
    assert data.dwell_s == pytest.approx(DWELL)
    assert data.bandwidth_hz == pytest.approx(2000)
    assert data.spectrometer_mhz == pytest.approx(127.8)
    assert data.nucleus == "1H"
    assert data.echo_time_s == pytest.approx(0.03)
    assert data.repetition_time_s == pytest.approx(3.0)


# --- files that must be refused --------------------------------------------------------------------


def test_it_refuses_a_truncated_file_with_a_clear_message(tmp_path: Path, canonical: np.ndarray) -> None:
    path = write_valid(tmp_path / "scan.nii", canonical)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])

    assert_rejected(path, "truncated")


@pytest.mark.parametrize("name", ["notes.txt", "notes.nii"])
def test_it_refuses_a_text_file_as_not_nifti(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("participant 12, session 2: scan aborted\n")

    assert_rejected(path, "not a NIfTI")


def test_it_refuses_a_plain_nifti_without_the_mrs_extension(tmp_path: Path, canonical: np.ndarray) -> None:
    path = tmp_path / "plain.nii"
    nib.save(nib.Nifti2Image(canonical.reshape(1, 1, 1, 2, 3, 4, 64), np.eye(4)), str(path))

    assert_rejected(path, "NIfTI-MRS", "extension")


def test_it_refuses_a_mega_series_without_an_edit_dimension_when_editing_is_required(
    tmp_path: Path, canonical: np.ndarray
) -> None:
    unedited = np.transpose(canonical.reshape(6, 4, 64), (2, 0, 1))  # (points, dyn, coil)
    path = write_nifti_mrs(tmp_path / "mega.nii", unedited, dims=("DIM_DYN", "DIM_COIL"), dwell_s=DWELL)

    assert_rejected(path, "edit dimension", "DIM_EDIT", require_edit=True)
    assert read_nifti_mrs(path).fids.shape == (1, 6, 4, 64)  # fine when editing is not required


@pytest.mark.parametrize(
    ("bad", "label"),
    [(complex(np.nan, 0), "nan"), (complex(0, np.inf), "inf"), (complex(-np.inf, 0), "-inf")],
)
def test_it_refuses_non_finite_samples(
    tmp_path: Path, canonical: np.ndarray, bad: complex, label: str
) -> None:
    dims = ("DIM_EDIT", "DIM_DYN", "DIM_COIL")
    data = stored(canonical, dims).copy()
    data[10, 1, 2, 3] = bad
    path = write_nifti_mrs(tmp_path / f"{label}.nii", data, dims=dims, dwell_s=DWELL)

    assert_rejected(path, "NaN or infinite")


def test_it_refuses_a_header_without_spectrometer_frequency(tmp_path: Path, canonical: np.ndarray) -> None:
    header = {
        "ResonantNucleus": ["1H"],
        "EchoTime": 0.068,
        "RepetitionTime": 2.0,
        "dim_5": "DIM_EDIT",
        "dim_6": "DIM_DYN",
        "dim_7": "DIM_COIL",
        "dim_5_header": {"EditCondition": ["ON", "OFF"]},
    }
    data = stored(canonical, ("DIM_EDIT", "DIM_DYN", "DIM_COIL")).reshape(1, 1, 1, 64, 2, 3, 4)
    path = save_with_extension(tmp_path / "nofreq.nii", data, header)

    assert_rejected(path, "SpectrometerFrequency")
    # The same file with the frequency is fine: only the missing key is the problem.
    good = save_with_extension(tmp_path / "good.nii", data, {**header, "SpectrometerFrequency": [MHZ]})
    # Written as stored samples (the standard's frame): the reader conjugates them once.
    np.testing.assert_array_equal(read_nifti_mrs(good).fids, np.conj(canonical))


def test_it_refuses_real_valued_data(tmp_path: Path, canonical: np.ndarray) -> None:
    header = {
        "SpectrometerFrequency": [MHZ],
        "ResonantNucleus": ["1H"],
        "dim_5": "DIM_EDIT",
        "dim_6": "DIM_DYN",
    }
    real = np.ascontiguousarray(np.transpose(canonical[:, :, 0].real, (2, 0, 1))).reshape(1, 1, 1, 64, 2, 3)
    path = save_with_extension(tmp_path / "real.nii", real.astype(np.float32), header)

    assert_rejected(path, "not complex")


def test_it_reads_untagged_dimensions_with_the_nifti_mrs_defaults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    import nibabel as nib
    import numpy as np

    from spectroscopy.io import read_nifti_mrs

    data = (np.arange(2048 * 4 * 3) + 1j).reshape(1, 1, 1, 2048, 4, 3).astype(np.complex64)
    image = nib.Nifti2Image(data, np.eye(4))
    image.header["pixdim"][4] = 0.0005
    header = {"SpectrometerFrequency": [123.2], "ResonantNucleus": "1H"}  # a bare string, no dim tags
    image.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(header).encode()))
    nib.save(image, str(tmp_path / "untagged.nii"))
    mrs = read_nifti_mrs(tmp_path / "untagged.nii")
    assert mrs.fids.shape == (1, 3, 4, 2048)  # dim_5 = coils (4), dim_6 = dynamics (3)
    assert mrs.nucleus == "1H"


# --- how the bytes are read ------------------------------------------------------------------------


def test_it_reads_the_same_array_when_the_data_arrive_in_chunks_that_split_samples(
    tmp_path: Path, canonical: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spectroscopy.io as mrs_io

    path = write_valid(tmp_path / "scan.nii.gz", canonical)
    monkeypatch.setattr(mrs_io, "READ_CHUNK_BYTES", 13)  # 13 bytes: most chunks end inside a sample

    np.testing.assert_array_equal(read_nifti_mrs(path).fids, canonical)


def test_it_finds_a_non_finite_sample_in_any_chunk(
    tmp_path: Path, canonical: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spectroscopy.io as mrs_io

    dims = ("DIM_EDIT", "DIM_DYN", "DIM_COIL")
    data = stored(canonical, dims).copy()
    data[-1, -1, -1, -1] = complex(0, np.nan)  # the very last sample
    path = write_nifti_mrs(tmp_path / "nan.nii.gz", data, dims=dims, dwell_s=DWELL)
    monkeypatch.setattr(mrs_io, "READ_CHUNK_BYTES", 64)

    assert_rejected(path, "NaN or infinite")


def test_huge_finite_samples_whose_sum_overflows_are_not_taken_for_infinite(
    tmp_path: Path, canonical: np.ndarray
) -> None:
    big = (canonical / np.abs(canonical).max() * np.float32(3e38)).astype(np.complex64)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isfinite(big).all() and not np.isfinite(big.sum())

    np.testing.assert_array_equal(read_nifti_mrs(write_valid(tmp_path / "big.nii", big)).fids, big)


def _nifti2_field(path: Path, offset: int, fmt: str, value: float) -> None:
    """Overwrite one field of an uncompressed little-endian NIfTI-2 header."""
    import struct

    content = bytearray(path.read_bytes())
    struct.pack_into("<" + fmt, content, offset, value)
    path.write_bytes(bytes(content))


def test_it_reads_big_endian_and_scaled_files_as_nibabel_does_in_the_working_frame(
    tmp_path: Path, canonical: np.ndarray
) -> None:
    header = {"SpectrometerFrequency": [MHZ], "dim_5": "DIM_EDIT", "dim_6": "DIM_DYN", "dim_7": "DIM_COIL"}
    data = stored(canonical, ("DIM_EDIT", "DIM_DYN", "DIM_COIL")).reshape(1, 1, 1, 64, 2, 3, 4)
    swapped = nib.Nifti2Header(endianness=">")
    swapped.set_data_dtype(np.complex64)
    big_endian = nib.Nifti2Image(data, np.eye(4), header=swapped)
    big_endian.header["pixdim"][4] = DWELL
    big_endian.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(header).encode()))
    nib.save(big_endian, str(tmp_path / "big_endian.nii"))
    scaled = save_with_extension(tmp_path / "scaled.nii", data, header)
    _nifti2_field(scaled, 176, "d", 2.0)  # scl_slope
    _nifti2_field(scaled, 184, "d", 0.5)  # scl_inter

    for path, expected in ((tmp_path / "big_endian.nii", data), (scaled, data * 2 + 0.5)):
        by_nibabel = np.asanyarray(nib.load(str(path)).dataobj)
        np.testing.assert_allclose(by_nibabel, expected, rtol=1e-6)
        fids = read_nifti_mrs(path).fids
        assert fids.dtype.isnative
        np.testing.assert_array_equal(fids, np.conj(by_nibabel.reshape(64, 2, 3, 4).transpose(1, 2, 3, 0)))


def test_a_compressed_series_with_more_data_than_its_header_declares_is_refused(
    tmp_path: Path, canonical: np.ndarray
) -> None:
    import gzip

    from spectroscopy.intake import INFLATE_SLACK_BYTES

    plain = write_valid(tmp_path / "scan.nii", canonical)
    padded = tmp_path / "padded.nii.gz"
    padded.write_bytes(gzip.compress(plain.read_bytes() + bytes(INFLATE_SLACK_BYTES + 1)))
    within = tmp_path / "within.nii.gz"
    within.write_bytes(gzip.compress(plain.read_bytes() + bytes(16)))  # a writer's padding

    assert_rejected(padded, "inflate to more than", "header declares")
    np.testing.assert_array_equal(read_nifti_mrs(within).fids, canonical)


@pytest.mark.parametrize(("damage", "reason"), [("cut", "truncated or damaged"), ("crc", "damaged")])
def test_a_damaged_compressed_series_is_refused(
    tmp_path: Path, canonical: np.ndarray, damage: str, reason: str
) -> None:
    path = write_valid(tmp_path / "scan.nii.gz", canonical)
    content = bytearray(path.read_bytes())
    if damage == "cut":
        content = content[: len(content) * 3 // 4]
    else:
        content[-8] ^= 0xFF  # the CRC-32 of the trailer: every byte inflates, the check fails
    path.write_bytes(bytes(content))

    assert_rejected(path, reason)


def test_a_compressed_series_shorter_than_its_header_declares_is_refused_as_truncated(
    tmp_path: Path, canonical: np.ndarray
) -> None:
    import gzip

    plain = write_valid(tmp_path / "scan.nii", canonical).read_bytes()
    short = tmp_path / "short.nii.gz"
    short.write_bytes(gzip.compress(plain[: len(plain) - 100]))  # a whole stream, of too few bytes

    assert_rejected(short, "truncated", "header declares")
