"""The trial as one protocol definition: every constant of PROTOCOL.md in one place.

Pure module (no Django). `DEFAULT_PROTOCOL` holds the defaults read from the protocol; the study
team changes a study parameter without a code edit through a JSON file of overrides
(`PROTOCOL_OVERRIDES_FILE`), and `protocol_values()` reports which values are defaults and which
are overridden, for the Protocol page.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RATER = "rater"
INFUSION_PHYSICIAN = "infusion_physician"
COORDINATOR = "coordinator"
PHARMACIST = "pharmacist"
STATISTICIAN = "statistician"
DATA_MANAGER = "data_manager"
PRINCIPAL_INVESTIGATOR = "principal_investigator"
MONITOR = "monitor"

ROLES: tuple[str, ...] = (
    RATER,
    INFUSION_PHYSICIAN,
    COORDINATOR,
    PHARMACIST,
    STATISTICIAN,
    DATA_MANAGER,
    PRINCIPAL_INVESTIGATOR,
    MONITOR,
)


@dataclass(frozen=True)
class TimeWindow:
    """A target time with a symmetric tolerance, both in hours."""

    hours: float
    tolerance_hours: float


@dataclass(frozen=True)
class Protocol:
    """Study parameters in force. Field names are the keys of the overrides file."""

    version: str = "1.0"
    consent_version: str = "1.0"
    site_code: str = "INNN"
    site_name: str = "Instituto Nacional de Neurología y Neurocirugía, Mexico City"
    sequences: tuple[str, ...] = ("KP", "PK")
    allocation_ratio: tuple[int, int] = (1, 1)
    # Infusions
    dose_mg_per_kg: float = 0.5
    infusion_minutes: int = 40
    observation_minutes_min: int = 60
    weight_cap_kg: float | None = None
    # The plausible body weight of an adult participant (not a cap): a weight outside it is
    # refused before any dose is computed, as a typo or a wrong unit (400 kg, 0.07 kg).
    weight_min_kg: float = 30.0
    weight_max_kg: float = 250.0
    # The usual weight of the trial's adults: a plausible weight outside it is often a typing error
    # (74 typed as 47, a pound figure), so it is saved only once confirmed with a reason.
    weight_usual_min_kg: float = 40.0
    weight_usual_max_kg: float = 150.0
    total_volume_ml: float = 50.0
    # A prepared syringe (ketamine diluted in saline, or saline) is used within this many hours of
    # its preparation; the label prints the beyond-use time, the same for both products.
    syringe_beyond_use_hours: int = 24
    period1_infusion_days: tuple[int, ...] = (1, 4, 8, 11, 15, 19, 23, 27)
    period2_infusion_days_kp: tuple[int, ...] = (1, 4, 8, 11)
    period2_infusion_days_pk: tuple[int, ...] = (1, 4, 8, 11, 15, 19, 23, 27)
    # The optional amendment (PROTOCOL.md): both sequences get the PK pattern in period 2, KP's
    # infusions all saline (its last four added), so the schedule no longer tells the sequence.
    period2_equal_length: bool = False
    period2_gap_days: int = 7
    infusion_window_days: int = 1
    min_hours_between_infusions: int = 48
    missed_infusion_made_up: bool = False
    # Monitoring
    vitals_minutes: tuple[int, ...] = (0, 10, 20, 30, 40, 60, 80)
    vitals_before_start: bool = True
    alert_systolic_above: int = 180
    alert_diastolic_above: int = 110
    alert_heart_rate_above: int = 110
    alert_heart_rate_below: int = 50
    alert_spo2_below: int = 92
    # A vital-sign alert still without its action this many minutes after the measurement is
    # notified to the principal investigators and the infusion physicians (once).
    vitals_alert_escalate_minutes: int = 10
    dissociation_minutes: tuple[int, ...] = (0, 40)
    # A participant of childbearing potential starts an infusion only after a negative pregnancy
    # test taken within this many hours before the start (the protocol excludes pregnancy and is
    # silent on the interval: a default the study team may change).
    pregnancy_test_hours: int = 72
    infusion_start_clock: str = "09:00"  # usual start, for planned times until an infusion is recorded
    # The study calendar (infusions.models.ClosedDay): weekdays the site is closed (0 = Monday)
    # until the study team sets its own, and the country whose statutory holidays it may pre-fill.
    closed_weekdays: tuple[int, ...] = (5, 6)
    holidays_country: str = "MX"
    infusion_chairs_per_day: int = 3
    scanner_slots_per_day: int = 2
    # Ratings
    baseline_days_before_day1: int = 7
    # A baseline assessment dated more than this before it is entered is unusual (a wrong year or
    # month is the common slip): saved only once confirmed with a reason.
    baseline_date_usual_days: int = 30
    # After a relapse: the end-of-study visit is due this many days later, in a window from the
    # relapse to this many days after it.
    end_of_study_due_days: int = 7
    end_of_study_window_days: int = 14
    # The rater's task list: tasks whose window opens within this many days, and overdue tasks
    # for this many days after their window closed.
    task_list_ahead_days: int = 2
    task_overdue_days: int = 7
    # How far ahead exposed staff see period-2 infusions beyond the next one, and the events that
    # hang on the last period-2 infusion (the in-scanner scan, the 24 h and 1-week scans, the
    # post-infusion ratings, follow-up): time to book a chair and the scanner. From this many days
    # before KP's last period-2 infusion, staff who see the calendar can infer the sequence
    # (unless period2_equal_length is on).
    booking_lead_days: int = 7
    # Counts a strictly blinded reader sees (CONSORT stages a sequence can move) change only in
    # steps of this many participants until the key is released.
    blinded_count_batch: int = 10
    # Calendar feed (iCal): how long a booked infusion or a rating/MRS session is shown to last.
    ical_infusion_minutes: int = 40
    ical_session_minutes: int = 30
    predose_hours_before_start: float = 2.0
    after_first_infusion: tuple[TimeWindow, ...] = (
        TimeWindow(4, 1),
        TimeWindow(24, 4),
        TimeWindow(72, 12),
    )
    after_last_infusion: tuple[TimeWindow, ...] = (
        TimeWindow(4, 1),
        TimeWindow(24, 4),
        TimeWindow(72, 12),
    )
    # The recall period a rating form offers first, by the kind of timepoint the task serves (the
    # first word of the schedule's timepoint: "4h", "24h", "72h", "pre-dose"); any other timepoint
    # (baseline, weekly follow-up, end of study) offers rating_recall_default. A week is too long
    # a look back a few hours or days after an infusion. The rater may change it; the recall
    # period used is stored with the rating (clinimetry.scales.recall_default).
    rating_recall_by_timepoint: tuple[tuple[str, str], ...] = (
        ("4h", "since_last"),
        ("24h", "past_24h"),
        ("72h", "since_last"),
        ("pre-dose", "since_last"),
    )
    rating_recall_default: str = "past_week"
    followup_weeks: int = 12
    followup_window_days: int = 2
    response_threshold_pct: float = 50.0
    primary_outcome_hours: int = 24
    remission_hdrs17_max: int = 7
    remission_madrs_max: int = 10
    relapse_madrs_min: int = 22
    relapse_consecutive_ratings: int = 2
    relapse_on_loss_of_response: bool = True
    relapse_events: tuple[str, ...] = ("hospitalization", "suicide_attempt", "new_treatment")
    prorating_allowed: bool = False
    prorating_max_missing_items: int = 2
    safety_hdrs_item3_min: int = 3
    safety_madrs_item10_min: int = 4
    hdrs17_severity_scheme: str = "default"
    # 1H-MRS
    mrs_sessions: tuple[str, ...] = (
        "baseline",
        "during_last_infusion",
        "24h_after_last_infusion",
        "1w_after_last_infusion",
    )
    mrs_during_infusion_minutes: int = 10
    mrs_during_window_minutes: int = 5  # the in-scanner scan's window either side of its time
    mrs_during_infusion_anchor: str = "last"  # or "first": the protocol text reads both ways
    mrs_fwhm_max_hz: float = 12.0
    mrs_gaba_fit_error_max_pct: float = 15.0
    mrs_rejected_transients_max_pct: float = 20.0
    mrs_drift_range_max_hz: float = 10.0
    # Enrollment
    age_min: int = 18
    age_max: int = 65
    screening_hdrs17_min: int = 18
    failed_treatments_min: int = 2
    stable_treatment_weeks: int = 4
    # Roles: no person may hold both roles of a pair.
    strata: tuple[str, ...] = ("",)
    # Randomize within each site as well (a multi-site trial): the allocation list's strata are
    # then every site code with each stratum above ("INNN", or "INNN/<stratum>").
    stratify_by_site: bool = False
    allocation_block_sizes: tuple[int, ...] = (2, 4)
    # The rater must stay blind to the allocation (pharmacist) and to the infusion calendar and
    # records, whose period-2 length reveals the sequence (every role that sees them).
    incompatible_roles: tuple[tuple[str, str], ...] = (
        (RATER, PHARMACIST),
        (RATER, COORDINATOR),
        (RATER, INFUSION_PHYSICIAN),
        (RATER, DATA_MANAGER),
        (RATER, PRINCIPAL_INVESTIGATOR),
        (RATER, MONITOR),
    )
    unblinded_roles: tuple[str, ...] = (PHARMACIST,)
    # Raters never see these, because the period-2 calendar reveals the sequence.
    hidden_from_raters: tuple[str, ...] = (
        "infusion_calendar",
        "infusion_records",
        "vitals",
        "adverse_events",
        "dissociation_scales",
    )
    inclusion_criteria: tuple[str, ...] = field(
        default=(
            "Age 18-65 years",
            "DSM-5 major depressive disorder, current episode",
            ">= 2 failed adequate antidepressant trials in the current episode",
            "HDRS-17 >= 18 at screening",
            "Stable treatment for >= 4 weeks",
            "Able to give informed consent",
        )
    )
    exclusion_criteria: tuple[str, ...] = field(
        default=(
            "Psychotic features, bipolar or primary psychotic disorder",
            "Substance use disorder in the past 6 months or lifetime ketamine misuse",
            "Uncontrolled hypertension or significant cardiovascular disease",
            "Pregnancy or breast-feeding",
            "MRI contraindication",
            "Imminent suicide risk requiring hospitalization",
            "ECT in the past 3 months",
            "Neurological disease",
        )
    )

    @property
    def pump_rate_ml_per_h(self) -> float:
        """The pump rate that delivers the fixed total volume over the infusion time."""
        return self.total_volume_ml / self.infusion_minutes * 60

    def period2_infusion_days(self, sequence: str) -> tuple[int, ...]:
        """Day pattern of period 2 for a sequence (KP gives four placebo infusions; eight, the
        last four added, with period2_equal_length on)."""
        if sequence == "KP" and not self.period2_equal_length:
            return self.period2_infusion_days_kp
        return self.period2_infusion_days_pk


BLINDING_HAZARD = (
    "Period 2 lengths differ by sequence (4 infusions after KP, 8 after PK) unless "
    "period2_equal_length is on: anyone who sees the period-2 calendar can infer the sequence. "
    "Raters therefore never see the infusion calendar, infusion records, vitals, adverse events or "
    "dissociation scales, only opaque rating visits."
)

DEFAULT_PROTOCOL = Protocol()


class ProtocolError(ValueError):
    """The overrides file names an unknown parameter or gives a value of the wrong kind."""


def _coerce(name: str, default: Any, value: Any) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ProtocolError(f"{name}: expected a list")
        if default and isinstance(default[0], TimeWindow):
            return tuple(TimeWindow(float(h), float(t)) for h, t in value)
        if default and isinstance(default[0], tuple):
            return tuple(tuple(item) for item in value)
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ProtocolError(f"{name}: expected true or false")
        return value
    if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
        raise ProtocolError(f"{name}: expected a number")
    if isinstance(default, str) and not isinstance(value, str):
        raise ProtocolError(f"{name}: expected text")
    return value


def protocol_with_overrides(overrides: dict[str, Any], base: Protocol = DEFAULT_PROTOCOL) -> Protocol:
    """Return `base` with the given study parameters replaced, each checked for its kind."""
    known = {f.name for f in dataclasses.fields(Protocol)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ProtocolError(f"unknown protocol parameter(s): {', '.join(unknown)}")
    changes = {name: _coerce(name, getattr(base, name), value) for name, value in overrides.items()}
    return dataclasses.replace(base, **changes)


def load_overrides(path: str | Path | None) -> dict[str, Any]:
    """Read the overrides file; no path means no overrides."""
    if not path:
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ProtocolError("the overrides file must hold one JSON object")
    return data


def protocol_values(protocol: Protocol, overrides: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, value in force, overridden?) for every study parameter, in declaration order."""
    return [(f.name, getattr(protocol, f.name), f.name in overrides) for f in dataclasses.fields(Protocol)]
