"""Analysis sets (SAP.md "Analysis sets"): who is in each and why each other randomized
participant is not. Every exclusion is listed with its reason, never silent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

ITT, MITT, PP, SAFETY = "itt", "mitt", "per_protocol", "safety"

# Major deviations the system can see (SAP.md); "wrong product given" cannot happen through it:
# every syringe is prepared by the pharmacist from the participant's own allocation.
MISSED_INFUSION_1 = "infusion 1 of period 1 not given"
PRIMARY_OUT_OF_WINDOW = "primary rating out of window"
UNBLINDED_BEFORE_PRIMARY = "emergency unblinding before the primary rating"
NOT_RANDOMIZED = "not randomized"
NO_INFUSION = "no infusion given"
NO_POST_BASELINE = "no post-baseline rating"
MAJOR_DEVIATION = "major protocol deviation (deviation log)"


@dataclass(frozen=True)
class AnalysisSet:
    name: str
    members: frozenset[str]
    excluded: tuple[tuple[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for _code, reason in self.excluded:
            reasons[reason] = reasons.get(reason, 0) + 1
        return {
            "n": len(self.members),
            "excluded": [{"participant": c, "reason": r} for c, r in self.excluded],
            "excluded_by_reason": dict(sorted(reasons.items())),
        }


def _post_baseline(long: pd.DataFrame) -> set[str]:
    """Participants with a rating after treatment began: anything but the baseline visit and
    the pre-dose rating of infusion 1 of period 1 (both before any product)."""
    if long.empty:
        return set()
    after = ~long["timepoint"].isin(["baseline", "p1-predose-1"]) & long["total"].notna()
    return set(long.loc[after, "participant"])


def analysis_sets(
    participants: pd.DataFrame,
    long: pd.DataFrame,
    *,
    given: Mapping[str, set[tuple[int, int]]],
    infusion1_end: Mapping[str, datetime],
    unblinded_at: Mapping[str, datetime],
    primary_window_hours: float,
    primary_timepoints: frozenset[str],
    major_deviations: Mapping[str, list[str]] | None = None,
) -> dict[str, AnalysisSet]:
    everyone = list(participants["participant"])
    seq = participants.set_index("participant")["sequence"].to_dict()
    itt = {c for c in everyone if seq.get(c) in ("KP", "PK")}
    excluded_itt = tuple((c, NOT_RANDOMIZED) for c in everyone if c not in itt)
    rated_after = _post_baseline(long)
    mitt, excluded_mitt = set(), []
    for code in sorted(itt):
        if not given.get(code):
            excluded_mitt.append((code, NO_INFUSION))
        elif code not in rated_after:
            excluded_mitt.append((code, NO_POST_BASELINE))
        else:
            mitt.add(code)
    primary_rows = (
        long[long["timepoint"].isin(primary_timepoints) & long["total"].notna()] if len(long) else long
    )
    out_of_window = set(
        primary_rows.loc[primary_rows["out_of_window"].fillna(False).astype(bool), "participant"]
    )
    pp, excluded_pp = set(), []
    for code in sorted(mitt):
        end = infusion1_end.get(code)
        unblinded = unblinded_at.get(code)
        if (1, 1) not in given.get(code, set()):
            excluded_pp.append((code, MISSED_INFUSION_1))
        elif code in out_of_window:
            excluded_pp.append((code, PRIMARY_OUT_OF_WINDOW))
        elif unblinded is not None and (
            end is None or unblinded <= end + timedelta(hours=primary_window_hours)
        ):
            excluded_pp.append((code, UNBLINDED_BEFORE_PRIMARY))
        elif (major_deviations or {}).get(code):
            excluded_pp.append((code, f"{MAJOR_DEVIATION}: {', '.join(sorted(set(major_deviations[code])))}"))
        else:
            pp.add(code)
    safety = {c for c in itt if given.get(c)}
    excluded_safety = tuple((c, NO_INFUSION) for c in sorted(itt - safety))
    return {
        ITT: AnalysisSet(ITT, frozenset(itt), excluded_itt),
        MITT: AnalysisSet(MITT, frozenset(mitt), tuple(excluded_mitt)),
        PP: AnalysisSet(PP, frozenset(pp), tuple(excluded_pp)),
        SAFETY: AnalysisSet(SAFETY, frozenset(safety), excluded_safety),
    }
