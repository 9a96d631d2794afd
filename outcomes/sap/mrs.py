"""MRS (SAP.md "MRS"; protocol-source.txt key questions 2 and 3), per period and by product.

For each period, the change from the period's baseline scan to the scan 24 h after the period's
last infusion, in Glu (short-TE PRESS, when present), Glx and GABA+ (MEGA-PRESS), relative to tCr
and in institutional units:
- key question 2: in the participants who responded to ketamine in that period (a MADRS
  response at any rating of the period), the mean change with its t interval;
- key question 3: that change against the participants who received placebo in that period,
  and ketamine against placebo overall: ANCOVA of the 24 h value on the baseline value and the
  group (and the randomization stratum when there is more than one), ordinary least squares.
Holm's adjustment within each family (GABA+ measures; glutamate measures) per question and
period. Scans that failed the quality limits are left out and counted; the same analysis with
them is shown next to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from outcomes.sap.common import holm, one_sample

MEASURES = (
    ("glu_cr", "press", "glutamate"),
    ("glu_iu", "press", "glutamate"),
    ("glx_cr", "mega", "glutamate"),
    ("glx_iu", "mega", "glutamate"),
    ("gaba_plus_cr", "mega", "gaba"),
    ("gaba_plus_iu", "mega", "gaba"),
)


def _scan(mrs: pd.DataFrame, method: str, code: str, *, with_failed: bool) -> pd.DataFrame:
    """The newest scan per participant whose session served `code` (a merged session such as
    'p1-mrs-1w+p2-mrs-baseline' serves both)."""
    served = mrs["timepoint"].fillna("").astype(str).str.split("+").map(lambda parts: code in parts)
    rows = mrs[served & (mrs["method"] == method)]
    if not with_failed and "qc_pass" in rows.columns:
        rows = rows[rows["qc_pass"].fillna(False).astype(bool)]
    return rows.drop_duplicates("participant", keep="last").set_index("participant")


def _ancova(frame: pd.DataFrame, group: str) -> dict[str, Any]:
    import statsmodels.formula.api as smf

    if frame[group].nunique() < 2 or len(frame) < 4:
        return {"estimate": None, "low": None, "high": None, "p": None, "n": int(len(frame))}
    formula = f"post ~ base + {group}" + (" + C(stratum)" if frame["stratum"].nunique() > 1 else "")
    fit = smf.ols(formula, frame).fit()
    low, high = fit.conf_int().loc[group]
    return {
        "estimate": float(fit.params[group]),
        "low": float(low),
        "high": float(high),
        "p": float(fit.pvalues[group]),
        "n": int(len(frame)),
        "n_group": int(frame[group].sum()),
    }


def mrs_analysis(
    mrs: pd.DataFrame,
    *,
    product: Mapping[tuple[str, int], str],
    responders: Mapping[int, set[str]],
    strata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """product: (participant, period) -> 'ketamine' | 'placebo'; responders: period -> codes."""
    out: dict[str, Any] = {}
    if mrs.empty:
        return out
    for period in (1, 2):
        for variant, with_failed in (("qc_passed", False), ("all_scans", True)):
            measures: dict[str, Any] = {}
            for measure, method, family in MEASURES:
                if measure not in mrs.columns:
                    continue
                base = _scan(mrs, method, f"p{period}-mrs-baseline", with_failed=with_failed)
                post = _scan(mrs, method, f"p{period}-mrs-24h", with_failed=with_failed)
                both = sorted(set(base.index) & set(post.index))
                frame = pd.DataFrame(
                    {
                        "base": [base.at[c, measure] for c in both],
                        "post": [post.at[c, measure] for c in both],
                        "product": [product.get((c, period)) for c in both],
                        "stratum": [(strata or {}).get(c, "") for c in both],
                    },
                    index=both,
                ).dropna(subset=["base", "post", "product"])
                frame[["base", "post"]] = frame[["base", "post"]].astype(float)
                frame["change"] = frame["post"] - frame["base"]
                frame["ketamine"] = (frame["product"] == "ketamine").astype(float)
                frame["responder"] = [c in responders.get(period, set()) for c in frame.index]
                kr = frame[(frame["ketamine"] == 1) & frame["responder"]]
                vs_placebo = frame[((frame["ketamine"] == 1) & frame["responder"]) | (frame["ketamine"] == 0)]
                measures[measure] = {
                    "family": family,
                    "n": int(len(frame)),
                    "failed_scans_left_out": int(_failed(mrs, method, period) if not with_failed else 0),
                    "by_product": {
                        name: one_sample(frame.loc[frame["product"] == name, "change"])
                        for name in ("ketamine", "placebo")
                    },
                    "q2_responders_change": one_sample(kr["change"]),
                    "q3_responders_vs_placebo": _ancova(vs_placebo, "ketamine"),
                    "ketamine_vs_placebo": _ancova(frame, "ketamine"),
                }
            for key in ("q2_responders_change", "q3_responders_vs_placebo", "ketamine_vs_placebo"):
                for family in ("gaba", "glutamate"):
                    names = [m for m, v in measures.items() if v["family"] == family]
                    adjusted = holm({m: measures[m][key].get("p") for m in names})
                    for m in names:
                        measures[m][key]["p_holm"] = adjusted[m]
            out[f"period{period}:{variant}"] = measures
    return out


def _failed(mrs: pd.DataFrame, method: str, period: int) -> int:
    if "qc_pass" not in mrs.columns:
        return 0
    served = (
        mrs["timepoint"]
        .fillna("")
        .astype(str)
        .str.split("+")
        .map(lambda parts: f"p{period}-mrs-baseline" in parts or f"p{period}-mrs-24h" in parts)
    )
    rows = mrs[served & (mrs["method"] == method)]
    return int((~rows["qc_pass"].fillna(False).astype(bool)).sum())
