"""Reading (and, for tests and benchmarks, writing) NIfTI-MRS with nibabel. Pure: no Django.

NIfTI-MRS (Clarke et al., MRM 2022): complex data of shape (x, y, z, points, dim5, dim6, dim7),
dwell time in pixdim[4], a JSON header extension (code 44) with SpectrometerFrequency (MHz),
ResonantNucleus, EchoTime/RepetitionTime (s), and dim_5..dim_7 tags such as DIM_COIL, DIM_DYN,
DIM_EDIT. The order of dims 5-7 varies between files; `read_nifti_mrs` reads the tags and returns
one canonical order: (edit, dynamics, coils, points).

Phase/frequency convention (the standard's appendix, as its reference tools implement it): the
file holds the complex conjugate of the array whose `fftshift(fft(.))` runs from low to high ppm.
The standard's own library (`nifti_mrs`) conjugates on creation and again on access; spec2nii
writes what scanners give in that frame. `read_nifti_mrs` conjugates once, so `MRSData.fids` are
in the working frame every module here uses: a line at chemical shift p ppm oscillates as
exp(+2 pi i (p - centre_ppm) MHz t), with centre_ppm = SpecFreqChemShift (4.65 ppm for 1H unless
the header says otherwise) + RxOffset. Checked against files written by `nifti_mrs` and against
real Siemens scans converted by spec2nii (tests/spectroscopy/test_convention.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

MRS_EXTENSION_CODE = 44
# The standard's nominal chemical shift of the receiver for 1H when the header has none
# (nifti_mrs.definitions.PPM_SHIFT, spec2nii, FSL-MRS).
DEFAULT_CENTRE_PPM = 4.65
KNOWN_TAGS = ("DIM_COIL", "DIM_DYN", "DIM_EDIT", "DIM_INDIRECT_0", "DIM_ISIS", "DIM_MEAS", "DIM_USER_0")


from spectroscopy.errors import MRSFormatError  # noqa: E402  (re-exported)


@dataclass
class MRSData:
    """FIDs in canonical order (edit, dynamics, coils, points) with what the fits need."""

    fids: np.ndarray
    dwell_s: float
    spectrometer_mhz: float
    nucleus: str = "1H"
    echo_time_s: float | None = None
    repetition_time_s: float | None = None
    edit_conditions: tuple[str, ...] = ()
    header: dict[str, Any] = field(default_factory=dict)
    # Chemical shift (ppm) of the receiver frequency: SpecFreqChemShift + RxOffset of the header.
    centre_ppm: float = DEFAULT_CENTRE_PPM

    @property
    def n_points(self) -> int:
        return int(self.fids.shape[-1])

    @property
    def n_coils(self) -> int:
        return int(self.fids.shape[2])

    @property
    def n_transients(self) -> int:
        return int(self.fids.shape[0] * self.fids.shape[1])

    @property
    def bandwidth_hz(self) -> float:
        return 1.0 / self.dwell_s


def _header_json(header: Any) -> dict[str, Any]:
    for ext in header.extensions:
        if int(ext.get_code()) == MRS_EXTENSION_CODE:
            content = ext.get_content()
            if isinstance(content, (bytes, bytearray)):
                content = content.decode("utf-8", "replace")
            try:
                return json.loads(content.rstrip("\x00 ")) if isinstance(content, str) else dict(content)
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise MRSFormatError("the NIfTI-MRS header extension is not valid JSON") from exc
    raise MRSFormatError("no NIfTI-MRS header extension (code 44): this is NIfTI but not NIfTI-MRS")


# The largest series read into memory (a 64-coil, 2 x 320 x 4096 series is ~1.3 GB).
MAX_INFLATED_BYTES = 2 * 1024**3
# Bytes read (or inflated) per step. Each step's samples are conjugated and checked while they are
# still in the processor's cache: reading a series is one pass over its bytes, not three.
READ_CHUNK_BYTES = 1024 * 1024
NOT_INFLATABLE = "the compressed file cannot be inflated (truncated or damaged?): "


def _open_stream(path: Path, compressed: bool) -> Any:
    """The file's bytes as a binary stream with `readinto`, inflated with ISA-L for a .gz."""
    if not compressed:
        return path.open("rb", buffering=0)
    return _Inflating(path)


class _Inflating:
    """A gzip file inflated by ISA-L (python-isal: 1.5-2x zlib's speed on one core) straight into
    the caller's buffer, `readinto` a chunk at a time, with the trailer's CRC and length checked
    at the end of each member.

    The reader is isal_zlib._GzipReader, the raw stream under `igzip.open` (python-isal is pinned
    in requirements.txt). `igzip.open(...).readinto` goes through `read` and a copy of every
    chunk (io.BufferedIOBase.readinto), ~1.7x the CPU time for a 32-coil series here; the public
    IgzipDecompressor hands out each chunk as new bytes and measured slower too. Where the class
    is missing: the public `igzip.open`, then `gzip`."""

    INPUT_BYTES = 1024 * 1024

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        try:
            from isal import isal_zlib

            self._stream = isal_zlib._GzipReader(self._file, self.INPUT_BYTES)
        except (ImportError, AttributeError):  # pragma: no cover - isal 1.9 is pinned
            try:
                from isal import igzip as gz
            except ImportError:
                import gzip as gz  # type: ignore[no-redef]
            self._stream = gz.open(self._file, "rb")  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> _Inflating:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()
        self._file.close()

    def readinto(self, view: memoryview) -> int:
        try:
            return self._stream.readinto(view)
        except Exception as exc:  # isal's IsalError is no OSError: say it as the other errors are said
            if isinstance(exc, (OSError, EOFError, ValueError)):
                raise
            raise ValueError(" ".join(str(exc).split())) from exc


def _fill(stream: Any, buffer: memoryview, on_chunk: Callable[[int], None] | None = None) -> int:
    """Read `stream` straight into `buffer` (no intermediate copy), a chunk at a time, calling
    `on_chunk(n)` with the number of bytes in so far after each; returns that number (short of
    the buffer's size only when the stream ends first)."""
    filled, size = 0, len(buffer)
    while filled < size:
        got = stream.readinto(buffer[filled : min(size, filled + READ_CHUNK_BYTES)])
        if not got:
            break
        filled += got
        if on_chunk is not None:
            on_chunk(filled)
    return filled


class _WorkingFrame:
    """The data bytes of a buffer as they arrive: each complete native complex sample is taken from
    the standard's frame to the working frame (conjugated in place, module docstring) and checked
    for NaN and infinity while it is still in the cache. Other types are left to `finish`."""

    def __init__(self, buffer: np.ndarray, dtype: np.dtype) -> None:
        self.buffer, self.dtype = buffer, dtype
        self.streaming = dtype.kind == "c" and dtype.isnative
        self.done = 0
        self.finite = True

    def __call__(self, end: int) -> None:
        if not self.streaming:
            return
        stop = end - end % self.dtype.itemsize
        if stop <= self.done:
            return
        samples = self.buffer[self.done : stop].view(self.dtype)
        np.conjugate(samples, out=samples)
        # The sum is finite when every sample is (if finite samples overflow it, each is checked).
        with np.errstate(over="ignore", invalid="ignore"):
            total = samples.sum()
        if self.finite and not np.isfinite(total):
            self.finite = bool(np.isfinite(samples).all())
        self.done = stop

    def finish(self, data: np.ndarray) -> np.ndarray:
        """`data` (the whole array, as the header lays it out) in the working frame, in native byte
        order; MRSFormatError for NaN or infinite samples."""
        if not self.streaming:
            data = data.astype(data.dtype.newbyteorder("="))
            if data.dtype.kind == "c":
                np.conjugate(data, out=data)
            self.finite = bool(np.isfinite(data).all())
        if not self.finite:
            raise MRSFormatError("the data hold NaN or infinite samples")
        return data


def _parse_header(raw: np.ndarray, version: int) -> Any:
    """nibabel's NIfTI header (with its extensions) from the bytes before the data."""
    import nibabel as nib  # imported where a file is read: web pages do not need it

    klass = nib.Nifti2Header if version == 2 else nib.Nifti1Header
    try:
        return klass.from_fileobj(BytesIO(raw.tobytes()))
    except Exception as exc:  # nibabel raises many types for a damaged header
        raise MRSFormatError(
            f"not a NIfTI file ({type(exc).__name__}): upload NIfTI-MRS or a vendor file to convert"
        ) from exc


def _read_image(path: Path) -> tuple[Any, dict[str, Any], np.ndarray]:
    """(NIfTI header, NIfTI-MRS JSON header, data in the working frame as the file lays it out).

    The header is read first and the file's declared size checked against MAX_INFLATED_BYTES; the
    data are read (inflated with ISA-L for a .gz) straight into one buffer of that size, and
    conjugated and checked for NaN/inf chunk by chunk as they arrive. No more than the header
    declares (and a little slack, intake.inflate_ceiling) is ever inflated, and a compressed
    stream is read to its end so that its CRC is checked. A 32-coil series (~170 MB) used to be
    inflated into one bytes object, copied by nibabel into a bytearray, checked for NaN (a 42 MB
    mask) and conjugated: four passes. Now it is one, and inflating is nearly all of the read."""
    from spectroscopy.intake import inflate_ceiling, is_gzip, read_declared

    if not path.is_file():
        # Said as it is: a file lost in a move of the media folder is not "not a NIfTI file".
        raise MRSFormatError(f"file missing at {path}")
    declared = read_declared(path)
    if declared.total_bytes > MAX_INFLATED_BYTES:
        raise MRSFormatError(
            f"the header declares {declared.total_bytes} bytes of data, more than "
            f"{MAX_INFLATED_BYTES // 1024**3} GB: not a single-voxel series"
        )
    compressed = is_gzip(path)
    offset = declared.data_offset
    buffer = np.empty(declared.total_bytes, dtype=np.uint8)
    view = memoryview(buffer)
    try:
        with _open_stream(path, compressed) as stream:
            if _fill(stream, view[:offset]) < offset:
                raise MRSFormatError(
                    "the data cannot be read (truncated file?): the file ends inside its header"
                )
            header = _parse_header(buffer[:offset], declared.version)
            mrs_header = _header_json(header)
            if "SpectrometerFrequency" not in mrs_header:
                raise MRSFormatError("the header has no SpectrometerFrequency: the ppm axis cannot be built")
            dtype = header.get_data_dtype()
            if dtype.kind != "c":
                raise MRSFormatError("the data are not complex: this is not an MRS time-domain series")
            frame = _WorkingFrame(buffer[offset:], dtype)
            got = _fill(stream, view[offset:], frame)
            if got < declared.data_bytes:
                raise MRSFormatError(
                    f"the data cannot be read (truncated file?): the header declares {declared.data_bytes} "
                    f"bytes of data, the file holds {got}"
                )
            if compressed:
                # Read to the end of the stream (which checks its CRC), within the slack allowed.
                slack = inflate_ceiling(declared) - declared.total_bytes
                if _fill(stream, memoryview(bytearray(slack + 1))) > slack:
                    raise MRSFormatError(
                        f"the compressed data inflate to more than the {declared.total_bytes} bytes the "
                        "header declares"
                    )
    except MRSFormatError:
        raise
    except (OSError, EOFError, ValueError) as exc:
        raise MRSFormatError(NOT_INFLATABLE + " ".join(str(exc).split())) from exc
    shape = tuple(int(n) for n in header.get_data_shape())
    if int(np.prod(shape)) * dtype.itemsize != declared.data_bytes:
        raise MRSFormatError("not a NIfTI file (its header is inconsistent): upload NIfTI-MRS")
    data = frame.finish(np.ndarray(shape, dtype=dtype, buffer=buffer, offset=offset, order="F"))
    # NIfTI scaling, as nibabel applies it, in double precision (a real slope and intercept: the
    # conjugation commutes with it).
    slope, inter = header.get_slope_inter()
    if slope is not None and (slope, inter) != (1.0, 0.0):
        data = data * np.float64(slope) + np.float64(inter)
    return header, mrs_header, data


def read_nifti_mrs(path: str | Path, *, require_edit: bool = False) -> MRSData:
    """Read a NIfTI-MRS file into canonical order; MRSFormatError names what is wrong."""
    image_header, header, data = _read_image(Path(path))
    if data.ndim < 4:
        raise MRSFormatError("no spectral dimension: NIfTI-MRS data have at least 4 dimensions")
    if data.shape[0] * data.shape[1] * data.shape[2] != 1:
        raise MRSFormatError("only single-voxel spectroscopy is supported (x, y, z must be 1)")
    dwell = float(image_header["pixdim"][4])
    if not dwell > 0:
        raise MRSFormatError("the dwell time (pixdim[4]) is missing")
    spatial = data.reshape(data.shape[3:])  # (points, dim5, dim6, dim7)
    # Untagged dimensions take the NIfTI-MRS defaults: dim_5 coils, dim_6 dynamics, dim_7 indirect.
    defaults = {5: "DIM_COIL", 6: "DIM_DYN", 7: "DIM_INDIRECT_0"}
    tags = [header.get(f"dim_{n}", defaults[n]) for n in range(5, 5 + spatial.ndim - 1)]
    unknown = [t for t in tags if t not in KNOWN_TAGS]
    if unknown:
        raise MRSFormatError(f"unknown dimension tag(s) {unknown}; expected e.g. DIM_COIL, DIM_DYN, DIM_EDIT")
    order = {tag: axis + 1 for axis, tag in enumerate(tags)}
    if require_edit and "DIM_EDIT" not in order:
        raise MRSFormatError("a MEGA-PRESS series needs an edit dimension (DIM_EDIT): none was found")
    canonical = spatial
    for tag in ("DIM_EDIT", "DIM_DYN", "DIM_COIL"):
        if tag not in order:
            canonical = canonical[..., np.newaxis]
            order[tag] = canonical.ndim - 1
    extra = [a for a in range(1, canonical.ndim) if a not in order.values()]
    if any(canonical.shape[a] != 1 for a in extra):
        raise MRSFormatError("dimensions other than edit, dynamics and coils are not supported here")
    canonical = np.transpose(canonical, (order["DIM_EDIT"], order["DIM_DYN"], order["DIM_COIL"], 0, *extra))
    canonical = canonical.reshape(canonical.shape[:4])
    edit_header = header.get(f"dim_{order_tag(tags, 'DIM_EDIT')}_header", {}) if "DIM_EDIT" in tags else {}
    conditions = (
        tuple(str(v) for v in edit_header.get("EditCondition", ())) if isinstance(edit_header, dict) else ()
    )
    return MRSData(
        # Kept as stored (complex64 for most files): coil combination shrinks the data 32-fold
        # before anything needs double precision, and a copy of a 32-coil series costs ~0.3 s.
        fids=canonical,
        dwell_s=dwell,
        spectrometer_mhz=float(
            header["SpectrometerFrequency"][0]
            if isinstance(header["SpectrometerFrequency"], list)
            else header["SpectrometerFrequency"]
        ),
        nucleus=_first(header.get("ResonantNucleus"), "1H"),
        echo_time_s=header.get("EchoTime"),
        repetition_time_s=header.get("RepetitionTime"),
        edit_conditions=conditions,
        header=header,
        centre_ppm=_centre_ppm(header),
    )


def _centre_ppm(header: dict[str, Any]) -> float:
    """SpecFreqChemShift + RxOffset (the standard's keys), 4.65 ppm for 1H when absent."""
    try:
        centre = float(header.get("SpecFreqChemShift", DEFAULT_CENTRE_PPM))
        offset = header.get("RxOffset", 0.0)
        offset = float(offset[0] if isinstance(offset, (list, tuple)) else offset)
    except (TypeError, ValueError, IndexError) as exc:
        raise MRSFormatError("SpecFreqChemShift or RxOffset in the header is not a number") from exc
    return centre + offset


def _first(value: Any, default: str) -> str:
    """A header value given as a list (the standard) or as a bare string."""
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else default
    return str(value) if value else default


def order_tag(tags: list[Any], tag: str) -> int:
    return 5 + tags.index(tag)


def _voxel_box(mrs_affine: np.ndarray, map_affine: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The index ranges of a map that hold every map voxel centre inside the spectroscopy voxel
    (its unit cube, mapped through both affines: the cube's image is the hull of its 8 corners),
    with a voxel of margin; an empty range when they do not meet."""
    corners = np.array([[x, y, z, 1.0] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]).T
    ijk = (np.linalg.inv(map_affine) @ mrs_affine @ corners)[:3]
    low = np.clip(np.floor(ijk.min(axis=1)).astype(int) - 1, 0, shape)
    high = np.clip(np.ceil(ijk.max(axis=1)).astype(int) + 2, low, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def voxel_tissue_fractions(
    mrs_path: str | Path, gm_path: str | Path, wm_path: str | Path, csf_path: str | Path
) -> dict[str, float]:
    """GM, WM and CSF fractions of the spectroscopy voxel from probability maps (e.g. SPM or FSL
    FAST segmentations of the T1 image). The voxel is the NIfTI-MRS affine's unit cube; every map
    voxel whose centre falls inside it counts, and the three mean probabilities are normalised to
    add up to 1."""
    import nibabel as nib  # imported where a file is read: web pages do not need it

    for path in (mrs_path, gm_path, wm_path, csf_path):
        if not Path(path).is_file():
            raise MRSFormatError(f"file missing at {path}")
    try:
        mrs = nib.load(str(mrs_path))
    except Exception as exc:  # nibabel raises many types for non-NIfTI input
        raise MRSFormatError(f"{Path(mrs_path).name} is not a NIfTI file") from exc
    inverse = np.linalg.inv(mrs.affine)
    means = {}
    for name, path in (("f_gm", gm_path), ("f_wm", wm_path), ("f_csf", csf_path)):
        try:
            tissue_map = nib.load(str(path))
        except Exception as exc:  # nibabel raises many types for non-NIfTI input
            raise MRSFormatError(f"{Path(path).name} is not a NIfTI probability map") from exc
        if len(tissue_map.shape) != 3:
            raise MRSFormatError(f"{Path(path).name} is not a 3-D probability map")
        # Only the map voxels around the spectroscopy voxel are read: a whole 1 mm head map
        # (176 x 256 x 256) made ~1.5 GB of index arrays in the web process for one 8 ml voxel.
        box = _voxel_box(mrs.affine, tissue_map.affine, tissue_map.shape)
        try:
            data = np.asanyarray(tissue_map.dataobj[box], dtype=np.float64)
        except Exception as exc:  # a truncated or damaged map fails when its data are read
            raise MRSFormatError(f"the data of {Path(path).name} cannot be read (truncated file?)") from exc
        start = np.array([b.start for b in box])[:, np.newaxis]
        ijk = np.indices(data.shape).reshape(3, -1) + start
        world = tissue_map.affine @ np.vstack([ijk, np.ones(ijk.shape[1])])
        in_voxel = np.all(np.abs((inverse @ world)[:3]) <= 0.5, axis=0)
        if not in_voxel.any():
            raise MRSFormatError(
                f"{Path(path).name} does not overlap the spectroscopy voxel: check that it belongs to this session"
            )
        means[name] = float(np.clip(data.reshape(-1)[in_voxel], 0, 1).mean())
    total = sum(means.values())
    if total <= 0:
        raise MRSFormatError("the maps hold no tissue inside the spectroscopy voxel")
    return {name: value / total for name, value in means.items()}
