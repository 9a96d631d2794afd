"""Dose preparation arithmetic (pure; no Django).

Rounding rule (stated once, used everywhere): the dose is computed from the weight in kg to the
nearest 0.1 mg, halves rounded up (ROUND_HALF_UP); the volume of ketamine drawn is the dose
divided by the vial concentration to the nearest 0.01 mL, halves up; the diluent is the fixed
total volume minus the drawn volume; the pump rate is the total volume over the infusion time,
to 0.1 mL/h. Placebo draws no ketamine and fills the same total volume with saline, so the
syringe, volume and rate are identical.

Inputs are checked before any arithmetic: a weight must be a finite number of kg inside the
plausible range of the protocol (`weight_min_kg`-`weight_max_kg`, 30-250 kg by default; separate
from the optional weight cap), and every other quantity a finite positive number. A float is
read through its shortest text form (70.1 -> Decimal("70.1"), not its binary expansion); bools,
None, NaN, infinities and text are refused with a DosingError (a WeightError for the weight)
that says what is wrong, never a TypeError or decimal.InvalidOperation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ketatrial.protocol import DEFAULT_PROTOCOL

MG = Decimal("0.1")
ML = Decimal("0.01")
RATE = Decimal("0.1")

WEIGHT_MIN_KG = Decimal(str(DEFAULT_PROTOCOL.weight_min_kg))
WEIGHT_MAX_KG = Decimal(str(DEFAULT_PROTOCOL.weight_max_kg))


class DosingError(ValueError):
    """Inputs that cannot give a safe preparation; the message says which."""


class WeightError(DosingError):
    """A weight no dose may be computed from: not a number of kg, or outside the plausible range."""


def _decimal(value: object, what: str, error: type[DosingError]) -> Decimal:
    """`value` as a finite Decimal, or `error` naming `what` and the value received."""
    if isinstance(value, bool) or value is None:
        raise error(f"{what} must be a number, not {value!r}")
    if isinstance(value, float):
        number = Decimal(str(value))  # the shortest text of the float: 70.1 stays 70.1
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    else:
        raise error(f"{what} must be a number, not {type(value).__name__} {value!r}")
    if not number.is_finite():
        raise error(f"{what} must be a finite number, not {number}")
    return number


def _plain(number: Decimal) -> str:
    """A bound as people write it: 30, 250, 42.5 (not 30.0 or 2.5E+2)."""
    return format(number.normalize(), "f")


def _positive(value: object, what: str) -> Decimal:
    number = _decimal(value, what, DosingError)
    if number <= 0:
        raise DosingError(f"{what} must be positive, not {number}")
    return number


def weight_range(minimum: object = WEIGHT_MIN_KG, maximum: object = WEIGHT_MAX_KG) -> tuple[Decimal, Decimal]:
    """The plausible weight range as Decimals; refuses a range that is not positive and ordered
    (a misconfigured protocol must not let every weight through)."""
    low = _positive(minimum, "the lowest plausible weight (weight_min_kg)")
    high = _positive(maximum, "the highest plausible weight (weight_max_kg)")
    if low >= high:
        raise DosingError(f"the plausible weight range is empty: weight_min_kg {low} >= weight_max_kg {high}")
    return low, high


def plausible_weight_kg(
    value: object, *, minimum: object = WEIGHT_MIN_KG, maximum: object = WEIGHT_MAX_KG
) -> Decimal:
    """The measured weight as a Decimal number of kg, checked against the plausible range
    [`minimum`, `maximum`] (bounds included); WeightError otherwise, saying what to check."""
    low, high = weight_range(minimum, maximum)
    weight = _decimal(value, "the weight (kg)", WeightError)
    if weight <= 0:
        raise WeightError(f"the weight must be positive, not {weight} kg")
    if not low <= weight <= high:
        raise WeightError(
            f"a weight of {weight} kg is outside the plausible range {_plain(low)}-{_plain(high)} kg: "
            "weigh the participant again and enter the weight in kg"
        )
    return weight


@dataclass(frozen=True)
class Preparation:
    weight_used_kg: Decimal
    dose_mg: Decimal
    volume_drawn_ml: Decimal
    diluent_ml: Decimal
    total_volume_ml: Decimal
    pump_rate_ml_h: Decimal
    weight_capped: bool
    weight_measured_kg: Decimal  # the weight entered, checked (weight_used_kg is after the cap)


def dose_mg(
    weight_kg: object,
    mg_per_kg: object,
    weight_cap_kg: object = None,
    *,
    weight_min_kg: object = WEIGHT_MIN_KG,
    weight_max_kg: object = WEIGHT_MAX_KG,
) -> tuple[Decimal, bool]:
    """Dose in mg for a plausible weight (to 0.1 mg, halves up); the cap, if any, limits the
    weight used. Returns the dose and whether the cap applied."""
    weight = plausible_weight_kg(weight_kg, minimum=weight_min_kg, maximum=weight_max_kg)
    per_kg = _positive(mg_per_kg, "the dose per kg")
    cap = None if weight_cap_kg is None else _positive(weight_cap_kg, "the weight cap (kg)")
    capped = cap is not None and weight > cap
    used = cap if capped and cap is not None else weight
    return (used * per_kg).quantize(MG, rounding=ROUND_HALF_UP), capped


def pump_rate_ml_h(total_volume_ml: object, infusion_minutes: object) -> Decimal:
    """The pump rate (mL/h) that gives the total volume over the infusion time, to 0.1 mL/h."""
    total = _positive(total_volume_ml, "the total volume")
    if isinstance(infusion_minutes, bool) or not isinstance(infusion_minutes, int) or infusion_minutes <= 0:
        raise DosingError(
            f"the infusion time must be a positive whole number of minutes, not {infusion_minutes!r}"
        )
    return (total * 60 / Decimal(infusion_minutes)).quantize(RATE, rounding=ROUND_HALF_UP)


def prepare(
    *,
    weight_kg: object,
    active: bool,
    mg_per_kg: object,
    vial_concentration_mg_ml: object,
    total_volume_ml: object,
    infusion_minutes: object,
    weight_cap_kg: object = None,
    weight_min_kg: object = WEIGHT_MIN_KG,
    weight_max_kg: object = WEIGHT_MAX_KG,
) -> Preparation:
    """The preparation record for ketamine (`active`) or placebo at the same total volume, from
    the weight measured today (checked against the plausible range before anything else)."""
    weight = plausible_weight_kg(weight_kg, minimum=weight_min_kg, maximum=weight_max_kg)
    if not isinstance(active, bool):
        raise DosingError(f"active must be true (ketamine) or false (placebo), not {active!r}")
    per_kg = _positive(mg_per_kg, "the dose per kg")
    concentration = _positive(vial_concentration_mg_ml, "the vial concentration")
    total = _positive(total_volume_ml, "the total volume")
    rate = pump_rate_ml_h(total, infusion_minutes)
    cap = None if weight_cap_kg is None else _positive(weight_cap_kg, "the weight cap (kg)")
    dose, capped = dose_mg(weight, per_kg, cap, weight_min_kg=weight_min_kg, weight_max_kg=weight_max_kg)
    used = cap if capped and cap is not None else weight
    drawn = (dose / concentration).quantize(ML, rounding=ROUND_HALF_UP) if active else Decimal("0.00")
    if drawn > total:
        raise DosingError(
            f"the ketamine volume ({drawn} mL) exceeds the total volume ({total} mL): check the vial concentration"
        )
    return Preparation(
        weight_used_kg=used,
        dose_mg=dose if active else Decimal("0.0"),
        volume_drawn_ml=drawn,
        diluent_ml=(total - drawn).quantize(ML),
        total_volume_ml=total,
        pump_rate_ml_h=rate,
        weight_capped=capped,
        weight_measured_kg=weight,
    )


def vials_and_waste(
    *, volume_drawn_ml: object, ml_per_vial: object, mg_per_vial: object, dose_mg: object
) -> tuple[int, Decimal]:
    """Vials opened to draw `volume_drawn_ml` (whole vials: an opened vial is not reused) and the
    milligrams left in them, which the controlled-drug register records as waste."""
    per_vial_ml = _positive(ml_per_vial, "a vial's volume")
    per_vial_mg = _positive(mg_per_vial, "a vial's dose")
    drawn = _decimal(volume_drawn_ml, "the volume drawn", DosingError)
    dose = _decimal(dose_mg, "the dose", DosingError)
    if drawn < 0 or dose < 0:
        raise DosingError("the volume drawn and the dose cannot be negative")
    vials = math.ceil(drawn / per_vial_ml)
    return vials, vials * per_vial_mg - dose


# The controlled-drug register (participants/allocation/ledger.py reads its lines; the arithmetic
# is here). Quantities are in mg to 0.1 mg, volumes in mL to 0.01 mL, halves up, like a dose.
REGISTER_IN = frozenset({"received"})
REGISTER_OUT = frozenset({"dispensed", "wasted", "returned"})
REGISTER_COUNTED = "counted"
# A syringe destroyed after its dose was dispensed (rejected at the second check): recorded and
# witnessed, but the dose already left the stock on its dispensed line.
REGISTER_NO_EFFECT = frozenset({"destroyed"})


@dataclass(frozen=True)
class RegisterStep:
    """One line of a lot's register after the arithmetic: the book balance after it, and for a
    count the difference found (counted minus book; the book balance is not changed by a count,
    a discrepancy is investigated, never written off)."""

    kind: str
    quantity_mg: Decimal
    balance_mg: Decimal
    discrepancy_mg: Decimal | None


def mg(value: object) -> Decimal:
    """A quantity in mg as the register shows it: to 0.1 mg, halves up (593.8, never
    593.800000000000)."""
    return _decimal(value, "a quantity (mg)", DosingError).quantize(MG, rounding=ROUND_HALF_UP)


def ml_of(quantity_mg: object, concentration_mg_ml: object) -> Decimal:
    """The volume in mL of `quantity_mg` at the lot's concentration, to 0.01 mL, halves up."""
    concentration = _positive(concentration_mg_ml, "the concentration (mg/mL)")
    return (_decimal(quantity_mg, "a quantity (mg)", DosingError) / concentration).quantize(
        ML, rounding=ROUND_HALF_UP
    )


def register_steps(lines: list[tuple[str, object]]) -> list[RegisterStep]:
    """The running balance of one lot over its register lines, in the order given (oldest first):
    received adds, dispensed, wasted and returned take away, counted compares, destroyed (a
    rejected syringe, already dispensed) leaves it. Each line is
    (kind, quantity in mg); a quantity is never negative."""
    balance = Decimal("0.0")
    steps = []
    for kind, quantity in lines:
        amount = mg(quantity)
        if amount < 0:
            raise DosingError(f"a register quantity cannot be negative, not {amount} mg")
        discrepancy = None
        if kind in REGISTER_IN:
            balance += amount
        elif kind in REGISTER_OUT:
            balance -= amount
        elif kind == REGISTER_COUNTED:
            discrepancy = amount - balance
        elif kind in REGISTER_NO_EFFECT:
            pass
        else:
            raise DosingError(f"not a kind of register line: {kind!r}")
        steps.append(RegisterStep(kind, amount, balance, discrepancy))
    return steps
