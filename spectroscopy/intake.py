"""Checks of an uploaded file before anything reads it. Pure: no Django, no numpy.

A NIfTI header says how much data follows it (dim x datatype). A gzip stream a few megabytes long
can inflate to gigabytes, and nibabel (or a plain `gzip.decompress`) inflates whatever the header
declares. So, before a NIfTI file is read:

- `read_declared` reads only the header (348 bytes for NIfTI-1, 540 for NIfTI-2; through gzip
  with a small read for a .nii.gz) and gives the declared size, which the caller holds against
  its limit;
- `inflate_bounded` inflates a .gz to disk in chunks and stops at a ceiling (the declared size
  plus a little slack), so a stream that holds more than its header declares costs nothing.

`safe_filename` and `display_name` turn whatever name a browser sends into a name for the disk
(short, no path, no control characters) and one for the record.
"""

from __future__ import annotations

import gzip
import math
import struct
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from spectroscopy.errors import MRSFormatError

NIFTI1_HEADER_BYTES = 348
NIFTI2_HEADER_BYTES = 540
# Bytes per voxel of each NIfTI datatype code (nifti1.h / nifti2.h).
BYTES_PER_VOXEL = {
    2: 1,  # uint8
    4: 2,  # int16
    8: 4,  # int32
    16: 4,  # float32
    32: 8,  # complex64
    64: 8,  # float64
    128: 3,  # RGB24
    256: 1,  # int8
    512: 2,  # uint16
    768: 4,  # uint32
    1024: 8,  # int64
    1280: 8,  # uint64
    1536: 16,  # float128
    1792: 16,  # complex128
    2048: 32,  # complex256
    2304: 4,  # RGBA32
}
# What a compressed stream may hold beyond the data its header declares (writers pad a little at
# most; nibabel writes nothing after the data).
INFLATE_SLACK_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
NOT_NIFTI = "not a NIfTI file ({}): upload NIfTI-MRS or a vendor file to convert"


@dataclass(frozen=True)
class Declared:
    """What a NIfTI header declares: the array's shape, bytes per value and where the data start."""

    version: int  # 1 or 2
    shape: tuple[int, ...]
    bytes_per_voxel: int
    data_offset: int

    @property
    def data_bytes(self) -> int:
        size = self.bytes_per_voxel
        for n in self.shape:
            size *= n
        return size

    @property
    def total_bytes(self) -> int:
        """The size of the whole (uncompressed) file the header describes."""
        return self.data_offset + self.data_bytes


class InflationCeilingPassed(MRSFormatError):
    """A compressed stream inflated beyond the ceiling it was allowed."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        super().__init__(f"the compressed data inflate to more than {ceiling} bytes")


def parse_nifti_header(raw: bytes) -> Declared:
    """The declared size of a NIfTI-1 or NIfTI-2 single-file header (the first bytes of the file);
    MRSFormatError when these bytes are no such header."""
    if len(raw) < 4:
        raise MRSFormatError(NOT_NIFTI.format("shorter than a NIfTI header"))
    for order in ("<", ">"):
        (size,) = struct.unpack(order + "i", raw[:4])
        if size in (NIFTI1_HEADER_BYTES, NIFTI2_HEADER_BYTES):
            break
    else:
        raise MRSFormatError(NOT_NIFTI.format("its first bytes are not a NIfTI-1 or NIfTI-2 header"))
    if len(raw) < size:
        raise MRSFormatError(NOT_NIFTI.format("shorter than a NIfTI header"))
    if size == NIFTI1_HEADER_BYTES:
        version = 1
        magic = raw[344:348]
        (datatype,) = struct.unpack_from(order + "h", raw, 70)
        dim = struct.unpack_from(order + "8h", raw, 40)
        (offset_f,) = struct.unpack_from(order + "f", raw, 108)
        if magic == b"ni1\x00":
            raise MRSFormatError(NOT_NIFTI.format("a two-file .hdr/.img pair: upload a single .nii"))
        if magic != b"n+1\x00":
            raise MRSFormatError(NOT_NIFTI.format("the NIfTI-1 magic string is missing"))
        if not math.isfinite(offset_f) or not 0 <= offset_f <= 2**62:
            raise MRSFormatError(NOT_NIFTI.format("its data offset is not a valid number"))
        offset = max(int(offset_f), NIFTI1_HEADER_BYTES + 4)
    else:
        version = 2
        if raw[4:8] != b"n+2\x00":
            raise MRSFormatError(NOT_NIFTI.format("the NIfTI-2 magic string is missing"))
        (datatype,) = struct.unpack_from(order + "h", raw, 12)
        dim = struct.unpack_from(order + "8q", raw, 16)
        (offset,) = struct.unpack_from(order + "q", raw, 168)
        if offset < 0:
            raise MRSFormatError(NOT_NIFTI.format("its data offset is negative"))
        offset = max(offset, NIFTI2_HEADER_BYTES + 4)
    rank = dim[0]
    if not 1 <= rank <= 7:
        raise MRSFormatError(NOT_NIFTI.format(f"its header declares {rank} dimensions"))
    shape = tuple(int(n) for n in dim[1 : rank + 1])
    if any(n < 1 for n in shape):
        raise MRSFormatError(NOT_NIFTI.format(f"its header declares the shape {shape}"))
    if datatype not in BYTES_PER_VOXEL:
        raise MRSFormatError(NOT_NIFTI.format(f"unknown data type code {datatype}"))
    return Declared(
        version=version, shape=shape, bytes_per_voxel=BYTES_PER_VOXEL[datatype], data_offset=offset
    )


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_declared(path: str | Path) -> Declared:
    """The declared size of a .nii or .nii.gz file from its header alone: at most 540 bytes are read
    (inflated with a small read for a gzip stream, whatever the stream holds after them)."""
    path = Path(path)
    if not path.is_file():
        raise MRSFormatError(f"file missing at {path}")
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as stream:
                raw = _read_up_to(stream, NIFTI2_HEADER_BYTES)
        else:
            with path.open("rb") as stream:
                raw = stream.read(NIFTI2_HEADER_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise MRSFormatError(
            "the compressed file cannot be inflated (truncated or damaged?): " + " ".join(str(exc).split())
        ) from exc
    return parse_nifti_header(raw)


def _read_up_to(stream: gzip.GzipFile, n: int) -> bytes:
    """Up to n bytes, fewer only at the end of the stream (EOFError for a stream cut short)."""
    parts: list[bytes] = []
    wanted = n
    while wanted > 0:
        part = stream.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def inflate_bounded(source: str | Path, target: str | Path, *, ceiling: int) -> int:
    """Inflate a gzip file to `target` in chunks, never holding more than one chunk in memory;
    InflationCeilingPassed (and no target left) once more than `ceiling` bytes come out, and
    MRSFormatError for a damaged stream. Returns the number of bytes written."""
    try:
        from isal import igzip as gz  # ISA-L inflate: 2-3x zlib's speed for a ~170 MB 32-coil series
    except ImportError:  # pragma: no cover - isal is pinned in requirements.txt
        gz = gzip  # type: ignore[assignment]
    source, target = Path(source), Path(target)
    written = 0
    try:
        with gz.open(source, "rb") as src, target.open("wb") as dst:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > ceiling:
                    raise InflationCeilingPassed(ceiling)
                dst.write(chunk)
    except InflationCeilingPassed:
        target.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        raise MRSFormatError(
            "the compressed file cannot be inflated (truncated or damaged?): " + " ".join(str(exc).split())
        ) from exc
    return written


def inflate_ceiling(declared: Declared) -> int:
    """What a compressed NIfTI file may inflate to: its declared size and a little slack."""
    return declared.total_bytes + INFLATE_SLACK_BYTES


# Names: a compound extension kept whole; anything else keeps its last suffix.
COMPOUND_SUFFIXES = (".nii.gz",)
SAFE_PUNCTUATION = "._-"
DEFAULT_NAME = "upload"


def _last_component(name: str) -> str:
    # Browsers on Windows may send a whole path with backslashes; either separator ends a folder.
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _printable(name: str) -> str:
    """NFC, without control, format or unassigned characters (category C*)."""
    name = unicodedata.normalize("NFC", name)
    return "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def safe_filename(name: str, *, max_bytes: int = 100) -> str:
    """A name for the disk from whatever a browser sent: its last path component, Unicode NFC, only
    letters, digits, '.', '-' and '_' (anything else becomes '_'), no leading dot, and at most
    `max_bytes` bytes of UTF-8 with the extension kept (.nii.gz whole)."""
    name = _printable(_last_component(name))
    cleaned = "".join(ch if ch.isalnum() or ch in SAFE_PUNCTUATION else "_" for ch in name)
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    lower = cleaned.lower()
    suffix = next((cleaned[-len(s) :] for s in COMPOUND_SUFFIXES if lower.endswith(s)), "")
    if not suffix:
        dot = cleaned.rfind(".")
        if dot >= 0 and len(cleaned) - dot <= 12 and any(ch.isalnum() for ch in cleaned[dot:]):
            suffix = cleaned[dot:]
    # No leading dot (a hidden file, or '..'), no trailing punctuation before the extension.
    stem = cleaned[: len(cleaned) - len(suffix)].strip("._- ")
    stem = _truncate_utf8(stem, max_bytes - len(suffix.encode("utf-8"))).rstrip("._- ")
    return (stem or DEFAULT_NAME) + suffix


def display_name(name: str, *, max_chars: int = 255) -> str:
    """The name as sent, for the record and the page: last path component, NFC, without control
    characters; a longer name keeps its start and its end around an ellipsis."""
    name = _printable(_last_component(name)).strip() or DEFAULT_NAME
    if len(name) <= max_chars:
        return name
    tail = max_chars // 4
    return name[: max_chars - tail - 1] + "…" + name[-tail:]
