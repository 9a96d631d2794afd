"""Dose preparation: product and arithmetic (the arithmetic itself is in the pure
infusions/dosing.py), the second pharmacist's check, syringe codes and labels identical for both
products."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from infusions import dosing
from ketatrial.audit import clinical_create
from ketatrial.protocol import PHARMACIST
from ketatrial.trial import protocol
from participants import randomization
from participants.access import has_role
from participants.allocation.access import (
    PRODUCT_KETAMINE,
    PRODUCT_PLACEBO,
    product_for,
    require_unblinded,
    sequence_for,
)
from participants.allocation.ledger import accountability_balance
from participants.models import (
    DosePreparation,
    KetamineReceipt,
    Participant,
)

SYRINGE_ALPHABET = randomization.KIT_ALPHABET


def _syringe_code() -> str:
    # Random, the same format for both products: the code says nothing about the content.
    return "S-" + "".join(secrets.choice(SYRINGE_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class BlindedPreparation:
    """What the blinded infusion team sees of a preparation (identical for both products)."""

    syringe_code: str
    total_volume_ml: Decimal
    pump_rate_ml_h: Decimal
    prepared_at: datetime


def _blinded_preparation(prep: DosePreparation) -> BlindedPreparation:
    return BlindedPreparation(prep.syringe_code, prep.total_volume_ml, prep.pump_rate_ml_h, prep.prepared_at)


def blinded_preparation(
    participant: Participant, period: int, infusion_number: int
) -> BlindedPreparation | None:
    prep = DosePreparation.objects.filter(
        participant=participant, period=period, infusion_number=infusion_number
    ).first()
    return _blinded_preparation(prep) if prep else None


def preparation_plan(
    *,
    user: AbstractBaseUser,
    participant: Participant,
    period: int,
    weight_kg: Decimal,
    receipt: KetamineReceipt | None,
) -> tuple[str, dosing.Preparation]:
    """Product and arithmetic for a preparation (shown to the pharmacist before saving)."""
    require_unblinded(user)
    product = product_for(sequence_for(user, participant), period)
    p = protocol()
    if product == PRODUCT_KETAMINE and receipt is None:
        raise ValidationError({"receipt": _("Choose the ketamine lot the dose is drawn from.")})
    concentration = receipt.concentration_mg_ml if receipt else Decimal("1")
    try:
        plan = dosing.prepare(
            weight_kg=weight_kg,
            active=product == PRODUCT_KETAMINE,
            mg_per_kg=Decimal(str(p.dose_mg_per_kg)),
            vial_concentration_mg_ml=concentration,
            total_volume_ml=Decimal(str(p.total_volume_ml)),
            infusion_minutes=p.infusion_minutes,
            weight_cap_kg=Decimal(str(p.weight_cap_kg)) if p.weight_cap_kg is not None else None,
            weight_min_kg=p.weight_min_kg,
            weight_max_kg=p.weight_max_kg,
        )
    except dosing.WeightError as exc:
        raise ValidationError(
            {
                "weight_kg": _(
                    "A dose cannot be computed from a weight of %(weight)s kg: the weight must be a "
                    "number between %(min)s and %(max)s kg. Weigh the participant again and enter "
                    "the weight in kg."
                )
                % {"weight": weight_kg, "min": f"{p.weight_min_kg:g}", "max": f"{p.weight_max_kg:g}"}
            }
        ) from exc
    except dosing.DosingError as exc:
        raise ValidationError(str(exc)) from exc
    return product, plan


@transaction.atomic
def dose_prepare(
    *,
    participant: Participant,
    period: int,
    infusion_number: int,
    weight_kg: Decimal,
    receipt: KetamineReceipt | None,
    checked_by: AbstractBaseUser,
    by: AbstractBaseUser,
    now: datetime,
) -> DosePreparation:
    """Record one preparation: dose from the weight measured today, a second pharmacist checks."""
    from participants.services import require_consent

    require_unblinded(by)
    participant = Participant.objects.select_for_update().select_related("screening").get(pk=participant.pk)
    if checked_by.pk == by.pk or not has_role(checked_by, PHARMACIST):
        raise ValidationError({"checked_by": _("The second checker must be another pharmacist.")})
    require_consent(participant, at=now)
    if participant.status != Participant.Status.RANDOMIZED:
        raise ValidationError(_("Only a randomized participant in follow-up can receive an infusion."))
    n_infusions = (
        len(protocol().period1_infusion_days)
        if period == 1
        else len(protocol().period2_infusion_days(sequence_for(by, participant)))
    )
    if not 1 <= infusion_number <= n_infusions:
        raise ValidationError(
            {"infusion_number": _("Infusion number must be between 1 and %d.") % n_infusions}
        )
    product, plan = preparation_plan(
        user=by, participant=participant, period=period, weight_kg=weight_kg, receipt=receipt
    )
    if product == PRODUCT_PLACEBO:
        receipt = None
    vials, wasted = (
        dosing.vials_and_waste(
            volume_drawn_ml=plan.volume_drawn_ml,
            ml_per_vial=receipt.ml_per_vial,
            mg_per_vial=receipt.mg_per_vial,
            dose_mg=plan.dose_mg,
        )
        if receipt
        else (0, Decimal("0"))
    )
    if receipt is not None and vials > accountability_balance(receipt):
        raise ValidationError({"receipt": _("Lot %s has not enough vials left.") % receipt.lot})
    prep = DosePreparation(
        participant=participant,
        period=period,
        infusion_number=infusion_number,
        weight_kg=plan.weight_measured_kg,
        weight_capped=plan.weight_capped,
        dose_mg=plan.dose_mg,
        receipt=receipt,
        vial_concentration_mg_ml=receipt.concentration_mg_ml if receipt else None,
        volume_drawn_ml=plan.volume_drawn_ml,
        vials_opened=vials,
        wasted_mg=wasted,
        diluent_ml=plan.diluent_ml,
        total_volume_ml=plan.total_volume_ml,
        pump_rate_ml_h=plan.pump_rate_ml_h,
        syringe_code=_syringe_code(),
        prepared_by=by,
        checked_by=checked_by,
        prepared_at=now,
    )
    if DosePreparation.objects.filter(
        participant=participant, period=period, infusion_number=infusion_number
    ).exists():
        raise ValidationError(_("This infusion is already prepared."))
    return clinical_create(prep, by=by, reason="prepared")


def preparations_for(user: AbstractBaseUser, participant: Participant) -> list[DosePreparation]:
    require_unblinded(user)
    return list(
        DosePreparation.objects.filter(participant=participant).select_related(
            "prepared_by", "checked_by", "receipt"
        )
    )


def preparation_get(user: AbstractBaseUser, pk: int) -> DosePreparation:
    require_unblinded(user)
    prep = DosePreparation.objects.filter(pk=pk).select_related("participant").first()
    if prep is None:
        from participants.access import not_found

        raise not_found()
    return prep


def label_context(prep: DosePreparation) -> dict[str, Any]:
    """The syringe label: the same fields, wording and layout for ketamine and placebo."""
    return {
        "participant_code": prep.participant.code,
        "period": prep.period,
        "infusion_number": prep.infusion_number,
        "syringe_code": prep.syringe_code,
        "total_volume_ml": prep.total_volume_ml,
        "pump_rate_ml_h": prep.pump_rate_ml_h,
        "infusion_minutes": protocol().infusion_minutes,
        "prepared_date": prep.prepared_at,
    }
