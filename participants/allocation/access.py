"""Who may see the allocation and what each user sees of the sequence (the two keys: listed in
settings.UNBLINDED_USERNAMES and a pharmacist; the PI of an executed emergency unblinding, for that
participant)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from ketatrial.protocol import PHARMACIST, PRINCIPAL_INVESTIGATOR
from ketatrial.trial import protocol
from participants import randomization
from participants.access import has_role
from participants.allocation.randomize import randomization_number, slot_kits
from participants.models import (
    AllocationSlot,
    Participant,
    UnblindingRequest,
)

PRODUCT_KETAMINE = "ketamine"
PRODUCT_PLACEBO = "placebo"


def can_see_allocation(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Two keys: listed in settings and in the pharmacist group."""
    return bool(
        user.is_authenticated
        and user.get_username() in settings.UNBLINDED_USERNAMES
        and has_role(user, PHARMACIST)
    )


def require_unblinded(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_see_allocation(user):
        raise PermissionDenied


def product_for(sequence: str, period: int) -> str:
    """KP: ketamine then placebo; PK: placebo then ketamine."""
    if sequence not in randomization.SEQUENCES or period not in (1, 2):
        raise ValueError(f"no product for sequence {sequence!r} period {period!r}")
    letter = sequence[period - 1]
    return PRODUCT_KETAMINE if letter == "K" else PRODUCT_PLACEBO


def _executed_unblinding_for(user: AbstractBaseUser, participant: Participant) -> bool:
    return UnblindingRequest.objects.filter(
        participant=participant, requested_by=user, executed_at__isnull=False
    ).exists()


def sequence_for(user: AbstractBaseUser, participant: Participant) -> str:
    """The participant's sequence, for the unblinded pharmacist or the requester of an executed
    emergency unblinding of this participant; PermissionDenied for anyone else."""
    if not (
        can_see_allocation(user)
        or (has_role(user, PRINCIPAL_INVESTIGATOR) and _executed_unblinding_for(user, participant))
    ):
        raise PermissionDenied
    slot = AllocationSlot.objects.filter(participant=participant).first()
    if slot is None:
        raise ValidationError(_("This participant is not randomized."))
    return slot.sequence


@dataclass(frozen=True)
class AllocationRow:
    participant: Participant
    randomization_number: str
    kit_code: str
    sequence: str


def allocation_table(user: AbstractBaseUser) -> list[AllocationRow]:
    """Every randomized participant with the sequence: the unblinded pharmacist's view."""
    require_unblinded(user)
    slots = list(
        AllocationSlot.objects.filter(participant__isnull=False).select_related(
            "participant", "participant__site"
        )
    )
    kits = slot_kits(slots)
    return [
        AllocationRow(s.participant, randomization_number(s), kits[s.pk].code, s.sequence)  # type: ignore[arg-type]
        for s in slots
    ]


def period_day_patterns(participant: Participant) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Infusion day patterns of both periods for the schedule. Period 2's length follows from the
    sequence (4 after KP, 8 after PK): the caller must show it only where the protocol's stated
    hazard allows (never to raters)."""
    slot = AllocationSlot.objects.filter(participant=participant).first()
    if slot is None:
        raise ValidationError(_("This participant is not randomized."))
    p = protocol()
    return p.period1_infusion_days, p.period2_infusion_days(slot.sequence)


def period_day_patterns_many(
    participants: list[Participant],
) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """period_day_patterns for many participants in one query (same caveat)."""
    p = protocol()
    slots = AllocationSlot.objects.filter(participant__in=participants).values_list(
        "participant_id", "sequence"
    )
    return {pk: (p.period1_infusion_days, p.period2_infusion_days(seq)) for pk, seq in slots}


def randomized_count() -> int:
    """How many participants took a slot (a neutral count, for CONSORT)."""
    return AllocationSlot.objects.filter(participant__isnull=False).count()


def is_emergency_unblinded(participant: Participant) -> bool:
    """Neutral flag shown in blinded views: an emergency unblinding was executed."""
    return UnblindingRequest.objects.filter(participant=participant, executed_at__isnull=False).exists()
