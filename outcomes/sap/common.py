"""Shared pieces: the schedule's order of timepoints, Holm's adjustment, effect sizes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from outcomes.timepoints import timepoint_order

Z95 = float(stats.norm.ppf(0.975))
ARMS = {"KP": "ketamine", "PK": "placebo"}
__all__ = ["ARMS", "Z95", "hedges_g", "holm", "one_sample", "timepoint_order", "welch"]


def holm(pvalues: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjustment (statsmodels) over the p-values that exist; a missing p stays
    missing and does not count in the family."""
    from statsmodels.stats.multitest import multipletests

    keys = [k for k, p in pvalues.items() if p is not None and math.isfinite(p)]
    out: dict[str, float | None] = dict.fromkeys(pvalues)
    if keys:
        adjusted = multipletests([pvalues[k] for k in keys], method="holm")[1]
        out.update({k: float(a) for k, a in zip(keys, adjusted, strict=True)})
    return out


def hedges_g(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Standardized mean difference x - y with Hedges' small-sample correction J and its large-
    sample variance (Borenstein et al., Introduction to Meta-Analysis, 2009, ch. 4):
    d = (mx - my) / s_within, V_d = (n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2)),
    J = 1 - 3 / (4 df - 1), g = J d, V_g = J^2 V_d; 95 % CI g +- 1.96 sqrt(V_g)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return {"estimate": None, "low": None, "high": None, "n1": n1, "n2": n2}
    df = n1 + n2 - 2
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / df)
    if pooled == 0:
        return {"estimate": None, "low": None, "high": None, "n1": n1, "n2": n2}
    d = (x.mean() - y.mean()) / pooled
    var_d = (n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2))
    j = 1 - 3 / (4 * df - 1)
    g, se = j * d, j * math.sqrt(var_d)
    return {"estimate": g, "se": se, "low": g - Z95 * se, "high": g + Z95 * se, "n1": n1, "n2": n2}


def welch(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Difference of means x - y with Welch's t interval and test (scipy)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        return {"estimate": None, "low": None, "high": None, "p": None, "n1": len(x), "n2": len(y)}
    test = stats.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(0.95)
    return {
        "estimate": float(x.mean() - y.mean()),
        "low": float(ci.low),
        "high": float(ci.high),
        "p": float(test.pvalue),
        "n1": len(x),
        "n2": len(y),
    }


def one_sample(x: Sequence[float]) -> dict[str, Any]:
    """Mean with its t interval and the test of a zero mean (scipy)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return {
            "estimate": float(x.mean()) if len(x) else None,
            "low": None,
            "high": None,
            "p": None,
            "n": len(x),
        }
    test = stats.ttest_1samp(x, 0.0)
    ci = test.confidence_interval(0.95)
    return {
        "estimate": float(x.mean()),
        "sd": float(x.std(ddof=1)),
        "low": float(ci.low),
        "high": float(ci.high),
        "p": float(test.pvalue),
        "n": len(x),
    }
