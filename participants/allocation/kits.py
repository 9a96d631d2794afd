"""Damaged or lost kits: marked out of use and replaced, the slot and its sequence kept.

The randomization list fixes who gets which sequence; a kit is only the physical pack that carries
a slot's code. So a kit that is damaged or lost never moves a participant to another slot (that
would change the sequence they get and unbalance the block). The unblinded pharmacist marks the
kit out of use, with the reason, and adds a replacement kit to the same slot, with the reason; a
slot's kit is then the replacement (its newest kit). Both are audited writes (the slot or kit row's
history keeps who, when and why). Kits are never deleted; a kit code is never reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from participants import randomization
from participants.allocation.access import require_unblinded
from participants.allocation.lists import audit_reason, kit_codes_stored
from participants.allocation.randomize import SlotKit, randomization_number, slot_kits
from participants.models import AllocationKit, AllocationList, AllocationSlot


def _slot_of_kit(kit_code: str) -> tuple[AllocationSlot, AllocationKit | None]:
    """The slot of the active list that `kit_code` belongs to (its own kit or a replacement),
    locked, and the replacement kit record when it is one."""
    code = kit_code.strip()
    active = AllocationList.objects.select_for_update().filter(active=True).first()
    if active is None:
        raise ValidationError(_("No allocation list is loaded."))
    slot = (
        # of=self: PostgreSQL locks no row of the outer join to the replacement kits.
        AllocationSlot.objects.select_for_update(of=("self",))
        .filter(allocation_list=active)
        .filter(Q(kit_code=code) | Q(replacement_kits__kit_code=code))
        .first()
    )
    if slot is None:
        raise ValidationError(
            _("Kit %(code)s is not a kit of the active allocation list: check the code on the kit.")
            % {"code": code[:40]}
        )
    replacement = AllocationKit.objects.filter(slot=slot, kit_code=code).first()
    return slot, replacement


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason (what happened to the kit)."))
    return reason


@transaction.atomic
def kit_mark_unavailable(*, kit_code: str, reason: str, by: AbstractBaseUser, now: datetime) -> SlotKit:
    """Mark a slot's current kit out of use (damaged, lost), with the reason. The slot keeps its
    place and sequence; randomization into it waits for a replacement kit."""
    require_unblinded(by)
    reason = _reason(reason)
    slot, replacement = _slot_of_kit(kit_code)
    current = slot_kits([slot])[slot.pk]
    if current.code != kit_code.strip():
        raise ValidationError(
            _("Kit %(code)s was already replaced by kit %(current)s: nothing was changed.")
            % {"code": kit_code.strip(), "current": current.code}
        )
    if not current.available:
        raise ValidationError(_("Kit %(code)s is already out of use.") % {"code": current.code})
    why = audit_reason(f"kit {current.code} out of use: {reason}")
    if replacement is None:
        clinical_update(
            slot,
            by=by,
            reason=why,
            changes={"kit_unavailable_at": now, "kit_unavailable_reason": reason},
        )
    else:
        clinical_update(
            replacement,
            by=by,
            reason=why,
            changes={"unavailable_at": now, "unavailable_reason": reason},
        )
    return slot_kits([slot])[slot.pk]


@transaction.atomic
def kit_replace(
    *, kit_code: str, new_kit_code: str, reason: str, by: AbstractBaseUser, now: datetime
) -> SlotKit:
    """Give the slot of kit `kit_code` (out of use) the new kit `new_kit_code`, with the reason:
    same slot, same sequence, a kit code never stored before."""
    require_unblinded(by)
    reason = _reason(reason)
    new_code = new_kit_code.strip()
    problem = randomization.kit_code_problem(new_code)
    if problem:
        raise ValidationError(_("The new kit code cannot be used: %s.") % problem)
    slot, _replacement = _slot_of_kit(kit_code)
    current = slot_kits([slot])[slot.pk]
    if current.available:
        raise ValidationError(
            _(
                "Kit %(code)s of this slot is still in use: mark it out of use (with the reason) "
                "before adding a replacement."
            )
            % {"code": current.code}
        )
    if kit_codes_stored([new_code]):
        raise ValidationError(
            _("Kit code %(code)s is already stored: a kit code is never used twice.") % {"code": new_code}
        )
    clinical_create(
        AllocationKit(slot=slot, kit_code=new_code, reason=reason, added_at=now, added_by=by),
        by=by,
        reason=audit_reason(f"replacement kit {new_code} for kit {current.code}: {reason}"),
    )
    return slot_kits([slot])[slot.pk]


@dataclass(frozen=True)
class KitEventRow:
    """A slot of the active list whose kit was ever out of use, for the pharmacy page."""

    randomization_number: str
    stratum: str
    sequence: str
    participant_code: str
    kit: SlotKit


def kit_events(user: AbstractBaseUser, allocation_list: AllocationList) -> list[KitEventRow]:
    """Every slot of the list with a kit out of use or replaced: its kits now and before."""
    require_unblinded(user)
    slots = list(
        allocation_list.slots.filter(Q(kit_unavailable_at__isnull=False) | Q(replacement_kits__isnull=False))
        .select_related("participant")
        .distinct()
        .order_by("stratum", "sequence_no")
    )
    kits = slot_kits(slots)
    return [
        KitEventRow(
            randomization_number(slot),
            slot.stratum,
            slot.sequence,
            slot.participant.code if slot.participant else "",
            kits[slot.pk],
        )
        for slot in slots
    ]
