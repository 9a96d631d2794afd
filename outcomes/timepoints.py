"""The schedule's one order of rating timepoints (pure, no numpy: pages import it)."""

from __future__ import annotations

import math
import re

_TOKEN = re.compile(
    r"^p(?P<period>\d+)-(?:predose-(?P<pre>\d+)|(?P<h>\d+(?:\.\d+)?)h-inf(?P<inf>\d+)|1w-inf(?P<w>\d+))"
)


def timepoint_order(code: str) -> tuple[float, float, float]:
    """Sort key of a rating timepoint in the order of the schedule (period, infusion, hours after
    it), not the alphabet: 'p1-predose-2+72h' is the pre-dose rating of infusion 2 (its first
    token is the timepoint it was planned for), after 'p1-24h-inf1' and before 'p1-4h-inf2'."""
    if code == "baseline":
        return (0.0, 0.0, 0.0)
    match = _TOKEN.match(code)
    if match is None:
        return (math.inf, math.inf, math.inf)
    period = float(match["period"])
    if match["pre"]:
        return (period, float(match["pre"]), -1.0)
    if match["inf"]:
        return (period, float(match["inf"]), float(match["h"]))
    return (period, float(match["w"]), 168.0)
