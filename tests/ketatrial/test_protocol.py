"""The protocol definition: defaults from PROTOCOL.md, overrides checked for kind."""

import json

import pytest

from ketatrial.protocol import (
    DEFAULT_PROTOCOL,
    ProtocolError,
    TimeWindow,
    load_overrides,
    protocol_values,
    protocol_with_overrides,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("period1_infusion_days", (1, 4, 8, 11, 15, 19, 23, 27)),
        ("period2_infusion_days_kp", (1, 4, 8, 11)),
        ("period2_gap_days", 7),
        ("dose_mg_per_kg", 0.5),
        ("infusion_minutes", 40),
        ("total_volume_ml", 50.0),
        ("alert_systolic_above", 180),
        ("alert_diastolic_above", 110),
        ("alert_heart_rate_above", 110),
        ("alert_heart_rate_below", 50),
        ("alert_spo2_below", 92),
        ("remission_hdrs17_max", 7),
        ("remission_madrs_max", 10),
        ("relapse_madrs_min", 22),
        ("followup_weeks", 12),
        ("min_hours_between_infusions", 48),
        ("vitals_minutes", (0, 10, 20, 30, 40, 60, 80)),
    ],
)
def test_defaults_follow_the_protocol(name: str, expected: object) -> None:
    assert getattr(DEFAULT_PROTOCOL, name) == expected


def test_pump_rate_delivers_the_total_volume_in_forty_minutes() -> None:
    assert DEFAULT_PROTOCOL.pump_rate_ml_per_h == pytest.approx(75.0)


def test_period_two_is_four_infusions_after_kp_and_eight_after_pk() -> None:
    assert len(DEFAULT_PROTOCOL.period2_infusion_days("KP")) == 4
    assert len(DEFAULT_PROTOCOL.period2_infusion_days("PK")) == 8


def test_rating_windows_are_the_protocol_ones() -> None:
    assert DEFAULT_PROTOCOL.after_first_infusion == (TimeWindow(4, 1), TimeWindow(24, 4), TimeWindow(72, 12))


def test_an_override_replaces_only_the_named_parameter() -> None:
    p = protocol_with_overrides({"weight_cap_kg": 120, "remission_madrs_max": 12})
    assert p.weight_cap_kg == 120
    assert p.remission_madrs_max == 12
    assert p.remission_hdrs17_max == 7


def test_an_override_of_windows_is_read_as_windows() -> None:
    p = protocol_with_overrides({"after_first_infusion": [[4, 1], [24, 6]]})
    assert p.after_first_infusion == (TimeWindow(4, 1), TimeWindow(24, 6))


@pytest.mark.parametrize(
    "overrides",
    [
        {"no_such_parameter": 1},
        {"followup_weeks": "twelve"},
        {"prorating_allowed": 1},
        {"period1_infusion_days": 5},
    ],
)
def test_a_bad_override_is_refused(overrides: dict) -> None:
    with pytest.raises(ProtocolError):
        protocol_with_overrides(overrides)


def test_the_overrides_file_is_read_and_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "protocol.json"
    path.write_text(json.dumps({"followup_weeks": 16}))
    overrides = load_overrides(path)
    rows = {
        name: (value, overridden)
        for name, value, overridden in protocol_values(protocol_with_overrides(overrides), overrides)
    }
    assert rows["followup_weeks"] == (16, True)
    assert rows["infusion_minutes"] == (40, False)
