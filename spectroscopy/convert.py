"""Vendor MRS files to NIfTI-MRS with spec2nii (Clarke et al., MRM 2022). No Django.

spec2nii runs as a separate process (its own imports, a time limit, and a crash there cannot take
the worker down); it writes into a fresh folder, anonymised (`--anon`), and the original file is
never touched. Formats are chosen by extension, as spec2nii's own `auto` does, but with the
subcommand named explicitly so that the choice is recorded with the upload:

- Siemens TWIX `.dat` -> `twix -e image` (MEGA sequences get DIM_EDIT from spec2nii itself)
- Siemens RDA `.rda` -> `rda`
- Siemens / Philips / UIH DICOM `.dcm`, `.ima` -> `dicom` or `philips_dcm` by the Manufacturer tag
- GE P-file `.7` -> `ge`
- Philips `.sdat` with its `.spar` header -> `philips`. SDAT rows of a MEGA series are taken as
  interleaved edit conditions (row 0 ON/OFF, row 1 the other, ...): 2 rows -> DIM_EDIT,
  2N rows -> DIM_EDIT x DIM_DYN. Any other row count of a MEGA series stays DIM_DYN and the
  reader then refuses it for lacking an edit dimension.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spectroscopy.errors import MRSFormatError

VENDOR_SUFFIXES = (".dat", ".rda", ".dcm", ".ima", ".7", ".sdat")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Conversion:
    output: Path  # the NIfTI-MRS file spec2nii wrote (inside out_dir)
    command: str  # what was run, for the record (without paths)


def is_vendor(name: str) -> bool:
    return name.lower().endswith(VENDOR_SUFFIXES)


def _spec2nii() -> list[str]:
    beside = Path(sys.executable).parent / "spec2nii"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("spec2nii")
    if found:
        return [found]
    raise MRSFormatError("spec2nii is not installed on this server: vendor files cannot be converted")


def _spar_rows(spar: Path) -> int:
    for line in spar.read_text(encoding="latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "rows":
            try:
                return int(value.strip())
            except ValueError:
                break
    raise MRSFormatError("the SPAR header has no readable 'rows' entry")


def _dicom_subcommand(path: Path) -> str:
    import pydicom  # a spec2nii dependency
    from pydicom.filereader import read_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    try:
        # pydicom inflates a deflated data set whole, in memory and without a limit (a few MB can
        # declare gigabytes): the file meta group, read first and alone, names the transfer syntax.
        syntax = read_file_meta_info(str(path)).get("TransferSyntaxUID")
        if syntax == DeflatedExplicitVRLittleEndian:
            raise MRSFormatError(
                "a deflated (compressed) DICOM file is not read here: export the spectroscopy DICOM "
                "uncompressed"
            )
        manufacturer = str(pydicom.dcmread(str(path), stop_before_pixels=True).get("Manufacturer", ""))
    except MRSFormatError:
        raise
    except Exception as exc:  # pydicom raises several types for non-DICOM input
        raise MRSFormatError(f"not a readable DICOM file ({type(exc).__name__})") from exc
    kind = manufacturer.lower()
    if "siemens" in kind:
        return "dicom"
    if "philips" in kind:
        return "philips_dcm"
    if "uih" in kind or "united imaging" in kind:
        return "uih"
    raise MRSFormatError(f"DICOM spectroscopy from '{manufacturer or 'an unknown maker'}' is not supported")


def arguments(path: Path, *, companion: Path | None, edited: bool) -> tuple[str, list[str], list[str]]:
    """spec2nii subcommand, its file arguments and its options for this file."""
    suffix = path.suffix.lower()
    if suffix == ".dat":
        return "twix", [str(path)], ["-e", "image"]
    if suffix == ".rda":
        return "rda", [str(path)], []
    if suffix == ".7":
        return "ge", [str(path)], []
    if suffix in (".dcm", ".ima"):
        return _dicom_subcommand(path), [str(path)], []
    if suffix == ".sdat":
        if companion is None or companion.suffix.lower() != ".spar":
            raise MRSFormatError("a Philips SDAT file needs its SPAR header uploaded with it")
        rows = _spar_rows(companion)
        options: list[str] = []
        if edited and rows == 2:
            options = ["-t", "DIM_EDIT"]
        elif edited and rows > 2 and rows % 2 == 0:
            options = ["-s", "2", str(rows // 2), "-t", "DIM_EDIT", "DIM_DYN"]
        return "philips", [str(path), str(companion)], options
    raise MRSFormatError(f"'{suffix}' is not a spectroscopy format this server converts")


def _free(folder: Path, stem: str, suffix: str) -> Path:
    """folder/stem+suffix, or stem-2+suffix, stem-3+suffix ... when that file exists."""
    target, n = folder / f"{stem}{suffix}", 2
    while target.exists():
        target, n = folder / f"{stem}-{n}{suffix}", n + 1
    return target


def convert(
    path: str | Path, out_dir: str | Path, *, companion: str | Path | None = None, edited: bool = False
) -> Conversion:
    """Convert one vendor file into out_dir; MRSFormatError carries spec2nii's own reason."""
    path = Path(path)
    out_dir = Path(out_dir)
    sub, files, options = arguments(path, companion=Path(companion) if companion else None, edited=edited)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".spec2nii-") as scratch:
        # Options after the file arguments: spec2nii's -t/-s take several values each.
        command = [*_spec2nii(), sub, *files, *options, "--anon", "-o", scratch, "-f", "converted"]
        try:
            finished = subprocess.run(
                command,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",  # spec2nii may print vendor header bytes
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MRSFormatError(f"spec2nii did not finish within {TIMEOUT_S} s") from exc
        written = sorted(Path(scratch).glob("*.nii*"))
        if finished.returncode != 0 or not written:
            lines = [
                line for line in (finished.stderr or finished.stdout).strip().splitlines() if line.strip()
            ]
            detail = lines[-1].strip() if lines else f"exit status {finished.returncode}"
            raise MRSFormatError(f"spec2nii could not convert this file: {detail[:300]}")
        # The main series is 'converted.nii.gz'; spec2nii may add others beside it (Siemens XA
        # product sequences write their in-sequence water as 'converted_ref'): kept, not used.
        main = next((p for p in written if p.name.startswith("converted.nii")), None)
        if main is None:
            names = ", ".join(p.name for p in written)
            raise MRSFormatError(f"spec2nii wrote several series ({names}); upload them one at a time")
        # Never over an earlier conversion of the same original (a kind corrected converts the
        # file again, with other options; the withdrawn record keeps its own).
        target = _free(out_dir, path.name, ".converted.nii.gz")
        shutil.move(str(main), target)
        extras = []
        for other in written:
            if other != main:
                kept = _free(out_dir, path.name, f".{other.name}")
                shutil.move(str(other), kept)
                extras.append(kept.name)
    note = f" (also written: {', '.join(extras)})" if extras else ""
    return Conversion(output=target, command=" ".join(["spec2nii", sub, *options, "--anon"]) + note)
