"""Randomization (the next free slot of the stratum, in list order) and the neutral values
blinded users see of it: randomization number and kit code; the period-day patterns the schedule
needs.

Every randomization first checks the active list against the checksum taken when it was stored:
a list changed behind the application's back (raw SQL, a tampered restore) randomizes nobody.

A damaged or lost kit never moves anyone to another slot: skipping a slot would change who gets
which sequence and unbalance its block. The slot keeps its place and sequence; the pharmacist
marks the kit out of use and adds a replacement kit to the same slot (participants/allocation/
kits.py). A slot's kit is its newest replacement, else the list's own kit code; when the next slot
of a stratum has no usable kit, randomization waits for the replacement instead of skipping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_update
from participants.models import (
    AllocationKit,
    AllocationList,
    AllocationSlot,
    Participant,
    Site,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlindedAllocation:
    """What blinded users may know of a randomization."""

    randomization_number: str
    kit_code: str
    randomized_at: datetime


@dataclass(frozen=True)
class SlotKit:
    """A slot's kit now: its code, whether it may be given out, and the kits out of use before
    it (code, reason), oldest first."""

    code: str
    available: bool
    out_of_use: tuple[tuple[str, str], ...] = field(default=())


def slot_kits(slots: Iterable[AllocationSlot]) -> dict[int, SlotKit]:
    """The kit of each slot (slot pk -> SlotKit) in one query."""
    slots = list(slots)
    replacements: dict[int, list[AllocationKit]] = {slot.pk: [] for slot in slots}
    for kit in AllocationKit.objects.filter(slot__in=slots).order_by("slot_id", "added_at", "id"):
        replacements[kit.slot_id].append(kit)
    result = {}
    for slot in slots:
        chain = [(slot.kit_code, slot.kit_unavailable_at, slot.kit_unavailable_reason)] + [
            (kit.kit_code, kit.unavailable_at, kit.unavailable_reason) for kit in replacements[slot.pk]
        ]
        code, unavailable_at, _reason = chain[-1]
        out_of_use = tuple((c, reason) for c, at, reason in chain if at is not None)
        result[slot.pk] = SlotKit(code, unavailable_at is None, out_of_use)
    return result


def site_stratum(site_code: str, stratum: str) -> str:
    """A stratum within a site: "INNN", or "INNN/<stratum>" when the protocol also has strata."""
    return f"{site_code}/{stratum}" if stratum else site_code


def allocation_strata() -> tuple[str, ...]:
    """The strata an allocation list must have: the protocol's, and with `stratify_by_site` on,
    each of them within every site there is when the list is made (a site added later has no
    slots until a new list, so randomization there says so instead of taking another site's)."""
    from ketatrial.trial import protocol

    p = protocol()
    if not p.stratify_by_site:
        return tuple(p.strata)
    codes = Site.objects.order_by("code").values_list("code", flat=True)
    return tuple(site_stratum(code, stratum) for code in codes for stratum in p.strata)


def participant_stratum(participant: Participant) -> str:
    """The list stratum a participant is randomized in (their site's with `stratify_by_site`)."""
    from ketatrial.trial import protocol

    if protocol().stratify_by_site:
        return site_stratum(participant.site.code, participant.stratum)
    return participant.stratum


def randomization_number(slot: AllocationSlot) -> str:
    """The neutral number of a slot: R-001, or R-<stratum>-001 in a stratified list."""
    prefix = f"{slot.stratum}-" if slot.stratum else ""
    return f"R-{prefix}{slot.sequence_no:03d}"


def _blinded(slot: AllocationSlot, kit_code: str) -> BlindedAllocation:
    assert slot.assigned_at is not None
    return BlindedAllocation(randomization_number(slot), kit_code, slot.assigned_at)


def blinded_allocation(participant: Participant) -> BlindedAllocation | None:
    slot = AllocationSlot.objects.filter(participant=participant).first()
    return _blinded(slot, slot_kits([slot])[slot.pk].code) if slot else None


def blinded_allocations(participants: list[Participant]) -> dict[int, BlindedAllocation]:
    """Blinded allocation of many participants in two queries (participant pk -> allocation)."""
    slots = list(AllocationSlot.objects.filter(participant__in=participants))
    kits = slot_kits(slots)
    return {slot.participant_id: _blinded(slot, kits[slot.pk].code) for slot in slots if slot.participant_id}


@transaction.atomic
def participant_randomize(
    *, participant: Participant, by: AbstractBaseUser, now: datetime
) -> BlindedAllocation:
    """Give the participant the next free slot of the active list in their stratum.

    The active list row is locked for the whole transaction, so concurrent randomizations take
    the slots strictly in list order and none is skipped; the one-to-one constraint on the slot
    refuses a second randomization of the same participant even past this check.
    """
    from participants.allocation.lists import allocation_list_verify  # lists imports this module
    from participants.services import randomization_readiness

    allocation_list = AllocationList.objects.select_for_update().filter(active=True).first()
    if allocation_list is None:
        raise ValidationError(_("No allocation list is loaded; the pharmacist must generate or upload one."))
    if not allocation_list_verify(allocation_list):
        logger.error(
            "allocation list %s does not match its checksum: randomization refused", allocation_list.pk
        )
        raise ValidationError(
            _(
                "Randomization refused: the allocation list no longer matches the checksum taken when "
                "it was stored, so its rows were changed outside the application. Nobody was "
                "randomized; tell the pharmacist and the data manager."
            )
        )
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    problems = randomization_readiness(locked, now=now)
    if problems:
        raise ValidationError(problems)
    if AllocationSlot.objects.filter(participant=locked).exists():
        raise ValidationError(_("This participant is already randomized."))
    slot = (
        AllocationSlot.objects.filter(
            allocation_list=allocation_list, stratum=participant_stratum(locked), participant=None
        )
        .order_by("sequence_no")
        .first()
    )
    if slot is None:
        raise ValidationError(_("The allocation list has no free slot left in this stratum."))
    kit = slot_kits([slot])[slot.pk]
    if not kit.available:
        # Never the slot after it: that would change who gets which sequence.
        raise ValidationError(
            _(
                "Not randomized: the kit of the next slot is out of use (damaged or lost) and has no "
                "replacement yet. The pharmacist adds a replacement kit; then randomize again."
            )
        )
    try:
        with transaction.atomic():
            clinical_update(
                slot, by=by, reason="randomized", changes={"participant": locked, "assigned_at": now}
            )
    except IntegrityError as exc:
        raise ValidationError(_("This participant is already randomized.")) from exc
    clinical_update(locked, by=by, reason="randomized", changes={"status": Participant.Status.RANDOMIZED})
    return _blinded(slot, kit.code)
