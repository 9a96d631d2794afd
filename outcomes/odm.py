"""CDISC ODM 1.3.2 snapshot of the ratings, with audit records.

One StudyEvent per rating task code present in the data, one form per instrument (HDRS-17,
MADRS) with its items, total and response. Audit records come from the audit trail: each
ItemGroupData carries the record's last change (who, when, reason), and each value changed after
the record was created carries its own last change; the full history is in the audit pages.
Written as a stream (a 2,000-participant trial gives a document of several hundred MB). A blinded export holds the coded sequence (A/B) in a randomization form, an
unblinded one the sequence itself; the data manager's export holds neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO, Any
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model

from clinimetry import scales
from clinimetry.models import Assessment
from outcomes import dataset as ds
from outcomes.deidentify import Deidentifier

NS = "http://www.cdisc.org/ns/odm/v1.3"
NO_SHIFT = timedelta(0)
STUDY_OID = "ST.KETATRIAL"
MDV_OID = "MDV.1"
FORMS = {key: scale.name for key, scale in scales.SCALES.items()}
# Collected values and the two derived values a reader of the ODM needs; the other derived
# values and flags are in the tabular formats.
DERIVED = ("total", "response")
TYPES = {
    "total": "integer",
    "pct_change": "float",
    "response": "boolean",
    "remission": "boolean",
    "out_of_window": "boolean",
    "safety_flag": "boolean",
    "signed": "boolean",
}


def _oid(*parts: str) -> str:
    return ".".join(re.sub(r"[^A-Za-z0-9_-]", "_", p) for p in parts)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _value(value: Any) -> str | None:
    """ODM text of a value: None when missing (pd.NA, NaN, None), 1/0 for booleans."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    return _CONTROL.sub("", str(value))


def escape(text: str) -> str:
    """XML text without the control characters XML 1.0 forbids (a pasted one would break the file)."""
    return _escape(_CONTROL.sub("", text))


def _a(value: object) -> str:
    return quoteattr(_CONTROL.sub("", str(value)))


def _item_names(instrument: str) -> list[str]:
    return [f"item_{i.code.lower()}" for i in scales.get(instrument).items]


ITEMS = {inst: _item_names(inst) for inst in FORMS}


def _last_changes(pks: Any) -> dict[int, dict[str, tuple[int | None, datetime, str]]]:
    """Assessment pk -> "_row" (the record's last change) and every item or total changed after
    the record was created -> (user id, when, reason) of that value's last change."""
    out: dict[int, dict[str, tuple[int | None, datetime, str]]] = {}
    previous: dict[int, dict[str, Any]] = {}
    history = (
        Assessment.history.filter(id__in=pks)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_user_id", "history_date", "history_change_reason", "items", "total")
        .iterator(chunk_size=5000)
    )
    for pk, user_id, when, reason, items, total in history:
        flat = {f"item_{k.lower()}": v for k, v in (items or {}).items()}
        flat["total"] = total
        stamp = (user_id, when, reason or "")
        record = out.setdefault(pk, {})
        before = previous.get(pk)
        if before is not None:
            for key, value in flat.items():
                if before.get(key) != value:
                    record[key] = stamp
        record["_row"] = stamp
        previous[pk] = flat
    return out


def _audit(stamp: tuple[int | None, datetime, str], indent: str) -> str:
    user = _oid("U", str(stamp[0])) if stamp[0] else "U.system"
    reason = f"<ReasonForChange>{escape(stamp[2])}</ReasonForChange>" if stamp[2] else ""
    return (
        f'{indent}<AuditRecord><UserRef UserOID="{user}"/><LocationRef LocationOID="LOC.SITE"/>'
        f"<DateTimeStamp>{stamp[1].isoformat(timespec='seconds')}</DateTimeStamp>{reason}</AuditRecord>\n"
    )


def write(
    data: ds.DataSet,
    out: IO[bytes],
    *,
    created: datetime,
    file_oid: str,
    site_name: str,
    deid: Deidentifier | None = None,
    instruments: Iterable[str] | None = None,
) -> None:
    """Stream the ODM document to `out` (it may be hundreds of MB for a large trial). `deid` (an
    export's options): the data set's participants are already renamed and their dates moved; the
    audit records read here from the history are named, moved and scrubbed the same way.
    `instruments`: the rating forms the export chose (default: every scale)."""
    long = data.long
    forms = {k: v for k, v in FORMS.items() if instruments is None or k in set(instruments)}
    deid = deid or Deidentifier()
    offset_of = {deid.subject(code): deid.offset(code) for code in deid.pseudonyms}

    def stamped(stamp: tuple[int | None, datetime, str], subject: str) -> tuple[int | None, datetime, str]:
        return (stamp[0], stamp[1] + offset_of.get(subject, NO_SHIFT), deid.scrub(stamp[2]))

    buffer: list[str] = []

    size = 0

    def emit(text: str) -> None:  # written out in pieces of about 1 MB
        nonlocal size
        buffer.append(text)
        size += len(text)
        if size >= 1 << 20:
            out.write("".join(buffer).encode())
            buffer.clear()
            size = 0

    alloc_items = [c for c in ("sequence_code", "sequence") if c in data.participants.columns]
    events = sorted(set(long["timepoint"])) if not long.empty else []
    emit("<?xml version='1.0' encoding='UTF-8'?>\n")
    emit(
        f'<ODM xmlns="{NS}" FileType="Snapshot" FileOID={_a(file_oid)} '
        f'CreationDateTime="{created.isoformat(timespec="seconds")}" ODMVersion="1.3.2" Originator="KetaTrial">\n'
    )
    emit(f'<Study OID="{STUDY_OID}"><GlobalVariables><StudyName>KetaTrial</StudyName>')
    emit(
        "<StudyDescription>Double-blind randomized crossover trial in treatment-resistant depression</StudyDescription>"
    )
    emit("<ProtocolName>KetaTrial</ProtocolName></GlobalVariables>\n")
    emit(f'<MetaDataVersion OID="{MDV_OID}" Name="KetaTrial ratings">\n<Protocol>\n')
    order = 1
    if alloc_items:
        emit(f'<StudyEventRef StudyEventOID="SE.RANDOMIZATION" OrderNumber="{order}" Mandatory="No"/>\n')
        order += 1
    for event in events:
        emit(f'<StudyEventRef StudyEventOID={_a(_oid("SE", event))} OrderNumber="{order}" Mandatory="No"/>\n')
        order += 1
    emit("</Protocol>\n")
    if alloc_items:
        emit('<StudyEventDef OID="SE.RANDOMIZATION" Name="Randomization" Repeating="No" Type="Common">')
        emit('<FormRef FormOID="F.ALLOCATION" Mandatory="Yes"/></StudyEventDef>\n')
    forms_of = long.groupby("timepoint")["instrument"].unique().to_dict() if not long.empty else {}
    for event in events:
        emit(f'<StudyEventDef OID={_a(_oid("SE", event))} Name={_a(event)} Repeating="No" Type="Scheduled">')
        for inst in sorted(forms_of[event]):
            emit(f'<FormRef FormOID="{_oid("F", inst.upper())}" Mandatory="No"/>')
        emit("</StudyEventDef>\n")
    if alloc_items:
        emit('<FormDef OID="F.ALLOCATION" Name="Allocation" Repeating="No">')
        emit('<ItemGroupRef ItemGroupOID="IG.ALLOCATION" Mandatory="Yes"/></FormDef>\n')
    for inst, title in forms.items():
        emit(f'<FormDef OID="{_oid("F", inst.upper())}" Name="{title}" Repeating="No">')
        emit(f'<ItemGroupRef ItemGroupOID="{_oid("IG", inst.upper())}" Mandatory="Yes"/></FormDef>\n')
    if alloc_items:
        emit('<ItemGroupDef OID="IG.ALLOCATION" Name="Allocation" Repeating="No">')
        for c in alloc_items:
            emit(f'<ItemRef ItemOID="{_oid("I", "ALLOCATION", c.upper())}" Mandatory="No"/>')
        emit("</ItemGroupDef>\n")
    for inst, title in forms.items():
        emit(f'<ItemGroupDef OID="{_oid("IG", inst.upper())}" Name="{title}" Repeating="No">')
        for name in [*_item_names(inst), *DERIVED]:
            emit(f'<ItemRef ItemOID="{_oid("I", inst.upper(), name.upper())}" Mandatory="No"/>')
        emit("</ItemGroupDef>\n")
    for c in alloc_items:
        emit(f'<ItemDef OID="{_oid("I", "ALLOCATION", c.upper())}" Name="{c}" DataType="text" Length="2"/>\n')
    for inst, title in forms.items():
        for name in [*_item_names(inst), *DERIVED]:
            kind = TYPES.get(name, "integer")
            emit(
                f'<ItemDef OID="{_oid("I", inst.upper(), name.upper())}" Name="{title} {name}" DataType="{kind}"/>\n'
            )
    emit("</MetaDataVersion>\n</Study>\n")

    max_period = 99 if data.blinding == ds.UNBLINDED else 1
    keys = (
        Assessment.objects.filter(period__lte=max_period).values_list(
            "pk", "participant__code", "task_code", "instrument"
        )
        if not long.empty
        else []
    )
    key_of = {(deid.subject(code), task, inst): pk for pk, code, task, inst in keys}
    # A subquery, not a list of ids: a large trial has more ratings than SQLite takes parameters.
    changes = _last_changes(Assessment.objects.filter(period__lte=max_period).values("pk")) if key_of else {}
    user_ids = sorted({s[0] for c in changes.values() for s in c.values() if s[0]})
    users = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    emit(f'<AdminData StudyOID="{STUDY_OID}">\n<User OID="U.system"><LoginName>system</LoginName></User>\n')
    for pk in user_ids:
        emit(
            f'<User OID="{_oid("U", str(pk))}"><LoginName>{escape(users.get(pk, str(pk)))}</LoginName></User>\n'
        )
    emit(f'<Location OID="LOC.SITE" Name={_a(site_name)} LocationType="Site">')
    emit(
        f'<MetaDataVersionRef StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}" EffectiveDate="{created.date().isoformat()}"/>'
    )
    emit("</Location>\n</AdminData>\n")

    emit(f'<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">\n')
    people = data.participants
    alloc = {
        row[0]: [(c, _value(v)) for c, v in zip(alloc_items, row[1:], strict=True) if _value(v)]
        for row in people[["participant", *alloc_items]].itertuples(index=False, name=None)
    }
    columns = [
        "participant",
        "timepoint",
        "instrument",
        *sorted(set().union(*ITEMS.values())),
        *DERIVED,
    ]
    rows = (
        long.sort_values(["participant", "timepoint", "instrument"], kind="stable")[columns]
        if not long.empty
        else long
    )
    # Python values with None for missing (no pandas test per cell), and each column's ItemData
    # element made once per distinct value: item scores take a handful of values, so a 150,000-
    # rating trial's millions of cells cost a dictionary lookup each.
    rows = rows.astype(object).where(rows.notna(), None) if not rows.empty else rows
    index = {name: i for i, name in enumerate(columns)}
    fields = {
        inst: [(name, index[name], f"I.{inst.upper()}.{name.upper()}") for name in [*ITEMS[inst], *DERIVED]]
        for inst in ITEMS
    }
    elements: dict[str, dict[Any, str | None]] = {oid: {} for f in fields.values() for _n, _c, oid in f}

    def element(oid: str, raw: Any) -> str | None:
        known = elements[oid]
        try:
            return known[raw]
        except KeyError:
            value = _value(raw)
            made = None if value is None else f'<ItemData ItemOID="{oid}" Value={_a(value)}/>\n'
            if isinstance(raw, (int, bool, str)) and len(known) < 10_000:
                known[raw] = made
            return made
        except TypeError:  # an unhashable value
            value = _value(raw)
            return None if value is None else f'<ItemData ItemOID="{oid}" Value={_a(value)}/>\n'

    by_person: dict[str, list[tuple]] = {}
    for row in rows.itertuples(index=False, name=None):
        by_person.setdefault(row[0], []).append(row)
    for code in people["participant"]:
        records = by_person.get(code, [])
        if not records and not alloc.get(code):
            continue
        parts = [f"<SubjectData SubjectKey={_a(code)}>\n"]
        if alloc.get(code):
            parts.append('<StudyEventData StudyEventOID="SE.RANDOMIZATION"><FormData FormOID="F.ALLOCATION">')
            parts.append('<ItemGroupData ItemGroupOID="IG.ALLOCATION">')
            for c, v in alloc[code]:
                parts.append(f'<ItemData ItemOID="{_oid("I", "ALLOCATION", c.upper())}" Value={_a(v)}/>')
            parts.append("</ItemGroupData></FormData></StudyEventData>\n")
        current = None
        for row in records:
            event, inst = row[1], row[2]
            if event != current:
                if current is not None:
                    parts.append("</StudyEventData>\n")
                parts.append(f"<StudyEventData StudyEventOID={_a(_oid('SE', event))}>\n")
                current = event
            upper = inst.upper()
            parts.append(f'<FormData FormOID="F.{upper}"><ItemGroupData ItemGroupOID="IG.{upper}">\n')
            history = changes.get(key_of.get((code, event, inst), -1), {})
            if "_row" in history:
                parts.append(_audit(stamped(history["_row"], code), ""))
            for name, column, oid in fields[inst]:
                raw = row[column]
                if raw is None:
                    continue
                stamp = history.get(name)
                if stamp:
                    value = _value(raw)
                    if value is not None:
                        parts.append(
                            f'<ItemData ItemOID="{oid}" Value={_a(value)}>\n{_audit(stamped(stamp, code), "")}</ItemData>\n'
                        )
                    continue
                made = element(oid, raw)
                if made is not None:
                    parts.append(made)
            parts.append("</ItemGroupData></FormData>\n")
        if current is not None:
            parts.append("</StudyEventData>\n")
        parts.append("</SubjectData>\n")
        emit("".join(parts))
    emit("</ClinicalData>\n</ODM>\n")
    out.write("".join(buffer).encode())
