"""The codebook: every exported variable with its label, type, allowed values and source, built
from the models, the scales and the protocol definition in force."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clinimetry import scales
from clinimetry.models import Assessment
from ketatrial.protocol import Protocol
from outcomes import dataset as ds
from outcomes import export_options as eo
from participants.models import Participant


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    kind: str  # string, integer, number, boolean, datetime
    values: dict[int | str, str] = field(default_factory=dict)
    source: str = ""


YES_NO = {0: "no", 1: "yes"}


PARTICIPANT_LABELS = {
    eo.STORED: "Participant ID",
    eo.REMOVED: "Participant pseudonym, random for this export only (no key kept)",
    eo.KEYED: "Participant pseudonym: keyed hash (HMAC-SHA256), the same in every keyed export",
}


def variables(p: Protocol, blinding: str, options: eo.ExportOptions | None = None) -> dict[str, Variable]:
    """Every variable of every table, by name (the same name means the same thing everywhere), as
    an export's options made them (pseudonyms, shifted dates)."""
    known = _variables(p, blinding)
    if options is None:
        return known
    known["participant"] = replace(
        known["participant"],
        label=PARTICIPANT_LABELS[options.identifiers],
        source=known["participant"].source
        if options.identifiers == eo.STORED
        else f"{known['participant'].source}, replaced (export option: {options.identifiers})",
    )
    if (
        options.date_shift
    ):  # every one is moved (outcomes/deidentify.py DATE_COLUMNS; a test holds them equal)
        for name, var in known.items():
            if var.kind == "datetime":
                known[name] = replace(
                    var, label=f"{var.label}; shifted per participant (up to {eo.DATE_SHIFT_MAX_DAYS} days)"
                )
    return known


def _variables(p: Protocol, blinding: str) -> dict[str, Variable]:
    statuses = {k: str(v) for k, v in Participant.Status.choices}
    v = [
        Variable("participant", "Participant ID", "string", source="participants.Participant.code"),
        Variable("site", "Site code", "string", source="participants.Site.code"),
        Variable("status", "Participant status", "string", statuses, "participants.Participant.status"),
        Variable("enrolled_at", "Enrollment date-time (America/Mexico_City)", "datetime"),
        Variable("randomization_number", "Randomization number (neutral)", "string"),
        Variable(
            "baseline_weight_kg",
            f"Baseline weight (kg); possible {p.weight_min_kg:g}-{p.weight_max_kg:g}, usual "
            f"{p.weight_usual_min_kg:g}-{p.weight_usual_max_kg:g} (outside the usual range: saved with a "
            "confirmation and its reason, in the audit trail)",
            "number",
        ),
        Variable("disposition_date", "Disposition date", "datetime"),
        Variable(
            "relapse_date", "Relapse date (first qualifying rating)", "datetime", source="clinimetry.Relapse"
        ),
        Variable(
            "period",
            "Study period",
            "integer",
            {0: "baseline", 1: "period 1", 2: "period 2", 3: "follow-up / end of study"},
        ),
        Variable(
            "timepoint",
            "Schedule timepoint code (rating task or MRS session)",
            "string",
            source="infusions.schedule",
        ),
        Variable("timepoints_served", "Protocol timepoints this rating serves", "string"),
        Variable(
            "instrument", "Instrument", "string", {k: str(lab) for k, lab in Assessment.Instrument.choices}
        ),
        Variable("rated_at", "Rating date-time (America/Mexico_City)", "datetime"),
        Variable(
            "recall_period", "Recall period", "string", {k: str(lab) for k, lab in Assessment.Recall.choices}
        ),
        Variable("mode", "Interview mode", "string", {k: str(lab) for k, lab in Assessment.Mode.choices}),
    ]
    for key, column in zip(ds.HDRS_ITEMS, ds.ITEM_COLUMNS, strict=True):
        meanings = "; ".join(
            f"{scale.name} item {key} ({', '.join(str(c) for c in scale.item(key).choices)}"
            + (
                f"; {scale.item(key).not_assessed} = not assessed: a missing item (no points; prorating rules apply)"
                if scale.item(key).not_assessed is not None
                else ""
            )
            + ")"
            for scale in scales.SCALES.values()
            if key in {i.code for i in scale.items}
        )
        v.append(Variable(column, meanings, "integer", source="clinimetry/scales.py, SCALES.md"))
    v += [
        Variable(
            "total",
            "Total score (" + ", ".join(f"{s.name} 0-{s.total_max}" for s in scales.SCALES.values()) + ")",
            "integer",
            source="clinimetry.scoring.score",
        ),
        Variable("prorated", "Total prorated for missing items", "boolean", YES_NO),
        Variable("missing_items", "Items left missing", "string"),
        Variable("pct_change", "Percent change of the total from the same instrument's baseline", "number"),
        Variable(
            "response",
            f"Response: reduction >= {p.response_threshold_pct:g} % from baseline",
            "boolean",
            YES_NO,
            "protocol.response_threshold_pct",
        ),
        Variable(
            "remission",
            "Remission: "
            + ", ".join(f"{s.name} <= {getattr(p, s.remission_max_setting)}" for s in scales.SCALES.values()),
            "boolean",
            YES_NO,
            " / ".join(f"protocol.{s.remission_max_setting}" for s in scales.SCALES.values()),
        ),
        Variable("severity", "Severity band of the total", "string"),
        Variable("out_of_window", "Rated outside its protocol window", "boolean", YES_NO),
        Variable("safety_flag", "Suicide-risk item at or above the alert threshold", "boolean", YES_NO),
        Variable("signed", "E-signed and not voided by a later edit", "boolean", YES_NO),
        Variable("session", "MRS session code (ends in the period)", "string"),
        Variable("pipeline_version", "MRS pipeline version", "string"),
        Variable(
            "method",
            "MRS series and method",
            "string",
            {
                "mega": "MEGA-PRESS, Gaussian fits (GABA+, Glx)",
                "press": "short-TE PRESS, linear combination (Glu, Gln)",
            },
        ),
        Variable("glu_cr", "Glu/tCr (short-TE PRESS, linear combination)", "number"),
        Variable("gln_cr", "Gln/tCr (short-TE PRESS, linear combination)", "number"),
        Variable("glu_iu", "Glu (institutional units, short-TE PRESS)", "number"),
        Variable("glu_sd_pct", "Glu Cramer-Rao SD (% of the estimate)", "number"),
        Variable("glx_sd_pct", "Glx Cramer-Rao SD (% of the estimate)", "number"),
        Variable("scanned_at", "MRS upload date-time (America/Mexico_City)", "datetime"),
        Variable("gaba_plus_cr", "GABA+/tCr (area ratio)", "number", source="MRS.md"),
        Variable("glx_cr", "Glx/tCr (area ratio)", "number"),
        Variable("glx_naa", "Glx/NAA (area ratio)", "number"),
        Variable("gaba_plus_iu", "GABA+ (institutional units, water-referenced)", "number"),
        Variable("glx_iu", "Glx (institutional units, water-referenced)", "number"),
        Variable("gaba_plus_fit_error_pct", "GABA+ fit error (%)", "number"),
        Variable("glx_fit_error_pct", "Glx fit error (%)", "number"),
        Variable("cr_fwhm_hz", "tCr linewidth FWHM (Hz)", "number"),
        Variable("water_fwhm_hz", "Water linewidth FWHM (Hz)", "number"),
        Variable("naa_snr", "NAA SNR", "number"),
        Variable("gaba_plus_snr", "GABA+ SNR", "number"),
        Variable("freq_drift_hz_sd", "Frequency drift SD (Hz)", "number"),
        Variable("freq_drift_hz_range", "Frequency drift range (Hz)", "number"),
        Variable("n_transients", "Transients acquired", "integer"),
        Variable("n_rejected", "Transients rejected", "integer"),
        Variable("qc_pass", "Passed the quality limits", "boolean", YES_NO),
    ]
    from infusions.models import AdverseEvent

    v += [
        Variable("infusion", "Infusion number within the period", "integer"),
        Variable("minute", "Minute of the infusion (-1 = before the start)", "integer"),
        *(
            Variable(f"cadss_{n}", f"CADSS item {n} (0-4)", "integer", source="SCALES.md")
            for n in range(1, 24)
        ),
        Variable("cadss_total", "CADSS total (0-92)", "integer", source="infusions.dissociation"),
        *(
            Variable(f"bprs_{n}", f"BPRS positive item {n} (1-7)", "integer", source="SCALES.md")
            for n in range(1, 5)
        ),
        Variable(
            "bprs_total", "BPRS positive subscale total (4-28)", "integer", source="infusions.dissociation"
        ),
        Variable("term", "Adverse event term", "string"),
        Variable("category", "Adverse event category", "string"),
        Variable("onset", "Adverse event onset (America/Mexico_City)", "datetime"),
        Variable("severity", "Severity", "string", {k: str(lab) for k, lab in AdverseEvent.Severity.choices}),
        Variable("serious", "Serious adverse event", "boolean", YES_NO),
        Variable(
            "relatedness",
            "Relatedness to the infusion",
            "string",
            {k: str(lab) for k, lab in AdverseEvent.Relatedness.choices},
        ),
        Variable("action", "Action taken", "string", {k: str(lab) for k, lab in AdverseEvent.Action.choices}),
        Variable(
            "outcome",
            "Outcome of the adverse event",
            "string",
            {k: str(lab) for k, lab in AdverseEvent.Outcome.choices},
        ),
    ]
    if blinding != ds.NO_SEQUENCE:
        v.append(
            Variable(
                "sequence_code",
                "Coded sequence (A/B); the key is sealed until release"
                if blinding == ds.BLINDED
                else "Coded sequence (A/B); see the released key",
                "string",
                {"A": "A", "B": "B"},
                "participants.allocation (sealed key)",
            )
        )
    if blinding == ds.UNBLINDED:
        v.append(
            Variable(
                "sequence",
                "Sequence",
                "string",
                {"KP": "ketamine then placebo", "PK": "placebo then ketamine"},
            )
        )
        v.append(
            Variable(
                "product",
                "Product given in this row's period",
                "string",
                {"ketamine": "ketamine", "placebo": "placebo"},
            )
        )
    return {x.name: x for x in v}


def wide_variable(name: str, known: dict[str, Variable]) -> Variable:
    """Wide columns are <instrument>_<timepoint>_<measure>."""
    for measure in ("pct_change", "response", "total"):
        if name.endswith("_" + measure):
            stem = name[: -len(measure) - 1]
            instrument, _, timepoint = stem.partition("_")
            base = known[measure]
            label = f"{scales.get(instrument).name} {timepoint}: {base.label}"
            return Variable(name, label, base.kind, base.values, base.source)
    return known[name]


def rows(
    p: Protocol, blinding: str, tables: dict[str, list[str]], options: eo.ExportOptions | None = None
) -> list[dict[str, str]]:
    """One row per (table, variable): the codebook as a table."""
    known = variables(p, blinding, options)
    out = []
    for table, columns in tables.items():
        for column in columns:
            var = wide_variable(column, known) if table == "wide" else known[column]
            out.append(
                {
                    "table": table,
                    "variable": column,
                    "label": var.label,
                    "type": var.kind,
                    "values": "; ".join(f"{k}={val}" for k, val in var.values.items()),
                    "source": var.source,
                }
            )
    return out
