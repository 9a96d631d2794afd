"""Run the analyses on the database and store them with the data hash and the code version."""

from __future__ import annotations

import math
from datetime import datetime
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model

from clinimetry.selectors import all_tasks
from infusions import schedule as sched
from infusions.services import schedules_for
from ketatrial.trial import protocol
from outcomes import analyses
from outcomes import dataset as ds
from outcomes.models import AnalysisRun
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


def survival_frame(data: ds.DataSet, ends: dict[str, dict[tuple[int, int], datetime]]) -> pd.DataFrame:
    """Participants who responded (MADRS, any rating before follow-up): days from the end of
    their last study infusion to relapse (the first qualifying rating or event), or to their
    last follow-up rating (censored). Relapse is defined only after a response (PROTOCOL.md)."""
    from clinimetry.models import Relapse

    seq = data.participants.set_index("participant")["sequence"]
    long = data.long
    responders = set(
        long.loc[
            (long["instrument"] == "madrs") & (long["period"] <= 2) & long["response"].eq(True),
            "participant",
        ]
    )
    relapses = {r.participant.code: r.relapse_date for r in Relapse.objects.select_related("participant")}
    follow = long[long["period"] == sched.FOLLOW_UP]
    last_rating = pd.to_datetime(follow["rated_at"], utc=True).groupby(follow["participant"]).max()
    rows = []
    for code in sorted(responders | set(relapses)):
        given = ends.get(code, {})
        if not given:
            continue
        origin = max(given.values())
        if code in relapses:
            days, event = (relapses[code] - origin).total_seconds() / 86400, True
        elif code in last_rating.index:
            days, event = (last_rating[code].to_pydatetime() - origin).total_seconds() / 86400, False
        else:
            continue  # no follow-up yet: nothing to say about relapse
        if days < 0:
            continue
        rows.append({"participant": code, "sequence": seq.get(code), "days": days, "relapsed": event})
    return pd.DataFrame(rows, columns=["participant", "sequence", "days", "relapsed"])


def infusion_ends(people: list[Participant]) -> dict[str, dict[tuple[int, int], datetime]]:
    """Participant code -> (period, infusion) -> recorded end, for every infusion given."""
    by_pk = {p.pk: p.code for p in people}
    return {
        by_pk[pk]: {i.key: i.end for i in plan.infusions if i.status == sched.DONE and i.end_recorded}
        for pk, plan in schedules_for(people).items()
    }


def efficacy(*, now: datetime) -> tuple[dict[str, Any], str]:
    from ketatrial.trial import protocol

    data = ds.build(None, ds.UNBLINDED, now=now)
    people = list(Participant.objects.filter(code__in=set(data.participants["participant"])))
    ends = infusion_ends(people)
    primary = analyses.primary(
        data.long,
        data.participants,
        window=analyses.early_window(protocol().after_first_infusion),
        infusion1_end={code: e[(1, 1)] for code, e in ends.items() if (1, 1) in e},
    )
    responders = set(primary["madrs"]["responders"])
    seq = data.participants.set_index("participant")["sequence"].dropna().to_dict()
    groups = {
        "responder_madrs": {code: ("responder" if code in responders else "non-responder") for code in seq},
        "sequence": seq,
    }
    report = {
        "primary": primary,
        "mixed_model": analyses.mixed_model(data.long, data.participants),
        "relapse": analyses.relapse(survival_frame(data, ends)),
        "mrs_change": analyses.mrs_change(data.mrs, groups),
        "blinding": blinding_indices_report(),
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


def analyses_run(*, trigger: str, user_id: int | None, now: datetime) -> list[AnalysisRun]:
    """Blinded monitoring always; the efficacy analyses once the sequence key is released."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    steps = [(AnalysisRun.Kind.MONITORING, monitoring)]
    if allocation.sequence_key_released():
        steps.append((AnalysisRun.Kind.EFFICACY, efficacy))
    runs = []
    for kind, analysis in steps:
        report, digest = analysis(now=now)
        runs.append(
            AnalysisRun.objects.create(
                kind=kind,
                run_at=now,
                trigger=trigger,
                requested_by=user,
                data_hash=digest,
                code_version=code_version(),
                results=report,
            )
        )
    return runs
