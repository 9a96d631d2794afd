"""Period 2's comparable part (SAP.md "Crossover part"): the 4 h and 24 h ratings after the
first infusion of each period, the only part of period 2 both sequences share in form.

Continuous outcome: the change at 4 h / 24 h from the period's own pre-dose rating of infusion
1 (sensitivity: from the study baseline). Hills-Armitage: with d = (period 1 - period 2) / 2 per
participant, the treatment effect (ketamine - placebo) is mean(d | KP) - mean(d | PK) and the
period effect (period 1 - period 2) mean(d | KP) + mean(d | PK), each with the pooled two-sample
t interval and test (n_KP + n_PK - 2 df; Hills M, Armitage P, Br J Clin Pharmacol 1979;8:7-20).
Carry-over (sequence effect on the sum of both periods) is shown descriptively only: choosing the
analysis by a carry-over test (the two-stage procedure) is biased, and KP's period 2 is expected
to carry over (the SAP's design facts).

Binary outcome: response (total <= 50 % of the period's own pre-dose). Mainland-Gart: Fisher's
exact test on the participants who responded in one period only (rows sequence, columns which
period). Prescott's test also counts those who responded in both periods or neither: the
linear-by-linear trend over (period-1 response - period-2 response) = -1, 0, +1 by sequence,
with its conditional (permutation) variance, chi-square on 1 df (Prescott RJ, Appl Stat
1981;30:9-15; Jones B, Kenward MG, Design and Analysis of Cross-Over Trials, 3rd ed., 2.13)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

HOURS = ("4h", "24h")


def _totals(long: pd.DataFrame, instrument: str) -> pd.DataFrame:
    rows = long[(long["instrument"] == instrument) & long["total"].notna()]
    rows = rows.drop_duplicates(["participant", "timepoint"])
    return rows.pivot(index="participant", columns="timepoint", values="total").astype(float)


def pairs(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    instrument: str,
    hours: str,
    *,
    members: Iterable[str],
    reference: str,
) -> pd.DataFrame:
    """One row per participant with both periods: sequence, y1, y2 (change), r1, r2 (response).
    reference 'predose': each period from its own pre-dose of infusion 1; 'baseline': both from
    the study baseline."""
    wide = _totals(long, instrument)
    seq = participants.set_index("participant")["sequence"]
    rows = []
    for code in sorted(set(members) & set(wide.index)):
        row = wide.loc[code]
        values = {}
        for period in (1, 2):
            after = row.get(f"p{period}-{hours}-inf1")
            base = row.get(f"p{period}-predose-1") if reference == "predose" else row.get("baseline")
            values[period] = (after, base)
        if any(v is None or not math.isfinite(v) for pair in values.values() for v in pair):
            continue
        if any(base <= 0 for _after, base in values.values()):
            continue
        rows.append(
            {
                "participant": code,
                "sequence": seq.get(code),
                "y1": values[1][0] - values[1][1],
                "y2": values[2][0] - values[2][1],
                "r1": values[1][0] <= values[1][1] / 2,
                "r2": values[2][0] <= values[2][1] / 2,
            }
        )
    frame = pd.DataFrame(rows, columns=["participant", "sequence", "y1", "y2", "r1", "r2"])
    return frame[frame["sequence"].isin(["KP", "PK"])]


def _two_sample(x: np.ndarray, y: np.ndarray, *, sign: float) -> dict[str, Any]:
    """mean(x) + sign * mean(y) with the pooled-variance t interval and test."""
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return {"estimate": None, "low": None, "high": None, "p": None, "df": None}
    df = n1 + n2 - 2
    pooled = ((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / df
    se = math.sqrt(pooled * (1 / n1 + 1 / n2))
    estimate = float(x.mean() + sign * y.mean())
    q = float(stats.t.ppf(0.975, df))
    p = float(2 * stats.t.sf(abs(estimate / se), df)) if se > 0 else None
    return {
        "estimate": estimate,
        "se": se,
        "low": estimate - q * se,
        "high": estimate + q * se,
        "p": p,
        "df": df,
    }


def hills_armitage(frame: pd.DataFrame) -> dict[str, Any]:
    kp = frame[frame["sequence"] == "KP"]
    pk = frame[frame["sequence"] == "PK"]
    d_kp = ((kp["y1"] - kp["y2"]) / 2).to_numpy(float)
    d_pk = ((pk["y1"] - pk["y2"]) / 2).to_numpy(float)
    sums_kp = (kp["y1"] + kp["y2"]).to_numpy(float)
    sums_pk = (pk["y1"] + pk["y2"]).to_numpy(float)
    return {
        "n_kp": len(kp),
        "n_pk": len(pk),
        "treatment": _two_sample(d_kp, d_pk, sign=-1.0),
        "period": _two_sample(d_kp, d_pk, sign=+1.0),
        # Descriptive only: (mean sum KP - mean sum PK) / 2, the carry-over difference.
        "carry_over_descriptive": {
            k: (v / 2 if isinstance(v, float) and k in ("estimate", "se", "low", "high") else v)
            for k, v in _two_sample(sums_kp, sums_pk, sign=-1.0).items()
        },
    }


def mainland_gart(frame: pd.DataFrame) -> dict[str, Any]:
    # Rows: sequence KP, PK; columns: responded in period 1 only, in period 2 only.
    table = [
        [
            int(((frame["sequence"] == s) & frame["r1"] & ~frame["r2"]).sum()),
            int(((frame["sequence"] == s) & ~frame["r1"] & frame["r2"]).sum()),
        ]
        for s in ("KP", "PK")
    ]
    n = sum(map(sum, table))
    p = float(stats.fisher_exact(table).pvalue) if n else None
    return {"table": table, "n_discordant": n, "fisher_p": p}


def prescott(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows KP, PK; columns (period-1 response - period-2 response) = -1, 0, +1."""
    diff = frame["r1"].astype(int) - frame["r2"].astype(int)
    table = np.array(
        [[int(((frame["sequence"] == s) & (diff == k)).sum()) for k in (-1, 0, 1)] for s in ("KP", "PK")],
        dtype=float,
    )
    n = table.sum()
    n1 = table[0].sum()
    cols = table.sum(axis=0)
    if n < 2 or n1 == 0 or n1 == n:
        return {"table": table.astype(int).tolist(), "chi2": None, "p": None}
    observed = table[0, 2] - table[0, 0]
    expected = n1 * (cols[2] - cols[0]) / n
    variance = n1 * (n - n1) * ((cols[2] + cols[0]) - (cols[2] - cols[0]) ** 2 / n) / (n * (n - 1))
    if variance <= 0:
        return {"table": table.astype(int).tolist(), "chi2": None, "p": None}
    chi2 = (observed - expected) ** 2 / variance
    return {"table": table.astype(int).tolist(), "chi2": float(chi2), "p": float(stats.chi2.sf(chi2, 1))}


def crossover(
    long: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    members: Iterable[str],
    instruments: Iterable[str] = ("hdrs17", "madrs"),
) -> dict[str, Any]:
    members = list(members)
    out: dict[str, Any] = {}
    for instrument in instruments:
        per: dict[str, Any] = {}
        for hours in HOURS:
            entry: dict[str, Any] = {}
            for reference in ("predose", "baseline"):
                frame = pairs(long, participants, instrument, hours, members=members, reference=reference)
                entry[reference] = {
                    "continuous": hills_armitage(frame),
                    "binary": {"mainland_gart": mainland_gart(frame), "prescott": prescott(frame)},
                }
            per[hours] = entry
        out[instrument] = per
    return out
