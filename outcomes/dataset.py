"""The analysis data set, built from the database for one reader.

Rows come from the records (assessments, MRS results); the sequence columns come only from the
allocation module, by blinding level:

- ``no_sequence`` (data manager): no sequence column at all.
- ``blinded`` (statistician before release): ``sequence_code`` A/B, a code whose key is sealed.
- ``unblinded`` (statistician after release): ``sequence_code``, ``sequence`` and the row's
  ``product``.

Before release, rows are limited to baseline and period 1: period 2 has 4 infusions after KP and
8 after PK, so its rows (pre-dose 5-8, "after last infusion 4") and the follow-up that hangs on
it would reveal each participant's sequence (the protocol's stated hazard). Period 1 has the
same shape in both sequences.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from clinimetry import scales, scoring
from clinimetry.models import Assessment, Relapse
from clinimetry.selectors import BASELINE
from infusions.services import schedules_for
from ketatrial.trial import protocol
from participants import allocation
from participants.models import Participant
from spectroscopy.models import MRSResult

TZ = ZoneInfo(settings.TIME_ZONE)  # the trial's time zone, named once (settings)
from outcomes.levels import BLINDED, NO_SEQUENCE, UNBLINDED  # noqa: E402, F401  (re-exported)

# One column per entered item code of any scale in the registry (HDRS-17 has the most: 1-15,
# 16A, 16B, 17; MADRS uses item_1 .. item_10).
HDRS_ITEMS = list(dict.fromkeys(i.code for s in scales.SCALES.values() for i in s.items))
ITEM_COLUMNS = [f"item_{k.lower()}" for k in HDRS_ITEMS]
MRS_VALUES = (
    "glu_cr",
    "gln_cr",
    "glu_iu",
    "glu_sd_pct",
    "glx_sd_pct",
    "gaba_plus_cr",
    "glx_cr",
    "glx_naa",
    "gaba_plus_iu",
    "glx_iu",
    "gaba_plus_fit_error_pct",
    "glx_fit_error_pct",
    "cr_fwhm_hz",
    "water_fwhm_hz",
    "naa_snr",
    "gaba_plus_snr",
    "freq_drift_hz_sd",
    "freq_drift_hz_range",
    "n_transients",
    "n_rejected",
    "qc_pass",
)


BOOLEAN_COLUMNS = {
    "prorated",
    "response",
    "remission",
    "out_of_window",
    "safety_flag",
    "signed",
    "qc_pass",
    "serious",
}
INTEGER_COLUMNS = {
    "period",
    "total",
    "n_transients",
    "n_rejected",
    "infusion",
    "minute",
    "cadss_total",
    "bprs_total",
    *ITEM_COLUMNS,
    *(f"cadss_{n}" for n in range(1, 24)),
    *(f"bprs_{n}" for n in range(1, 5)),
}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer and boolean columns, so every format keeps the same types."""
    for column in frame.columns:
        if column in BOOLEAN_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        elif column in INTEGER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
        elif column.endswith(("_total", "_response")) and frame[column].dtype == object:
            kind = "boolean" if column.endswith("_response") else "Int64"
            frame[column] = frame[column].astype(kind)
    return frame


@dataclass(frozen=True)
class DataSet:
    blinding: str
    long: pd.DataFrame
    wide: pd.DataFrame
    mrs: pd.DataFrame
    participants: pd.DataFrame
    data_hash: str
    # Unblinded only: CADSS and BPRS+ per infusion and minute, and adverse events. Dissociation
    # and the adverse-event pattern follow the product, so no blinded data set holds them.
    infusion: pd.DataFrame | None = None
    adverse_events: pd.DataFrame | None = None
    # The tables an export writes when its options chose some (outcomes/export_options.py);
    # None: every table the data set has.
    tables: tuple[str, ...] | None = None


def _local(value: datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat(timespec="seconds") if value else None


def mrs_period(session_code: str) -> int | None:
    """The period of an upload's MRS session: a schedule code starts with it ('p1-mrs-24h',
    'p1-mrs-1w+p2-mrs-baseline' is period 1), an older dated code ends with it
    ('mrs-20260301-1'); 'unscheduled' has none."""
    head = session_code.split("-", 1)[0]
    if len(head) == 2 and head[0] == "p" and head[1].isdigit():
        return int(head[1])
    tail = session_code.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _sequence_columns(
    user: AbstractBaseUser | None, blinding: str, people: list[Participant], now: datetime
) -> dict[int, dict[str, str]]:
    if blinding == NO_SEQUENCE:
        return {}
    if blinding == BLINDED:
        if user is None:
            return {}
        return {
            pk: {"sequence_code": code}
            for pk, code in allocation.coded_sequences(user, people, now=now).items()
        }
    return allocation.released_sequences(user, people)


def _product(seq: dict[str, str], period: int) -> str:
    return seq.get(f"product_period{period}", "") if period in (1, 2) else ""


def build(
    user: AbstractBaseUser | None, blinding: str, *, now: datetime, all_periods: bool = False
) -> DataSet:
    """Every export format, analysis and API response reads this (one query per table).
    `all_periods` (hashes at lock time only, never for a reader) keeps period 2 and follow-up
    in a data set without sequence columns."""
    p = protocol()
    max_period = 99 if blinding == UNBLINDED or (all_periods and blinding == NO_SEQUENCE) else 1
    people = list(Participant.objects.select_related("site").order_by("code"))
    sequences = _sequence_columns(user, blinding, people, now)
    blinded_alloc = allocation.blinded_allocations(people)
    relapses = {r.participant_id: r for r in Relapse.objects.all()}
    participant_rows = []
    for person in people:
        row: dict[str, Any] = {
            "participant": person.code,
            "site": person.site.code,
            # While blinded, "completed" reads "randomized": KP participants finish about 16 days
            # before PK participants enrolled on the same day (4 period-2 infusions, not 8).
            "status": person.status
            if blinding == UNBLINDED or person.status != Participant.Status.COMPLETED
            else Participant.Status.RANDOMIZED,
            "enrolled_at": _local(person.enrolled_at),
            "randomization_number": blinded_alloc[person.pk].randomization_number
            if person.pk in blinded_alloc
            else None,
            "baseline_weight_kg": float(person.baseline_weight_kg) if person.baseline_weight_kg else None,
        }
        if blinding == UNBLINDED:
            # Blinded exports leave the disposition date out: the end of a completed study follows
            # the end of period 2, whose length differs by sequence.
            row["disposition_date"] = person.disposition_date.isoformat() if person.disposition_date else None
            relapse = relapses.get(person.pk)
            row["relapse_date"] = _local(relapse.relapse_date) if relapse else None
        row.update({k: v for k, v in sequences.get(person.pk, {}).items() if not k.startswith("product")})
        participant_rows.append(row)

    codes = {person.pk: person.code for person in people}
    fields = (
        "pk",
        "participant_id",
        "period",
        "task_code",
        "serves",
        "instrument",
        "rated_at",
        "recall_period",
        "mode",
        "items",
        "total",
        "prorated",
        "missing_items",
        "out_of_window",
        "safety_flag",
        "signed_at",
        "signature_voided_at",
    )
    rows = (
        Assessment.objects.filter(period__lte=max_period)
        .order_by("participant__code", "rated_at", "instrument", "pk")
        .values_list(*fields)
    )
    baselines = {
        (pid, inst): total
        for pid, inst, total in Assessment.objects.filter(task_code=BASELINE).values_list(
            "participant_id", "instrument", "total"
        )
    }
    # Column by column (lists of values), not row dicts: a 2,000-participant trial has ~150,000
    # ratings and row dicts would hold several hundred MB.
    columns: dict[str, list[Any]] = {name: [] for name in _long_columns(blinding)}
    add = {name: values.append for name, values in columns.items()}
    item_keys = {key: {i.code for i in scale.items} for key, scale in scales.SCALES.items()}
    item_pairs = list(zip(HDRS_ITEMS, ITEM_COLUMNS, strict=True))
    threshold = p.response_threshold_pct
    for row in rows.iterator(chunk_size=5000):
        a = dict(zip(fields, row, strict=True))
        pid, instrument, total, task = a["participant_id"], a["instrument"], a["total"], a["task_code"]
        seq = sequences.get(pid, {})
        base = baselines.get((pid, instrument))
        is_base = task == BASELINE
        add["participant"](codes[pid])
        add["period"](a["period"])
        add["timepoint"](task)
        add["timepoints_served"]("; ".join(a["serves"]) if a["serves"] else task)
        add["instrument"](instrument)
        add["rated_at"](_local(a["rated_at"]))
        add["recall_period"](a["recall_period"])
        add["mode"](a["mode"])
        items = a["items"] or {}
        keys = item_keys[instrument]
        for key, column in item_pairs:
            add[column](items.get(key) if key in keys else None)
        add["total"](total)
        add["prorated"](a["prorated"])
        add["missing_items"](",".join(a["missing_items"] or []))
        add["pct_change"](None if is_base else scoring.percent_change(base, total))
        add["response"](None if is_base else scoring.is_response(base, total, threshold))
        add["remission"](
            scoring.is_remission(
                instrument, total, maximum=getattr(p, scales.get(instrument).remission_max_setting)
            )
        )
        add["severity"](scoring.severity(instrument, total))
        add["out_of_window"](a["out_of_window"])
        add["safety_flag"](a["safety_flag"])
        # A correction clears the signature (signed_at) and stamps signature_voided_at, which stays
        # as history; signing again sets signed_at: signed is whether a signature stands now.
        add["signed"](a["signed_at"] is not None)
        if "sequence_code" in add:
            add["sequence_code"](seq.get("sequence_code"))
        if blinding == UNBLINDED:
            add["sequence"](seq.get("sequence"))
            add["product"](_product(seq, a["period"]))
    long = typed(pd.DataFrame(columns, columns=_long_columns(blinding)))
    del columns, add

    mrs_rows = []
    results = list(
        MRSResult.objects.filter(status=MRSResult.Status.DONE)
        .order_by("upload__participant__code", "upload__session_code", "pk")  # newest result last
        .values_list(
            "upload__participant_id",
            "upload__session_code",
            "upload__kind",
            "pipeline_version",
            "upload__uploaded_at",
            "values",
        )
    )
    scanned = {pk for pk, *_ in results}
    dated = {pk for pk, session, *_ in results if session.startswith("mrs-")}
    # Sessions are named by the schedule's code; older dated names are mapped through the schedule.
    timepoints = {
        pk: {f"mrs-{t.due.astimezone(TZ):%Y%m%d}-{t.period}": t.code for t in plan.mrs}
        for pk, plan in schedules_for(
            [person for person in people if person.pk in scanned and person.pk in dated]
        ).items()
    }
    for participant_id, session, kind, version, uploaded_at, values in results:
        period = mrs_period(session)
        if period is None or period > max_period:
            continue
        seq = sequences.get(participant_id, {})
        row = {
            "participant": codes[participant_id],
            "period": period,
            "session": session,
            "timepoint": session
            if session[:1] == "p" and mrs_period(session) is not None
            else timepoints.get(participant_id, {}).get(session),
            "method": "press" if kind == "press" else "mega",
            "pipeline_version": version,
            "scanned_at": _local(uploaded_at),
            **{k: values.get(k) for k in MRS_VALUES},
        }
        if "sequence_code" in seq:
            row["sequence_code"] = seq["sequence_code"]
        if blinding == UNBLINDED:
            row["sequence"] = seq.get("sequence")
            row["product"] = _product(seq, period)
        mrs_rows.append(row)
    mrs = typed(pd.DataFrame(mrs_rows, columns=_mrs_columns(blinding)))
    participants = pd.DataFrame(participant_rows, columns=_participant_columns(blinding))
    wide = typed(widen(long, participants))
    if blinding != UNBLINDED:
        return DataSet(blinding, long, wide, mrs, participants, data_hash(long, mrs, participants))
    infusion, events = _infusion_tables(codes, sequences)
    return DataSet(
        blinding,
        long,
        wide,
        mrs,
        participants,
        data_hash(long, mrs, participants, infusion, events),
        infusion,
        events,
    )


CADSS_COLUMNS = [f"cadss_{n}" for n in range(1, 24)]
BPRS_COLUMNS = [f"bprs_{n}" for n in range(1, 5)]
INFUSION_COLUMNS = [
    "participant",
    "period",
    "infusion",
    "minute",
    "rated_at",
    *CADSS_COLUMNS,
    "cadss_total",
    *BPRS_COLUMNS,
    "bprs_total",
    "sequence_code",
    "sequence",
    "product",
]
AE_COLUMNS = [
    "participant",
    "period",
    "infusion",
    "term",
    "category",
    "onset",
    "severity",
    "serious",
    "relatedness",
    "action",
    "outcome",
    "sequence_code",
    "sequence",
    "product",
]


def _infusion_tables(
    codes: dict[int, str], sequences: dict[int, dict[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from infusions.models import AdverseEvent, DissociationRating

    rows = []
    for r in DissociationRating.objects.select_related("visit").order_by(
        "visit__participant__code", "visit__period", "visit__number", "minute"
    ):
        pid, period = r.visit.participant_id, r.visit.period
        seq = sequences.get(pid, {})
        rows.append(
            {
                "participant": codes[pid],
                "period": period,
                "infusion": r.visit.number,
                "minute": r.minute,
                "rated_at": _local(r.rated_at),
                **dict(zip(CADSS_COLUMNS, r.cadss_items, strict=False)),
                "cadss_total": r.cadss_total,
                **dict(zip(BPRS_COLUMNS, r.bprs_items, strict=False)),
                "bprs_total": r.bprs_total,
                "sequence_code": seq.get("sequence_code"),
                "sequence": seq.get("sequence"),
                "product": _product(seq, period),
            }
        )
    events = []
    for e in AdverseEvent.objects.select_related("visit").order_by("participant__code", "onset", "pk"):
        seq = sequences.get(e.participant_id, {})
        period = e.visit.period if e.visit else None
        events.append(
            {
                "participant": codes[e.participant_id],
                "period": period,
                "infusion": e.visit.number if e.visit else None,
                "term": e.term,
                "category": e.category,
                "onset": _local(e.onset),
                "severity": e.severity,
                "serious": e.serious,
                "relatedness": e.relatedness,
                "action": e.action,
                "outcome": e.outcome,
                "sequence_code": seq.get("sequence_code"),
                "sequence": seq.get("sequence"),
                "product": _product(seq, period) if period else "",
            }
        )
    return typed(pd.DataFrame(rows, columns=INFUSION_COLUMNS)), typed(
        pd.DataFrame(events, columns=AE_COLUMNS)
    )


def _sequence_names(blinding: str) -> list[str]:
    return {NO_SEQUENCE: [], BLINDED: ["sequence_code"], UNBLINDED: ["sequence_code", "sequence", "product"]}[
        blinding
    ]


def _long_columns(blinding: str) -> list[str]:
    return [
        "participant",
        "period",
        "timepoint",
        "timepoints_served",
        "instrument",
        "rated_at",
        "recall_period",
        "mode",
        *ITEM_COLUMNS,
        "total",
        "prorated",
        "missing_items",
        "pct_change",
        "response",
        "remission",
        "severity",
        "out_of_window",
        "safety_flag",
        "signed",
        *_sequence_names(blinding),
    ]


def _mrs_columns(blinding: str) -> list[str]:
    return [
        "participant",
        "period",
        "session",
        "timepoint",
        "method",
        "pipeline_version",
        "scanned_at",
        *MRS_VALUES,
        *_sequence_names(blinding),
    ]


def _participant_columns(blinding: str) -> list[str]:
    extra = ["disposition_date", "relapse_date"] if blinding == UNBLINDED else []
    seq = [c for c in _sequence_names(blinding) if c != "product"]
    return [
        "participant",
        "site",
        "status",
        "enrolled_at",
        "randomization_number",
        "baseline_weight_kg",
        *extra,
        *seq,
    ]


def widen(long: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """One row per participant: total, % change and response per instrument x timepoint."""
    base = participants.set_index("participant")
    if long.empty:
        return base.reset_index()
    values = long.pivot_table(
        index="participant",
        columns=["instrument", "timepoint"],
        values=["total", "pct_change", "response"],
        aggfunc="first",
        dropna=False,
    )
    values.columns = [f"{inst}_{_slug(tp)}_{measure}" for measure, inst, tp in values.columns]
    values = values[sorted(values.columns)]
    return base.join(values, how="left").reset_index()


def _slug(timepoint: str) -> str:
    return timepoint.replace("+", "_").replace("-", "_")


def data_hash(*frames: pd.DataFrame) -> str:
    """SHA-256 of the frames' CSV text: the same data give the same hash on any machine."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()
