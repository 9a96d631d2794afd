"""Relapse (SAP.md "Relapse (follow-up)").

Population: participants who responded during the study (main definition: a response on MADRS,
the relapse scale, at any rating after baseline; sensitivity: a MADRS response 24 h after the
end of the last ketamine infusion, whichever period that was). Time zero is the start of
follow-up, the recorded end of the last study infusion; the event is a relapse (the live
product-blind rule: two consecutive follow-up MADRS >= 22, or a relapse event); censored at the
last follow-up rating or `horizon_days` (12 weeks) after time zero, whichever is first.

The last study infusion is placebo for KP and ketamine for PK (with period2_equal_length off,
KP's period 2 also ends earlier): a comparison by sequence from time zero compares different
times since the last ketamine infusion. The Cox model therefore has the time since the end of the
last ketamine infusion (weeks, at time zero) as a covariate next to the sequence; the two are
strongly correlated by design, and the report shows the correlation.

statsmodels provides every method: Kaplan-Meier (SurvfuncRight) with Greenwood standard errors
and pointwise log(-log) 95 % intervals, the median with its log(-log) interval (Brookmeyer-
Crowley), the log-rank test (survdiff) and the Cox model (PHReg, Breslow ties)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from outcomes.sap.common import Z95

NO_END = "no recorded end of the last study infusion"
RELAPSE_BEFORE = "relapse before follow-up started"
NO_FOLLOW_UP = "no follow-up rating yet"
NO_SEQUENCE = "not randomized"


@dataclass(frozen=True)
class Course:
    """What the analysis needs of one responder (built from the records by analysis_runs)."""

    participant: str
    sequence: str | None
    follow_up_start: datetime | None  # end of the last study infusion
    last_ketamine_end: datetime | None
    relapse_at: datetime | None
    last_follow_up_rating: datetime | None


def relapse_frame(
    courses: Iterable[Course], *, horizon_days: float
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    rows, excluded = [], []
    for c in sorted(courses, key=lambda c: c.participant):
        if c.sequence not in ("KP", "PK"):
            excluded.append({"participant": c.participant, "reason": NO_SEQUENCE})
            continue
        if c.follow_up_start is None:
            excluded.append({"participant": c.participant, "reason": NO_END})
            continue
        start = c.follow_up_start
        if c.relapse_at is not None and c.relapse_at < start:
            excluded.append({"participant": c.participant, "reason": RELAPSE_BEFORE})
            continue
        if c.relapse_at is not None and (c.relapse_at - start).total_seconds() / 86400 <= horizon_days:
            days, event = (c.relapse_at - start).total_seconds() / 86400, True
        elif c.last_follow_up_rating is not None and c.last_follow_up_rating > start:
            days, event = min(horizon_days, (c.last_follow_up_rating - start).total_seconds() / 86400), False
        else:
            excluded.append({"participant": c.participant, "reason": NO_FOLLOW_UP})
            continue
        since = (
            (start - c.last_ketamine_end).total_seconds() / (7 * 86400) if c.last_ketamine_end else math.nan
        )
        rows.append(
            {
                "participant": c.participant,
                "sequence": c.sequence,
                "days": days,
                "relapsed": event,
                "weeks_since_ketamine": since,
            }
        )
    return (
        pd.DataFrame(rows, columns=["participant", "sequence", "days", "relapsed", "weeks_since_ketamine"]),
        excluded,
    )


def kaplan_meier(days: np.ndarray, events: np.ndarray) -> dict[str, Any]:
    from statsmodels.duration.survfunc import SurvfuncRight

    days, events = np.asarray(days, float), np.asarray(events, int)
    if len(days) == 0:
        return {"n": 0, "events": 0, "table": [], "median": None}
    sf = SurvfuncRight(days, events)
    table = []
    for t, s, se, n_risk, d in zip(
        sf.surv_times, sf.surv_prob, sf.surv_prob_se, sf.n_risk, sf.n_events, strict=True
    ):
        if d == 0:
            continue
        low = high = None
        if 0 < s < 1 and se > 0:
            # Pointwise interval on log(-log S) (the "exponential Greenwood" interval).
            spread = Z95 * se / (s * abs(math.log(s)))
            low, high = s ** math.exp(spread), s ** math.exp(-spread)
        table.append(
            {
                "day": float(t),
                "at_risk": int(n_risk),
                "events": int(d),
                "survival": float(s),
                "greenwood_se": float(se),
                "low": low,
                "high": high,
            }
        )
    median = sf.quantile(0.5)
    try:
        low, high = sf.quantile_ci(0.5, method="cloglog")
    except (ValueError, ZeroDivisionError, FloatingPointError):
        low = high = math.nan
    return {
        "n": int(len(days)),
        "events": int(events.sum()),
        "table": table,
        "median": _finite(median),
        "median_low": _finite(low),
        "median_high": _finite(high),
    }


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def log_rank(frame: pd.DataFrame) -> dict[str, Any]:
    from statsmodels.duration.survfunc import survdiff

    if frame["sequence"].nunique() != 2 or not frame["relapsed"].any():
        return {"chi2": None, "p": None}
    chi2, p = survdiff(
        frame["days"].to_numpy(float), frame["relapsed"].astype(int).to_numpy(), frame["sequence"].to_numpy()
    )
    return {"chi2": float(chi2), "p": float(p)}


def cox(frame: pd.DataFrame, covariates: list[str]) -> dict[str, Any]:
    from statsmodels.duration.hazard_regression import PHReg

    data = frame.assign(kp=(frame["sequence"] == "KP").astype(float)).dropna(subset=covariates)
    if data["relapsed"].sum() < 2 or data["kp"].nunique() < 2:
        return {"fitted": False, "reason": "fewer than 2 relapses or one sequence only"}
    try:
        fit = PHReg(
            data["days"].to_numpy(float),
            data[covariates].to_numpy(float),
            status=data["relapsed"].astype(int).to_numpy(),
            ties="breslow",
        ).fit()
    except (ValueError, np.linalg.LinAlgError) as exc:
        return {"fitted": False, "reason": str(exc)}
    with np.errstate(invalid="ignore"):
        se = np.asarray(fit.bse, float)
    if not np.all(np.isfinite(se)):
        return {"fitted": False, "reason": "not estimable: the covariates are collinear in these data"}
    ci = np.asarray(fit.conf_int())
    terms = {}
    for k, name in enumerate(covariates):
        terms[name] = {
            "coef": float(fit.params[k]),
            "se": float(se[k]),
            "hazard_ratio": float(math.exp(fit.params[k])),
            "low": float(math.exp(ci[k, 0])),
            "high": float(math.exp(ci[k, 1])),
            "p": float(fit.pvalues[k]),
        }
    return {"fitted": True, "n": int(len(data)), "events": int(data["relapsed"].sum()), "terms": terms}


def relapse_analysis(
    frame: pd.DataFrame, excluded: list[dict[str, str]], *, definition: str
) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for e in excluded:
        reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
    out: dict[str, Any] = {
        "definition": definition,
        "n": int(len(frame)),
        "excluded": excluded,
        "excluded_by_reason": dict(sorted(reasons.items())),
        "curves": {
            seq: kaplan_meier(rows["days"].to_numpy(), rows["relapsed"].to_numpy())
            for seq, rows in frame.groupby("sequence")
        },
    }
    if frame.empty:
        return out
    out["log_rank"] = log_rank(frame)
    out["cox_sequence"] = cox(frame, ["kp"])
    out["cox_adjusted"] = cox(frame, ["kp", "weeks_since_ketamine"])
    both = frame.dropna(subset=["weeks_since_ketamine"])
    if len(both) > 2 and both["weeks_since_ketamine"].std() > 0 and both["sequence"].nunique() == 2:
        out["correlation_sequence_time_since_ketamine"] = float(
            np.corrcoef((both["sequence"] == "KP").astype(float), both["weeks_since_ketamine"])[0, 1]
        )
    return out


def responders(long: pd.DataFrame, *, instrument: str = "madrs") -> set[str]:
    """Main definition: a response at any rating after baseline (PROTOCOL.md's live rule)."""
    rows = long[(long["instrument"] == instrument) & (long["timepoint"] != "baseline")]
    return set(rows.loc[rows["response"].eq(True), "participant"])


def responders_after_last_ketamine(
    long: pd.DataFrame, last_ketamine: Mapping[str, tuple[int, int]]
) -> set[str]:
    """Sensitivity definition: a MADRS response at the 24 h rating after the last ketamine
    infusion ((period, number) per participant)."""
    out = set()
    rows = long[(long["instrument"] == "madrs") & long["response"].eq(True)]
    for code, (period, number) in last_ketamine.items():
        mine = rows[rows["participant"] == code]
        if (mine["timepoint"].astype(str).str.split("+").str[0] == f"p{period}-24h-inf{number}").any():
            out.add(code)
    return out
