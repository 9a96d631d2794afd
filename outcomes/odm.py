"""CDISC ODM 1.3.2 snapshot of the ratings, with audit records.

One StudyEvent per rating task code present in the data, one form per instrument (HDRS-17,
MADRS) with its items and derived values; each ItemData carries the AuditRecord of the last
change of that value (who, when, reason) from the audit trail; the full history of a value is
in the audit pages. A blinded export holds the coded sequence (A/B) in a randomization form, an
unblinded one the sequence itself; the data manager's export holds neither.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd
from django.contrib.auth import get_user_model
from lxml import etree

from clinimetry.models import Assessment
from outcomes import dataset as ds

NS = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = "ST.KETATRIAL"
MDV_OID = "MDV.1"
FORMS = {"hdrs17": "HDRS-17", "madrs": "MADRS"}
DERIVED = ("total", "pct_change", "response", "remission", "out_of_window", "safety_flag", "signed")
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


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: Any) -> etree._Element:
    node = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        node.text = text
    return node


def _value(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _item_names(instrument: str) -> list[str]:
    keys = ds.HDRS_ITEMS if instrument == "hdrs17" else [str(n) for n in range(1, 11)]
    return [f"item_{k.lower()}" for k in keys]


def _last_changes(pks: list[int]) -> dict[int, dict[str, tuple[int | None, datetime, str]]]:
    """Assessment pk -> field -> (user id, when, reason) of the last change of that field."""
    out: dict[int, dict[str, tuple[int | None, datetime, str]]] = {}
    previous: dict[int, dict[str, Any]] = {}
    history = (
        Assessment.history.filter(id__in=pks)
        .order_by("id", "history_date", "history_id")
        .values("id", "history_user_id", "history_date", "history_change_reason", "items", *DERIVED[:1])
    )
    for h in history:
        flat = {f"item_{k.lower()}": v for k, v in (h["items"] or {}).items()}
        flat["total"] = h["total"]
        before = previous.get(h["id"], {})
        stamp = (h["history_user_id"], h["history_date"], h["history_change_reason"] or "")
        record = out.setdefault(h["id"], {})
        for key, value in flat.items():
            if key not in before or before[key] != value:
                record[key] = stamp
        record["_row"] = stamp
        previous[h["id"]] = flat
    return out


def build(data: ds.DataSet, *, created: datetime, file_oid: str, site_name: str) -> bytes:
    long = data.long
    root = etree.Element(
        f"{{{NS}}}ODM",
        nsmap={None: NS},
        FileType="Snapshot",
        FileOID=file_oid,
        CreationDateTime=created.isoformat(timespec="seconds"),
        ODMVersion="1.3.2",
        Originator="KetaTrial",
    )
    study = _el(root, "Study", OID=STUDY_OID)
    glob = _el(study, "GlobalVariables")
    _el(glob, "StudyName", "KetaTrial")
    _el(
        glob,
        "StudyDescription",
        "Repeated IV ketamine vs placebo crossover in treatment-resistant depression",
    )
    _el(glob, "ProtocolName", "KetaTrial")
    mdv = _el(study, "MetaDataVersion", OID=MDV_OID, Name="KetaTrial ratings")
    events = sorted(set(long["timepoint"])) if not long.empty else []
    with_sequence = "sequence_code" in long.columns or "sequence_code" in data.participants.columns
    protocol = _el(mdv, "Protocol")
    order = 1
    if with_sequence:
        _el(protocol, "StudyEventRef", StudyEventOID="SE.RANDOMIZATION", OrderNumber=order, Mandatory="No")
        order += 1
    for event in events:
        _el(protocol, "StudyEventRef", StudyEventOID=_oid("SE", event), OrderNumber=order, Mandatory="No")
        order += 1
    if with_sequence:
        sed = _el(
            mdv, "StudyEventDef", OID="SE.RANDOMIZATION", Name="Randomization", Repeating="No", Type="Common"
        )
        _el(sed, "FormRef", FormOID="F.ALLOCATION", Mandatory="Yes")
    for event in events:
        sed = _el(mdv, "StudyEventDef", OID=_oid("SE", event), Name=event, Repeating="No", Type="Scheduled")
        for inst in sorted(set(long.loc[long["timepoint"] == event, "instrument"])):
            _el(sed, "FormRef", FormOID=_oid("F", inst.upper()), Mandatory="No")
    if with_sequence:
        form = _el(mdv, "FormDef", OID="F.ALLOCATION", Name="Allocation", Repeating="No")
        _el(form, "ItemGroupRef", ItemGroupOID="IG.ALLOCATION", Mandatory="Yes")
    for inst, title in FORMS.items():
        form = _el(mdv, "FormDef", OID=_oid("F", inst.upper()), Name=title, Repeating="No")
        _el(form, "ItemGroupRef", ItemGroupOID=_oid("IG", inst.upper()), Mandatory="Yes")
    alloc_items = [c for c in ("sequence_code", "sequence") if c in data.participants.columns]
    if with_sequence:
        group = _el(mdv, "ItemGroupDef", OID="IG.ALLOCATION", Name="Allocation", Repeating="No")
        for c in alloc_items:
            _el(group, "ItemRef", ItemOID=_oid("I", "ALLOCATION", c.upper()), Mandatory="No")
    for inst, title in FORMS.items():
        group = _el(mdv, "ItemGroupDef", OID=_oid("IG", inst.upper()), Name=title, Repeating="No")
        for name in [*_item_names(inst), *DERIVED]:
            _el(group, "ItemRef", ItemOID=_oid("I", inst.upper(), name.upper()), Mandatory="No")
    for c in alloc_items:
        _el(mdv, "ItemDef", OID=_oid("I", "ALLOCATION", c.upper()), Name=c, DataType="text", Length=2)
    for inst, title in FORMS.items():
        for name in [*_item_names(inst), *DERIVED]:
            _el(
                mdv,
                "ItemDef",
                OID=_oid("I", inst.upper(), name.upper()),
                Name=f"{title} {name}",
                DataType=TYPES.get(name, "integer"),
            )

    pks = (
        list(
            Assessment.objects.filter(
                participant__code__in=set(long["participant"]),
                period__lte=(99 if data.blinding == ds.UNBLINDED else 1),
            ).values_list("pk", "participant__code", "task_code", "instrument")
        )
        if not long.empty
        else []
    )
    key_of = {(code, task, inst): pk for pk, code, task, inst in pks}
    changes = _last_changes([pk for pk, *_ in pks])
    users = {
        u.pk: u.get_username()
        for u in get_user_model().objects.filter(
            pk__in={s[0] for c in changes.values() for s in c.values() if s[0]}
        )
    }

    admin = _el(root, "AdminData", StudyOID=STUDY_OID)
    for pk, name in sorted(users.items()):
        user = _el(admin, "User", OID=_oid("U", str(pk)))
        _el(user, "LoginName", name)
    location = _el(admin, "Location", OID="LOC.SITE", Name=site_name, LocationType="Site")
    _el(
        location,
        "MetaDataVersionRef",
        StudyOID=STUDY_OID,
        MetaDataVersionOID=MDV_OID,
        EffectiveDate=created.date().isoformat(),
    )
    if not users:  # AdminData needs one User or Location at least; the Location is always there
        pass

    clinical = _el(root, "ClinicalData", StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID)
    by_person = {code: rows for code, rows in long.groupby("participant", sort=True)} if not long.empty else {}  # noqa: C416 (a GroupBy has a .keys attribute: dict() would misread it)
    people = data.participants.set_index("participant")
    for code in people.index:
        rows = by_person.get(code)
        has_alloc = with_sequence and any(_value(people.at[code, c]) for c in alloc_items)
        if rows is None and not has_alloc:
            continue
        subject = _el(clinical, "SubjectData", SubjectKey=code)
        if has_alloc:
            se = _el(subject, "StudyEventData", StudyEventOID="SE.RANDOMIZATION")
            fd = _el(se, "FormData", FormOID="F.ALLOCATION")
            ig = _el(fd, "ItemGroupData", ItemGroupOID="IG.ALLOCATION")
            for c in alloc_items:
                if _value(people.at[code, c]):
                    _el(
                        ig,
                        "ItemData",
                        ItemOID=_oid("I", "ALLOCATION", c.upper()),
                        Value=_value(people.at[code, c]),
                    )
        if rows is None:
            continue
        for event, event_rows in rows.groupby("timepoint", sort=True):
            se = _el(subject, "StudyEventData", StudyEventOID=_oid("SE", event))
            for _, row in event_rows.sort_values("instrument").iterrows():
                inst = row["instrument"]
                fd = _el(se, "FormData", FormOID=_oid("F", inst.upper()))
                ig = _el(fd, "ItemGroupData", ItemGroupOID=_oid("IG", inst.upper()))
                history = changes.get(key_of.get((code, event, inst), -1), {})
                for name in [*_item_names(inst), *DERIVED]:
                    value = _value(row[name])
                    if value is None:
                        continue
                    item = _el(ig, "ItemData", ItemOID=_oid("I", inst.upper(), name.upper()), Value=value)
                    stamp = history.get(name) or history.get("_row")
                    if stamp:
                        audit = _el(item, "AuditRecord")
                        if stamp[0]:
                            _el(audit, "UserRef", UserOID=_oid("U", str(stamp[0])))
                        else:
                            _el(audit, "UserRef", UserOID="U.system")
                        _el(audit, "LocationRef", LocationOID="LOC.SITE")
                        _el(audit, "DateTimeStamp", stamp[1].isoformat(timespec="seconds"))
                        if stamp[2]:
                            _el(audit, "ReasonForChange", stamp[2])
    if any(True for _ in root.iter(f"{{{NS}}}UserRef") if _.get("UserOID") == "U.system"):
        user = etree.Element(f"{{{NS}}}User", OID="U.system")
        _el(user, "LoginName", "system")
        admin.insert(0, user)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
