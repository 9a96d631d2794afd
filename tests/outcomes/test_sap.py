"""The statistical analysis plan (SAP.md) checked against implementations other than the ones it
uses (lifelines, hand sums, statsmodels' other routines) and against examples worked by hand or
published."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes.sap import common, crossover, longitudinal, mrs, primary, sets, survival

# ---------------------------------------------------------------- primary and intervals


def _wilson(k: int, n: int, z: float = common.Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_the_risk_difference_interval_is_newcombes_hybrid_score_as_published() -> None:
    """Newcombe RG, Stat Med 1998;17:873-890, Table II example (a): 56/70 - 48/80, method 10
    gives 0.0524 to 0.3339; and the same from Newcombe's formula written out here."""
    r = primary.binary_comparison(56, 70, 48, 80)
    assert (round(r["ci95_low"], 4), round(r["ci95_high"], 4)) == (0.0524, 0.3339)
    p1, p2 = 56 / 70, 48 / 80
    (l1, u1), (l2, u2) = _wilson(56, 70), _wilson(48, 80)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert (r["ci95_low"], r["ci95_high"]) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))


def test_fisher_and_the_odds_ratio_match_hand_computations() -> None:
    r = primary.binary_comparison(7, 10, 2, 10)
    # Fisher two-sided: the hypergeometric probabilities no larger than the observed table's.
    probs = {k: math.comb(9, k) * math.comb(11, 10 - k) / math.comb(20, 10) for k in range(0, 10)}
    assert r["fisher_p"] == pytest.approx(sum(p for p in probs.values() if p <= probs[7] * (1 + 1e-9)))
    # Woolf: log OR +- 1.96 sqrt(1/a + 1/b + 1/c + 1/d).
    log_or, se = math.log(7 * 8 / (3 * 2)), math.sqrt(1 / 7 + 1 / 3 + 1 / 2 + 1 / 8)
    assert r["odds_ratio"] == pytest.approx(math.exp(log_or))
    assert r["odds_ratio_low"] == pytest.approx(math.exp(log_or - common.Z95 * se))
    assert r["odds_ratio_high"] == pytest.approx(math.exp(log_or + common.Z95 * se))
    assert not r["odds_ratio_zero_cell_corrected"]
    # An empty cell: 0.5 added to every cell.
    z = primary.binary_comparison(5, 5, 1, 5)
    assert z["odds_ratio_zero_cell_corrected"] and z["odds_ratio"] == pytest.approx(5.5 * 4.5 / (0.5 * 1.5))


def test_the_number_needed_to_treat_follows_altman() -> None:
    """Altman DG, BMJ 1998;317:1309: RD 0.2 (0.1 to 0.3) -> NNT 5 (3.3 to 10); an RD interval
    through 0 gives an NNT interval through infinity (benefit from 1/upper, harm from 1/|lower|)."""
    nnt = primary.number_needed_to_treat(0.2, 0.1, 0.3)
    assert (nnt["estimate"], nnt["low"], nnt["high"], nnt["kind"]) == (
        pytest.approx(5),
        pytest.approx(10 / 3),
        pytest.approx(10),
        "benefit",
    )
    wide = primary.number_needed_to_treat(0.1, -0.05, 0.25)
    assert wide["through_infinity"] and wide["benefit_from"] == pytest.approx(4)
    assert wide["harm_from"] == pytest.approx(20)


def test_holm_by_hand() -> None:
    """p = 0.01, 0.04: the smaller times 2 (0.02), the larger times 1 but not below 0.02."""
    assert common.holm({"hdrs17": 0.04, "madrs": 0.01}) == {
        "hdrs17": pytest.approx(0.04),
        "madrs": pytest.approx(0.02),
    }
    assert common.holm({"a": 0.03, "b": 0.02}) == {"a": pytest.approx(0.04), "b": pytest.approx(0.04)}
    assert common.holm({"a": None, "b": 0.02}) == {"a": None, "b": pytest.approx(0.02)}


def test_the_tipping_point_grid_covers_every_imputation() -> None:
    tp = primary.tipping_point(3, 5, 2, 1, 5, 1)
    assert tp["cells"] == 6 and len(tp["grid"]) == 6
    # Worst case for ketamine: no missing ketamine rating a response, every placebo one a response.
    assert tp["worst_case"]["risk_difference"] == pytest.approx(3 / 5 - 2 / 5)
    assert tp["worst_case"]["fisher_p"] == pytest.approx(stats.fisher_exact([[3, 2], [2, 3]]).pvalue)
    assert tp["best_case"]["risk_difference"] == pytest.approx(5 / 5 - 1 / 5)
    assert tp["significant_cells"] == sum(
        stats.fisher_exact([[3 + i, 2 - i], [1 + j, 4 - j]]).pvalue < 0.05 for i in range(3) for j in range(2)
    )


def _long(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "participant",
            "period",
            "instrument",
            "timepoint",
            "rated_at",
            "total",
            "response",
            "out_of_window",
        ],
    )


def test_primary_counts_a_missing_rating_as_non_response_lists_it_and_adjusts_across_scales() -> None:
    rows = []
    for code, post in (("a", 10), ("b", None), ("c", 29)):
        for instrument in ("hdrs17", "madrs"):
            rows.append((code, 0, instrument, "baseline", None, 30, None, False))
            if post is not None:
                rows.append((code, 1, instrument, "p1-24h-inf1", None, post, post <= 15, False))
    people = pd.DataFrame({"participant": ["a", "b", "c"], "sequence": ["KP", "KP", "PK"]})
    r = primary.primary(_long(rows), people)
    m = r["madrs"]
    assert (m["responders_ketamine"], m["n_ketamine"], m["responders_placebo"], m["n_placebo"]) == (
        1,
        2,
        0,
        1,
    )
    assert m["missing"] == {"KP": ["b"], "PK": []}
    assert m["tipping_point"]["cells"] == 2
    assert m["fisher_p_holm"] == pytest.approx(min(1.0, 2 * min(r["hdrs17"]["fisher_p"], m["fisher_p"])))


def test_the_early_window_is_timed_from_the_recorded_end_of_infusion_1() -> None:
    from ketatrial.protocol import DEFAULT_PROTOCOL

    window = primary.early_window(DEFAULT_PROTOCOL.after_first_infusion)
    assert window.cutoff_hours == 28 and window.task_codes == {"p1-4h-inf1", "p1-24h-inf1"}
    end = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    rows = []
    # a: rated 26 h after the end (late but in the window); b: 36 h (out of it); c: no recorded
    # end, planned as the 24 h task.
    for code, at in (("a", "2026-03-03T12:00:00+00:00"), ("b", "2026-03-03T22:00:00+00:00"), ("c", None)):
        rows += [
            (code, 0, "madrs", "baseline", None, 30, None, False),
            (code, 1, "madrs", "p1-24h-inf1", at, 10, True, False),
        ]
    people = pd.DataFrame({"participant": ["a", "b", "c"], "sequence": ["KP", "KP", "PK"]})
    r = primary.primary(_long(rows), people, window=window, infusion1_end={"a": end, "b": end})["madrs"]
    assert r["responders"] == ["a", "c"]


# ---------------------------------------------------------------- analysis sets


def test_every_randomized_participant_outside_a_set_is_listed_with_the_reason() -> None:
    people = pd.DataFrame(
        {"participant": ["a", "b", "c", "d", "e", "f"], "sequence": ["KP", "PK", "KP", "PK", None, "KP"]}
    )
    end = datetime(2026, 3, 2, 10, tzinfo=UTC)
    rows = [
        ("a", 1, "madrs", "p1-24h-inf1", None, 10, True, False),
        ("b", 1, "madrs", "p1-24h-inf1", None, 10, True, True),  # out of window
        ("c", 1, "madrs", "p1-predose-1", None, 30, None, False),  # only before the first dose
        ("d", 1, "madrs", "p1-4h-inf1", None, 12, True, False),
        ("f", 1, "madrs", "p1-predose-2", None, 12, True, False),
    ]
    out = sets.analysis_sets(
        people,
        _long(rows),
        given={"a": {(1, 1)}, "b": {(1, 1)}, "c": {(1, 1)}, "d": {(1, 1)}, "f": {(1, 2)}},
        infusion1_end={"a": end, "b": end, "c": end, "d": end},
        unblinded_at={"d": end + timedelta(hours=2)},
        primary_window_hours=28,
        primary_timepoints=frozenset({"p1-4h-inf1", "p1-24h-inf1"}),
    )
    assert out[sets.ITT].members == {"a", "b", "c", "d", "f"}
    assert out[sets.ITT].excluded == (("e", sets.NOT_RANDOMIZED),)
    assert out[sets.MITT].excluded == (("c", sets.NO_POST_BASELINE),)
    assert dict(out[sets.PP].excluded) == {
        "b": sets.PRIMARY_OUT_OF_WINDOW,
        "d": sets.UNBLINDED_BEFORE_PRIMARY,
        "f": sets.MISSED_INFUSION_1,
    }
    assert out[sets.PP].members == {"a"}
    assert out[sets.SAFETY].members == {"a", "b", "c", "d", "f"}
    assert out[sets.PP].as_dict()["excluded_by_reason"][sets.MISSED_INFUSION_1] == 1


# ---------------------------------------------------------------- effect sizes


def test_hedges_g_reproduces_borensteins_worked_example() -> None:
    """Borenstein et al., Introduction to Meta-Analysis (2009), ch. 4: means 103 and 100, SD 5.5
    and 4.5, n 50 and 50 -> d 0.5970, g 0.5924, V_g 0.0411. Two samples built to have exactly
    those means and SDs."""

    def sample(mean: float, sd: float, n: int) -> np.ndarray:
        z = np.random.default_rng(n).normal(size=n)
        z = (z - z.mean()) / z.std(ddof=1)
        return mean + sd * z

    g = common.hedges_g(sample(103, 5.5, 50), sample(100, 4.5, 50))
    assert round(g["estimate"], 4) == 0.5924
    assert round(g["se"] ** 2, 4) == 0.0411
    assert g["low"] == pytest.approx(0.5924 - 1.96 * math.sqrt(0.0411), abs=1e-3)


# ---------------------------------------------------------------- longitudinal


def test_timepoints_are_ordered_by_the_schedule_not_the_alphabet() -> None:
    codes = [
        "p1-predose-2+72h",
        "p1-4h-inf1",
        "p1-24h-inf1",
        "baseline",
        "p1-1w-inf8",
        "p1-24h-inf8",
        "p1-predose-1",
        "p1-4h-inf8",
    ]
    assert sorted(codes, key=common.timepoint_order) == [
        "baseline",
        "p1-predose-1",
        "p1-4h-inf1",
        "p1-24h-inf1",
        "p1-predose-2+72h",
        "p1-4h-inf8",
        "p1-24h-inf8",
        "p1-1w-inf8",
    ]


def _trial(
    n: int = 40, seed: int = 1, effects: dict[str, float] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    effects = effects or {
        "p1-4h-inf1": -10.0,
        "p1-24h-inf1": -8.0,
        "p1-predose-2+72h": -5.0,
        "p1-24h-inf8": -2.0,
    }
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        arm = "KP" if i % 2 else "PK"
        subject, base = rng.normal(0, 2), 30 + int(rng.integers(-4, 5))
        rows.append((f"p{i:02d}", 0, "madrs", "baseline", None, float(base), None, False))
        # Pre-dose of infusion 1: before any product, the same in both arms.
        rows.append(
            (f"p{i:02d}", 1, "madrs", "p1-predose-1", None, float(base + rng.normal(0, 1)), None, False)
        )
        for tp, effect in effects.items():
            total = (
                base - 3 + (effect if arm == "KP" else 0) + subject + 0.3 * (base - 30) + rng.normal(0, 1.5)
            )
            rows.append((f"p{i:02d}", 1, "madrs", tp, None, float(total), None, False))
    people = pd.DataFrame(
        {"participant": [f"p{i:02d}" for i in range(n)], "sequence": ["PK", "KP"] * (n // 2)}
    )
    return _long(rows), people


def test_the_longitudinal_models_recover_planted_effects_at_each_timepoint_and_on_average() -> None:
    effects = {"p1-4h-inf1": -10.0, "p1-24h-inf1": -8.0, "p1-predose-2+72h": -5.0, "p1-24h-inf8": -2.0}
    long, people = _trial(effects=effects)
    r = longitudinal.longitudinal(long, people, members=people["participant"], instruments=("madrs",))[
        "madrs"
    ]
    assert r["timepoints"] == list(effects)  # schedule order; the pre-dose of infusion 1 is not in
    for model in ("gee", "mixed"):
        per = {e["timepoint"]: e for e in r[model]["per_timepoint"]}
        for tp, effect in effects.items():
            assert per[tp]["low"] < effect < per[tp]["high"], (model, tp, per[tp])
        average = r[model]["average"]
        assert average["estimate"] == pytest.approx(np.mean([per[tp]["estimate"] for tp in effects]))
        assert average["low"] < np.mean(list(effects.values())) < average["high"]
    # Complete balanced data: each timepoint's arm effect is close to an ANCOVA at that timepoint
    # alone (numpy least squares, an implementation the models do not use).
    for tp in effects:
        at = long[long["timepoint"] == tp].merge(people, on="participant")
        base = long[long["timepoint"] == "baseline"].set_index("participant")["total"]
        x = np.column_stack(
            [np.ones(len(at)), (at["sequence"] == "KP").astype(float), at["participant"].map(base)]
        )
        beta = np.linalg.lstsq(x, at["total"] - at["participant"].map(base), rcond=None)[0]
        gee = next(e for e in r["gee"]["per_timepoint"] if e["timepoint"] == tp)
        assert gee["estimate"] == pytest.approx(beta[1], abs=0.6)
    assert r["hedges_g_24h"]["estimate"] < -1


def test_a_timepoint_too_sparse_to_estimate_is_left_out_and_listed() -> None:
    long, people = _trial(n=20)
    extra = _long(
        [
            ("p00", 1, "madrs", "p1-4h-inf8", None, 20.0, None, False),
            ("p01", 1, "madrs", "p1-4h-inf8", None, 10.0, None, False),
        ]
    )
    r = longitudinal.longitudinal(
        pd.concat([long, extra]), people, members=people["participant"], instruments=("madrs",)
    )
    assert r["madrs"]["dropped_timepoints"] == [{"timepoint": "p1-4h-inf8", "n_ketamine": 1, "n_placebo": 1}]
    assert "p1-4h-inf8" not in r["madrs"]["timepoints"]


# ---------------------------------------------------------------- crossover


def _pairs_frame(rows: list[tuple[str, str, float, float, bool, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["participant", "sequence", "y1", "y2", "r1", "r2"])


def test_hills_armitage_by_hand() -> None:
    """KP changes (period 1, period 2): (-10, -4), (-8, -2), (-12, -6); PK: (-3, -9), (-1, -9),
    (-2, -6). d = (y1 - y2) / 2: KP -3, -3, -3; PK 3, 4, 2. Treatment effect = mean d(KP) -
    mean d(PK) = -3 - 3 = -6; period effect = -3 + 3 = 0; pooled variance (2 x 0 + 2 x 1) / 4 =
    0.5, SE = sqrt(0.5 (1/3 + 1/3)) = 0.577; t = -10.4 on 4 df."""
    frame = _pairs_frame(
        [
            ("a", "KP", -10, -4, True, False),
            ("b", "KP", -8, -2, True, False),
            ("c", "KP", -12, -6, True, False),
            ("d", "PK", -3, -9, False, True),
            ("e", "PK", -1, -9, False, True),
            ("f", "PK", -2, -6, False, False),
        ]
    )
    r = crossover.hills_armitage(frame)
    assert r["treatment"]["estimate"] == pytest.approx(-6)
    assert r["treatment"]["se"] == pytest.approx(math.sqrt(0.5 * 2 / 3))
    assert r["treatment"]["p"] == pytest.approx(stats.ttest_ind([-3, -3, -3], [3, 4, 2]).pvalue)
    assert r["period"]["estimate"] == pytest.approx(0)
    assert r["period"]["p"] == pytest.approx(stats.ttest_ind([-3, -3, -3], [-3, -4, -2]).pvalue)
    # Carry-over (descriptive): sums KP -14, -10, -18 (mean -14); PK -12, -10, -8 (mean -10).
    assert r["carry_over_descriptive"]["estimate"] == pytest.approx((-14 - -10) / 2)


def test_mainland_gart_and_prescott_by_hand_and_against_statsmodels() -> None:
    """KP: 2 responded in period 1 only, 5 in both or neither, 3 in period 2 only... laid out as
    (period-1 - period-2 response) = -1, 0, +1: KP [3, 5, 2], PK [1, 4, 6]."""
    rows = []
    for seq, counts in (("KP", (3, 5, 2)), ("PK", (1, 4, 6))):
        for k, n in zip((-1, 0, 1), counts, strict=True):
            for i in range(n):
                r1, r2 = {-1: (False, True), 0: (i % 2 == 0, i % 2 == 0), 1: (True, False)}[k]
                rows.append((f"{seq}{k}{i}", seq, 0.0, 0.0, r1, r2))
    frame = _pairs_frame(rows)
    mg = crossover.mainland_gart(frame)
    assert mg["table"] == [[2, 3], [6, 1]]
    assert mg["fisher_p"] == pytest.approx(stats.fisher_exact([[2, 3], [6, 1]]).pvalue)
    pr = crossover.prescott(frame)
    assert pr["table"] == [[3, 5, 2], [1, 4, 6]]
    # By hand: n = 21, n1 = 10, columns 4, 9, 8; observed n1(+1) - n1(-1) = -1, expected
    # 10 (8 - 4) / 21; variance 10 * 11 * (12 - 16/21) / (21 * 20).
    expected = 10 * 4 / 21
    variance = 10 * 11 * (12 - 16 / 21) / (21 * 20)
    assert pr["chi2"] == pytest.approx((-1 - expected) ** 2 / variance)
    from statsmodels.stats.contingency_tables import Table

    lbl = Table(np.array(pr["table"])).test_ordinal_association(
        row_scores=np.array([0, 1]), col_scores=np.array([-1, 0, 1])
    )
    assert pr["chi2"] == pytest.approx(lbl.zscore**2) and pr["p"] == pytest.approx(lbl.pvalue)


def test_the_crossover_measures_each_period_from_its_own_pre_dose() -> None:
    rows = []
    for code, seq, values in (
        (
            "a",
            "KP",
            {"baseline": 30, "p1-predose-1": 30, "p1-24h-inf1": 12, "p2-predose-1": 16, "p2-24h-inf1": 14},
        ),
        (
            "b",
            "PK",
            {"baseline": 30, "p1-predose-1": 28, "p1-24h-inf1": 26, "p2-predose-1": 26, "p2-24h-inf1": 10},
        ),
    ):
        for tp, total in values.items():
            rows.append(
                (code, 0 if tp == "baseline" else int(tp[1]), "madrs", tp, None, float(total), None, False)
            )
    people = pd.DataFrame({"participant": ["a", "b"], "sequence": ["KP", "PK"]})
    own = crossover.pairs(_long(rows), people, "madrs", "24h", members=["a", "b"], reference="predose")
    assert own.set_index("participant").loc["a", ["y1", "y2"]].tolist() == [-18, -2]
    assert own.set_index("participant").loc["b", ["r1", "r2"]].tolist() == [False, True]
    study = crossover.pairs(_long(rows), people, "madrs", "24h", members=["a", "b"], reference="baseline")
    assert study.set_index("participant").loc["a", ["y1", "y2"]].tolist() == [-18, -16]


# ---------------------------------------------------------------- relapse


def _survival_sample(seed: int = 3, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kp = np.arange(n) % 2 == 0
    weeks = np.where(kp, rng.uniform(3, 5, n), 0.0)
    times = rng.exponential(np.where(kp, 50, 30))
    censor = rng.uniform(20, 84, n)
    return pd.DataFrame(
        {
            "participant": [f"r{i}" for i in range(n)],
            "sequence": np.where(kp, "KP", "PK"),
            "days": np.minimum(times, censor),
            "relapsed": times <= censor,
            "weeks_since_ketamine": weeks,
        }
    )


def test_kaplan_meier_greenwood_intervals_and_median_match_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    frame = _survival_sample()
    for seq, rows in frame.groupby("sequence"):
        ours = survival.kaplan_meier(rows["days"].to_numpy(), rows["relapsed"].to_numpy())
        km = KaplanMeierFitter().fit(rows["days"], rows["relapsed"])
        ci = km.confidence_interval_
        for row in ours["table"]:
            assert row["survival"] == pytest.approx(
                float(km.survival_function_.loc[row["day"]].iloc[0]), abs=1e-9
            )
            if row["low"] is not None:
                assert row["low"] == pytest.approx(float(ci.loc[row["day"]].iloc[0]), abs=1e-6), seq
                assert row["high"] == pytest.approx(float(ci.loc[row["day"]].iloc[1]), abs=1e-6), seq
        assert ours["median"] == pytest.approx(km.median_survival_time_)


def test_log_rank_and_cox_match_lifelines() -> None:
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    frame = _survival_sample()
    kp = frame["sequence"] == "KP"
    ours = survival.log_rank(frame)
    theirs = logrank_test(frame.days[kp], frame.days[~kp], frame.relapsed[kp], frame.relapsed[~kp])
    assert ours["chi2"] == pytest.approx(theirs.test_statistic, rel=1e-6)
    assert ours["p"] == pytest.approx(theirs.p_value, rel=1e-6)
    data = pd.DataFrame(
        {
            "T": frame.days,
            "E": frame.relapsed.astype(int),
            "kp": kp.astype(float),
            "w": frame.weeks_since_ketamine,
        }
    )
    for covariates, ours_key in ((["kp"], ["kp"]), (["kp", "w"], ["kp", "weeks_since_ketamine"])):
        fit = survival.cox(frame, ours_key)
        cph = CoxPHFitter().fit(data[["T", "E", *covariates]], "T", "E")  # no ties: Efron = Breslow
        for name, theirs_name in zip(ours_key, covariates, strict=True):
            assert fit["terms"][name]["coef"] == pytest.approx(cph.params_[theirs_name], abs=1e-4)
            assert fit["terms"][name]["se"] == pytest.approx(cph.standard_errors_[theirs_name], abs=1e-4)


def test_the_relapse_frame_starts_at_follow_up_censors_at_12_weeks_and_counts_every_exclusion() -> None:
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    day = timedelta(days=1)
    courses = [
        survival.Course("a", "KP", t0, t0 - 28 * day, t0 + 10 * day, t0 + 14 * day),  # relapse day 10
        survival.Course("b", "PK", t0, t0, None, t0 + 100 * day),  # censored at 84 days
        survival.Course("c", "PK", t0, t0, t0 - 2 * day, None),  # relapse during treatment
        survival.Course("d", "KP", t0, t0 - 28 * day, None, None),  # no follow-up yet
        survival.Course("e", "KP", None, None, None, t0 + 7 * day),  # end of the last infusion unknown
    ]
    frame, excluded = survival.relapse_frame(courses, horizon_days=84)
    assert frame.set_index("participant").loc["a", ["days", "relapsed", "weeks_since_ketamine"]].tolist() == [
        10,
        True,
        4,
    ]
    assert frame.set_index("participant").loc["b", ["days", "relapsed"]].tolist() == [84, False]
    assert excluded == [
        {"participant": "c", "reason": survival.RELAPSE_BEFORE},
        {"participant": "d", "reason": survival.NO_FOLLOW_UP},
        {"participant": "e", "reason": survival.NO_END},
    ]
    report = survival.relapse_analysis(frame, excluded, definition="test")
    assert report["n"] + len(report["excluded"]) == len(courses)


# ---------------------------------------------------------------- MRS


def test_mrs_ancova_matches_least_squares_and_leaves_out_failed_scans_with_a_count() -> None:
    rng = np.random.default_rng(7)
    rows, product, responders = [], {}, {1: set(), 2: set()}
    for i in range(16):
        code = f"m{i:02d}"
        ketamine = i % 2 == 0
        product[(code, 1)] = "ketamine" if ketamine else "placebo"
        if ketamine and i % 4 == 0:
            responders[1].add(code)
        base = 1.0 + rng.normal(0, 0.1)
        post = base + (0.15 if ketamine else 0.0) + rng.normal(0, 0.05)
        for tp, value in (("p1-mrs-baseline", base), ("p1-mrs-24h", post)):
            rows.append(
                {
                    "participant": code,
                    "timepoint": tp,
                    "method": "mega",
                    "glx_cr": value,
                    "qc_pass": i != 15 or tp != "p1-mrs-24h",
                }
            )
    frame = pd.DataFrame(rows)
    out = mrs.mrs_analysis(frame, product=product, responders=responders)
    passed = out["period1:qc_passed"]["glx_cr"]
    assert passed["n"] == 15 and passed["failed_scans_left_out"] == 1
    assert out["period1:all_scans"]["glx_cr"]["n"] == 16
    wide = frame[frame["participant"] != "m15"].pivot(
        index="participant", columns="timepoint", values="glx_cr"
    )
    k = np.array([product[(c, 1)] == "ketamine" for c in wide.index], float)
    x = np.column_stack([np.ones(len(wide)), wide["p1-mrs-baseline"], k])
    beta = np.linalg.lstsq(x, wide["p1-mrs-24h"], rcond=None)[0]
    assert passed["ketamine_vs_placebo"]["estimate"] == pytest.approx(beta[2], abs=1e-10)
    change = (wide["p1-mrs-24h"] - wide["p1-mrs-baseline"])[sorted(responders[1])]
    assert passed["q2_responders_change"]["estimate"] == pytest.approx(change.mean())
    assert passed["q2_responders_change"]["p"] == pytest.approx(stats.ttest_1samp(change, 0).pvalue)
    # One measure in the family: Holm leaves its p as it is.
    assert passed["ketamine_vs_placebo"]["p_holm"] == pytest.approx(passed["ketamine_vs_placebo"]["p"])
