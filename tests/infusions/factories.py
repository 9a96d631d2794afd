"""A randomized participant with a schedule and prepared infusions, through the real services."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from infusions import services
from participants import allocation
from participants.models import KetamineReceipt, Participant
from tests.factories import randomized


def scheduled(
    *,
    coordinator: AbstractBaseUser,
    pharmacist: AbstractBaseUser,
    checker: AbstractBaseUser,
    day1: date,
    now: datetime,
    prepare: tuple[tuple[int, int], ...] = ((1, 1),),
    prepared_at: datetime | None = None,
) -> Participant:
    """Randomized at `now` with day 1 on `day1`, the `prepare` infusions prepared and checked at
    `prepared_at` (default `now`): a syringe is good for the protocol's beyond-use hours, so a
    session started later than that needs its syringe prepared closer to the start."""
    if allocation.allocation_list_active() is None:
        allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=10, seed=21)
    receipt = KetamineReceipt.objects.first() or allocation.receipt_record(
        lot="L1",
        vials=40,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=day1,
        by=pharmacist,
        now=now,
    )
    person = randomized(coordinator, now=now)
    services.schedule_set(participant=person, day1=day1, by=coordinator, now=now)
    for period, number in prepare:
        prepared_and_checked(
            participant=person,
            period=period,
            infusion_number=number,
            receipt=receipt,
            pharmacist=pharmacist,
            checker=checker,
            now=prepared_at or now,
        )
    return person


def prepared_and_checked(
    *,
    participant: Participant,
    period: int,
    infusion_number: int,
    receipt: KetamineReceipt | None,
    pharmacist: AbstractBaseUser,
    checker: AbstractBaseUser,
    now: datetime,
    weight_kg: Decimal = Decimal("70.0"),
) -> Any:
    """A preparation by `pharmacist`, confirmed by `checker` (the second pharmacist's check, as
    they would record it after reading the vial and the syringe)."""
    prep = allocation.dose_prepare(
        participant=participant,
        period=period,
        infusion_number=infusion_number,
        weight_kg=weight_kg,
        receipt=receipt,
        by=pharmacist,
        now=now,
    )
    return allocation.preparation_check(
        pk=prep.pk,
        decision=allocation.CONFIRM,
        lot=prep.receipt.lot if prep.receipt else "",
        volume_drawn_ml=prep.volume_drawn_ml,
        reason="",
        by=checker,
        now=now,
    )
