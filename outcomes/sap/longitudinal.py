"""Change from baseline over period 1 (SAP.md "Longitudinal (period 1)").

Every scheduled period-1 rating timepoint, ordered by the schedule (common.timepoint_order),
with the study baseline total as covariate; the pre-dose rating of infusion 1 comes before any
product and is never a post-baseline point. A timepoint with fewer than MIN_PER_ARM ratings in
an arm (after drop-outs) is left out of the models and listed, instead of a near-empty category
that the model cannot estimate.

The anchor of the SAP is an MMRM: unstructured covariance across timepoints, REML, Kenward-Roger
or Satterthwaite degrees of freedom. statsmodels fits neither an unstructured residual covariance
for a linear mixed model nor those degrees of freedom, so, as the SAP says, the two closest
models are fitted and shown side by side:
- GEE with an exchangeable working correlation and robust (sandwich) standard errors: the arm
  effects and their intervals stay valid whatever the true covariance (under MCAR);
- a linear mixed model (REML) with a random intercept and a random slope over the schedule per
  participant (valid under MAR); if that does not converge, a random intercept only, and it says so.
Both have fixed effects arm, timepoint, arm x timepoint, baseline (and the randomization
stratum when there is more than one). The arm effect (ketamine - placebo, in scale points of
change; negative = more improvement on ketamine) is reported at each timepoint and averaged over
timepoints with equal weights, with Wald 95 % intervals (normal reference distribution: no
small-sample df). Hedges' g with its interval at 24 h after infusion 1."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from outcomes.sap.common import hedges_g, timepoint_order

MIN_PER_ARM = 3
EXCLUDED_TIMEPOINTS = ("baseline", "p1-predose-1")
G_TIMEPOINT = "p1-24h-inf1"
MMRM_NOTE = (
    "MMRM with unstructured covariance and Kenward-Roger/Satterthwaite df not fitted: statsmodels "
    "provides neither; GEE (robust SE) and a random intercept and slope mixed model shown instead."
)


def period1_frame(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    instrument: str,
    *,
    members: Iterable[str],
    strata: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    chosen = set(members)
    arms = participants.set_index("participant")["sequence"]
    rows = long[(long["instrument"] == instrument) & long["total"].notna() & long["participant"].isin(chosen)]
    base = (
        rows[rows["timepoint"] == "baseline"].drop_duplicates("participant").set_index("participant")["total"]
    )
    rows = rows[(rows["period"] == 1) & ~rows["timepoint"].isin(EXCLUDED_TIMEPOINTS)].copy()
    rows["baseline"] = rows["participant"].map(base).astype(float)
    rows["ketamine"] = rows["participant"].map(arms).map({"KP": 1.0, "PK": 0.0})
    rows["stratum"] = rows["participant"].map(dict(strata or {})).fillna("")
    rows = rows.dropna(subset=["baseline", "ketamine"])
    rows["change"] = rows["total"].astype(float) - rows["baseline"]
    # One rating per participant and timepoint (the first; a correction replaces, never adds).
    rows = rows.drop_duplicates(["participant", "timepoint"])
    rows["order"] = rows["timepoint"].map(timepoint_order)
    return rows.sort_values(["participant", "order"]).reset_index(drop=True)


def _kept_timepoints(rows: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    counts = rows.groupby(["timepoint", "ketamine"]).size().unstack(fill_value=0)
    kept, dropped = [], []
    for tp in sorted(counts.index, key=timepoint_order):
        n_k = int(counts.loc[tp].get(1.0, 0))
        n_p = int(counts.loc[tp].get(0.0, 0))
        (kept if min(n_k, n_p) >= MIN_PER_ARM else dropped).append(
            tp if min(n_k, n_p) >= MIN_PER_ARM else {"timepoint": tp, "n_ketamine": n_k, "n_placebo": n_p}
        )
    return kept, dropped


def _contrasts(names: list[str], timepoints: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of L giving the arm effect at each timepoint (treatment coding, first timepoint the
    reference), and their equal-weight average."""
    rows = []
    for index, tp in enumerate(timepoints):
        row = np.zeros(len(names))
        row[names.index("ketamine")] = 1.0
        if index:
            row[names.index(f"ketamine:C(tp)[T.{tp}]")] = 1.0
        rows.append(row)
    matrix = np.vstack(rows)
    return matrix, matrix.mean(axis=0, keepdims=True)


def _effects(fit: Any, timepoints: list[str]) -> dict[str, Any]:
    # MixedLM tests the fixed effects only (its params also hold the variance components).
    names = list(getattr(fit, "fe_params", fit.params).index)
    matrix, average = _contrasts(names, timepoints)

    def one(test: Any, k: int) -> dict[str, float]:
        ci = np.asarray(test.conf_int(alpha=0.05))
        return {
            "estimate": float(np.ravel(test.effect)[k]),
            "se": float(np.ravel(test.sd)[k]),
            "low": float(ci[k, 0]),
            "high": float(ci[k, 1]),
            "p": float(np.ravel(test.pvalue)[k]),
        }

    per = fit.t_test(matrix, use_t=False)
    avg = fit.t_test(average, use_t=False)
    return {
        "per_timepoint": [{"timepoint": tp, **one(per, k)} for k, tp in enumerate(timepoints)],
        "average": one(avg, 0),
    }


def _formula(rows: pd.DataFrame) -> str:
    formula = "change ~ ketamine * C(tp) + baseline"
    if rows["stratum"].nunique() > 1:
        formula += " + C(stratum)"
    return formula


def fit_gee(rows: pd.DataFrame, timepoints: list[str]) -> dict[str, Any]:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    formula = _formula(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.gee(
            formula,
            groups="participant",
            data=rows,
            cov_struct=sm.cov_struct.Exchangeable(),
            family=sm.families.Gaussian(),
        ).fit()
    return {
        "model": "GEE, exchangeable working correlation, robust (sandwich) SE",
        "formula": formula,
        "working_correlation": float(fit.model.cov_struct.dep_params),
        **_effects(fit, timepoints),
    }


def fit_mixed(rows: pd.DataFrame, timepoints: list[str]) -> dict[str, Any]:
    import statsmodels.formula.api as smf

    formula = _formula(rows)
    # The random slope runs over the schedule's position of the timepoint, scaled to 0..1.
    position = {tp: i / max(1, len(timepoints) - 1) for i, tp in enumerate(timepoints)}
    data = rows.assign(visit=rows["tp"].astype(str).map(position))
    attempts = (
        ("~visit", "random intercept and slope over the schedule per participant"),
        ("~1", "random intercept per participant (the intercept-and-slope model did not converge)"),
    )
    last_error = ""
    for re_formula, covariance in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.mixedlm(formula, data, groups=data["participant"], re_formula=re_formula).fit(
                    reml=True
                )
        except (ValueError, np.linalg.LinAlgError) as exc:
            last_error = str(exc)
            continue
        if not fit.converged and re_formula != "~1":
            continue
        return {
            "model": f"linear mixed model, REML, {covariance}",
            "formula": formula,
            "converged": bool(fit.converged),
            **_effects(fit, timepoints),
        }
    return {"model": "linear mixed model", "fitted": False, "reason": last_error or "did not converge"}


def longitudinal(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    members: Iterable[str],
    strata: Mapping[str, str] | None = None,
    instruments: Iterable[str] = ("hdrs17", "madrs"),
) -> dict[str, Any]:
    members = list(members)
    out: dict[str, Any] = {}
    for instrument in instruments:
        rows = period1_frame(long, participants, instrument, members=members, strata=strata)
        result: dict[str, Any] = {"mmrm": MMRM_NOTE}
        if rows.empty:
            out[instrument] = {**result, "fitted": False, "reason": "no period-1 ratings"}
            continue
        kept, dropped = _kept_timepoints(rows)
        rows = rows[rows["timepoint"].isin(kept)].copy()
        rows["tp"] = pd.Categorical(rows["timepoint"], categories=kept)
        at_g = rows[rows["timepoint"] == G_TIMEPOINT]
        result.update(
            {
                "timepoints": kept,
                "dropped_timepoints": dropped,
                "min_per_arm": MIN_PER_ARM,
                "n_participants": int(rows["participant"].nunique()),
                "n_observations": int(len(rows)),
                "hedges_g_24h": hedges_g(
                    at_g.loc[at_g["ketamine"] == 1, "change"], at_g.loc[at_g["ketamine"] == 0, "change"]
                ),
                "observed_means": [
                    {
                        "timepoint": tp,
                        "ketamine_mean": _mean(rows, tp, 1.0),
                        "ketamine_n": _n(rows, tp, 1.0),
                        "placebo_mean": _mean(rows, tp, 0.0),
                        "placebo_n": _n(rows, tp, 0.0),
                    }
                    for tp in kept
                ],
            }
        )
        if not kept or rows["participant"].nunique() < 4 or rows["ketamine"].nunique() < 2:
            out[instrument] = {
                **result,
                "fitted": False,
                "reason": "fewer than 4 participants or one arm only",
            }
            continue
        try:
            result["gee"] = fit_gee(rows, kept)
        except (ValueError, np.linalg.LinAlgError) as exc:
            result["gee"] = {"fitted": False, "reason": str(exc)}
        result["mixed"] = fit_mixed(rows, kept)
        out[instrument] = {**result, "fitted": True}
    return out


def _mean(rows: pd.DataFrame, tp: str, arm: float) -> float | None:
    values = rows.loc[(rows["timepoint"] == tp) & (rows["ketamine"] == arm), "change"]
    return float(values.mean()) if len(values) else None


def _n(rows: pd.DataFrame, tp: str, arm: float) -> int:
    return int(((rows["timepoint"] == tp) & (rows["ketamine"] == arm)).sum())
