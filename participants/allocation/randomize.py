"""Randomization (the next free slot of the stratum, in list order) and the neutral values
blinded users see of it: randomization number and kit code; the period-day patterns the schedule
needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_update
from participants.models import (
    AllocationList,
    AllocationSlot,
    Participant,
)


@dataclass(frozen=True)
class BlindedAllocation:
    """What blinded users may know of a randomization."""

    randomization_number: str
    kit_code: str
    randomized_at: datetime


def _blinded(slot: AllocationSlot) -> BlindedAllocation:
    assert slot.assigned_at is not None
    prefix = f"{slot.stratum}-" if slot.stratum else ""
    return BlindedAllocation(f"R-{prefix}{slot.sequence_no:03d}", slot.kit_code, slot.assigned_at)


def blinded_allocation(participant: Participant) -> BlindedAllocation | None:
    slot = AllocationSlot.objects.filter(participant=participant).first()
    return _blinded(slot) if slot else None


def blinded_allocations(participants: list[Participant]) -> dict[int, BlindedAllocation]:
    """Blinded allocation of many participants in one query (participant pk -> allocation)."""
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {slot.participant_id: _blinded(slot) for slot in slots if slot.participant_id}


@transaction.atomic
def participant_randomize(
    *, participant: Participant, by: AbstractBaseUser, now: datetime
) -> BlindedAllocation:
    """Give the participant the next free slot of the active list in their stratum.

    The active list row is locked for the whole transaction, so concurrent randomizations take
    the slots strictly in list order and none is skipped; the one-to-one constraint on the slot
    refuses a second randomization of the same participant even past this check.
    """
    from participants.services import randomization_readiness

    allocation_list = AllocationList.objects.select_for_update().filter(active=True).first()
    if allocation_list is None:
        raise ValidationError(_("No allocation list is loaded; the pharmacist must generate or upload one."))
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    problems = randomization_readiness(locked, now=now)
    if problems:
        raise ValidationError(problems)
    if AllocationSlot.objects.filter(participant=locked).exists():
        raise ValidationError(_("This participant is already randomized."))
    slot = (
        AllocationSlot.objects.filter(
            allocation_list=allocation_list, stratum=locked.stratum, participant=None
        )
        .order_by("sequence_no")
        .first()
    )
    if slot is None:
        raise ValidationError(_("The allocation list has no free slot left in this stratum."))
    try:
        with transaction.atomic():
            clinical_update(
                slot, by=by, reason="randomized", changes={"participant": locked, "assigned_at": now}
            )
    except IntegrityError as exc:
        raise ValidationError(_("This participant is already randomized.")) from exc
    clinical_update(locked, by=by, reason="randomized", changes={"status": Participant.Status.RANDOMIZED})
    return _blinded(slot)
