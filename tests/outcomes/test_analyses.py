"""Analyses against hand computations and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.proportion import confint_proportions_2indep

from outcomes import analyses, analysis_runs, services
from outcomes.models import AnalysisRun


def test_risk_difference_and_fisher_match_a_hand_computation() -> None:
    r = analyses.risk_difference(7, 10, 2, 10)
    assert r["risk_difference"] == pytest.approx(0.5)
    # Fisher two-sided p for [[7, 3], [2, 8]]: the sum of hypergeometric probabilities no larger
    # than that of the observed table (N = 20, K = 9 responders, n = 10 per arm).
    probs = {k: math.comb(9, k) * math.comb(11, 10 - k) / math.comb(20, 10) for k in range(0, 10)}
    hand = sum(p for p in probs.values() if p <= probs[7] * (1 + 1e-9))
    assert r["fisher_p"] == pytest.approx(hand, rel=1e-9)
    low, high = confint_proportions_2indep(7, 10, 2, 10, method="newcomb", compare="diff")
    assert (r["ci95_low"], r["ci95_high"]) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))


def test_wilson_interval_by_hand() -> None:
    low, high = analyses.wilson(3, 10)
    z = stats.norm.ppf(0.975)
    centre = (0.3 + z**2 / 20) / (1 + z**2 / 10)
    half = z * math.sqrt(0.3 * 0.7 / 10 + z**2 / 400) / (1 + z**2 / 10)
    assert (low, high) == (pytest.approx(centre - half), pytest.approx(centre + half))


def test_kaplan_meier_and_log_rank_agree_with_statsmodels() -> None:
    rng = np.random.default_rng(4)
    times = np.round(rng.exponential(40, 30), 1)
    events = rng.random(30) < 0.7
    groups = np.array(["KP"] * 15 + ["PK"] * 15)
    ours = analyses.kaplan_meier(times[:15], events[:15])
    sm = SurvfuncRight(times[:15], events[:15].astype(int))
    for row in ours:
        index = np.searchsorted(sm.surv_times, row["time"])
        assert row["survival"] == pytest.approx(sm.surv_prob[index])
    chi2, p = survdiff(times, events.astype(int), groups)
    lr = analyses.log_rank(times, events, groups)
    assert lr["chi2"] == pytest.approx(chi2) and lr["p"] == pytest.approx(p)


def test_the_primary_analysis_on_the_known_effect(trial, statistician, principal_investigator) -> None:
    from outcomes import dataset as ds

    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    data = ds.build(statistician, ds.UNBLINDED, now=timezone.now())
    result = analyses.primary(data.long, data.participants)
    for instrument in ("hdrs17", "madrs"):
        r = result[instrument]
        assert (r["responders_ketamine"], r["n_ketamine"], r["responders_placebo"], r["n_placebo"]) == (
            3,
            4,
            1,
            4,
        )
        assert r["risk_difference"] == pytest.approx(0.5)
        assert r["fisher_p"] == pytest.approx(stats.fisher_exact([[3, 1], [1, 3]]).pvalue)


def test_primary_counts_a_missing_early_rating_as_non_response() -> None:
    long = pd.DataFrame(
        {
            "participant": ["a", "a", "b", "c", "c"],
            "period": [0, 1, 0, 0, 1],
            "instrument": ["madrs"] * 5,
            "timepoint": ["baseline", "p1-24h-inf1", "baseline", "baseline", "p1-4h-inf1"],
            "rated_at": [None] * 5,
            "total": [30, 10, 30, 30, 29],
            "response": [None, True, None, None, False],
        }
    )
    people = pd.DataFrame({"participant": ["a", "b", "c"], "sequence": ["KP", "KP", "PK"]})
    r = analyses.primary(long, people)["madrs"]
    assert (r["responders_ketamine"], r["n_ketamine"], r["responders_placebo"], r["n_placebo"]) == (
        1,
        2,
        0,
        1,
    )


def test_the_early_window_is_timed_from_the_recorded_end_of_infusion_1() -> None:
    from datetime import UTC, datetime

    from ketatrial.protocol import DEFAULT_PROTOCOL

    window = analyses.early_window(DEFAULT_PROTOCOL.after_first_infusion)
    assert window.cutoff_hours == 28 and window.task_codes == {"p1-4h-inf1", "p1-24h-inf1"}
    end = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    long = pd.DataFrame(
        {
            "participant": ["a", "a", "b", "b", "c", "c"],
            "period": [0, 1, 0, 1, 0, 1],
            "instrument": ["madrs"] * 6,
            "timepoint": ["baseline", "p1-24h-inf1"] * 3,
            # a: rated 26 h after the end (late but in the 24 h window); b: 36 h (out of it);
            # c: no recorded end, planned as the 24 h task.
            "rated_at": [None, "2026-03-03T12:00:00+00:00", None, "2026-03-03T22:00:00+00:00", None, None],
            "total": [30, 10, 30, 10, 30, 10],
            "response": [None, True, None, True, None, True],
        }
    )
    people = pd.DataFrame({"participant": ["a", "b", "c"], "sequence": ["KP", "KP", "PK"]})
    r = analyses.primary(long, people, window=window, infusion1_end={"a": end, "b": end})["madrs"]
    assert r["responders"] == ["a", "c"]
    assert (r["responders_ketamine"], r["n_ketamine"], r["responders_placebo"], r["n_placebo"]) == (
        1,
        2,
        1,
        1,
    )


def test_the_mixed_model_finds_a_planted_arm_effect() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(24):
        arm = "KP" if i % 2 else "PK"
        subject = rng.normal(0, 2)
        base = 30 + rng.integers(-3, 4)
        rows.append(
            {
                "participant": f"p{i}",
                "instrument": "madrs",
                "period": 0,
                "timepoint": "baseline",
                "total": base,
            }
        )
        for t in ("p1-4h-inf1", "p1-24h-inf1", "p1-predose-2+72h"):
            effect = -12 if arm == "KP" else -3
            total = base + effect + subject + rng.normal(0, 2)
            rows.append(
                {"participant": f"p{i}", "instrument": "madrs", "period": 1, "timepoint": t, "total": total}
            )
    long = pd.DataFrame(rows)
    people = pd.DataFrame({"participant": [f"p{i}" for i in range(24)], "sequence": ["PK", "KP"] * 12})
    model = analyses.mixed_model(long, people)["madrs"]
    assert model["fitted"] and model["n_participants"] == 24
    main = next(v for k, v in model["arm_effects"].items() if ":" not in k)
    assert main["estimate"] == pytest.approx(-9, abs=2) and main["p"] < 0.001


def test_mrs_change_by_group() -> None:
    mrs = pd.DataFrame(
        {
            "participant": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "timepoint": ["p1-mrs-baseline", "p1-mrs-24h"] * 4,
            "pipeline_version": ["1"] * 8,
            "glx_iu": [10, 12, 10, 11, 10, 9, 10, 10],
            "glx_cr": [1.0] * 8,
            "gaba_plus_iu": [2.0] * 8,
            "gaba_plus_cr": [0.1] * 8,
        }
    )
    out = analyses.mrs_change(mrs, {"sequence": {"a": "KP", "b": "KP", "c": "PK", "d": "PK"}})
    groups = out["glx_iu"]["sequence"]["groups"]
    assert groups["KP"]["mean"] == pytest.approx(1.5) and groups["PK"]["mean"] == pytest.approx(-0.5)
    assert out["glx_iu"]["n"] == 4


def test_stored_runs_keep_the_data_hash_and_code_version_and_stay_pooled_before_release(
    trial, statistician, principal_investigator
) -> None:
    runs = analysis_runs.analyses_run(trigger="nightly", user_id=None, now=timezone.now())
    assert [r.kind for r in runs] == ["monitoring"]
    run = runs[0]
    assert len(run.data_hash) == 64 and run.code_version.startswith("ketatrial-analysis")
    assert run.results["enrollment"]["randomized"] == 8
    text = str(run.results)
    assert "KP" not in text and "PK" not in text
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    runs = analysis_runs.analyses_run(trigger="on demand", user_id=statistician.pk, now=timezone.now())
    efficacy = AnalysisRun.objects.get(kind="efficacy")
    assert [r.kind for r in runs] == ["monitoring", "efficacy"]
    assert efficacy.results["primary"]["madrs"]["risk_difference"] == pytest.approx(0.5)
    # The same data give the same hash.
    again = analysis_runs.analyses_run(trigger="on demand", user_id=None, now=timezone.now())
    assert again[1].data_hash == efficacy.data_hash
