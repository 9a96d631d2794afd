"""Run the analyses on the database and store them with the data hash and the code version."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import transaction

from clinimetry.selectors import all_tasks
from infusions import schedule as sched
from infusions.services import schedules_for
from ketatrial.models import Job
from ketatrial.trial import protocol
from outcomes import dataset as ds
from outcomes.models import AnalysisRun
from outcomes.sap import crossover, longitudinal, sets, survival
from outcomes.sap import mrs as mrs_sap
from outcomes.sap import primary as primary_sap
from outcomes.services import code_version
from participants import allocation
from participants.models import Participant, ScreeningRecord
from spectroscopy.models import MRSResult


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def monitoring(*, now: datetime) -> tuple[dict[str, Any], str]:
    """Pooled over both arms, limited to baseline and period 1 (same shape in both sequences)."""
    data = ds.build(None, ds.NO_SEQUENCE, now=now)
    screening = ScreeningRecord.objects.values_list("outcome", flat=True)
    people = list(Participant.objects.select_related("site"))
    taken = allocation.blinded_allocations(people)
    randomized = [p for p in people if p.pk in taken]
    by_month: dict[str, int] = {}
    for p in people:
        key = f"{p.enrolled_at:%Y-%m}"
        by_month[key] = by_month.get(key, 0) + 1
    infusions_due = infusions_done = infusions_missed = out_of_window = 0
    tasks_due = tasks_done = 0
    plans = schedules_for(randomized)
    for person in randomized:
        plan = plans.get(person.pk)
        if plan is None:
            continue
        for inf in plan.infusions:
            if inf.period != 1 or inf.start > now:
                continue
            infusions_due += 1
            infusions_done += inf.status == sched.DONE
            infusions_missed += inf.status == sched.MISSED
            out_of_window += inf.status == sched.DONE and not inf.in_window
        for task in all_tasks(person):
            if task.period <= 1 and task.window_end < now:
                tasks_due += 1
                tasks_done += task.complete
    long = data.long
    # Baseline and period-1 scans only: period-2 scans fall at times that differ by sequence.
    results = [
        r
        for r in MRSResult.objects.filter(
            status__in=[MRSResult.Status.DONE, MRSResult.Status.FAILED]
        ).select_related("upload")
        if ds.mrs_period(r.upload.session_code) in (0, 1)
    ]
    done = [r for r in results if r.status == MRSResult.Status.DONE]

    def med(key: str) -> float | None:
        values = [r.values.get(key) for r in done if isinstance(r.values.get(key), (int, float))]
        return median(values) if values else None

    report = {
        "scope": "pooled over both arms; baseline and period 1 only",
        "enrollment": {
            "screened": len(screening),
            "screen_failed": sum(o == ScreeningRecord.Outcome.SCREEN_FAILURE for o in screening),
            "enrolled": len(people),
            "randomized": len(randomized),
            "by_month": dict(sorted(by_month.items())),
        },
        "visits": {
            "period1_infusions_due": infusions_due,
            "given": infusions_done,
            "missed": infusions_missed,
            "given_out_of_window": out_of_window,
            "adherence_pct": 100 * infusions_done / infusions_due if infusions_due else None,
        },
        "ratings": {
            "tasks_due": tasks_due,
            "tasks_complete": tasks_done,
            "missing_pct": 100 * (tasks_due - tasks_done) / tasks_due if tasks_due else None,
            "ratings": int(len(long)),
            "out_of_window_pct": float(100 * long["out_of_window"].mean()) if len(long) else None,
            "unsigned": int((~long["signed"].astype(bool)).sum()) if len(long) else 0,
        },
        "mrs": {
            "results": len(results),
            "failed": len(results) - len(done),
            "qc_pass_pct": 100 * sum(bool(r.values.get("qc_pass")) for r in done) / len(done)
            if done
            else None,
            "median_cr_fwhm_hz": med("cr_fwhm_hz"),
            "median_gaba_plus_fit_error_pct": med("gaba_plus_fit_error_pct"),
        },
        # Pooled over both sequences, in whole batches of guesses (SAP: before release).
        "blinding": {
            _guess_key(occasion, guesser): {"occasion": occasion, "guesser": guesser, "share": share, "n": n}
            for (occasion, guesser), (share, n) in sorted(
                allocation.pooled_correct_guesses(max(10, protocol().blinded_count_batch)).items()
            )
        },
    }
    return _clean(report), data.data_hash


PRODUCTS = {"KP": {1: "ketamine", 2: "placebo"}, "PK": {1: "placebo", 2: "ketamine"}}


@dataclass(frozen=True)
class Courses:
    """What the schedule says of each participant's infusions (recorded ends of those given)."""

    given: dict[str, set[tuple[int, int]]]
    ends: dict[str, dict[tuple[int, int], datetime]]

    def infusion1_end(self) -> dict[str, datetime]:
        return {code: e[(1, 1)] for code, e in self.ends.items() if (1, 1) in e}


def courses_of(people: list[Participant]) -> Courses:
    by_pk = {p.pk: p.code for p in people}
    given, ends = {}, {}
    for pk, plan in schedules_for(people).items():
        done = [i for i in plan.infusions if i.status == sched.DONE]
        given[by_pk[pk]] = {i.key for i in done}
        ends[by_pk[pk]] = {i.key: i.end for i in done if i.end_recorded}
    return Courses(given, ends)


def relapse_courses(
    data: ds.DataSet, courses: Courses, population: set[str], people: list[Participant]
) -> list[survival.Course]:
    """Each responder's follow-up: time zero at the recorded end of the last study infusion (if
    the last infusion given has no recorded end, time zero is unknown: excluded and counted)."""
    from clinimetry.models import Relapse

    seq = data.participants.set_index("participant")["sequence"].to_dict()
    relapses = {r.participant.code: r.relapse_date for r in Relapse.objects.select_related("participant")}
    long = data.long
    follow = long[long["period"] == sched.FOLLOW_UP]
    last_rating = pd.to_datetime(follow["rated_at"], utc=True).groupby(follow["participant"]).max()
    out = []
    for code in sorted(population):
        given = courses.given.get(code, set())
        ended = courses.ends.get(code, {})
        last = max(given) if given else None
        ketamine_period = next(
            (k for k, v in PRODUCTS.get(seq.get(code), {}).items() if v == "ketamine"), None
        )
        last_ketamine = max((key for key in given if key[0] == ketamine_period), default=None)
        out.append(
            survival.Course(
                participant=code,
                sequence=seq.get(code),
                follow_up_start=ended.get(last) if last else None,
                last_ketamine_end=ended.get(last_ketamine) if last_ketamine else None,
                relapse_at=relapses.get(code),
                last_follow_up_rating=last_rating[code].to_pydatetime()
                if code in last_rating.index
                else None,
            )
        )
    return out


def _unblinded_at() -> dict[str, datetime]:
    from participants.models import UnblindingRequest

    # Newest first, so the earliest execution per participant is the one kept.
    return dict(
        UnblindingRequest.objects.filter(executed_at__isnull=False)
        .order_by("-executed_at")
        .values_list("participant__code", "executed_at")
    )


def _major_deviations() -> dict[str, list[str]]:
    from review.services import major_deviations

    return major_deviations()


def efficacy(*, now: datetime) -> tuple[dict[str, Any], str]:
    """The statistical analysis plan (SAP.md) on the unblinded data set: analysis sets, primary
    with its sensitivity analyses, longitudinal, crossover, relapse, MRS, blinding indices."""
    p = protocol()
    data = ds.build(None, ds.UNBLINDED, now=now)
    people = list(Participant.objects.filter(code__in=set(data.participants["participant"])))
    strata = {person.code: person.stratum for person in people}
    courses = courses_of(people)
    window = primary_sap.early_window(p.after_first_infusion)
    infusion1_end = courses.infusion1_end()
    analysis_sets = sets.analysis_sets(
        data.participants,
        data.long,
        given=courses.given,
        infusion1_end=infusion1_end,
        unblinded_at=_unblinded_at(),
        primary_window_hours=window.cutoff_hours,
        primary_timepoints=window.task_codes,
        major_deviations=_major_deviations(),
    )
    itt, mitt, pp = (analysis_sets[k].members for k in (sets.ITT, sets.MITT, sets.PP))
    seq = data.participants.set_index("participant")["sequence"].dropna().to_dict()
    product = {
        (code, period): PRODUCTS[s][period] for code, s in seq.items() if s in PRODUCTS for period in (1, 2)
    }
    last_ketamine = {
        code: max(key for key in courses.given.get(code, set()) if product.get((code, key[0])) == "ketamine")
        for code in seq
        if any(product.get((code, key[0])) == "ketamine" for key in courses.given.get(code, set()))
    }
    madrs = data.long[(data.long["instrument"] == "madrs") & data.long["response"].eq(True)]
    responders_by_period = {k: set(madrs.loc[madrs["period"] == k, "participant"]) for k in (1, 2)}
    main_population = survival.responders(data.long) & set(itt)
    sensitivity_population = survival.responders_after_last_ketamine(data.long, last_ketamine) & set(itt)
    relapse = {}
    for key, population, definition in (
        ("main", main_population, "MADRS response at any rating after baseline"),
        ("sensitivity", sensitivity_population, "MADRS response 24 h after the last ketamine infusion"),
    ):
        frame, excluded = survival.relapse_frame(
            relapse_courses(data, courses, population, people), horizon_days=7 * p.followup_weeks
        )
        relapse[key] = survival.relapse_analysis(frame, excluded, definition=definition)
    report = {
        "period2_equal_length": p.period2_equal_length,
        "sets": {name: s.as_dict() for name, s in analysis_sets.items()},
        "primary": primary_sap.primary(
            data.long, data.participants, members=itt, window=window, infusion1_end=infusion1_end
        ),
        "primary_per_protocol": primary_sap.primary(
            data.long, data.participants, members=pp, window=window, infusion1_end=infusion1_end
        ),
        "longitudinal": longitudinal.longitudinal(data.long, data.participants, members=mitt, strata=strata),
        "crossover": crossover.crossover(data.long, data.participants, members=mitt),
        "relapse": relapse,
        "mrs": mrs_sap.mrs_analysis(
            data.mrs, product=product, responders=responders_by_period, strata=strata
        ),
        "blinding": blinding_indices_report(),
        "strata": sorted({s for s in strata.values() if s}),
    }
    return _clean(report), data.data_hash


def _guess_key(occasion: str, guesser: str) -> str:
    return f"{occasion}:{guesser}"


def blinding_indices_report() -> dict[str, Any]:
    """After release: per guess occasion and guesser, the guess table (rows guess ketamine /
    placebo / don't know, columns product given), James's index and Bang's per arm (SAP)."""
    from dataclasses import asdict

    from outcomes.blinding_indices import bang, james

    out = {}
    for (occasion, guesser), table in sorted(allocation.guess_tables().items()):
        ketamine, placebo = bang(table)
        out[_guess_key(occasion, guesser)] = {
            "occasion": occasion,
            "guesser": guesser,
            "table": table,
            "james": asdict(james(table)),
            "bang_ketamine": asdict(ketamine),
            "bang_placebo": asdict(placebo),
        }
    return out


def analyses_run(
    *, trigger: str, user_id: int | None, now: datetime, job: Job | None = None
) -> list[AnalysisRun]:
    """Blinded monitoring always; the efficacy analyses once the sequence key is released. The
    runs of one job are stored together or not at all."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    steps = [(AnalysisRun.Kind.MONITORING, monitoring)]
    if allocation.sequence_key_released():
        steps.append((AnalysisRun.Kind.EFFICACY, efficacy))
    computed = [(kind, *analysis(now=now)) for kind, analysis in steps]
    with transaction.atomic():
        return [
            AnalysisRun.objects.create(
                kind=kind,
                run_at=now,
                trigger=trigger,
                requested_by=user,
                data_hash=digest,
                code_version=code_version(),
                results=report,
                job=job,
            )
            for kind, report, digest in computed
        ]


def analyses_job(job: Job) -> None:
    """The outbox handler: done once per job (a second delivery, or a take-over after a worker
    died after storing, finds the runs and stores nothing)."""
    from django.utils import timezone

    if AnalysisRun.objects.filter(job=job).exists():
        return
    analyses_run(
        trigger=job.payload.get("trigger", "on demand"),
        user_id=job.payload.get("user_id"),
        now=timezone.now(),
        job=job,
    )
