"""Dose preparation arithmetic (pure; no Django).

Rounding rule (stated once, used everywhere): the dose is computed from the weight in kg to the
nearest 0.1 mg, halves rounded up (ROUND_HALF_UP); the volume of ketamine drawn is the dose
divided by the vial concentration to the nearest 0.01 mL, halves up; the diluent is the fixed
total volume minus the drawn volume; the pump rate is the total volume over the infusion time,
to 0.1 mL/h. Placebo draws no ketamine and fills the same total volume with saline, so the
syringe, volume and rate are identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MG = Decimal("0.1")
ML = Decimal("0.01")
RATE = Decimal("0.1")


class DosingError(ValueError):
    """Inputs that cannot give a safe preparation; the message says which."""


@dataclass(frozen=True)
class Preparation:
    weight_used_kg: Decimal
    dose_mg: Decimal
    volume_drawn_ml: Decimal
    diluent_ml: Decimal
    total_volume_ml: Decimal
    pump_rate_ml_h: Decimal
    weight_capped: bool


def dose_mg(
    weight_kg: Decimal, mg_per_kg: Decimal, weight_cap_kg: Decimal | None = None
) -> tuple[Decimal, bool]:
    """Dose in mg for a weight (to 0.1 mg, halves up); the cap, if any, limits the weight used."""
    if weight_kg <= 0:
        raise DosingError("weight must be positive")
    capped = weight_cap_kg is not None and weight_kg > weight_cap_kg
    used = weight_cap_kg if capped and weight_cap_kg is not None else weight_kg
    return (used * mg_per_kg).quantize(MG, rounding=ROUND_HALF_UP), capped


def pump_rate_ml_h(total_volume_ml: Decimal, infusion_minutes: int) -> Decimal:
    return (total_volume_ml * 60 / Decimal(infusion_minutes)).quantize(RATE, rounding=ROUND_HALF_UP)


def prepare(
    *,
    weight_kg: Decimal,
    active: bool,
    mg_per_kg: Decimal,
    vial_concentration_mg_ml: Decimal,
    total_volume_ml: Decimal,
    infusion_minutes: int,
    weight_cap_kg: Decimal | None = None,
) -> Preparation:
    """The preparation record for ketamine (`active`) or placebo at the same total volume."""
    if mg_per_kg <= 0:
        raise DosingError("the dose per kg must be positive")
    if vial_concentration_mg_ml <= 0:
        raise DosingError("vial concentration must be positive")
    if total_volume_ml <= 0 or infusion_minutes <= 0:
        raise DosingError("total volume and infusion time must be positive")
    dose, capped = dose_mg(weight_kg, mg_per_kg, weight_cap_kg)
    used = weight_cap_kg if capped and weight_cap_kg is not None else weight_kg
    drawn = (
        (dose / vial_concentration_mg_ml).quantize(ML, rounding=ROUND_HALF_UP) if active else Decimal("0.00")
    )
    if drawn > total_volume_ml:
        raise DosingError(
            f"the ketamine volume ({drawn} mL) exceeds the total volume ({total_volume_ml} mL): check the vial concentration"
        )
    return Preparation(
        weight_used_kg=used,
        dose_mg=dose if active else Decimal("0.0"),
        volume_drawn_ml=drawn,
        diluent_ml=(total_volume_ml - drawn).quantize(ML),
        total_volume_ml=total_volume_ml,
        pump_rate_ml_h=pump_rate_ml_h(total_volume_ml, infusion_minutes),
        weight_capped=capped,
    )


def vials_and_waste(
    *, volume_drawn_ml: Decimal, ml_per_vial: Decimal, mg_per_vial: Decimal, dose_mg: Decimal
) -> tuple[int, Decimal]:
    """Vials opened to draw `volume_drawn_ml` (whole vials: an opened vial is not reused) and the
    milligrams left in them, which the controlled-drug register records as waste."""
    if ml_per_vial <= 0 or mg_per_vial <= 0:
        raise DosingError("a vial must hold a positive volume and dose")
    vials = math.ceil(volume_drawn_ml / ml_per_vial)
    return vials, vials * mg_per_vial - dose_mg
