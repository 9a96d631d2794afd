"""Exports: every format read back equals the data set; ODM validates against the official
ODM 1.3.2 schema; no blinded export holds the allocation in any format."""

from __future__ import annotations

import io
import json
import zipfile
from importlib.resources import files

import pandas as pd
import pyreadstat
import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from outcomes import dataset as ds
from outcomes import formats, services
from outcomes.models import ExportJob
from participants import allocation
from tests.outcomes.conftest import sign_casebooks

FORBIDDEN = ("KP", "PK", "ketamine", "placebo", "Ketamine", "Placebo")
# A blinded export as the exports page posts it (its options and purpose).
EXPORT_FORM = {
    "purpose": "interim data review",
    "forms": ["hdrs17", "madrs", "mrs", "participants"],
    "visits": ["baseline", "period1"],
    "identifiers": "stored",
}


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _export(user, unblinded=False):  # type: ignore[no-untyped-def]
    job = ExportJob.objects.create(
        requested_by=user,
        requested_at=timezone.now(),
        blinding=services.blinding_for(user, unblinded=unblinded),
    )
    job = services.export_run(job.pk, now=timezone.now())
    assert job.status == "done", job.error
    return job, zipfile.ZipFile(job.file)


def _same(read: pd.DataFrame, expected: pd.DataFrame, *, strings_empty: bool = False) -> None:
    assert list(read.columns) == list(expected.columns)
    assert len(read) == len(expected)
    for column in expected.columns:
        want, got = expected[column], read[column]
        if want.dtype == "boolean":
            want = want.astype("float64")
            got = got.astype("float64")
        if pd.api.types.is_numeric_dtype(want.dtype) or want.dtype == "boolean":
            pd.testing.assert_series_equal(
                pd.to_numeric(got).astype("float64").reset_index(drop=True),
                want.astype("float64").reset_index(drop=True),
                check_names=False,
                rtol=1e-9,
            )
        else:
            clean = want.map(lambda x: "" if x is None or (isinstance(x, float) and pd.isna(x)) else str(x))
            other = got.map(lambda x: "" if x is None or (isinstance(x, float) and pd.isna(x)) else str(x))
            assert list(other) == list(clean), column


def test_every_format_reads_back_equal_to_the_data_set(trial, statistician, tmp_path) -> None:
    data = ds.build(statistician, ds.BLINDED, now=timezone.now())
    assert len(data.long) == 8 * 2 * 3  # baseline, 4 h and pre-dose 2 per instrument: period 2 left out
    job, archive = _export(statistician)
    assert json.loads(archive.read("manifest.json"))["data_hash"] == data.data_hash == job.data_hash
    for name, frame in formats.frames(data).items():
        _same(
            pd.read_csv(io.BytesIO(archive.read(f"csv/{name}.csv")), keep_default_na=False, na_values=[""]),
            frame,
        )
        pd.testing.assert_frame_equal(
            pd.read_parquet(io.BytesIO(archive.read(f"parquet/{name}.parquet"))), frame, check_dtype=False
        )
        _same(pd.read_excel(io.BytesIO(archive.read("ketatrial.xlsx")), sheet_name=name), frame)
        for kind, reader in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
            path = tmp_path / f"{name}.{kind}"
            path.write_bytes(archive.read(f"{'spss' if kind == 'sav' else 'stata'}/{name}.{kind}"))
            read, meta = reader(str(path))
            if kind == "dta":
                read = read.rename(columns={formats.stata_name(c): c for c in frame.columns})
            _same(read, frame)
            labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
            assert any(labels.values())
    path = tmp_path / "long.sav"
    path.write_bytes(archive.read("spss/long.sav"))
    _read, meta = pyreadstat.read_sav(str(path))
    assert meta.variable_value_labels["response"] == {0.0: "no", 1.0: "yes"}
    assert meta.variable_value_labels["instrument"] == {"hdrs17": "HDRS-17", "madrs": "MADRS"}
    assert meta.column_names_to_labels["total"].startswith("Total score")


def test_the_odm_file_validates_against_the_official_schema_with_audit_records(
    trial, statistician, rater
) -> None:
    from clinimetry.models import Assessment
    from ketatrial.audit import clinical_update

    corrected = Assessment.objects.get(
        participant=trial["people"][0], task_code="p1-4h-inf1", instrument="madrs"
    )
    items = dict(corrected.items)
    items["1"] = items["1"] + 1 if items["1"] < 6 else items["1"] - 1
    clinical_update(
        corrected,
        by=rater,
        reason="item 1 misheard",
        changes={"items": items, "total": sum(items.values())},
    )
    _job, archive = _export(statistician)
    document = etree.fromstring(archive.read("odm/ketatrial-odm-1.3.2.xml"))
    xsd = files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assert schema.validate(document), schema.error_log
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    groups = document.findall(".//odm:ItemGroupData[@ItemGroupOID='IG.MADRS']", ns)
    assert len(groups) == 8 * 3 and all(g.find("odm:AuditRecord", ns) is not None for g in groups)
    changed = document.findall(".//odm:ItemData/odm:AuditRecord", ns)
    assert sorted(a.getparent().get("ItemOID") for a in changed) == ["I.MADRS.ITEM_1", "I.MADRS.TOTAL"]
    assert {a.find("odm:ReasonForChange", ns).text for a in changed} == {"item 1 misheard"}
    subject = corrected.participant.code
    value = document.find(
        f".//odm:SubjectData[@SubjectKey='{subject}']//odm:StudyEventData[@StudyEventOID='SE.p1-4h-inf1']"
        "//odm:ItemData[@ItemOID='I.MADRS.ITEM_1']",
        ns,
    )
    assert value.get("Value") == str(items["1"])
    values = {item.get("Value") for item in document.findall(".//odm:ItemData", ns)}
    assert "<NA>" not in values and "True" not in values and "nan" not in values
    responses = {i.get("Value") for i in document.findall(".//odm:ItemData[@ItemOID='I.MADRS.RESPONSE']", ns)}
    assert responses <= {"0", "1"} and responses
    assert document.find(".//odm:ItemGroupData/odm:AuditRecord/odm:ReasonForChange", ns).text == "entered"


def test_the_codebook_names_every_column_with_its_label_and_source(trial, statistician) -> None:
    _job, archive = _export(statistician)
    book = json.loads(archive.read("codebook.json"))
    long_vars = {row["variable"]: row for row in book if row["table"] == "long"}
    assert "Response: reduction >= 50 %" in long_vars["response"]["label"]
    assert long_vars["response"]["values"] == "0=no; 1=yes"
    assert all(len(row["stata_name"]) <= 26 for row in book)


@pytest.mark.parametrize("role", ["statistician", "data_manager"])
def test_no_blinded_export_holds_the_allocation_in_any_format(trial, role, request, tmp_path) -> None:
    user = request.getfixturevalue(role)
    _job, archive = _export(user)
    seen: list[str] = []

    def check(where: str, text: str) -> None:
        seen.append(where)
        for word in FORBIDDEN:
            assert word not in text, (where, word)
        assert "p2-" not in text, where  # no period-2 row: its shape differs by sequence
        if role == "data_manager":
            assert "sequence_code" not in text, where

    for name in archive.namelist():
        if name.endswith((".csv", ".json", ".xml")):
            check(name, archive.read(name).decode())
    for table in formats.TABLES:
        frames = {
            "xlsx": pd.read_excel(io.BytesIO(archive.read("ketatrial.xlsx")), sheet_name=table),
            "parquet": pd.read_parquet(io.BytesIO(archive.read(f"parquet/{table}.parquet"))),
        }
        for kind, folder, reader in (
            ("sav", "spss", pyreadstat.read_sav),
            ("dta", "stata", pyreadstat.read_dta),
        ):
            path = tmp_path / f"{table}.{kind}"
            path.write_bytes(archive.read(f"{folder}/{table}.{kind}"))
            frames[kind], meta = reader(str(path))
            check(f"{table}.{kind} labels", json.dumps([meta.column_labels, str(meta.variable_value_labels)]))
        for kind, frame in frames.items():
            check(f"{table}.{kind}", frame.to_csv(index=False) + " ".join(map(str, frame.columns)))
    assert len(seen) > 30
    if role == "statistician":
        codes = pd.read_csv(io.BytesIO(archive.read("csv/participants.csv")))["sequence_code"]
        by_code = {}
        for code, pk in zip(
            codes, [p.pk for p in sorted(trial["people"], key=lambda p: p.code)], strict=True
        ):
            by_code.setdefault(code, set()).add(trial["sequences"][pk])
        assert set(codes) == {"A", "B"} and all(len(v) == 1 for v in by_code.values())  # a faithful code


def test_an_unblinded_export_opens_only_after_lock_and_release(
    trial, statistician, principal_investigator, data_manager
) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        services.blinding_for(statistician, unblinded=True)
    with pytest.raises(ValidationError):
        services.sequence_release(by=statistician, now=timezone.now())
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    with pytest.raises(PermissionDenied):
        services.blinding_for(data_manager, unblinded=True)
    _job, archive = _export(statistician, unblinded=True)
    long = pd.read_csv(io.BytesIO(archive.read("csv/long.csv")))
    assert set(long["sequence"]) == {"KP", "PK"} and "p2-predose-5" in set(long["timepoint"])
    assert set(long["sequence_code"]) == {"A", "B"}
    pairs = set(zip(long["sequence"], long["sequence_code"], strict=True))
    assert len(pairs) == 2 and pairs == {
        (seq, code) for code, seq in allocation.sequence_key_letters(statistician).items()
    }
    ket = long[(long["period"] == 2) & (long["sequence"] == "PK")]["product"]
    assert set(ket) == {"ketamine"}


def test_the_export_page_queues_a_job_and_offers_the_download(
    trial, statistician, client_for, django_capture_on_commit_callbacks
) -> None:
    client = client_for(statistician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("outcomes:export_new"), EXPORT_FORM)
    assert len(callbacks) == 1
    job = ExportJob.objects.get()
    assert client.get(reverse("outcomes:export_status", args=[job.pk])).json()["status"] == "queued"
    services.export_run(job.pk, now=timezone.now())  # what the worker does
    page = client.get(reverse("outcomes:exports")).content.decode()
    assert reverse("outcomes:export_download", args=[job.pk]) in page
    download = client.get(reverse("outcomes:export_download", args=[job.pk]))
    assert download.status_code == 200 and "blinded" in download["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).testzip() is None


def test_another_user_cannot_download_someone_elses_export(
    trial, statistician, make_user, client_for
) -> None:
    job, _archive = _export(statistician)
    other = make_user("statistician2", "statistician")
    assert client_for(other).get(reverse("outcomes:export_download", args=[job.pk])).status_code == 404


def test_a_completed_participant_reads_randomized_while_blinded(
    trial, statistician, principal_investigator, coordinator
) -> None:
    from ketatrial.audit import clinical_update

    person = trial["people"][0]
    clinical_update(person, by=coordinator, reason="finished follow-up", changes={"status": "completed"})
    _job, archive = _export(statistician)
    people = pd.read_csv(io.BytesIO(archive.read("csv/participants.csv")))
    assert set(people["status"]) == {"randomized"}
    sign_casebooks(principal_investigator)  # the change voided that casebook's signature
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    _job, archive = _export(statistician, unblinded=True)
    people = pd.read_csv(io.BytesIO(archive.read("csv/participants.csv")))
    assert people.set_index("participant").at[person.code, "status"] == "completed"


def test_a_control_character_in_a_reason_does_not_break_the_odm_file(trial, statistician, rater) -> None:
    from clinimetry.models import Assessment
    from ketatrial.audit import clinical_update

    record = Assessment.objects.filter(period=1).first()
    clinical_update(record, by=rater, reason="pasted\x0bfrom a form", changes={"mode": "remote"})
    _job, archive = _export(statistician)
    document = etree.fromstring(archive.read("odm/ketatrial-odm-1.3.2.xml"))
    reasons = {r.text for r in document.iter("{http://www.cdisc.org/ns/odm/v1.3}ReasonForChange")}
    assert "pastedfrom a form" in reasons


def test_an_export_left_running_by_a_dead_worker_is_taken_over_through_its_lease(
    trial, statistician, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The outbox holds the export by a lease: once the lease of a dead worker runs out, the sweep
    hands the job over and the next worker rebuilds it (no 30-minute wait for a stale mark); a
    running export whose lease is alive is left to its worker."""
    from datetime import timedelta

    from ketatrial import jobs
    from ketatrial.models import Job

    sent: list[int] = []
    monkeypatch.setattr(jobs, "job_dispatch", lambda pk: sent.append(pk) or True)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        dead = services.export_request(by=statistician, unblinded=False, now=now, purpose="interim")
        alive = services.export_request(by=statistician, unblinded=False, now=now, purpose="interim")
    ExportJob.objects.filter(pk__in=[dead.pk, alive.pk]).update(status="running", started_at=now)
    Job.objects.filter(key=f"export:{dead.pk}").update(
        state="running", lease_until=now - timedelta(seconds=1)
    )
    Job.objects.filter(key=f"export:{alive.pk}").update(
        state="running", lease_until=now + timedelta(minutes=1)
    )
    sent.clear()
    assert jobs.jobs_sweep(now=now) == [Job.objects.get(key=f"export:{dead.pk}").pk] == sent
    assert jobs.job_run(Job.objects.get(key=f"export:{alive.pk}").pk) == "running"  # not taken
    assert jobs.job_run(sent[0]) == "done"
    assert ExportJob.objects.get(pk=dead.pk).status == "done"
    assert ExportJob.objects.get(pk=alive.pk).status == "running"


def test_dissociation_and_adverse_events_only_in_unblinded_exports_and_read_back(
    trial, statistician, principal_investigator, infusion_physician, tmp_path
) -> None:
    from infusions.models import AdverseEvent, DissociationRating, InfusionVisit
    from ketatrial.audit import clinical_create

    person = trial["people"][0]
    now = timezone.now()
    visit = clinical_create(
        InfusionVisit(participant=person, period=1, number=1, status="done", started_at=now, ended_at=now),
        by=infusion_physician,
    )
    cadss = [1] * 10 + [0] * 13
    clinical_create(
        DissociationRating(
            visit=visit,
            minute=40,
            cadss_items=cadss,
            cadss_total=10,
            bprs_items=[2, 1, 1, 1],
            bprs_total=5,
            rated_at=now,
        ),
        by=infusion_physician,
    )
    clinical_create(
        AdverseEvent(
            participant=person,
            visit=visit,
            term="Dizziness",
            category="nervous system",
            onset=now,
            severity="mild",
            serious=False,
            relatedness="probable",
            action="none",
            outcome="recovered",
            reported_by=infusion_physician,
            reported_at=now,
        ),
        by=infusion_physician,
    )
    _job, blinded = _export(statistician)
    assert not [n for n in blinded.namelist() if "infusion" in n or "adverse" in n]
    assert "Dizziness" not in blinded.read("csv/long.csv").decode()
    sign_casebooks(principal_investigator)  # the new records voided that casebook's signature
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    _job, archive = _export(statistician, unblinded=True)
    data = ds.build(statistician, ds.UNBLINDED, now=timezone.now())
    for name, frame in (("infusion", data.infusion), ("adverse_events", data.adverse_events)):
        assert len(frame) == 1
        _same(
            pd.read_csv(io.BytesIO(archive.read(f"csv/{name}.csv")), keep_default_na=False, na_values=[""]),
            frame,
        )
        _same(pd.read_excel(io.BytesIO(archive.read("ketatrial.xlsx")), sheet_name=name), frame)
        for kind, reader in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
            path = tmp_path / f"{name}.{kind}"
            path.write_bytes(archive.read(f"{'spss' if kind == 'sav' else 'stata'}/{name}.{kind}"))
            read, _meta = reader(str(path))
            if kind == "dta":
                read = read.rename(columns={formats.stata_name(c): c for c in frame.columns})
            _same(read, frame)
    infusion = data.infusion.iloc[0]
    assert infusion["cadss_total"] == 10 and infusion["cadss_1"] == 1 and infusion["bprs_1"] == 2
    assert infusion["product"] in ("ketamine", "placebo")
