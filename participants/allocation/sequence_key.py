"""The coded A/B sequences of the statistician's blinded exports and the sealed key released
after the database lock."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import STATISTICIAN
from participants.access import has_role
from participants.allocation.access import product_for
from participants.models import (
    AllocationSlot,
    Participant,
    SequenceKey,
)


def _sequence_key(now: datetime) -> SequenceKey:
    """The one key (row 1), drawn on first use; two workers drawing at once agree on the first."""
    key = SequenceKey.objects.filter(pk=1).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return clinical_create(
                SequenceKey(pk=1, kp_letter=secrets.choice("AB"), created_at=now), by=None, reason="drawn"
            )
    except (IntegrityError, ValidationError):
        return SequenceKey.objects.get(pk=1)


def sequence_key_released() -> bool:
    """Whether the statistician has released the key (a neutral fact: it says nothing of it)."""
    return SequenceKey.objects.filter(released_at__isnull=False).exists()


def coded_sequences(
    user: AbstractBaseUser, participants: list[Participant], *, now: datetime
) -> dict[int, str]:
    """Participant pk -> 'A' or 'B' for the statistician's blinded exports; the letters mean
    nothing until the key is released."""
    if not has_role(user, STATISTICIAN):
        raise PermissionDenied
    key = _sequence_key(now)
    other = "B" if key.kp_letter == "A" else "A"
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {
        s.participant_id: key.kp_letter if s.sequence == "KP" else other for s in slots if s.participant_id
    }


def sequence_key_release(*, user: AbstractBaseUser, database_locked: bool, now: datetime) -> None:
    """The statistician opens the key, only while the database is locked; audited, once."""
    if not has_role(user, STATISTICIAN):
        raise PermissionDenied
    if not database_locked:
        raise ValidationError(_("The sequence key can be released only after the database lock."))
    key = _sequence_key(now)
    with transaction.atomic():
        key = SequenceKey.objects.select_for_update().get(pk=key.pk)
        if key.released_at is not None:
            raise ValidationError(_("The sequence key was already released."))
        clinical_update(
            key,
            by=user,
            reason="released after database lock",
            changes={"released_at": now, "released_by": user},
        )


def released_sequences(
    user: AbstractBaseUser | None, participants: list[Participant]
) -> dict[int, dict[str, str]]:
    """After release, for the statistician (or the scheduled analyses, user None): participant
    pk -> sequence, code letter and the product of each period."""
    if not ((user is None or has_role(user, STATISTICIAN)) and sequence_key_released()):
        raise PermissionDenied
    key = SequenceKey.objects.get()
    other = "B" if key.kp_letter == "A" else "A"
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {
        s.participant_id: {
            "sequence": s.sequence,
            "sequence_code": key.kp_letter if s.sequence == "KP" else other,
            "product_period1": product_for(s.sequence, 1),
            "product_period2": product_for(s.sequence, 2),
        }
        for s in slots
        if s.participant_id
    }


def sequence_key_letters(user: AbstractBaseUser) -> dict[str, str]:
    """After release: code letter -> sequence (the key itself)."""
    if not (has_role(user, STATISTICIAN) and sequence_key_released()):
        raise PermissionDenied
    key = SequenceKey.objects.get()
    return {key.kp_letter: "KP", ("B" if key.kp_letter == "A" else "A"): "PK"}
