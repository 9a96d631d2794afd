"""Export options (issue 14, item 7): chosen forms, visits and timepoints; identifiers removed or
replaced by a keyed hash; dates shifted per participant; every request and download in the audit
trail with who, what and why; and no option that widens a blinded level."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from importlib.resources import files

import pandas as pd
import pyreadstat
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from clinimetry.models import Assessment
from ketatrial.audit import clinical_create, clinical_update
from outcomes import codebook, deidentify, services
from outcomes import dataset as ds
from outcomes import export_options as eo
from outcomes.checks import check_export_pseudonym_key
from outcomes.export_options import ExportOptions
from outcomes.models import ExportEvent, ExportJob
from tests.outcomes.conftest import sign_casebooks

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
KEY = "test-export-pseudonym-key-" + "k7Vw2Qx9Lm4Rz8Tb" * 2


@pytest.fixture(autouse=True)
def _media_and_key(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EXPORT_PSEUDONYM_KEY = KEY


def _package(user, *, unblinded=False, purpose="interim data review", **options):  # type: ignore[no-untyped-def]
    job = services.export_request(
        by=user, unblinded=unblinded, now=timezone.now(), purpose=purpose, options=ExportOptions(**options)
    )
    job = services.export_run(job.pk, now=timezone.now())
    assert job.status == "done", job.error
    return job, zipfile.ZipFile(job.file)


def _csv(archive: zipfile.ZipFile, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(archive.read(f"csv/{name}.csv")), keep_default_na=False, na_values=[""])


def _texts(archive: zipfile.ZipFile, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every file of the package as text: the XLSX's parts, the binary tables read back (and
    their raw bytes)."""
    out: dict[str, str] = {}
    for name in archive.namelist():
        body = archive.read(name)
        if name.endswith(".xlsx"):
            inner = zipfile.ZipFile(io.BytesIO(body))
            for part in inner.namelist():
                out[f"{name}:{part}"] = inner.read(part).decode("utf-8", "replace")
        elif name.endswith(".parquet"):
            out[name] = pd.read_parquet(io.BytesIO(body)).to_csv(index=False)
            out[f"{name}:raw"] = body.decode("latin-1")
        elif name.endswith((".sav", ".dta")):
            path = tmp_path / name.replace("/", "_")
            path.write_bytes(body)
            reader = pyreadstat.read_sav if name.endswith(".sav") else pyreadstat.read_dta
            frame, meta = reader(str(path))
            out[name] = frame.to_csv(index=False) + json.dumps(meta.column_labels)
            out[f"{name}:raw"] = body.decode("latin-1")
        else:
            out[name] = body.decode("utf-8")
    return out


def _odm(archive: zipfile.ZipFile) -> etree._Element:
    document = etree.fromstring(archive.read("odm/ketatrial-odm-1.3.2.xml"))
    xsd = files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assert schema.validate(document), schema.error_log
    return document


def _release(principal_investigator, statistician) -> None:  # type: ignore[no-untyped-def]
    sign_casebooks(principal_investigator)
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())


# --- forms, visits and timepoints ----------------------------------------------------------------


def test_only_the_chosen_forms_and_visits_are_in_the_package(trial, statistician) -> None:
    job, archive = _package(statistician, forms=("hdrs17",), visits=("baseline",))
    assert job.forms == ["hdrs17"] and job.visits == ["baseline"]
    assert sorted(n for n in archive.namelist() if n.startswith("csv/")) == ["csv/long.csv", "csv/wide.csv"]
    assert not [n for n in archive.namelist() if "participants" in n or "mrs" in n]
    long = _csv(archive, "long")
    assert set(long["instrument"]) == {"hdrs17"} and set(long["timepoint"]) == {"baseline"}
    assert len(long) == 8
    wide = _csv(archive, "wide")
    assert [c for c in wide.columns if c.startswith(("hdrs17_", "madrs_"))] == [
        "hdrs17_baseline_pct_change",
        "hdrs17_baseline_response",
        "hdrs17_baseline_total",
    ]
    # The participants table is left out: wide names each participant and the coded arm only.
    assert set(wide.columns) - {c for c in wide.columns if c.startswith("hdrs17_")} == {
        "participant",
        "sequence_code",
    }
    sheets = pd.ExcelFile(io.BytesIO(archive.read("ketatrial.xlsx"))).sheet_names
    assert sheets == ["long", "wide", "codebook"]
    book = json.loads(archive.read("codebook.json"))
    assert {row["table"] for row in book} == {"long", "wide"}
    document = _odm(archive)
    events = {e.get("OID") for e in document.iter(f"{{{NS['odm']}}}StudyEventDef")}
    assert events == {"SE.RANDOMIZATION", "SE.baseline"}
    assert "MADRS" not in archive.read("odm/ketatrial-odm-1.3.2.xml").decode()
    options = json.loads(archive.read("manifest.json"))["options"]
    assert options["forms"] == ["hdrs17"] and options["visits"] == ["baseline"]


def test_chosen_timepoints_narrow_the_ratings_to_those_timepoints(trial, statistician) -> None:
    assert services.export_timepoint_choices(ds.BLINDED) == ["baseline", "p1-4h-inf1", "p1-predose-2+72h"]
    _job, archive = _package(statistician, timepoints=("p1-4h-inf1",))
    long = _csv(archive, "long")
    assert set(long["timepoint"]) == {"p1-4h-inf1"} and set(long["instrument"]) == {"hdrs17", "madrs"}
    assert "csv/participants.csv" in archive.namelist()
    assert json.loads(archive.read("manifest.json"))["options"]["timepoints"] == ["p1-4h-inf1"]


def test_period_one_only_leaves_the_baseline_out_and_keeps_its_percent_change(trial, statistician) -> None:
    _job, archive = _package(statistician, visits=("period1",))
    long = _csv(archive, "long")
    assert set(long["period"]) == {1} and long["pct_change"].notna().all()


# --- identifiers ---------------------------------------------------------------------------------


def test_removed_identifiers_leave_no_participant_code_in_any_file_of_the_package(
    trial, statistician, principal_investigator, infusion_physician, rater, tmp_path
) -> None:
    from infusions.models import AdverseEvent, InfusionVisit

    person = trial["people"][0]
    now = timezone.now()
    visit = clinical_create(
        InfusionVisit(participant=person, period=1, number=1, status="done", started_at=now, ended_at=now),
        by=infusion_physician,
    )
    clinical_create(
        AdverseEvent(
            participant=person,
            visit=visit,
            term=f"Dizziness ({person.code} said so)",
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
    rating = Assessment.objects.get(participant=person, task_code="p1-4h-inf1", instrument="madrs")
    clinical_update(rating, by=rater, reason=f"mode corrected for {person.code}", changes={"mode": "remote"})
    _release(principal_investigator, statistician)
    _job, archive = _package(
        statistician, unblinded=True, identifiers="removed", purpose=f"check of {person.code} and others"
    )
    texts = _texts(archive, tmp_path)
    assert len(texts) > 30 and any(name.startswith("ketatrial.xlsx:") for name in texts)
    site = person.code.split("-")[0]
    for name, text in texts.items():
        assert f"{site}-" not in text, name
    people = _csv(archive, "participants")
    assert all(re.fullmatch(r"P\d{4}", p) for p in people["participant"]) and len(people) == 8
    assert "randomization_number" not in people.columns
    events = _csv(archive, "adverse_events")
    assert events.at[0, "term"].startswith("Dizziness (P") and events.at[0, "participant"] in set(
        people["participant"]
    )
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["options"]["identifiers"] == "removed" and manifest["purpose"].startswith("check of P")
    reasons = {r.text for r in _odm(archive).iter(f"{{{NS['odm']}}}ReasonForChange")}
    assert any(r.startswith("mode corrected for P") for r in reasons)


def _pseudonyms(archive: zipfile.ZipFile) -> list[str]:
    return list(_csv(archive, "participants")["participant"])


def test_a_keyed_hash_is_stable_across_exports_and_not_a_hash_anyone_can_recompute(
    trial, statistician, data_manager, settings
) -> None:
    _job, first = _package(statistician, identifiers="keyed")
    _job, second = _package(data_manager, identifiers="keyed", date_shift=True)
    pseudonyms = _pseudonyms(first)
    assert pseudonyms == _pseudonyms(second) and len(set(pseudonyms)) == 8
    assert all(re.fullmatch(r"H[0-9A-F]{16}", p) for p in pseudonyms)
    # The same participant, the same pseudonym: their baseline totals agree across the two exports.
    totals = [
        _csv(archive, "wide").set_index("participant")["hdrs17_baseline_total"].to_dict()
        for archive in (first, second)
    ]
    assert totals[0] == totals[1]
    codes = [p.code for p in trial["people"]]
    assert sorted(eo.keyed_pseudonym(KEY.encode(), c) for c in codes) == sorted(pseudonyms)
    # Without the key, trying every code a site can give (and the usual hashes) finds none.
    site = codes[0].split("-")[0]
    candidates = [f"{site}-{n:03d}" for n in range(1000)] + [f"{site}-{n}" for n in range(1000, 10000)]
    assert set(codes) <= set(candidates)
    guesses = set()
    for code in candidates:
        raw = code.encode()
        for digest in (
            hashlib.sha256(raw).hexdigest(),
            hashlib.sha1(raw).hexdigest(),
            hashlib.md5(raw).hexdigest(),
            hmac.new(b"", raw, hashlib.sha256).hexdigest(),
            hmac.new(settings.SECRET_KEY.encode(), raw, hashlib.sha256).hexdigest(),
        ):
            guesses.add(digest[:16].upper())
    assert not {p[1:] for p in pseudonyms} & guesses
    # Another key, other pseudonyms.
    settings.EXPORT_PSEUDONYM_KEY = "another-export-pseudonym-key-" + "x" * 32
    _job, third = _package(statistician, identifiers="keyed")
    assert not set(_pseudonyms(third)) & set(pseudonyms)


# --- date shift ----------------------------------------------------------------------------------


def _days(shifted: pd.Series, original: pd.Series) -> list[float]:
    delta = pd.to_datetime(shifted, utc=True).reset_index(drop=True) - pd.to_datetime(
        original, utc=True
    ).reset_index(drop=True)
    return [d / timedelta(days=1) for d in delta]


def test_a_date_shift_keeps_each_participants_intervals_and_moves_dates_by_at_most_the_bound(
    trial, statistician
) -> None:
    source = ds.build(statistician, ds.BLINDED, now=timezone.now())
    _job, archive = _package(statistician, date_shift=True)
    long = _csv(archive, "long")
    assert list(long["participant"]) == list(source.long["participant"])  # as stored: same rows
    long["days"] = _days(long["rated_at"], source.long["rated_at"])
    offsets = long.groupby("participant")["days"].unique()
    assert all(len(days) == 1 for days in offsets), "one offset for all of a participant's rows"
    by_person = {code: days[0] for code, days in offsets.items()}
    assert all(d == int(d) and 1 <= abs(d) <= eo.DATE_SHIFT_MAX_DAYS for d in by_person.values())
    assert len(set(by_person.values())) == len(by_person) == 8, "different participants differently"
    assert by_person == {c: eo.date_offset_days(KEY.encode(), c) for c in by_person}
    # Intervals within a participant are kept; the enrollment moved with the ratings.
    for code, group in long.groupby("participant"):
        original = source.long[source.long["participant"] == code]["rated_at"]
        assert list(pd.to_datetime(group["rated_at"], utc=True).diff().dropna()) == list(
            pd.to_datetime(original, utc=True).diff().dropna()
        )
    people = _csv(archive, "participants").set_index("participant")
    enrolled = source.participants.set_index("participant")["enrolled_at"]
    for code, days in by_person.items():
        moved = datetime.fromisoformat(people.at[code, "enrolled_at"]) - datetime.fromisoformat(
            enrolled[code]
        )
        assert moved == timedelta(days=days)
    # The ODM's audit stamps are moved too: none falls on a day the data were really entered.
    entered = {d.date() for d in Assessment.history.values_list("history_date", flat=True)}
    stamps = [
        datetime.fromisoformat(s.text).date() for s in _odm(archive).iter(f"{{{NS['odm']}}}DateTimeStamp")
    ]
    assert stamps and not set(stamps) & entered
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["options"]["date_shift"]["shifted"] is True
    assert manifest["options"]["date_shift"]["max_days"] == eo.DATE_SHIFT_MAX_DAYS
    assert set(manifest["options"]["date_shift"]) == {"shifted", "max_days", "note"}  # never the offsets


def test_with_removed_identifiers_a_date_shift_still_keeps_every_participants_intervals(
    trial, statistician
) -> None:
    source = ds.build(statistician, ds.BLINDED, now=timezone.now())
    _job, archive = _package(statistician, identifiers="removed", date_shift=True)

    def intervals(frame: pd.DataFrame) -> list[tuple]:
        return sorted(
            tuple(pd.to_datetime(g["rated_at"], utc=True).sort_values().diff().dropna())
            for _code, g in frame.groupby("participant")
        )

    shifted = _csv(archive, "long")
    assert intervals(shifted) == intervals(source.long)
    assert not set(shifted["rated_at"]) & set(source.long["rated_at"])


def test_a_date_offset_is_never_zero_and_never_beyond_the_bound() -> None:
    offsets = [eo.date_offset_days(b"k" * 32, f"INNN-{n:03d}") for n in range(2000)]
    assert min(offsets) >= -eo.DATE_SHIFT_MAX_DAYS and max(offsets) <= eo.DATE_SHIFT_MAX_DAYS
    assert 0 not in offsets and len(set(offsets)) > 300


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("2026-03-01", 10, "2026-03-11"),
        ("2026-03-01T23:30:00-06:00", -1, "2026-02-28T23:30:00-06:00"),
        ("2026-12-31T10:00:00-06:00", 1, "2027-01-01T10:00:00-06:00"),
        (None, 5, None),
        ("", 5, ""),
    ],
)
def test_an_exported_date_moves_by_whole_days_in_the_trials_time_zone(value, days, expected) -> None:  # type: ignore[no-untyped-def]
    assert deidentify.shift_text(value, days, ds.TZ) == expected


def test_every_date_the_codebook_names_is_one_a_date_shift_moves(settings) -> None:
    from ketatrial.trial import protocol

    dated = {v.name for v in codebook.variables(protocol(), ds.UNBLINDED).values() if v.kind == "datetime"}
    assert dated == set(deidentify.DATE_COLUMNS)


def test_the_codebook_says_how_participants_are_named_and_that_dates_are_shifted(trial, statistician) -> None:
    _job, archive = _package(statistician, identifiers="keyed", date_shift=True)
    book = {(r["table"], r["variable"]): r for r in json.loads(archive.read("codebook.json"))}
    assert "keyed hash (HMAC-SHA256)" in book[("long", "participant")]["label"]
    assert "shifted per participant" in book[("long", "rated_at")]["label"]
    assert "shifted per participant" in book[("participants", "enrolled_at")]["label"]
    _job, plain = _package(statistician)
    book = {(r["table"], r["variable"]): r for r in json.loads(plain.read("codebook.json"))}
    assert book[("long", "participant")]["label"] == "Participant ID"
    assert "shifted" not in book[("long", "rated_at")]["label"]


def test_the_file_name_stays_neutral_whatever_the_options(trial, statistician) -> None:
    job, _archive = _package(statistician, identifiers="removed", date_shift=True, forms=("madrs",))
    assert services.export_file_name(job) == (
        f"ketatrial-export-{job.pk}-blinded-{job.requested_at:%Y%m%d}.zip"
    )


def test_a_data_manager_export_of_mrs_alone_is_a_valid_odm_file_without_sequence(
    trial, data_manager, tmp_path
) -> None:
    _job, archive = _package(data_manager, forms=("mrs",), identifiers="removed")
    assert sorted(n for n in archive.namelist() if n.startswith("csv/")) == ["csv/mrs.csv"]
    _odm(archive)
    for name, text in _texts(archive, tmp_path).items():
        assert "sequence_code" not in text, name  # (the level's own name, no_sequence, is in the manifest)


# --- the audit trail -----------------------------------------------------------------------------

EXPORT_FORM = {
    "purpose": "interim data review for the DSMB",
    "forms": ["hdrs17", "madrs"],
    "visits": ["baseline", "period1"],
    "identifiers": "keyed",
    "date_shift": "on",
}


def test_the_export_request_and_the_download_are_in_the_audit_trail_with_who_what_and_why(
    trial, statistician, data_manager, monitor, client_for
) -> None:
    client = client_for(statistician)
    assert client.post(reverse("outcomes:export_new"), EXPORT_FORM).status_code == 302
    job = ExportJob.objects.get()
    services.export_run(job.pk, now=timezone.now())
    assert client.get(reverse("outcomes:export_download", args=[job.pk])).status_code == 200
    requested, downloaded = ExportEvent.objects.order_by("pk")
    assert [requested.action, downloaded.action] == ["requested", "downloaded"]
    for event in (requested, downloaded):
        assert event.by == statistician and event.job == job and event.blinding == "blinded"
        assert event.purpose == "interim data review for the DSMB"
        assert event.forms == ["hdrs17", "madrs"] and event.visits == ["baseline", "period1"]
        assert event.identifiers == "keyed" and event.date_shift is True
    assert requested.history.count() == 1 and requested.history.get().history_user == statistician
    response = client_for(data_manager).get(reverse("audit_csv"), {"form": "outcomes.exportevent"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["reason"] for r in rows} == {"export requested", "export downloaded"}
    assert {r["username"] for r in rows} == {"statistician"}
    values = {(r["field"], r["new_value"]) for r in rows}
    assert ("purpose", "interim data review for the DSMB") in values
    assert ("identifiers", "Keyed hash: the same pseudonym in every export") in values
    assert ("forms", "hdrs17, madrs") in values and ("action", "Export downloaded") in values
    page = client_for(monitor).get(reverse("audit_record", args=["outcomes.exportevent", requested.pk]))
    assert page.status_code == 200 and "interim data review for the DSMB" in page.content.decode()


def test_the_exports_page_lists_each_export_with_its_options_purpose_and_downloads(
    trial, statistician, client_for
) -> None:
    client = client_for(statistician)
    client.post(reverse("outcomes:export_new"), EXPORT_FORM)
    job = ExportJob.objects.get()
    services.export_run(job.pk, now=timezone.now())
    page = client.get(reverse("outcomes:exports"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "interim data review for the DSMB" in page and "Keyed hash" in page
    assert "dates shifted per participant" in page and "not yet" in page
    client.get(reverse("outcomes:export_download", args=[job.pk]))
    client.get(reverse("outcomes:export_download", args=[job.pk]))
    page = client.get(reverse("outcomes:exports"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 times" in page


def test_a_purpose_is_required(trial, statistician, client_for) -> None:
    with pytest.raises(ValidationError) as refused:
        services.export_request(by=statistician, unblinded=False, now=timezone.now(), purpose="  ")
    assert "purpose" in refused.value.message_dict
    response = client_for(statistician).post(
        reverse("outcomes:export_new"), {**EXPORT_FORM, "purpose": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required" in page and 'value="keyed" class="form-check-input"' in page
    assert not ExportJob.objects.exists() and not ExportEvent.objects.exists()


# --- blinding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"visits": ("baseline", "period1", "later")}, "visits"),
        ({"forms": ("hdrs17", "adverse_events")}, "forms"),
        ({"forms": ("infusion",)}, "forms"),
        ({"timepoints": ("p2-predose-5",)}, "timepoints"),
        ({"timepoints": ("fu-week-1",)}, "timepoints"),
    ],
)
@pytest.mark.parametrize("role", ["statistician", "data_manager"])
def test_blinded_roles_cannot_widen_their_level_through_options(trial, role, options, field, request) -> None:  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(role)
    with pytest.raises(ValidationError) as refused:
        services.export_request(
            by=user, unblinded=False, now=timezone.now(), purpose="widen", options=ExportOptions(**options)
        )
    assert field in refused.value.message_dict
    assert not ExportJob.objects.exists() and not ExportEvent.objects.exists()


def test_the_exports_page_offers_a_blinded_reader_nothing_beyond_the_level(
    trial, statistician, client_for
) -> None:
    client = client_for(statistician)
    page = client.get(reverse("outcomes:exports"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="later"' not in page and 'value="adverse_events"' not in page
    assert "p2-" not in page and "fu-week" not in page
    for widened in ({"visits": ["later"]}, {"forms": ["infusion"]}, {"timepoints": ["p2-predose-5"]}):
        response = client.post(reverse("outcomes:export_new"), {**EXPORT_FORM, **widened})
        assert response.status_code == 400, widened
    response = client.post(reverse("outcomes:export_new"), {**EXPORT_FORM, "unblinded": "1"})
    assert response.status_code == 302
    assert not ExportJob.objects.exists()


def test_a_job_whose_options_go_beyond_its_level_fails_instead_of_widening(trial, statistician) -> None:
    job = ExportJob.objects.create(
        requested_by=statistician,
        requested_at=timezone.now(),
        blinding="blinded",
        visits=["baseline", "period1", "later"],
        purpose="tampered",
    )
    job = services.export_run(job.pk, now=timezone.now())
    assert job.status == "failed" and not job.path
    assert not (ExportJob.objects.get(pk=job.pk).path)


def test_an_unblinded_export_offers_and_holds_period_two_only_when_chosen(
    trial, statistician, principal_investigator
) -> None:
    with pytest.raises(PermissionDenied):
        services.export_request(by=statistician, unblinded=True, now=timezone.now(), purpose="too early")
    _release(principal_investigator, statistician)
    assert "p2-predose-5" in services.export_timepoint_choices(ds.UNBLINDED)
    _job, archive = _package(statistician, unblinded=True, visits=("later",))
    assert set(_csv(archive, "long")["period"]) == {2}
    _job, archive = _package(statistician, unblinded=True, visits=("baseline", "period1"))
    assert set(_csv(archive, "long")["period"]) == {0, 1}


# --- the key -------------------------------------------------------------------------------------


def test_the_system_check_refuses_a_missing_short_or_shared_export_key(settings) -> None:
    settings.DEBUG = False
    settings.EXPORT_PSEUDONYM_KEY = ""
    assert [e.id for e in check_export_pseudonym_key()] == ["outcomes.E001"]
    settings.EXPORT_PSEUDONYM_KEY = "short"
    assert "at least 32" in check_export_pseudonym_key()[0].msg
    settings.EXPORT_PSEUDONYM_KEY = settings.AUDIT_CHAIN_KEY = "s" * 40
    assert "AUDIT_CHAIN_KEY" in check_export_pseudonym_key()[0].msg
    settings.EXPORT_PSEUDONYM_KEY = KEY
    assert check_export_pseudonym_key() == []
