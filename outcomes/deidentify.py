"""Apply export options (outcomes/export_options.py says what they mean) to a data set: the chosen
forms, visits and timepoints; participants renamed and free text scrubbed of their codes; every
date of a participant moved by that participant's offset. Nothing here is stored: the pseudonyms of
a "removed" export and every offset live in memory while the package is written."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import pandas as pd

from outcomes import dataset as ds
from outcomes.export_options import (
    ADVERSE_EVENTS,
    BASELINE,
    INFUSION,
    KEYED,
    LATER,
    MRS,
    MRS_BASELINE,
    PARTICIPANTS,
    PERIOD1,
    RATING_FORMS,
    REMOVED,
    STORED,
    ExportOptions,
    allowed_visits,
    date_offset_days,
    is_mrs_timepoint,
    keyed_pseudonym,
)

# Every date or date-time column of any table (a test holds the codebook's datetime variables to it).
DATE_COLUMNS = ("enrolled_at", "disposition_date", "relapse_date", "rated_at", "scanned_at", "onset")
# Free text that may name a participant (an adverse-event term typed with a code in it).
FREE_TEXT_COLUMNS = ("term", "category")
_DATED_SESSION = re.compile(r"^(mrs-)(\d{8})(-.*)$")  # an older MRS session code holds its date


@dataclass
class Deidentifier:
    """How one package names participants and moves their dates; kept in memory while the package
    is written, never stored."""

    identifiers: str = STORED
    pseudonyms: dict[str, str] = field(default_factory=dict)  # code -> name in the package
    offsets: dict[str, int] = field(default_factory=dict)  # code -> days (empty: no shift)
    _pattern: re.Pattern[str] | None = None
    site_codes: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        codes: Sequence[str],
        *,
        identifiers: str,
        date_shift: bool,
        key: bytes,
        rng: random.Random | None = None,
        site_codes: Iterable[str] = (),
    ) -> Deidentifier:
        if identifiers == REMOVED:
            order = list(codes)
            (rng or random.SystemRandom()).shuffle(order)
            width = max(4, len(str(len(order))))
            pseudonyms = {code: f"P{n:0{width}d}" for n, code in enumerate(order, start=1)}
        elif identifiers == KEYED:
            pseudonyms = {code: keyed_pseudonym(key, code) for code in codes}
        else:
            pseudonyms = {code: code for code in codes}
        offsets = {code: date_offset_days(key, code) for code in codes} if date_shift else {}
        pattern = None
        if identifiers != STORED and codes:
            alternatives = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
            pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![0-9])")
        return cls(identifiers, pseudonyms, offsets, pattern, tuple(site_codes))

    def subject(self, code: str) -> str:
        return self.pseudonyms.get(code, code)

    def offset(self, code: str) -> timedelta:
        return timedelta(days=self.offsets.get(code, 0))

    def scrub(self, text: str) -> str:
        """Free text with every participant code replaced by its pseudonym, and anything else
        shaped like a code of the site (SITE-123) removed."""
        if self.identifiers == STORED or not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.subject(m.group(0)), text)
        for site in self.site_codes:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(site)}-\d+", "[removed]", text)
        return text

    def shift_datetime(self, value: datetime, code: str) -> datetime:
        return value + self.offset(code) if self.offsets else value


def shift_text(value: Any, days: int, tz: tzinfo) -> Any:
    """An exported date ('2026-03-01') or local date-time ('2026-03-01T10:00:00-06:00') moved by
    whole days (absolute time, then shown in the trial's zone again); a missing value stays."""
    if days == 0 or value is None or not isinstance(value, str) or not value:
        return value
    if len(value) == 10:
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    moved = datetime.fromisoformat(value) + timedelta(days=days)
    return moved.astimezone(tz).isoformat(timespec="seconds") if moved.tzinfo else moved.isoformat()


def _shift_session(value: Any, days: int) -> Any:
    match = _DATED_SESSION.match(value) if isinstance(value, str) else None
    if match is None or days == 0:
        return value
    day = datetime.strptime(match[2], "%Y%m%d").date() + timedelta(days=days)
    return f"{match[1]}{day:%Y%m%d}{match[3]}"


def _visit_of_rows(frame: pd.DataFrame, table: str) -> pd.Series:
    """Each row's visit (BASELINE, PERIOD1, LATER, or None when it has no period)."""
    period = pd.to_numeric(frame["period"], errors="coerce")
    visit = pd.Series(None, index=frame.index, dtype=object)
    visit[period == 0] = BASELINE
    visit[period == 1] = PERIOD1
    visit[period >= 2] = LATER
    if table == "mrs":  # the scan before the first infusion is part of the baseline visit
        visit[(frame["timepoint"] == MRS_BASELINE) | (frame["session"] == MRS_BASELINE)] = BASELINE
    return visit


def _keep_visits(frame: pd.DataFrame, table: str, options: ExportOptions, blinding: str) -> pd.DataFrame:
    if set(options.visits) >= set(allowed_visits(blinding)) or frame.empty:
        return frame
    return frame[_visit_of_rows(frame, table).isin(options.visits)]


def _keep_timepoints(frame: pd.DataFrame, table: str, options: ExportOptions) -> pd.DataFrame:
    """Rating timepoints narrow the ratings, MRS sessions the MRS results; choosing none of a kind
    keeps every timepoint of that kind (within the visits)."""
    chosen = [c for c in options.timepoints if is_mrs_timepoint(c) == (table == "mrs")]
    if not chosen or frame.empty:
        return frame
    return frame[frame["timepoint"].isin(chosen)]


def _rename(
    frame: pd.DataFrame | None, deid: Deidentifier, tz: tzinfo, *, drop: Iterable[str] = ()
) -> pd.DataFrame | None:
    """Dates shifted by each row's participant, free text scrubbed, the participant renamed and
    the rows sorted by the new name (the order of the codes is the order of enrollment)."""
    if frame is None:
        return None
    frame = frame.drop(columns=[c for c in drop if c in frame.columns]).copy()
    if frame.empty:
        return frame
    codes = frame["participant"]
    if deid.offsets:
        days = codes.map(deid.offsets).fillna(0).astype(int)
        for column in DATE_COLUMNS:
            if column in frame.columns:
                frame[column] = [shift_text(v, d, tz) for v, d in zip(frame[column], days, strict=True)]
        if "session" in frame.columns:
            frame["session"] = [_shift_session(v, d) for v, d in zip(frame["session"], days, strict=True)]
        if "timepoint" in frame.columns:
            frame["timepoint"] = [_shift_session(v, d) for v, d in zip(frame["timepoint"], days, strict=True)]
    if deid.identifiers != STORED:
        for column in FREE_TEXT_COLUMNS:
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: deid.scrub(v) if isinstance(v, str) else v)
        frame["participant"] = codes.map(deid.subject)
        frame = frame.sort_values("participant", kind="stable").reset_index(drop=True)
    return frame


def narrow(
    data: ds.DataSet,
    options: ExportOptions,
    *,
    key: bytes,
    tz: tzinfo,
    rng: random.Random | None = None,
    site_codes: Iterable[str] = (),
) -> tuple[ds.DataSet, Deidentifier]:
    """The package's data set: the chosen forms, visits and timepoints of `data` (never more than
    it holds), participants named and dates moved as the options say. The data hash stays the
    source's (the state of the database the package was made from)."""
    options = options.resolved(data.blinding)
    forms = set(options.forms)
    deid = Deidentifier.make(
        list(data.participants["participant"]),
        identifiers=options.identifiers,
        date_shift=options.date_shift,
        key=key,
        rng=rng,
        site_codes=site_codes,
    )
    drop = ("randomization_number",) if options.identifiers != STORED else ()

    long = data.long[data.long["instrument"].isin(forms & set(RATING_FORMS))]
    long = _keep_timepoints(_keep_visits(long, "long", options, data.blinding), "long", options)
    mrs = data.mrs if MRS in forms else data.mrs.iloc[0:0]
    mrs = _keep_timepoints(_keep_visits(mrs, "mrs", options, data.blinding), "mrs", options)
    infusion = events = None
    if data.infusion is not None and INFUSION in forms:
        infusion = _keep_visits(data.infusion, "infusion", options, data.blinding)
    if data.adverse_events is not None and ADVERSE_EVENTS in forms:
        events = _keep_visits(data.adverse_events, "adverse_events", options, data.blinding)

    participants = data.participants
    if PARTICIPANTS not in forms:
        # The ratings' wide table and the ODM still name each participant and, where the level
        # has it, the coded arm; the participants table itself is left out.
        participants = participants[
            [c for c in participants.columns if c == "participant" or "sequence" in c]
        ]
    participants = _rename(participants, deid, tz, drop=drop)
    long = _rename(long, deid, tz)
    mrs = _rename(mrs, deid, tz)
    infusion = _rename(infusion, deid, tz)
    events = _rename(events, deid, tz)
    assert participants is not None and long is not None and mrs is not None
    wide = ds.typed(ds.widen(long, participants))

    tables = []
    if PARTICIPANTS in forms:
        tables.append("participants")
    if forms & set(RATING_FORMS):
        tables += ["long", "wide"]
    if MRS in forms:
        tables.append("mrs")
    if infusion is not None:
        tables.append("infusion")
    if events is not None:
        tables.append("adverse_events")
    narrowed = ds.DataSet(
        data.blinding,
        long.reset_index(drop=True),
        wide,
        mrs.reset_index(drop=True),
        participants,
        data.data_hash,
        infusion.reset_index(drop=True) if infusion is not None else None,
        events.reset_index(drop=True) if events is not None else None,
        tables=tuple(tables),
    )
    return narrowed, deid
