"""Write a data set in every export format into one ZIP, with a manifest and the codebook.

Formats: CSV (one file per table), XLSX (one sheet per table plus the codebook), Stata .dta and
SPSS .sav (pyreadstat, with variable and value labels), Parquet (pyarrow), CDISC ODM 1.3.2 XML.
Stata and SPSS have no boolean or nullable integer: booleans become 0/1 with the value labels
no/yes, missing numbers are system-missing, missing strings are empty. Stata names are at most
32 characters: longer wide names are shortened with a hash suffix, recorded in the codebook.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyreadstat

from ketatrial.protocol import Protocol
from outcomes import codebook
from outcomes import xlsx as xlsx_writer
from outcomes.dataset import DataSet
from outcomes.export_options import ExportOptions

TABLES = ("participants", "long", "wide", "mrs")
STATA_MAX = 26  # Stata allows 32; readstat names value-label sets <variable><index>, so keep room


def frames(data: DataSet) -> dict[str, pd.DataFrame]:
    tables = {name: getattr(data, name) for name in TABLES}
    if data.infusion is not None and data.adverse_events is not None:  # unblinded only
        tables |= {"infusion": data.infusion, "adverse_events": data.adverse_events}
    if data.tables is not None:  # the forms an export's options chose
        tables = {name: frame for name, frame in tables.items() if name in data.tables}
    return tables


def stata_name(name: str) -> str:
    if len(name) <= STATA_MAX:
        return name
    return f"{name[:20]}_{hashlib.sha256(name.encode()).hexdigest()[:5]}"


def for_stats_packages(frame: pd.DataFrame, variables: dict[str, codebook.Variable]) -> pd.DataFrame:
    """Booleans to 0/1, numbers to float with NaN for missing, strings with '' for missing."""
    out = {}
    for column in frame.columns:
        kind = variables[column].kind
        series = frame[column]
        if kind == "boolean":
            out[column] = series.astype("boolean").astype("Float64").astype("float64")
        elif kind in ("integer", "number"):
            out[column] = pd.to_numeric(series, errors="coerce").astype("Float64").astype("float64")
        else:
            out[column] = series.astype("string").fillna("").astype(object)
    return pd.DataFrame(out, columns=list(frame.columns))


def _labels(
    frame: pd.DataFrame, variables: dict[str, codebook.Variable]
) -> tuple[list[str], dict[str, dict]]:
    labels = [variables[c].label[:80] for c in frame.columns]
    values = {
        c: {float(k): v for k, v in variables[c].values.items()}
        for c in frame.columns
        if variables[c].values and all(isinstance(k, int) for k in variables[c].values)
    }
    return labels, values


def _string_labels(frame: pd.DataFrame, variables: dict[str, codebook.Variable]) -> dict[str, dict]:
    """Value labels of coded string variables (SPSS has them; Stata labels numbers only)."""
    return {
        c: {str(k): str(v) for k, v in variables[c].values.items()}
        for c in frame.columns
        if variables[c].values and all(isinstance(k, str) for k in variables[c].values)
    }


def table_variables(
    p: Protocol, data: DataSet, table: str, frame: pd.DataFrame, options: ExportOptions | None = None
) -> dict[str, codebook.Variable]:
    known = codebook.variables(p, data.blinding, options)
    return {c: codebook.wide_variable(c, known) if table == "wide" else known[c] for c in frame.columns}


class _Hashing:
    """A writable that hashes what passes through (for the manifest)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target, self.digest = target, hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        return self.target.write(chunk)


def write_package(
    data: DataSet,
    target: Path,
    *,
    p: Protocol,
    manifest: dict[str, Any],
    odm_xml: Callable[[IO[bytes]], None],
    progress: Callable[[int, str], None] = lambda pct, stage: None,
    attempt: str = "",
    options: ExportOptions | None = None,
) -> dict[str, str]:
    """Write the ZIP, each file streamed into it as it is made (the ODM document of a large trial
    never sits in memory whole); returns file name -> SHA-256 (also in the manifest inside).
    `options`: the export's, so that the codebook says how participants are named and whether
    their dates are shifted."""
    tables = frames(data)
    book = codebook.rows(p, data.blinding, {name: list(f.columns) for name, f in tables.items()}, options)
    for row in book:
        row["stata_name"] = stata_name(row["variable"])
    hashes: dict[str, str] = {}
    # Scratch names carry the attempt: a worker that took over a stale job never shares them.
    partial = target.parent / f".{target.name}.{attempt}.partial"
    scratch = target.parent / f".{target.name}.{attempt}.tmp"
    scratch.mkdir(exist_ok=True)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:

            def put(name: str, body: bytes) -> None:
                hashes[name] = hashlib.sha256(body).hexdigest()
                archive.writestr(name, body)

            progress(5, "csv")
            for name, frame in tables.items():
                put(f"csv/{name}.csv", frame.to_csv(index=False, lineterminator="\n").encode())
            put("codebook.csv", pd.DataFrame(book).to_csv(index=False, lineterminator="\n").encode())
            put("codebook.json", json.dumps(book, indent=1, ensure_ascii=False).encode())
            progress(15, "xlsx")
            xlsx = scratch / "ketatrial.xlsx"
            xlsx_writer.write(xlsx, {**tables, "codebook": pd.DataFrame(book)})
            put("ketatrial.xlsx", xlsx.read_bytes())
            progress(40, "stata and spss")
            for name, frame in tables.items():
                variables = table_variables(p, data, name, frame, options)
                flat = for_stats_packages(frame, variables)
                labels, values = _labels(flat, variables)
                sav = scratch / f"{name}.sav"
                pyreadstat.write_sav(
                    flat,
                    str(sav),
                    column_labels=labels,
                    variable_value_labels={**values, **_string_labels(flat, variables)},
                )
                put(f"spss/{name}.sav", sav.read_bytes())
                dta = scratch / f"{name}.dta"
                pyreadstat.write_dta(
                    flat.rename(columns=stata_name),
                    str(dta),
                    column_labels=labels,
                    variable_value_labels={stata_name(k): v for k, v in values.items()},
                    version=15,
                )
                put(f"stata/{name}.dta", dta.read_bytes())
            progress(55, "parquet")
            for name, frame in tables.items():
                out = io.BytesIO()
                frame.to_parquet(out, engine="pyarrow", index=False)
                put(f"parquet/{name}.parquet", out.getvalue())
            progress(60, "odm")
            odm_name = "odm/ketatrial-odm-1.3.2.xml"
            with archive.open(odm_name, "w", force_zip64=True) as entry:
                hashing = _Hashing(entry)
                odm_xml(hashing)  # type: ignore[arg-type]
            hashes[odm_name] = hashing.digest.hexdigest()
            archive.writestr("manifest.json", json.dumps({**manifest, "files": hashes}, indent=1).encode())
    finally:
        for leftover in scratch.glob("*"):
            leftover.unlink()
        scratch.rmdir()
    partial.replace(target)
    progress(100, "done")
    return hashes
