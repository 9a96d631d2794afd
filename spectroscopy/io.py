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
from dataclasses import dataclass, field
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


def _header_json(image: Any) -> dict[str, Any]:
    for ext in image.header.extensions:
        if int(ext.get_code()) == MRS_EXTENSION_CODE:
            content = ext.get_content()
            if isinstance(content, (bytes, bytearray)):
                content = content.decode("utf-8", "replace")
            try:
                return json.loads(content.rstrip("\x00 ")) if isinstance(content, str) else dict(content)
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise MRSFormatError("the NIfTI-MRS header extension is not valid JSON") from exc
    raise MRSFormatError("no NIfTI-MRS header extension (code 44): this is NIfTI but not NIfTI-MRS")


# The largest series inflated in memory (a 64-coil, 2 x 320 x 4096 series is ~1.3 GB).
MAX_INFLATED_BYTES = 2 * 1024**3


def _inflate(path: Path) -> bytes:
    """A .gz file's bytes, inflated with ISA-L (python-isal: 2-3x zlib's speed on one core; a
    32-coil series is ~170 MB), or zlib where it is missing. The header is read first: no more
    than it declares (and never more than MAX_INFLATED_BYTES) is inflated."""
    from spectroscopy.intake import inflate_ceiling, read_declared

    try:
        from isal import igzip as gz
    except ImportError:  # pragma: no cover - isal is pinned in requirements.txt
        import gzip as gz  # type: ignore[no-redef]
    declared = read_declared(path)
    if declared.total_bytes > MAX_INFLATED_BYTES:
        raise MRSFormatError(
            f"the header declares {declared.total_bytes} bytes of data, more than "
            f"{MAX_INFLATED_BYTES // 1024**3} GB: not a single-voxel series"
        )
    ceiling = min(MAX_INFLATED_BYTES, inflate_ceiling(declared))
    try:
        with gz.open(path, "rb") as stream:
            raw = stream.read(ceiling + 1)
    except (OSError, EOFError, ValueError) as exc:
        raise MRSFormatError(
            "the compressed file cannot be inflated (truncated or damaged?): " + " ".join(str(exc).split())
        ) from exc
    if len(raw) > ceiling:
        raise MRSFormatError(
            f"the compressed data inflate to more than the {declared.total_bytes} bytes the header declares"
        )
    return raw


def _load(path: Path) -> Any:
    """The NIfTI image; a .nii.gz is inflated in memory with ISA-L (nibabel's own reader inflates
    with zlib, which was most of the time of a 32-coil scan)."""
    import nibabel as nib  # imported where a file is read: web pages do not need it

    if not path.is_file():
        # Said as it is: a file lost in a move of the media folder is not "not a NIfTI file".
        raise MRSFormatError(f"file missing at {path}")
    try:
        if path.name.lower().endswith(".gz"):
            raw = _inflate(path)
            size = int.from_bytes(raw[:4], "little") if len(raw) >= 4 else 0
            swapped = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0
            cls = nib.Nifti2Image if 540 in (size, swapped) else nib.Nifti1Image
            return cls.from_bytes(raw)
        return nib.load(str(path))
    except MRSFormatError:
        raise
    except Exception as exc:  # nibabel raises many types for non-NIfTI input
        raise MRSFormatError(
            f"not a NIfTI file ({type(exc).__name__}): upload NIfTI-MRS or a vendor file to convert"
        ) from exc


def read_nifti_mrs(path: str | Path, *, require_edit: bool = False) -> MRSData:
    """Read a NIfTI-MRS file into canonical order; MRSFormatError names what is wrong."""
    path = Path(path)
    image = _load(path)
    header = _header_json(image)
    if "SpectrometerFrequency" not in header:
        raise MRSFormatError("the header has no SpectrometerFrequency: the ppm axis cannot be built")
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # truncated files fail when the data are read
        raise MRSFormatError(
            "the data cannot be read (truncated file?): " + " ".join(str(exc).split())
        ) from exc
    if not np.iscomplexobj(data):
        raise MRSFormatError("the data are not complex: this is not an MRS time-domain series")
    if data.ndim < 4:
        raise MRSFormatError("no spectral dimension: NIfTI-MRS data have at least 4 dimensions")
    if data.shape[0] * data.shape[1] * data.shape[2] != 1:
        raise MRSFormatError("only single-voxel spectroscopy is supported (x, y, z must be 1)")
    if not np.isfinite(data).all():
        raise MRSFormatError("the data hold NaN or infinite samples")
    # The standard's frame to the working frame (module docstring): one conjugation, in place
    # where the array allows it (a 32-coil series is ~170 MB).
    if data.flags.writeable:
        np.conjugate(data, out=data)
    else:
        data = np.conjugate(data)
    dwell = float(image.header["pixdim"][4])
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
