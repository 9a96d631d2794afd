"""Outcome analyses as pure functions of data frames (no Django): what the stored analysis runs
and the reports show.

- Primary: response (>= threshold % reduction from baseline) at any rating within the first 24 h
  after infusion 1 of period 1 (up to the close of the 24 h window after the recorded end of the
  infusion: see EarlyWindow), ketamine vs placebo, for HDRS-17 and MADRS separately. Fisher's exact test (two-sided) and the risk difference with Newcombe's hybrid
  score 95 % interval (Newcombe 1998, method 10), which keeps its coverage at the small counts of
  this trial where the Wald interval does not. Intention to treat: every randomized participant
  with a baseline; no rating in the first 24 h counts as non-response (stated in the report).
- Repeated measures over period 1: linear mixed model (REML) of the change from baseline with
  fixed effects arm, timepoint (categorical), arm x timepoint and the baseline score, and a random
  intercept per participant (compound-symmetric covariance). Why not an unstructured MMRM: period
  1 has about a dozen rating timepoints, and an unstructured covariance would need ~80
  parameters from a few dozen participants; it does not converge at this size. The likelihood
  model uses every observed rating and is valid under missing at random.
- Time to relapse: Kaplan-Meier by sequence from the end of the last study infusion, relapse as
  the event, censored at the last follow-up rating; log-rank test.
- MRS: change in Glu (short-TE PRESS), Glx and GABA+ (MEGA-PRESS), in institutional units and
  relative to tCr, from the period-1 baseline scan to the scan 24 h after the last period-1
  infusion, by primary responder status and by sequence (mean, SD, n; Welch's t-test).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clinimetry import scales

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def risk_difference(a: int, n1: int, c: int, n2: int) -> dict[str, float]:
    """p1 - p2 with Newcombe's hybrid score interval, and Fisher's exact two-sided p."""
    p1, p2 = (a / n1 if n1 else math.nan), (c / n2 if n2 else math.nan)
    l1, u1 = wilson(a, n1)
    l2, u2 = wilson(c, n2)
    rd = p1 - p2
    lower = rd - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = rd + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    table = [[a, n1 - a], [c, n2 - c]]
    p_value = float(stats.fisher_exact(table, alternative="two-sided").pvalue) if n1 and n2 else math.nan
    return {
        "responders_ketamine": a,
        "n_ketamine": n1,
        "responders_placebo": c,
        "n_placebo": n2,
        "rate_ketamine": p1,
        "rate_placebo": p2,
        "risk_difference": rd,
        "ci95_low": lower,
        "ci95_high": upper,
        "fisher_p": p_value,
    }


@dataclass(frozen=True)
class EarlyWindow:
    """'Within the first 24 h after infusion 1': ratings up to the close of the protocol's 24 h
    window (24 h + its tolerance, 28 h by default) after the recorded end of infusion 1 of period
    1; where that end is not recorded, the rating tasks after infusion 1 due within 24 h."""

    cutoff_hours: float
    task_codes: frozenset[str]


def early_window(after_first_infusion: tuple[Any, ...]) -> EarlyWindow:
    windows = [w for w in after_first_infusion if w.hours <= 24]
    cutoff = max((w.hours + w.tolerance_hours for w in windows), default=24.0)
    return EarlyWindow(cutoff, frozenset(f"p1-{w.hours:g}h-inf1" for w in windows))


def early_ratings(long: pd.DataFrame, window: EarlyWindow, infusion1_end: dict[str, Any]) -> pd.Series:
    """True for the rows that fall in the early window (see EarlyWindow)."""
    period1 = (long["period"] == 1) & (long["timepoint"] != "baseline")
    ends = long["participant"].map(infusion1_end)
    rated = pd.to_datetime(long["rated_at"], utc=True)
    hours = (rated - pd.to_datetime(ends, utc=True)).dt.total_seconds() / 3600
    by_time = ends.notna() & (hours > 0) & (hours <= window.cutoff_hours)
    # The first token of a task code is the timepoint it was planned for (a merged code such as
    # 'p1-predose-2+72h' is the pre-dose rating of infusion 2, not an early one).
    by_code = ends.isna() & long["timepoint"].isin(window.task_codes)
    return period1 & (by_time | by_code)


def primary(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    window: EarlyWindow | None = None,
    infusion1_end: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per instrument: responders within 24 h after infusion 1, ketamine (KP) vs placebo (PK)."""
    window = window or EarlyWindow(28.0, frozenset({"p1-4h-inf1", "p1-24h-inf1"}))
    randomized = participants[participants["sequence"].isin(["KP", "PK"])]
    early_rows = early_ratings(long, window, infusion1_end or {})
    out: dict[str, Any] = {}
    for instrument in scales.SCALES:
        mine = long["instrument"] == instrument
        rows = long[mine]
        has_baseline = set(rows.loc[(rows["timepoint"] == "baseline") & rows["total"].notna(), "participant"])
        early = long[mine & early_rows & (long["response"] == True)]  # noqa: E712
        responders = set(early["participant"])
        groups = {}
        for seq in ("KP", "PK"):
            members = set(randomized.loc[randomized["sequence"] == seq, "participant"]) & has_baseline
            groups[seq] = (len(members & responders), len(members))
        (a, n1), (c, n2) = groups["KP"], groups["PK"]
        out[instrument] = risk_difference(a, n1, c, n2)
        out[instrument]["responders"] = sorted(responders & has_baseline)
        out[instrument]["window_hours"] = window.cutoff_hours
    return out


def mixed_model(long: pd.DataFrame, participants: pd.DataFrame) -> dict[str, Any]:
    """Change from baseline over period 1 by arm (see the module text for the model)."""
    import statsmodels.formula.api as smf

    arms = participants.set_index("participant")["sequence"]
    out: dict[str, Any] = {}
    for instrument in scales.SCALES:
        rows = long[(long["instrument"] == instrument) & long["total"].notna()].copy()
        base = rows[rows["timepoint"] == "baseline"].set_index("participant")["total"]
        rows = rows[(rows["period"] == 1)]
        rows["baseline"] = rows["participant"].map(base)
        rows["arm"] = rows["participant"].map(arms).map({"KP": "ketamine", "PK": "placebo"})
        rows = rows.dropna(subset=["baseline", "arm"])
        rows["change"] = rows["total"].astype(float) - rows["baseline"].astype(float)
        if rows["participant"].nunique() < 4 or rows["arm"].nunique() < 2:
            out[instrument] = {"fitted": False, "reason": "fewer than 4 participants or one arm only"}
            continue
        formula = "change ~ C(arm, Treatment('placebo')) * C(timepoint) + baseline"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence is reported in the result instead
                fit = smf.mixedlm(formula, rows, groups=rows["participant"]).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError) as exc:
            out[instrument] = {"fitted": False, "reason": str(exc)}
            continue
        arm_terms = [t for t in fit.params.index if t.startswith("C(arm")]
        out[instrument] = {
            "fitted": True,
            "converged": bool(fit.converged),
            "formula": formula,
            "covariance": "random intercept per participant (compound symmetry), REML",
            "n_participants": int(rows["participant"].nunique()),
            "n_observations": int(len(rows)),
            "arm_effects": {
                t: {
                    "estimate": float(fit.params[t]),
                    "se": float(fit.bse[t]),
                    "p": float(fit.pvalues[t]),
                }
                for t in arm_terms
            },
        }
    return out


def kaplan_meier(times: np.ndarray, events: np.ndarray) -> list[dict[str, float]]:
    """Product-limit estimate: one row per distinct event time (pure, for the report and tests)."""
    order = np.argsort(times, kind="stable")
    times, events = np.asarray(times, float)[order], np.asarray(events, bool)[order]
    survival, at_risk, curve = 1.0, len(times), []
    for t in np.unique(times):
        here = times == t
        d = int(events[here].sum())
        if d:
            survival *= 1 - d / at_risk
            curve.append({"time": float(t), "at_risk": at_risk, "events": d, "survival": survival})
        at_risk -= int(here.sum())
    return curve


def log_rank(times: np.ndarray, events: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Two-group log-rank test (chi-square with 1 df)."""
    times, events, groups = np.asarray(times, float), np.asarray(events, bool), np.asarray(groups)
    labels = np.unique(groups)
    if len(labels) != 2:
        return {"chi2": math.nan, "p": math.nan}
    g = groups == labels[0]
    observed = expected = variance = 0.0
    for t in np.unique(times[events]):
        at_risk = times >= t
        n, n1 = at_risk.sum(), (at_risk & g).sum()
        d = (events & (times == t)).sum()
        d1 = (events & (times == t) & g).sum()
        observed += d1
        expected += d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    chi2 = (observed - expected) ** 2 / variance if variance > 0 else math.nan
    return {"chi2": float(chi2), "p": float(stats.chi2.sf(chi2, 1)) if variance > 0 else math.nan}


def relapse(survival: pd.DataFrame) -> dict[str, Any]:
    """survival: participant, sequence, days, relapsed."""
    if survival.empty:
        return {"n": 0}
    out: dict[str, Any] = {"n": int(len(survival)), "curves": {}}
    for seq, rows in survival.groupby("sequence"):
        out["curves"][seq] = {
            "n": int(len(rows)),
            "events": int(rows["relapsed"].sum()),
            "curve": kaplan_meier(rows["days"].to_numpy(), rows["relapsed"].to_numpy()),
        }
    out["log_rank"] = log_rank(
        survival["days"].to_numpy(), survival["relapsed"].to_numpy(), survival["sequence"].to_numpy()
    )
    return out


def mrs_change(mrs: pd.DataFrame, groups: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Change baseline -> 24 h after the last period-1 infusion, by each grouping. GABA+ and Glx
    come from the MEGA-PRESS series, Glu from the short-TE PRESS series (linear combination)."""
    measures = (
        ("glu_iu", "press"),
        ("glu_cr", "press"),
        ("glx_iu", "mega"),
        ("glx_cr", "mega"),
        ("gaba_plus_iu", "mega"),
        ("gaba_plus_cr", "mega"),
    )
    method = mrs["method"] if "method" in mrs.columns else pd.Series("mega", index=mrs.index)
    out: dict[str, Any] = {}
    for measure, series in measures:
        scans = mrs[(method == series) & mrs["timepoint"].isin(["p1-mrs-baseline", "p1-mrs-24h"])]
        if measure not in scans.columns:
            out[measure] = {"n": 0}
            continue
        # The newest result of each scan (rows come oldest first), taken whole.
        scans = scans.drop_duplicates(["participant", "timepoint"], keep="last").set_index(
            ["participant", "timepoint"]
        )
        table = scans[measure].unstack("timepoint") if not scans.empty else pd.DataFrame()
        if table.empty or not {"p1-mrs-baseline", "p1-mrs-24h"} <= set(table.columns):
            out[measure] = {"n": 0}
            continue
        change = (table["p1-mrs-24h"].astype(float) - table["p1-mrs-baseline"].astype(float)).dropna()
        per: dict[str, Any] = {}
        for grouping, labels in groups.items():
            by = change.groupby(change.index.map(lambda code, labels=labels: labels.get(code, "unknown")))
            summary = {
                g: {
                    "n": int(len(v)),
                    "mean": float(v.mean()),
                    "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan,
                }
                for g, v in by
            }
            names = [g for g in summary if g != "unknown"]
            test = math.nan
            if len(names) == 2 and all(summary[g]["n"] > 1 for g in names):
                test = float(
                    stats.ttest_ind(by.get_group(names[0]), by.get_group(names[1]), equal_var=False).pvalue
                )
            per[grouping] = {"groups": summary, "welch_p": test}
        out[measure] = {"n": int(len(change)), **per}
    return out
