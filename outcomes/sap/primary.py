"""Primary outcome (SAP.md "Primary (period 1)"): response (total <= 50 % of baseline) at any
rating within 24 h after the end of infusion 1 of period 1, HDRS-17 and MADRS separately,
ketamine (KP) vs placebo (PK) on the intention-to-treat set; a missing rating counts as
non-response. Risk difference with Newcombe's hybrid score interval (statsmodels, method 10 of
Newcombe 1998), Fisher's exact test (scipy), odds ratio with Woolf's logit interval (statsmodels
Table2x2; 0.5 added to every cell when one is empty), number needed to treat with the interval
from the risk difference's (Altman 1998, an interval through infinity when the risk difference's
includes 0), Holm across the two scales. Sensitivity: a tipping-point analysis over every way the
missing ratings could have come out, and the per-protocol set."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.sap.common import holm

INSTRUMENTS = ("hdrs17", "madrs")
TIPPING_GRID_MAX = 441  # cells listed in full up to 20 missing per arm; a summary beyond


@dataclass(frozen=True)
class EarlyWindow:
    """'Within the first 24 h after infusion 1': ratings up to the close of the protocol's 24 h
    window (24 h + its tolerance, 28 h by default) after the recorded end of infusion 1 of period
    1; where that end is not recorded, the rating tasks after infusion 1 due within 24 h."""

    cutoff_hours: float
    task_codes: frozenset[str]


def early_window(after_first_infusion: Iterable[Any]) -> EarlyWindow:
    windows = [w for w in after_first_infusion if w.hours <= 24]
    cutoff = max((w.hours + w.tolerance_hours for w in windows), default=24.0)
    return EarlyWindow(cutoff, frozenset(f"p1-{w.hours:g}h-inf1" for w in windows))


DEFAULT_WINDOW = EarlyWindow(28.0, frozenset({"p1-4h-inf1", "p1-24h-inf1"}))


def early_ratings(long: pd.DataFrame, window: EarlyWindow, infusion1_end: Mapping[str, Any]) -> pd.Series:
    """True for the rows that fall in the early window (see EarlyWindow)."""
    period1 = (long["period"] == 1) & (long["timepoint"] != "baseline")
    ends = long["participant"].map(dict(infusion1_end))
    rated = pd.to_datetime(long["rated_at"], utc=True)
    hours = (rated - pd.to_datetime(ends, utc=True)).dt.total_seconds() / 3600
    by_time = ends.notna() & (hours > 0) & (hours <= window.cutoff_hours)
    # The first token of a task code is the timepoint it was planned for (a merged code such as
    # 'p1-predose-2+72h' is the pre-dose rating of infusion 2, not an early one).
    by_code = ends.isna() & long["timepoint"].isin(window.task_codes)
    return period1 & (by_time | by_code)


def number_needed_to_treat(rd: float, low: float, high: float) -> dict[str, Any]:
    """NNT = 1 / RD; benefit when RD > 0 (more responders on ketamine). When the RD interval
    includes 0 the NNT interval runs from NNT(benefit) 1/high through infinity to NNT(harm)
    1/|low| (Altman DG, BMJ 1998;317:1309-12)."""
    if not all(math.isfinite(v) for v in (rd, low, high)) or rd == 0:
        return {"estimate": None, "kind": None, "low": None, "high": None, "through_infinity": None}
    kind = "benefit" if rd > 0 else "harm"
    if low > 0 or high < 0:
        bounds = sorted((1 / abs(low), 1 / abs(high)))
        return {
            "estimate": 1 / abs(rd),
            "kind": kind,
            "low": bounds[0],
            "high": bounds[1],
            "through_infinity": False,
        }
    return {
        "estimate": 1 / abs(rd),
        "kind": kind,
        "benefit_from": 1 / high if high > 0 else None,
        "harm_from": 1 / abs(low) if low < 0 else None,
        "through_infinity": True,
    }


def binary_comparison(a: int, n1: int, c: int, n2: int) -> dict[str, Any]:
    """Ketamine a/n1 vs placebo c/n2."""
    from statsmodels.stats.contingency_tables import Table2x2
    from statsmodels.stats.proportion import confint_proportions_2indep

    out: dict[str, Any] = {
        "responders_ketamine": a,
        "n_ketamine": n1,
        "responders_placebo": c,
        "n_placebo": n2,
        "rate_ketamine": a / n1 if n1 else None,
        "rate_placebo": c / n2 if n2 else None,
    }
    if not (n1 and n2):
        return {**out, "risk_difference": None, "ci95_low": None, "ci95_high": None, "fisher_p": None}
    rd = a / n1 - c / n2
    low, high = confint_proportions_2indep(a, n1, c, n2, method="newcomb", compare="diff")
    table = np.array([[a, n1 - a], [c, n2 - c]], dtype=float)
    # Haldane-Anscombe: 0.5 added to every cell when one is empty (statsmodels' shift_zeros
    # would shift the empty cells only).
    odds = Table2x2(table + 0.5 if (table == 0).any() else table)
    or_low, or_high = odds.oddsratio_confint()
    return {
        **out,
        "risk_difference": rd,
        "ci95_low": float(low),
        "ci95_high": float(high),
        "fisher_p": float(stats.fisher_exact(table.astype(int), alternative="two-sided").pvalue),
        "odds_ratio": float(odds.oddsratio),
        "odds_ratio_low": float(or_low),
        "odds_ratio_high": float(or_high),
        "odds_ratio_zero_cell_corrected": bool((table == 0).any()),
        "nnt": number_needed_to_treat(rd, float(low), float(high)),
    }


def tipping_point(a: int, n1: int, m1: int, c: int, n2: int, m2: int, alpha: float = 0.05) -> dict[str, Any]:
    """Every way the m1 (ketamine) and m2 (placebo) missing primary ratings could have come out:
    i of m1 and j of m2 imputed as responders (a and c count observed responders only).
    Reports the two extremes, how many of the (m1 + 1)(m2 + 1) outcomes are significant at
    alpha, and the grid itself while it is small."""
    cells = []
    for i in range(m1 + 1):
        for j in range(m2 + 1):
            p = float(stats.fisher_exact([[a + i, n1 - a - i], [c + j, n2 - c - j]]).pvalue)
            cells.append((i, j, (a + i) / n1 - (c + j) / n2, p))
    significant = sum(p < alpha for *_r, p in cells)
    worst = next(cell for cell in cells if cell[0] == 0 and cell[1] == m2)
    best = next(cell for cell in cells if cell[0] == m1 and cell[1] == 0)
    return {
        "missing_ketamine": m1,
        "missing_placebo": m2,
        "cells": len(cells),
        "significant_cells": significant,
        "alpha": alpha,
        "worst_case": {"risk_difference": worst[2], "fisher_p": worst[3]},
        "best_case": {"risk_difference": best[2], "fisher_p": best[3]},
        "grid": [list(cell) for cell in cells] if len(cells) <= TIPPING_GRID_MAX else None,
    }


def primary(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    members: Iterable[str] | None = None,
    window: EarlyWindow | None = None,
    infusion1_end: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Per instrument: responders within 24 h after infusion 1, ketamine (KP) vs placebo (PK),
    among `members` (default: every randomized participant); then Holm across the scales."""
    window = window or DEFAULT_WINDOW
    randomized = participants[participants["sequence"].isin(["KP", "PK"])]
    chosen = set(randomized["participant"]) if members is None else set(members)
    early_rows = early_ratings(long, window, infusion1_end or {}) if len(long) else pd.Series(dtype=bool)
    out: dict[str, Any] = {}
    for instrument in INSTRUMENTS:
        mine = long["instrument"] == instrument
        rated = long[mine & early_rows & long["total"].notna()]
        responders = set(rated.loc[rated["response"].eq(True), "participant"])
        # A rating without a baseline has no response to give: it counts as missing.
        observed = set(rated.loc[rated["response"].notna(), "participant"])
        counts, missing = {}, {}
        for seq in ("KP", "PK"):
            group = set(randomized.loc[randomized["sequence"] == seq, "participant"]) & chosen
            counts[seq] = (len(group & responders), len(group))
            missing[seq] = sorted(group - observed)
        (a, n1), (c, n2) = counts["KP"], counts["PK"]
        result = binary_comparison(a, n1, c, n2)
        result["responders"] = sorted(responders & chosen)
        result["missing"] = missing
        result["window_hours"] = window.cutoff_hours
        if n1 and n2:
            result["tipping_point"] = tipping_point(a, n1, len(missing["KP"]), c, n2, len(missing["PK"]))
        out[instrument] = result
    adjusted = holm({k: v.get("fisher_p") for k, v in out.items()})
    for instrument, p in adjusted.items():
        out[instrument]["fisher_p_holm"] = p
    return out
