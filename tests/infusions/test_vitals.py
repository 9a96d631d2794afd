"""Vital-sign plausibility and alert thresholds (pure module, no database).

Default thresholds (PROTOCOL.md): systolic > 180 or diastolic > 110 mmHg, heart rate > 110 or
< 50 bpm, SpO2 < 92 %. A value exactly at a threshold does not alert.
"""

from __future__ import annotations

import pytest

from infusions.vitals import Alert, vitals_alerts, vitals_problems
from ketatrial.protocol import DEFAULT_PROTOCOL, protocol_with_overrides

NORMAL = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="normal"),
        pytest.param({"systolic": 180}, [], id="systolic-180-at-threshold"),
        pytest.param({"systolic": 181}, [Alert("systolic", 181, "systolic > 180 mmHg")], id="systolic-181"),
        pytest.param({"diastolic": 110, "systolic": 150}, [], id="diastolic-110-at-threshold"),
        pytest.param(
            {"diastolic": 111, "systolic": 150},
            [Alert("diastolic", 111, "diastolic > 110 mmHg")],
            id="diastolic-111",
        ),
        pytest.param({"heart_rate": 110}, [], id="hr-110-at-threshold"),
        pytest.param({"heart_rate": 111}, [Alert("heart_rate", 111, "heart rate > 110 bpm")], id="hr-111"),
        pytest.param({"heart_rate": 50}, [], id="hr-50-at-threshold"),
        pytest.param({"heart_rate": 49}, [Alert("heart_rate", 49, "heart rate < 50 bpm")], id="hr-49"),
        pytest.param({"spo2": 92}, [], id="spo2-92-at-threshold"),
        pytest.param({"spo2": 91}, [Alert("spo2", 91, "SpO2 < 92 %")], id="spo2-91"),
    ],
)
def test_it_alerts_only_beyond_each_default_threshold(changes: dict[str, int], expected: list[Alert]) -> None:
    assert vitals_alerts(**{**NORMAL, **changes}, p=DEFAULT_PROTOCOL) == expected


@pytest.mark.parametrize(
    ("vitals", "expected"),
    [
        pytest.param(
            {"systolic": 200, "diastolic": 120, "heart_rate": 130, "spo2": 88},
            [
                Alert("systolic", 200, "systolic > 180 mmHg"),
                Alert("diastolic", 120, "diastolic > 110 mmHg"),
                Alert("heart_rate", 130, "heart rate > 110 bpm"),
                Alert("spo2", 88, "SpO2 < 92 %"),
            ],
            id="four-at-once",
        ),
        pytest.param(
            {"systolic": 181, "diastolic": 111, "heart_rate": 70, "spo2": 98},
            [Alert("systolic", 181, "systolic > 180 mmHg"), Alert("diastolic", 111, "diastolic > 110 mmHg")],
            id="blood-pressure-both",
        ),
        pytest.param(
            {"systolic": 120, "diastolic": 80, "heart_rate": 45, "spo2": 90},
            [Alert("heart_rate", 45, "heart rate < 50 bpm"), Alert("spo2", 90, "SpO2 < 92 %")],
            id="bradycardia-and-desaturation",
        ),
    ],
)
def test_it_reports_every_alert_of_one_set_of_vitals(vitals: dict[str, int], expected: list[Alert]) -> None:
    assert vitals_alerts(**vitals, p=DEFAULT_PROTOCOL) == expected


STRICT = protocol_with_overrides(
    {
        "alert_systolic_above": 160,
        "alert_diastolic_above": 100,
        "alert_heart_rate_above": 100,
        "alert_heart_rate_below": 55,
        "alert_spo2_below": 94,
    }
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"systolic": 160}, [], id="systolic-160-at-threshold"),
        pytest.param({"systolic": 161}, [Alert("systolic", 161, "systolic > 160 mmHg")], id="systolic-161"),
        pytest.param({"diastolic": 100, "systolic": 150}, [], id="diastolic-100-at-threshold"),
        pytest.param(
            {"diastolic": 101, "systolic": 150},
            [Alert("diastolic", 101, "diastolic > 100 mmHg")],
            id="diastolic-101",
        ),
        pytest.param({"heart_rate": 100}, [], id="hr-100-at-threshold"),
        pytest.param({"heart_rate": 101}, [Alert("heart_rate", 101, "heart rate > 100 bpm")], id="hr-101"),
        pytest.param({"heart_rate": 55}, [], id="hr-55-at-threshold"),
        pytest.param({"heart_rate": 54}, [Alert("heart_rate", 54, "heart rate < 55 bpm")], id="hr-54"),
        pytest.param({"spo2": 94}, [], id="spo2-94-at-threshold"),
        pytest.param({"spo2": 93}, [Alert("spo2", 93, "SpO2 < 94 %")], id="spo2-93"),
    ],
)
def test_it_takes_the_thresholds_from_the_protocol_in_force(
    changes: dict[str, int], expected: list[Alert]
) -> None:
    assert vitals_alerts(**{**NORMAL, **changes}, p=STRICT) == expected


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"systolic": 170}, id="systolic-170"),
        pytest.param({"diastolic": 105, "systolic": 150}, id="diastolic-105"),
        pytest.param({"heart_rate": 105}, id="hr-105"),
        pytest.param({"heart_rate": 52}, id="hr-52"),
        pytest.param({"spo2": 93}, id="spo2-93"),
    ],
)
def test_it_alerts_under_the_stricter_protocol_but_not_under_the_default(changes: dict[str, int]) -> None:
    vitals = {**NORMAL, **changes}
    assert vitals_alerts(**vitals, p=DEFAULT_PROTOCOL) == []
    assert len(vitals_alerts(**vitals, p=STRICT)) == 1


@pytest.mark.parametrize(
    "vitals",
    [
        pytest.param(NORMAL, id="normal"),
        pytest.param(
            {"systolic": 181, "diastolic": 111, "heart_rate": 130, "spo2": 88}, id="alarming-but-possible"
        ),
        pytest.param({"systolic": 90, "diastolic": 50, "heart_rate": 45, "spo2": 100}, id="low-but-possible"),
        pytest.param(
            {"systolic": 120, "diastolic": 119, "heart_rate": 70, "spo2": 98}, id="diastolic-just-below"
        ),
    ],
)
def test_it_finds_no_problem_in_a_plausible_set(vitals: dict[str, int]) -> None:
    assert vitals_problems(**vitals) == {}


@pytest.mark.parametrize(
    ("systolic", "diastolic"),
    [
        pytest.param(120, 120, id="equal"),
        pytest.param(120, 130, id="above"),
        pytest.param(90, 150, id="swapped"),
    ],
)
def test_it_refuses_a_diastolic_at_or_above_the_systolic(systolic: int, diastolic: int) -> None:
    problems = vitals_problems(systolic=systolic, diastolic=diastolic, heart_rate=70, spo2=98)
    assert problems == {"diastolic": f"Diastolic ({diastolic}) must be below systolic ({systolic})."}


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        pytest.param({"systolic": 20}, {"systolic"}, id="systolic-20"),
        pytest.param({"systolic": 0}, {"systolic"}, id="systolic-0"),
        pytest.param({"systolic": 1200}, {"systolic"}, id="systolic-1200-extra-digit"),
        pytest.param({"diastolic": 0}, {"diastolic"}, id="diastolic-0"),
        pytest.param({"diastolic": 800}, {"diastolic"}, id="diastolic-800"),
        pytest.param({"heart_rate": 0}, {"heart_rate"}, id="hr-0"),
        pytest.param({"heart_rate": 700}, {"heart_rate"}, id="hr-700"),
        pytest.param({"spo2": 101}, {"spo2"}, id="spo2-101"),
        pytest.param({"spo2": 0}, {"spo2"}, id="spo2-0"),
        pytest.param({"spo2": -5}, {"spo2"}, id="spo2-negative"),
        pytest.param({"systolic": 20, "spo2": 101}, {"systolic", "spo2"}, id="two-impossible"),
    ],
)
def test_it_refuses_impossible_values_field_by_field(changes: dict[str, int], fields: set[str]) -> None:
    problems = vitals_problems(**{**NORMAL, **changes})
    assert set(problems) == fields
    for name in fields:
        assert str(changes[name]) in problems[name]
        assert "check the entry" in problems[name]


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        pytest.param(("systolic",), {"systolic": "Required."}, id="systolic"),
        pytest.param(("diastolic",), {"diastolic": "Required."}, id="diastolic"),
        pytest.param(("heart_rate",), {"heart_rate": "Required."}, id="heart-rate"),
        pytest.param(("spo2",), {"spo2": "Required."}, id="spo2"),
        pytest.param(
            ("systolic", "diastolic", "heart_rate", "spo2"),
            {
                "systolic": "Required.",
                "diastolic": "Required.",
                "heart_rate": "Required.",
                "spo2": "Required.",
            },
            id="all",
        ),
    ],
)
def test_it_asks_for_every_missing_value(missing: tuple[str, ...], expected: dict[str, str]) -> None:
    assert vitals_problems(**{**NORMAL, **dict.fromkeys(missing)}) == expected
