"""What a person reads of an MRS result: labelled quantities with units and sensible precision, a
quality verdict with its reasons, the constants as a table, and a participant's timepoints side by
side. Views and the PDF report render these; nothing here reads or writes the database beyond the
objects it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Quantity:
    key: str
    label: Any  # a lazy translation
    unit: str = ""
    decimals: int = 3
    percent_of_one: bool = False  # stored as a fraction, shown as %


MAIN = (
    Quantity("gaba_plus_cr", _("GABA+ / tCr"), decimals=3),
    Quantity("glx_cr", _("Glx / tCr"), decimals=3),
    Quantity("glx_naa", _("Glx / NAA"), decimals=3),
    Quantity("gaba_plus_iu", _("GABA+, water-referenced"), "i.u.", 2),
    Quantity("glx_iu", _("Glx, water-referenced"), "i.u.", 2),
    # Short-TE PRESS (linear combination)
    Quantity("glu_cr", _("Glu / tCr"), decimals=3),
    Quantity("gln_cr", _("Gln / tCr"), decimals=3),
    Quantity("naa_cr", _("NAA / tCr"), decimals=3),
    Quantity("mi_cr", _("mI / tCr"), decimals=3),
    Quantity("cho_cr", _("tCho / tCr"), decimals=3),
    Quantity("glu_iu", _("Glu, water-referenced"), "i.u.", 2),
)
QUALITY = (
    Quantity("gaba_plus_fit_error_pct", _("GABA+ fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("glx_fit_error_pct", _("Glx fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("gaba_plus_residual_pct", _("GABA+ fit residual (SD / peak height)"), "%", 1),
    Quantity("glu_sd_pct", _("Glu fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("glx_sd_pct", _("Glx fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("gln_sd_pct", _("Gln fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("cr_sd_pct", _("tCr fit error (Cramér-Rao SD)"), "%", 1),
    Quantity("gaba_plus_snr", _("GABA+ signal-to-noise ratio"), "", 0),
    Quantity("naa_snr", _("NAA signal-to-noise ratio"), "", 0),
    Quantity("cr_fwhm_hz", _("tCr linewidth (FWHM)"), "Hz", 1),
    Quantity("water_fwhm_hz", _("Water linewidth (FWHM)"), "Hz", 1),
    Quantity("freq_drift_hz_sd", _("Frequency drift, SD"), "Hz", 2),
    Quantity("freq_drift_hz_range", _("Frequency drift, range"), "Hz", 1),
    Quantity("mm_fraction_of_gaba_plus", _("Macromolecule share of GABA+"), "%", 0, percent_of_one=True),
)
REFERENCE = (
    Quantity("gaba_plus_cr_gannet", _("GABA+ / tCr, Gannet 3 model"), decimals=3),
    Quantity("glx_cr_gannet", _("Glx / tCr, Gannet 3 model"), decimals=3),
    Quantity("gaba_plus_fit_error_gannet_pct", _("GABA+ fit error, Gannet 3 definition"), "%", 1),
)
PROCESSING = (
    Quantity("reference_shift_hz", _("Frequency referencing shift (tCr to 3.027 ppm)"), "Hz", 1),
    Quantity("naa_ppm_before_reference", _("NAA position before referencing"), "ppm", 2),
    Quantity("elapsed_s", _("Processing time"), "s", 2),
)
AREAS = (
    Quantity("gaba_plus_area", _("GABA+ area"), _("a.u."), 4),
    Quantity("glx_area", _("Glx area"), _("a.u."), 4),
    Quantity("water_area", _("Water area"), _("a.u."), 1),
)
SHOWN_ELSEWHERE = {
    "qc_pass",
    "qc_flags",
    "qc_notes",
    "qc_checks",
    "pipeline_version",
    "n_transients",
    "n_rejected",
    "edit_assignment",
}


def _number(value: Any, decimals: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes")) if value else str(_("no"))
    if isinstance(value, (int, float)):
        text = f"{value:,.{decimals}f}"
        return text.replace(",", "\u202f")  # thin space groups thousands in both languages
    return str(value)


def formatted(quantity: Quantity, value: Any) -> str:
    if quantity.percent_of_one and isinstance(value, (int, float)):
        value = 100 * value
    text = _number(value, quantity.decimals)
    return f"{text} {quantity.unit}".strip() if text != "—" else text


@dataclass
class Group:
    title: Any
    rows: list[tuple[Any, str]] = field(default_factory=list)


def value_groups(values: dict[str, Any]) -> list[Group]:
    """The result's values as labelled groups; keys no group names are shown with a readable
    label rather than dropped, so a new pipeline value is never hidden."""
    groups = []
    used: set[str] = set(SHOWN_ELSEWHERE)
    for title, quantities in (
        (_("Results"), MAIN),
        (_("Quality"), QUALITY),
        (_("Reference model (for comparison)"), REFERENCE),
        (_("Processing"), PROCESSING),
        (_("Fitted areas"), AREAS),
    ):
        # The rows that are not plain quantities join their group by its quantities, not its title.
        group = Group(title)
        for q in quantities:
            if q.key in values:
                used.add(q.key)
                group.rows.append((q.label, formatted(q, values[q.key])))
        if quantities is QUALITY and "n_transients" in values:
            total, rejected = values.get("n_transients") or 0, values.get("n_rejected") or 0
            share = 100 * rejected / total if total else 0.0
            group.rows.append((_("Transients rejected"), f"{rejected} / {total} ({share:.1f} %)"))
        if quantities is PROCESSING and "edit_assignment" in values:
            group.rows.insert(
                0,
                (
                    _("ON/OFF assignment"),
                    str(_("from the file header"))
                    if values["edit_assignment"] == "header"
                    else str(_("inferred from the data (NAA at 2.01 ppm)")),
                ),
            )
        if group.rows:
            groups.append(group)
    rest = Group(_("Other values"))
    for key in sorted(set(values) - used):
        rest.rows.append((key.replace("_", " "), _number(values[key], 3)))
    if rest.rows:
        groups.append(rest)
    return groups


# --- quality verdict ---------------------------------------------------------------------------

CHECK_TEXT = {
    "cr_fwhm": _("tCr linewidth %(value).1f Hz is above the limit of %(limit)g Hz"),
    "water_fwhm": _("water linewidth %(value).1f Hz is above the limit of %(limit)g Hz"),
    "gaba_fit_error": _("GABA+ fit error %(value).1f %% is above the limit of %(limit)g %%"),
    "glu_fit_error": _("Glu fit error %(value).1f %% is above the limit of %(limit)g %%"),
    "rejected": _("%(value).1f %% of transients were rejected (limit %(limit)g %%)"),
    "drift": _("frequency drift range %(value).1f Hz is above the limit of %(limit)g Hz"),
    "edit_labels": _("the file's ON/OFF labels contradict the data"),
}


@dataclass
class Verdict:
    state: str  # passed, flagged, failed, pending
    headline: Any
    reasons: list[str]
    notes: list[str]


def verdict(result: Any) -> Verdict:
    """Passed, flagged (with every limit exceeded and by how much), failed (with the reason) or
    pending; notes (an ON/OFF assignment inferred from the data) are not failures."""
    if result.status == "failed":
        return Verdict("failed", _("Not quantified"), [result.error], [])
    if result.status != "done":
        return Verdict("pending", _("Queued or running"), [], [])
    values = result.values
    checks = values.get("qc_checks")
    if checks is not None:
        reasons = [str(CHECK_TEXT[c["code"]] % c) if c["code"] in CHECK_TEXT else c["code"] for c in checks]
    else:  # results from pipelines before 2.0.0 carry only their English flags
        reasons = list(values.get("qc_flags") or [])
    notes: list[str] = []
    if values.get("edit_assignment") == "inferred":
        notes.append(str(_("ON and OFF were not labelled in the file: they were told apart by the data.")))
    if values.get("qc_pass"):
        return Verdict("passed", _("Passed every quality check"), [], notes)
    return Verdict("flagged", _("Quality limits exceeded"), reasons, notes)


# --- constants ---------------------------------------------------------------------------------

IU_LABELS = (
    ("water_concentration_mM", _("Water concentration"), "mM", 0),
    ("water_visibility", _("Water visibility"), "", 2),
    ("water_t1_s", _("Water T1"), "s", 3),
    ("water_t2_s", _("Water T2"), "s", 3),
    ("t1_s", _("Metabolite T1"), "s", 2),
    ("t2_s", _("Metabolite T2"), "s", 3),
    ("n_h", _("Protons in the fitted signal"), "", 0),
    ("mm_factor", _("Macromolecule factor"), "", 2),
    ("editing_efficiency", _("Editing efficiency"), "", 2),
    ("te_s", _("TE"), "s", 3),
    ("tr_s", _("TR"), "s", 2),
    ("te_water_s", _("Water TE"), "s", 3),
    ("tr_water_s", _("Water TR"), "s", 2),
    ("t1_factor", _("T1 factor"), "", 4),
    ("t2_factor", _("T2 factor"), "", 4),
)
PROCESSING_LABELS = (
    ("coil_weights", _("Receive coils combined"), "", 0),
    ("alignment_window_s", _("Alignment window"), "s", 2),
    ("outlier_z_max", _("Outlier limit (robust z)"), "", 1),
    ("on_to_off_hz", _("ON to OFF frequency correction"), "Hz", 3),
    ("on_to_off_rad", _("ON to OFF phase correction"), "rad", 4),
    ("lineshape_sigma_ppm", _("Lineshape, Gaussian SD"), "ppm", 4),
    ("lineshape_gamma_ppm", _("Lineshape, Lorentzian half width"), "ppm", 4),
    ("te_s", _("TE"), "s", 3),
)
LIMIT_LABELS = (
    ("fwhm_max_hz", _("Linewidth limit"), "Hz", 0),
    ("gaba_fit_error_max_pct", _("GABA+ fit error limit"), "%", 0),
    ("rejected_max_pct", _("Rejected transients limit"), "%", 0),
    ("drift_range_max_hz", _("Drift range limit"), "Hz", 0),
)


def _rows(source: dict[str, Any], labels: tuple) -> list[tuple[Any, str]]:
    return [
        (label, f"{_number(source[key], decimals)} {unit}".strip())
        for key, label, unit, decimals in labels
        if key in source and isinstance(source[key], (int, float))
    ]


def constant_groups(constants: dict[str, Any]) -> list[Group]:
    """Every constant the result was computed with, labelled (MRS.md: reproducible from the
    record); the raw record stays in the database and the exports."""
    groups = []
    for key, title in (
        ("gaba", _("Water-referenced GABA+")),
        ("glx", _("Water-referenced Glx")),
        ("glu_iu", _("Water-referenced Glu")),
        ("glx_iu", _("Water-referenced Glx")),
    ):
        if isinstance(constants.get(key), dict):
            groups.append(Group(title, _rows(constants[key], IU_LABELS)))
    processing = Group(_("Processing"), _rows(constants, PROCESSING_LABELS))
    for key, label in (("model", _("Model")), ("axis", _("Frequency axis")), ("method", _("Method"))):
        if isinstance(constants.get(key), str):
            processing.rows.append((label, constants[key]))
    if processing.rows:
        groups.append(processing)
    if isinstance(constants.get("qc_limits"), dict):
        groups.append(Group(_("Quality limits in force"), _rows(constants["qc_limits"], LIMIT_LABELS)))
    return groups


# --- a participant's timepoints side by side ---------------------------------------------------

TIMELINE = (
    Quantity("gaba_plus_cr", _("GABA+ / tCr"), decimals=3),
    Quantity("glx_cr", _("Glx / tCr"), decimals=3),
    Quantity("gaba_plus_iu", _("GABA+, water-referenced"), "i.u.", 2),
    Quantity("glx_iu", _("Glx, water-referenced"), "i.u.", 2),
    Quantity("gaba_plus_fit_error_pct", _("GABA+ fit error"), "%", 1),
    Quantity("cr_fwhm_hz", _("tCr linewidth"), "Hz", 1),
)


@dataclass
class Column:
    code: str
    label: str
    date: str
    result: Any
    verdict: Verdict | None


def timeline(sessions: list[tuple[str, str, str]], results: list[Any]) -> dict[str, Any]:
    """`sessions`: (code, label, date) in schedule order, as the viewer may see the schedule;
    `results`: MEGA-PRESS results the viewer may see. One column per session with the newest
    finished result (highest pipeline version, then latest finished), rows per quantity."""
    newest: dict[str, Any] = {}
    for result in results:
        code = result.upload.session_code
        key = (_version(result.pipeline_version), result.finished_at or result.queued_at)
        held = newest.get(code)
        if held is None or key > (_version(held.pipeline_version), held.finished_at or held.queued_at):
            newest[code] = result
    columns = [
        Column(code, label, date, newest.get(code), verdict(newest[code]) if code in newest else None)
        for code, label, date in sessions
    ]
    rows = [
        (
            q.label,
            [
                formatted(q, c.result.values.get(q.key))
                if c.result is not None and c.result.status == "done"
                else "—"
                for c in columns
            ],
        )
        for q in TIMELINE
    ]
    return {"columns": columns, "rows": rows}


def _version(text: str) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() or ch == "." else " " for ch in text).split()
    parts = digits[0].split(".") if digits else []
    return tuple(int(p) for p in parts if p)


TISSUE = (
    Quantity("f_gm", _("Grey matter fraction"), decimals=3),
    Quantity("f_wm", _("White matter fraction"), decimals=3),
    Quantity("f_csf", _("CSF fraction"), decimals=3),
    Quantity("gaba_plus_iu_csf", _("GABA+, CSF-corrected"), "i.u.", 2),
    Quantity("gaba_plus_iu_molal", _("GABA+, tissue-corrected (Gasparovic 2006)"), "mol/kg", 2),
    Quantity("gaba_plus_iu_alpha", _("GABA+, alpha-corrected (Harris 2015)"), "i.u.", 2),
    Quantity("glx_iu_csf", _("Glx, CSF-corrected"), "i.u.", 2),
    Quantity("glx_iu_molal", _("Glx, tissue-corrected (Gasparovic 2006)"), "mol/kg", 2),
    Quantity("glx_iu_alpha", _("Glx, alpha-corrected (Harris 2015)"), "i.u.", 2),
    Quantity("glu_iu_csf", _("Glu, CSF-corrected"), "i.u.", 2),
)


def tissue_rows(values: dict[str, float]) -> list[tuple[Any, str]]:
    return [(q.label, formatted(q, values[q.key])) for q in TISSUE if q.key in values]
