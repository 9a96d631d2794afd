"""Export scale: a 2,000-participant synthetic trial with its full schedule, every export format.
Prints its figures; the goal is all formats in under 30 s and under 1 GB peak memory.

    DEBUG=1 .venv/bin/python -m benchmarks.export_scale [--participants 2000]

The trial is written into a fresh SQLite database in a temporary folder (or the database named by
BENCH_DATABASE_URL, which is emptied first): participants start about one a week, so nearly all
have finished by today; for each, what has happened by today: the schedule's rating tasks
(baseline, both periods, 12 follow-up weeks) for HDRS-17 and MADRS, the infusions given, with
audit history rows, and the MRS sessions of each period with a result. The export then runs in a child
process, so its peak memory (max RSS) is measured apart from the building of the trial.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _setup(database_url: str, media: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "1")
    os.environ["MEDIA_ROOT"] = media
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketatrial.settings")
    import django

    django.setup()


def build_trial(n: int) -> dict[str, float]:
    import random
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from simple_history.utils import bulk_create_with_history

    from clinimetry import scoring
    from clinimetry.examples import signed_rating
    from clinimetry.models import Assessment
    from infusions import schedule as sched
    from infusions.models import InfusionVisit, Schedule
    from ketatrial.trial import protocol
    from participants.models import (
        AllocationList,
        AllocationSlot,
        Participant,
        ScreeningRecord,
        SequenceKey,
        Site,
    )
    from spectroscopy.models import MRSResult, MRSUpload

    started = time.perf_counter()
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    # flush empties the role groups that a data migration made: make them again.
    from django.contrib.auth.models import Group, Permission

    from participants.roles import sync_role_groups

    sync_role_groups(Group, Permission)
    p = protocol()
    rng = random.Random(2026)  # noqa: S311 (synthetic data, not security)
    users = get_user_model()
    rater = users.objects.create_user("bench_rater", password="x")
    stat = users.objects.create_user("bench_statistician", password="x")
    from django.contrib.auth.models import Group

    stat.groups.add(Group.objects.get(name="statistician"))
    site, _ = Site.objects.get_or_create(code="INNN", defaults={"name": "INNN"})
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    alloc = AllocationList.objects.create(
        method="generated", parameters={}, checksum="bench", created_at=now, created_by=stat
    )
    screenings = ScreeningRecord.objects.bulk_create(
        ScreeningRecord(
            site=site,
            number=i + 1,
            code=f"S-INNN-{i + 1:05d}",
            screened_at=now,
            protocol_version=p.version,
            outcome="eligible",
        )
        for i in range(n)
    )
    # New participants at the site's capacity (3 infusion chairs on 5 days a week over a mean of
    # 14 infusions per participant: about one a week), the last starting a week before the
    # build. A trial grows by running longer, so at 200 and at 2,000 participants about as many
    # are under way at any moment (some 25): the pages' cost must follow them, not the trial's size.
    mean_infusions = (
        len(p.period1_infusion_days)
        + (len(p.period2_infusion_days("KP")) + len(p.period2_infusion_days("PK"))) / 2
    )
    spacing_days = 7 * mean_infusions / (p.infusion_chairs_per_day * 5)
    first_day1 = date.today() - timedelta(days=round(n * spacing_days) + 7)

    def day1_of(i: int) -> date:
        return first_day1 + timedelta(days=round(i * spacing_days))

    # The trial as it stands today (the clock of the pages measured): what is past has happened
    # (infusions given, ratings signed, scans quantified, finished participants completed), what
    # is open now or ahead is not, so the rater's list and the calendar show a working day's load.
    today_now = datetime.now(UTC)
    sequences = [("KP", "PK")[rng.random() < 0.5] for _ in range(n)]
    plans = [
        sched.build_schedule(
            sequence_days=(p.period1_infusion_days, p.period2_infusion_days(seq)),
            day1=day1_of(i),
            facts={},
            p=p,
        )
        for i, seq in enumerate(sequences)
    ]

    def finished(plan: sched.Schedule) -> bool:
        return max(t.window_end for t in plan.ratings) < today_now

    people = Participant.objects.bulk_create(
        Participant(
            site=site,
            screening=s,
            number=i + 1,
            code=f"INNN-{i + 1:05d}",
            status="completed" if finished(plans[i]) else "randomized",
            enrolled_at=datetime.combine(day1_of(i) - timedelta(days=10), datetime.min.time(), tzinfo=UTC),
            disposition_date=max(t.due for t in plans[i].ratings).date() if finished(plans[i]) else None,
            baseline_weight_kg=Decimal("70.0"),
            height_cm=Decimal("170.0"),
        )
        for i, s in enumerate(screenings)
    )
    people = list(Participant.objects.order_by("number"))
    AllocationSlot.objects.bulk_create(
        AllocationSlot(
            allocation_list=alloc,
            sequence_no=i + 1,
            block_no=i // 4 + 1,
            block_size=4,
            sequence=seq,
            kit_code=f"K{i + 1:06d}",
            participant=person,
            assigned_at=now,
        )
        for i, (person, seq) in enumerate(zip(people, sequences, strict=True))
    )
    SequenceKey.objects.create(pk=1, kp_letter="A", created_at=now, released_at=now, released_by=stat)
    Schedule.objects.bulk_create(
        Schedule(participant=person, day1=day1_of(i)) for i, person in enumerate(people)
    )
    batch: list[Assessment] = []
    uploads: list[MRSUpload] = []
    n_ratings = 0

    visits: list[InfusionVisit] = []
    for i, (person, plan) in enumerate(zip(people, plans, strict=True)):
        visits += [
            InfusionVisit(
                participant=person,
                period=inf.period,
                number=inf.number,
                status="done",
                started_at=inf.start,
                ended_at=inf.end,
                discharged_at=inf.end + timedelta(hours=2),
            )
            for inf in plan.infusions
            if inf.end < today_now
        ]
        tasks = [("baseline", 0, plan.infusions[0].start - timedelta(days=2))]
        tasks += [(t.code, t.period, t.due) for t in plan.ratings if t.window_end < today_now]
        for code, period, due in tasks:
            for instrument, base in ((scoring.HDRS17, 26), (scoring.MADRS, 32)):
                total = base if code == "baseline" else max(0, base - rng.randint(0, 20))
                batch.append(signed_rating(person, rater, instrument, code, period, total, due))
        for t in (t for t in plan.mrs if t.due < today_now):
            uploads.append(
                MRSUpload(
                    participant=person,
                    session_code=f"mrs-{t.due:%Y%m%d}-{t.period}",
                    kind="mega",
                    original_name="metab.nii",
                    stored_path="/dev/null",
                    sha256=f"{i:08d}{len(uploads):056d}",
                    size_bytes=1,
                    status="accepted",
                    uploaded_by=rater,
                    uploaded_at=t.due,
                )
            )
        if len(batch) > 20000:
            bulk_create_with_history(
                batch, Assessment, batch_size=5000, default_user=rater, default_change_reason="entered"
            )
            n_ratings += len(batch)
            batch = []
    bulk_create_with_history(
        batch, Assessment, batch_size=5000, default_user=rater, default_change_reason="entered"
    )
    n_ratings += len(batch)
    bulk_create_with_history(
        visits, InfusionVisit, batch_size=5000, default_user=rater, default_change_reason="entered"
    )
    created = MRSUpload.objects.bulk_create(uploads, batch_size=5000)
    created = list(MRSUpload.objects.all())
    values = {
        "gaba_plus_cr": 0.11,
        "glx_cr": 0.09,
        "glx_naa": 0.07,
        "gaba_plus_iu": 2.1,
        "glx_iu": 7.5,
        "gaba_plus_fit_error_pct": 6.0,
        "glx_fit_error_pct": 4.0,
        "cr_fwhm_hz": 7.2,
        "water_fwhm_hz": 6.9,
        "naa_snr": 180.0,
        "gaba_plus_snr": 14.0,
        "freq_drift_hz_sd": 0.8,
        "freq_drift_hz_range": 3.0,
        "n_transients": 320,
        "n_rejected": 4,
        "qc_pass": True,
    }
    MRSResult.objects.bulk_create(
        (
            MRSResult(upload=u, pipeline_version="1.0.0", status="done", values=values, queued_at=now)
            for u in created
        ),
        batch_size=5000,
    )
    # bulk_create bypasses the write path that stores schedule spans: store them all, as the
    # nightly task does.
    from infusions.services import schedule_spans_refresh

    schedule_spans_refresh(now=now)
    return {
        "participants": n,
        "ratings": n_ratings,
        "mrs_results": len(created),
        "build_s": time.perf_counter() - started,
    }


def run_export() -> dict[str, object]:
    """In the child process: each blinding level's package, timed by stage."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from ketatrial.trial import protocol
    from outcomes import dataset as ds
    from outcomes import formats, odm

    user = get_user_model().objects.get(username="bench_statistician")
    figures: dict[str, object] = {}
    folder = Path(os.environ["MEDIA_ROOT"])
    for blinding in (ds.UNBLINDED, ds.BLINDED):
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        data = ds.build(user, blinding, now=timezone.now())
        stages["data_set"] = time.perf_counter() - t0
        peaks = {"data_set": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
        last = [time.perf_counter(), "start"]

        def progress(
            _pct: int, stage: str, stages: dict[str, float] = stages, last: list = last, peaks: dict = peaks
        ) -> None:
            now = time.perf_counter()
            if last[1] != "start":
                stages[str(last[1])] = now - float(last[0])
                peaks[str(last[1])] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            last[0], last[1] = now, stage

        target = folder / f"bench-{blinding}.zip"
        formats.write_package(
            data,
            target,
            p=protocol(),
            manifest={"benchmark": True},
            odm_xml=lambda out, data=data: odm.write(
                data, out, created=timezone.now(), file_oid="BENCH", site_name="INNN"
            ),
            progress=progress,
        )
        figures[blinding] = {
            "rows_long": len(data.long),
            "rows_wide": len(data.wide),
            "columns_wide": len(data.wide.columns),
            "rows_mrs": len(data.mrs),
            "seconds_total": round(time.perf_counter() - t0, 2),
            "stages_s": {k: round(v, 2) for k, v in stages.items()},
            "peak_mb_after": peaks,
            "zip_mb": round(target.stat().st_size / 1e6, 1),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _setup(os.environ["BENCH_DB"], os.environ["BENCH_MEDIA"])
        print(json.dumps(run_export()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        media = str(Path(tmp) / "media")
        Path(media).mkdir()
        _setup(url, media)
        trial = build_trial(args.participants)
        print(
            f"trial: {trial['participants']} participants, {trial['ratings']} ratings, "
            f"{trial['mrs_results']} MRS results (built in {trial['build_s']:.1f} s)"
        )
        from django.db import connections

        connections.close_all()
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.export_scale", "--child"],
            env={**os.environ, "BENCH_DB": url, "BENCH_MEDIA": media},
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            print(child.stderr)
            raise SystemExit(child.returncode)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        for blinding, f in figures.items():
            print(
                f"{blinding:>10}: all formats in {f['seconds_total']:.1f} s "
                f"(long {f['rows_long']} rows, wide {f['rows_wide']} x {f['columns_wide']}, "
                f"MRS {f['rows_mrs']}); zip {f['zip_mb']} MB"
            )
            print("            " + ", ".join(f"{k} {v:.1f} s" for k, v in f["stages_s"].items()))
            print(
                "            max RSS after: "
                + ", ".join(f"{k} {v} MB" for k, v in f["peak_mb_after"].items())
            )
        print(f"peak memory of the export process (max RSS): {peak_mb:.0f} MB (goal < 1024 MB)")


if __name__ == "__main__":
    main()
