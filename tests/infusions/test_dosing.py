"""Dose preparation arithmetic (pure module, no database).

Expected values are worked out by hand from the rounding rule in the module docstring: dose =
weight x 0.5 mg/kg to 0.1 mg, halves up; volume drawn = dose / vial concentration to 0.01 mL,
halves up; diluent = total - drawn; pump rate = total / minutes x 60 to 0.1 mL/h.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from infusions.dosing import (
    DosingError,
    Preparation,
    WeightError,
    dose_mg,
    prepare,
    pump_rate_ml_h,
    vials_and_waste,
)
from ketatrial.protocol import DEFAULT_PROTOCOL, protocol_with_overrides

MG_PER_KG = D("0.5")
TOTAL = D("50")
MINUTES = 40


def assert_same_decimal(actual: D, expected: str) -> None:
    """Equal in value and in the number of decimal places (Decimal('3.5') == Decimal('3.50'))."""
    assert isinstance(actual, D)
    assert str(actual) == expected


@pytest.mark.parametrize(
    ("weight", "cap", "expected_dose", "expected_capped"),
    [
        # weight x 0.5 = exact product -> rounded to 0.1 mg, halves up
        ("70", None, "35.0", False),  # 35.0
        ("72.3", None, "36.2", False),  # 36.15 -> 36.2 (half up, not half even)
        ("58.1", None, "29.1", False),  # 29.05 -> 29.1 (half up, not half even)
        ("58.3", None, "29.2", False),  # 29.15 -> 29.2
        ("64.9", None, "32.5", False),  # 32.45 -> 32.5
        ("45.5", None, "22.8", False),  # 22.75 -> 22.8
        ("72.2", None, "36.1", False),  # 36.10
        ("72.25", None, "36.1", False),  # 36.125 -> 36.1 (below the half)
        ("72.29", None, "36.1", False),  # 36.145 -> 36.1 (below the half)
        ("150", None, "75.0", False),  # no cap by default
        ("30", None, "15.0", False),  # the lowest plausible weight (protocol default 30 kg)
        ("250", None, "125.0", False),  # the highest plausible weight (protocol default 250 kg)
        ("30.1", None, "15.1", False),  # 15.05 -> 15.1
        ("100", "90", "45.0", True),  # capped: 90 x 0.5
        ("120.5", "100", "50.0", True),  # capped: 100 x 0.5
        ("90", "90", "45.0", False),  # at the cap: not capped
        ("89.9", "90", "45.0", False),  # 44.95 -> 45.0, below the cap
    ],
)
def test_it_computes_the_dose_to_a_tenth_of_a_mg_rounding_halves_up(
    weight: str, cap: str | None, expected_dose: str, expected_capped: bool
) -> None:
    dose, capped = dose_mg(D(weight), MG_PER_KG, D(cap) if cap is not None else None)
    assert_same_decimal(dose, expected_dose)
    assert capped is expected_capped


# weight, cap, active, vial mg/mL -> weight used, dose mg, drawn mL, diluent mL, capped
PREPARATIONS = [
    # 35.0 / 10 = 3.5 -> 3.50; 50 - 3.50 = 46.50
    pytest.param("70", None, True, "10", "70", "35.0", "3.50", "46.50", False, id="70kg-10mg/mL"),
    # 36.2 / 50 = 0.724 -> 0.72; 50 - 0.72 = 49.28
    pytest.param("72.3", None, True, "50", "72.3", "36.2", "0.72", "49.28", False, id="72.3kg-50mg/mL"),
    # 36.2 / 10 = 3.62; 50 - 3.62 = 46.38
    pytest.param("72.3", None, True, "10", "72.3", "36.2", "3.62", "46.38", False, id="72.3kg-10mg/mL"),
    # 72.5 / 100 = 0.725 -> 0.73 (half up); 50 - 0.73 = 49.27
    pytest.param("145", None, True, "100", "145", "72.5", "0.73", "49.27", False, id="0.725-halves-up"),
    # 36.5 / 100 = 0.365 -> 0.37 (half up); 50 - 0.37 = 49.63
    pytest.param("73", None, True, "100", "73", "36.5", "0.37", "49.63", False, id="0.365-halves-up"),
    # 29.05 -> 29.1; 29.1 / 50 = 0.582 -> 0.58; 50 - 0.58 = 49.42
    pytest.param("58.1", None, True, "50", "58.1", "29.1", "0.58", "49.42", False, id="58.1kg-50mg/mL"),
    # 31.25 -> 31.3; 31.3 / 100 = 0.313 -> 0.31; 50 - 0.31 = 49.69
    pytest.param("62.5", None, True, "100", "62.5", "31.3", "0.31", "49.69", False, id="62.5kg-100mg/mL"),
    # 32.5 / 50 = 0.65; 50 - 0.65 = 49.35
    pytest.param("65", None, True, "50", "65", "32.5", "0.65", "49.35", False, id="65kg-50mg/mL"),
    # 100 kg capped at 90: 45.0 / 10 = 4.50; 50 - 4.50 = 45.50
    pytest.param("100", "90", True, "10", "90", "45.0", "4.50", "45.50", True, id="capped-ketamine"),
    # 100 kg at 1 mg/mL: 50.0 mL drawn fills the syringe exactly; no diluent
    pytest.param("100", None, True, "1", "100", "50.0", "50.00", "0.00", False, id="drawn-equals-total"),
    # placebo: nothing drawn, saline to the same total
    pytest.param("70", None, False, "10", "70", "0.0", "0.00", "50.00", False, id="placebo-70kg"),
    pytest.param("72.3", None, False, "50", "72.3", "0.0", "0.00", "50.00", False, id="placebo-72.3kg"),
    pytest.param("100", "90", False, "10", "90", "0.0", "0.00", "50.00", True, id="capped-placebo"),
    # placebo never draws ketamine, so even a very dilute vial cannot overflow the syringe
    pytest.param("120", None, False, "0.5", "120", "0.0", "0.00", "50.00", False, id="placebo-dilute-vial"),
]


@pytest.mark.parametrize(
    ("weight", "cap", "active", "vial", "used", "dose", "drawn", "diluent", "capped"), PREPARATIONS
)
def test_it_prepares_the_syringe_by_the_rounding_rule(
    weight: str,
    cap: str | None,
    active: bool,
    vial: str,
    used: str,
    dose: str,
    drawn: str,
    diluent: str,
    capped: bool,
) -> None:
    prep = prepare(
        weight_kg=D(weight),
        active=active,
        mg_per_kg=MG_PER_KG,
        vial_concentration_mg_ml=D(vial),
        total_volume_ml=TOTAL,
        infusion_minutes=MINUTES,
        weight_cap_kg=D(cap) if cap is not None else None,
    )
    assert isinstance(prep, Preparation)
    assert prep.weight_used_kg == D(used)
    assert_same_decimal(prep.dose_mg, dose)
    assert_same_decimal(prep.volume_drawn_ml, drawn)
    assert_same_decimal(prep.diluent_ml, diluent)
    assert prep.total_volume_ml == D("50")
    assert_same_decimal(prep.pump_rate_ml_h, "75.0")
    assert prep.weight_capped is capped
    assert prep.volume_drawn_ml + prep.diluent_ml == prep.total_volume_ml


@pytest.mark.parametrize(
    ("total", "minutes", "expected"),
    [
        ("50", 40, "75.0"),  # 50 / 40 x 60 = 75 (the protocol default)
        ("50", 30, "100.0"),  # 50 / 30 x 60 = 100
        ("100", 40, "150.0"),  # 100 / 40 x 60 = 150
        ("60", 40, "90.0"),  # 60 / 40 x 60 = 90
        ("50", 80, "37.5"),  # 50 / 80 x 60 = 37.5
        ("50", 45, "66.7"),  # 50 / 45 x 60 = 66.666... -> 66.7
        ("50", 35, "85.7"),  # 50 / 35 x 60 = 85.714... -> 85.7
        ("10.25", 60, "10.3"),  # 10.25 / 60 x 60 = 10.25 -> 10.3 (half up)
    ],
)
def test_it_gives_the_pump_rate_as_total_volume_over_infusion_time(
    total: str, minutes: int, expected: str
) -> None:
    assert_same_decimal(pump_rate_ml_h(D(total), minutes), expected)


@pytest.mark.parametrize(
    ("weight", "vial", "total", "minutes", "rate"),
    [
        ("70", "10", "50", 40, "75.0"),
        ("72.3", "50", "50", 40, "75.0"),
        ("100", "100", "50", 40, "75.0"),
        ("58.1", "10", "60", 45, "80.0"),  # 60 / 45 x 60 = 80
    ],
)
def test_it_gives_ketamine_and_placebo_the_same_total_volume_and_pump_rate(
    weight: str, vial: str, total: str, minutes: int, rate: str
) -> None:
    common = {
        "weight_kg": D(weight),
        "mg_per_kg": MG_PER_KG,
        "vial_concentration_mg_ml": D(vial),
        "total_volume_ml": D(total),
        "infusion_minutes": minutes,
    }
    ketamine = prepare(active=True, **common)
    placebo = prepare(active=False, **common)
    assert ketamine.total_volume_ml == placebo.total_volume_ml == D(total)
    assert ketamine.pump_rate_ml_h == placebo.pump_rate_ml_h
    assert_same_decimal(ketamine.pump_rate_ml_h, rate)
    assert_same_decimal(placebo.pump_rate_ml_h, rate)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"weight_kg": D("0")}, "weight must be positive", id="zero weight"),
        pytest.param({"weight_kg": D("-70")}, "weight must be positive", id="negative weight"),
        pytest.param({"weight_kg": D("-0.1")}, "weight must be positive", id="slightly negative weight"),
        pytest.param(
            {"weight_kg": D("0"), "active": False}, "weight must be positive", id="placebo zero weight"
        ),
        pytest.param({"vial_concentration_mg_ml": D("0")}, "vial concentration", id="zero concentration"),
        pytest.param(
            {"vial_concentration_mg_ml": D("-10")}, "vial concentration", id="negative concentration"
        ),
        pytest.param({"total_volume_ml": D("0")}, "total volume", id="zero total volume"),
        pytest.param({"infusion_minutes": 0}, "infusion time", id="zero minutes"),
        # 120 x 0.5 = 60.0 mg at 1 mg/mL = 60.00 mL > 50 mL
        pytest.param(
            {"weight_kg": D("120"), "vial_concentration_mg_ml": D("1")},
            r"60\.00 mL\) exceeds the total volume \(50 mL\)",
            id="drawn exceeds total",
        ),
        # 70 x 0.5 = 35.0 mg at 0.5 mg/mL = 70.00 mL > 50 mL
        pytest.param(
            {"vial_concentration_mg_ml": D("0.5")}, "exceeds the total volume", id="very dilute vial"
        ),
        # 100.2 x 0.5 = 50.1 mg at 1 mg/mL = 50.10 mL > 50 mL (just over)
        pytest.param(
            {"weight_kg": D("100.2"), "vial_concentration_mg_ml": D("1")},
            "exceeds the total volume",
            id="drawn just over total",
        ),
    ],
)
def test_it_refuses_inputs_that_cannot_give_a_safe_preparation(changes: dict, message: str) -> None:
    params = {
        "weight_kg": D("70"),
        "active": True,
        "mg_per_kg": MG_PER_KG,
        "vial_concentration_mg_ml": D("10"),
        "total_volume_ml": TOTAL,
        "infusion_minutes": MINUTES,
    } | changes
    with pytest.raises(DosingError, match=message):
        prepare(**params)


@pytest.mark.parametrize("weight", [D("0"), D("-1")])
def test_it_refuses_a_dose_for_a_non_positive_weight(weight: D) -> None:
    with pytest.raises(DosingError, match="weight must be positive"):
        dose_mg(weight, MG_PER_KG)


def test_it_raises_dosing_errors_as_value_errors() -> None:
    assert issubclass(DosingError, ValueError)


@pytest.mark.parametrize("mg_per_kg", [D("0"), D("-0.5")])
def test_it_refuses_a_non_positive_dose_per_kg_for_ketamine(mg_per_kg: D) -> None:
    with pytest.raises(DosingError):
        prepare(
            weight_kg=D("70"),
            active=True,
            mg_per_kg=mg_per_kg,
            vial_concentration_mg_ml=D("10"),
            total_volume_ml=TOTAL,
            infusion_minutes=MINUTES,
        )


@pytest.mark.parametrize(
    ("drawn", "ml_per_vial", "mg_per_vial", "dose", "vials", "wasted"),
    [
        # 0.5 mg/kg for 70 kg = 35 mg from 50 mg/mL vials of 10 mL (500 mg): 0.7 mL, one vial.
        (D("0.7"), D("10"), D("500"), D("35"), 1, D("465")),
        # Exactly one vial's volume: one vial, nothing wasted.
        (D("10"), D("10"), D("500"), D("500"), 1, D("0")),
        # Just over one vial: a second one is opened.
        (D("10.1"), D("10"), D("500"), D("505"), 2, D("495")),
    ],
)
def test_it_counts_whole_vials_opened_and_the_milligrams_left_in_them(
    drawn: D, ml_per_vial: D, mg_per_vial: D, dose: D, vials: int, wasted: D
) -> None:
    assert vials_and_waste(
        volume_drawn_ml=drawn, ml_per_vial=ml_per_vial, mg_per_vial=mg_per_vial, dose_mg=dose
    ) == (vials, wasted)


def test_it_refuses_a_vial_of_no_volume() -> None:
    with pytest.raises(DosingError):
        vials_and_waste(
            volume_drawn_ml=D("1"),
            ml_per_vial=D("0"),
            mg_per_vial=D("500"),
            dose_mg=D("5"),
        )


# --------------------------------------------------------------------------- plausible weight
# PROTOCOL.md: "Dose = 0.5 mg/kg x weight measured on the infusion day (default: no weight cap;
# configurable)." The protocol gives no plausible range: 30-250 kg is the software's default for
# adults (Protocol.weight_min_kg / weight_max_kg), separate from the cap, overridable.

KETAMINE = {
    "active": True,
    "mg_per_kg": MG_PER_KG,
    "vial_concentration_mg_ml": D("50"),
    "total_volume_ml": TOTAL,
    "infusion_minutes": MINUTES,
}


def test_the_plausible_weight_range_defaults_to_30_to_250_kg_and_no_cap() -> None:
    """PROTOCOL.md: "(default: no weight cap; configurable)"; the range is a separate parameter."""
    assert (DEFAULT_PROTOCOL.weight_min_kg, DEFAULT_PROTOCOL.weight_max_kg) == (30, 250)
    assert DEFAULT_PROTOCOL.weight_cap_kg is None
    p = protocol_with_overrides({"weight_min_kg": 40, "weight_max_kg": 300})
    assert (p.weight_min_kg, p.weight_max_kg, p.weight_cap_kg) == (40, 300, None)


@pytest.mark.parametrize(
    ("weight", "shown"),
    [
        pytest.param(D("400"), "400", id="400 kg (would be 200 mg)"),
        pytest.param(D("250.1"), "250.1", id="just over the range"),
        pytest.param(D("29.9"), "29.9", id="just under the range"),
        pytest.param(0.0001, "0.0001", id="0.0001 kg"),
        pytest.param(D("0.07"), "0.07", id="grams typed as kg"),
        pytest.param(1000, "1000", id="an int"),
    ],
)
def test_it_refuses_a_weight_outside_the_plausible_range_with_its_own_error(
    weight: object, shown: str
) -> None:
    """400 kg gave 200 mg and 0.0001 kg a dose: a weight outside 30-250 kg is refused, cap or not."""
    message = rf"weight of {shown} kg is outside the plausible range 30-250 kg"
    with pytest.raises(WeightError, match=message):
        dose_mg(weight, MG_PER_KG)
    with pytest.raises(WeightError, match=message):
        prepare(weight_kg=weight, **KETAMINE)
    with pytest.raises(WeightError, match=message):
        prepare(weight_kg=weight, weight_cap_kg=D("100"), **KETAMINE)  # the cap is not the range


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        pytest.param(True, "must be a number, not True", id="True"),
        pytest.param(False, "must be a number, not False", id="False"),
        pytest.param(None, "must be a number, not None", id="None"),
        pytest.param(float("nan"), "must be a finite number, not NaN", id="float NaN"),
        pytest.param(D("NaN"), "must be a finite number, not NaN", id="Decimal NaN"),
        pytest.param(D("sNaN"), "must be a finite number, not sNaN", id="Decimal sNaN"),
        pytest.param(float("inf"), "must be a finite number, not Infinity", id="float inf"),
        pytest.param(float("-inf"), "must be a finite number, not -Infinity", id="float -inf"),
        pytest.param(D("Infinity"), "must be a finite number, not Infinity", id="Decimal Infinity"),
        pytest.param(D("-70"), "must be positive, not -70 kg", id="negative"),
        pytest.param(-0.5, "must be positive, not -0.5 kg", id="negative float"),
        pytest.param(D("0"), "must be positive, not 0 kg", id="zero"),
        pytest.param(0.0, "must be positive, not 0.0 kg", id="float zero"),
        pytest.param("70", "must be a number, not str '70'", id="text"),
        pytest.param("seventy", "must be a number, not str 'seventy'", id="words"),
        pytest.param([70], r"must be a number, not list \[70\]", id="a list"),
    ],
)
def test_it_refuses_every_input_that_is_not_a_weight_with_its_own_error(weight: object, message: str) -> None:
    """Bools, None, NaN, infinities, text, zero and negatives raise WeightError (a DosingError, a
    ValueError) with a message, never TypeError or decimal.InvalidOperation."""
    for call in (lambda: dose_mg(weight, MG_PER_KG), lambda: prepare(weight_kg=weight, **KETAMINE)):
        with pytest.raises(WeightError, match=message) as info:
            call()
        assert isinstance(info.value, DosingError) and isinstance(info.value, ValueError)


def test_a_float_weight_is_read_through_its_text_not_its_binary_value() -> None:
    """72.3 kg x 0.5 = 36.15 -> 36.2 mg (half up); the binary value of the float 72.3
    (72.2999...) would give 36.1 mg."""
    dose, capped = dose_mg(72.3, MG_PER_KG)
    assert_same_decimal(dose, "36.2")
    assert capped is False
    prep = prepare(weight_kg=72.3, **KETAMINE)
    assert prep.weight_measured_kg == prep.weight_used_kg == D("72.3")
    assert_same_decimal(prep.dose_mg, "36.2")
    assert_same_decimal(prep.volume_drawn_ml, "0.72")  # 36.2 / 50 = 0.724 -> 0.72


@pytest.mark.parametrize(
    ("weight", "low", "high", "refused"),
    [
        ("35", "40", "250", True),  # the study raised the lower bound
        ("40", "40", "250", False),  # bounds included
        ("280", "30", "300", False),  # the study raised the upper bound
        ("300.1", "30", "300", True),
        ("250.5", "30", "250", True),
    ],
)
def test_the_plausible_range_is_configurable(weight: str, low: str, high: str, refused: bool) -> None:
    kwargs = {"weight_kg": D(weight), "weight_min_kg": D(low), "weight_max_kg": D(high), **KETAMINE}
    if refused:
        with pytest.raises(WeightError, match=f"outside the plausible range {low}-{high} kg"):
            prepare(**kwargs)
    else:
        assert prepare(**kwargs).weight_used_kg == D(weight)


def test_the_cap_applies_inside_the_plausible_range_and_is_reported() -> None:
    """A heavy but plausible participant is dosed at the cap when one is configured."""
    prep = prepare(weight_kg=D("200"), weight_cap_kg=D("120"), **KETAMINE)
    assert (prep.weight_measured_kg, prep.weight_used_kg, prep.weight_capped) == (D("200"), D("120"), True)
    assert_same_decimal(prep.dose_mg, "60.0")  # 120 x 0.5


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (D("250"), D("30")),
        (D("70"), D("70")),
        (D("0"), D("250")),
        (float("nan"), D("250")),
        (D("30"), None),
        (True, 250),
    ],
)
def test_a_misconfigured_plausible_range_lets_no_weight_through(low: object, high: object) -> None:
    with pytest.raises(DosingError, match="plausible weight"):
        prepare(weight_kg=D("70"), weight_min_kg=low, weight_max_kg=high, **KETAMINE)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"mg_per_kg": D("NaN")}, "dose per kg must be a finite number", id="NaN dose per kg"),
        pytest.param({"mg_per_kg": True}, "dose per kg must be a number, not True", id="True dose per kg"),
        pytest.param(
            {"vial_concentration_mg_ml": float("nan")}, "vial concentration must be a finite", id="NaN vial"
        ),
        pytest.param({"vial_concentration_mg_ml": None}, "vial concentration must be a number", id="no vial"),
        pytest.param({"total_volume_ml": "50"}, "total volume must be a number, not str", id="text volume"),
        pytest.param({"infusion_minutes": 40.0}, "infusion time", id="float minutes"),
        pytest.param({"infusion_minutes": True}, "infusion time", id="True minutes"),
        pytest.param({"weight_cap_kg": D("NaN")}, "weight cap", id="NaN cap"),
        pytest.param({"active": "yes"}, "active must be true", id="text product"),
    ],
)
def test_it_refuses_other_inputs_that_are_not_numbers_with_a_dosing_error(
    changes: dict, message: str
) -> None:
    with pytest.raises(DosingError, match=message):
        prepare(**({"weight_kg": D("70"), **KETAMINE} | changes))


def test_float_quantities_are_read_through_their_text() -> None:
    prep = prepare(
        weight_kg=70.0,
        active=True,
        mg_per_kg=0.5,
        vial_concentration_mg_ml=10.0,
        total_volume_ml=50.0,
        infusion_minutes=MINUTES,
    )
    assert_same_decimal(prep.dose_mg, "35.0")
    assert_same_decimal(prep.volume_drawn_ml, "3.50")
    assert_same_decimal(prep.pump_rate_ml_h, "75.0")


@pytest.mark.parametrize(
    "overrides",
    [{"weight_min_kg": 250, "weight_max_kg": 30}, {"weight_min_kg": 0}, {"weight_max_kg": 20}],
)
def test_start_up_refuses_a_plausible_weight_range_that_would_refuse_every_dose(
    overrides: dict, settings, tmp_path
) -> None:
    import json

    from ketatrial.checks import check_protocol

    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(overrides))
    settings.PROTOCOL_OVERRIDES_FILE = str(path)
    assert [e.id for e in check_protocol()] == ["ketatrial.E005"]
    path.write_text(json.dumps({"weight_min_kg": 40, "weight_max_kg": 200}))
    assert check_protocol() == []
