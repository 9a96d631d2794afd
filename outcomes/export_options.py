"""Export options: which forms and visits a package holds, how participants are named in it and
whether their dates are moved. Pure (no Django, no pandas: the exports page reads it);
outcomes/deidentify.py applies the options to a data set.

An option can only take away, never add: the package is cut from the reader's data set
(outcomes.dataset.build, already limited to what the reader's blinding level allows), and an option
beyond the level (a blinded reader asking for period 2 or for adverse events) is refused.

Identifiers:
- ``stored``: the participant codes (INNN-001).
- ``removed``: a random pseudonym per export (P0001, ... in random order); the key is not kept, so
  two exports cannot be linked by it and nobody can go back to the code.
- ``keyed``: HMAC-SHA256 of the participant code under ``settings.EXPORT_PSEUDONYM_KEY``: the same
  pseudonym in every export, and one nobody can recompute without the key (a plain hash of
  INNN-001 is found by hashing the few thousand possible codes).
The randomization number is a key into the site's records, so it goes with the codes.

Date shift: every date and date-time of a participant is moved by the same whole number of days,
drawn from the same keyed HMAC (other bytes than the pseudonym's), between 1 and
DATE_SHIFT_MAX_DAYS either way: intervals within a participant are kept, the calendar is not. The
offsets are never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Any

from outcomes.levels import UNBLINDED

# Forms (what the package may hold) and which blinding levels may have each: dissociation and the
# adverse-event pattern follow the product, so only the unblinded data set has them.
HDRS17, MADRS, MRS, PARTICIPANTS, INFUSION, ADVERSE_EVENTS = (
    "hdrs17",
    "madrs",
    "mrs",
    "participants",
    "infusion",
    "adverse_events",
)
RATING_FORMS = (HDRS17, MADRS)
BLINDED_FORMS = (HDRS17, MADRS, MRS, PARTICIPANTS)
UNBLINDED_FORMS = (*BLINDED_FORMS, INFUSION, ADVERSE_EVENTS)

# Visits, by the period of a row: screening and baseline (period 0; the MRS scan before the first
# infusion), period 1, and period 2 with the follow-up (unblinded only: their shape differs by
# sequence).
BASELINE, PERIOD1, LATER = "baseline", "period1", "later"
BLINDED_VISITS = (BASELINE, PERIOD1)
UNBLINDED_VISITS = (*BLINDED_VISITS, LATER)

STORED, REMOVED, KEYED = "stored", "removed", "keyed"
IDENTIFIERS = (STORED, REMOVED, KEYED)

DATE_SHIFT_MAX_DAYS = 180
MRS_BASELINE = "p1-mrs-baseline"  # the scan before the first infusion: part of the baseline visit


def allowed_forms(blinding: str) -> tuple[str, ...]:
    return UNBLINDED_FORMS if blinding == UNBLINDED else BLINDED_FORMS


def allowed_visits(blinding: str) -> tuple[str, ...]:
    return UNBLINDED_VISITS if blinding == UNBLINDED else BLINDED_VISITS


@dataclass(frozen=True)
class ExportOptions:
    """What one package holds. Empty `forms` or `visits` mean everything the level allows (jobs
    made before there were options); empty `timepoints` mean every timepoint of the visits."""

    forms: tuple[str, ...] = ()
    visits: tuple[str, ...] = ()
    timepoints: tuple[str, ...] = ()
    identifiers: str = STORED
    date_shift: bool = False

    def resolved(self, blinding: str) -> ExportOptions:
        """The same options with the defaults spelled out for the level, in a fixed order."""
        forms = [f for f in allowed_forms(blinding) if not self.forms or f in self.forms]
        visits = [v for v in allowed_visits(blinding) if not self.visits or v in self.visits]
        return replace(
            self,
            forms=tuple(forms),
            visits=tuple(visits),
            timepoints=tuple(sorted(set(self.timepoints), key=timepoint_sort_key)),
        )

    def beyond(self, blinding: str) -> list[str]:
        """Options the level does not allow (a blinded reader asking for period 2 or for adverse
        events); empty when the options stay within it."""
        return [
            *(f for f in self.forms if f not in allowed_forms(blinding)),
            *(v for v in self.visits if v not in allowed_visits(blinding)),
        ]


def timepoint_sort_key(code: str) -> tuple[Any, ...]:
    """Rating timepoints in the order of the schedule, then MRS sessions by name."""
    from outcomes.timepoints import timepoint_order  # the schedule's one order (no numpy)

    return (*timepoint_order(code), code)


def is_mrs_timepoint(code: str) -> bool:
    return "-mrs-" in code


def keyed_digest(key: bytes, code: str) -> bytes:
    """HMAC-SHA256 of a participant code under the export key."""
    return hmac.new(key, code.encode(), hashlib.sha256).digest()


def keyed_pseudonym(key: bytes, code: str) -> str:
    """'H' and the first 8 bytes (16 hex digits) of the keyed digest: stable across exports."""
    return "H" + keyed_digest(key, code)[:8].hex().upper()


def date_offset_days(key: bytes, code: str, bound: int = DATE_SHIFT_MAX_DAYS) -> int:
    """A participant's date shift in days, never 0, within +-bound: from the last 8 bytes of the
    keyed digest (the pseudonym shows the first 8, which tell nothing of these). The same in every
    export, whatever the identifiers: offsets drawn anew for each export would average out over
    several exports of one participant (whom the data values themselves link)."""
    n = int.from_bytes(keyed_digest(key, code)[24:], "big") % (2 * bound)
    return n - bound if n < bound else n - bound + 1


def describe(options: ExportOptions) -> dict[str, Any]:
    """The options as the manifest states them: what was chosen and what was done, never a key or
    an offset."""
    return {
        "forms": list(options.forms),
        "visits": list(options.visits),
        "timepoints": list(options.timepoints) or "all of the visits",
        "identifiers": options.identifiers,
        "identifiers_note": {
            STORED: "participant IDs as stored",
            REMOVED: "participant IDs replaced by a random pseudonym for this export only (P0001, ...); "
            "no key was kept; randomization numbers left out",
            KEYED: "participant IDs replaced by a keyed hash (HMAC-SHA256 under a secret key held by the "
            "trial): the same participant has the same pseudonym in every keyed export; randomization "
            "numbers left out",
        }[options.identifiers],
        "date_shift": {
            "shifted": options.date_shift,
            "max_days": DATE_SHIFT_MAX_DAYS if options.date_shift else 0,
            "note": "every date and date-time of a participant moved by the same whole number of days "
            f"(between 1 and {DATE_SHIFT_MAX_DAYS}, earlier or later, different per participant); "
            "intervals within a participant are kept; the offsets are not in this package"
            if options.date_shift
            else "dates as stored",
        },
    }
