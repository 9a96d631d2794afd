"""Emergency unblinding: the principal investigator asks, the unblinded pharmacist executes."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR
from participants.access import has_role
from participants.allocation.access import can_see_allocation, require_unblinded
from participants.models import (
    AllocationSlot,
    Participant,
    UnblindingRequest,
)


@transaction.atomic
def unblinding_request(
    *, participant: Participant, reason: str, by: AbstractBaseUser, now: datetime
) -> UnblindingRequest:
    """The principal investigator asks for one participant's sequence, with the clinical reason."""
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the clinical reason for unblinding.")})
    if not AllocationSlot.objects.filter(participant=participant).exists():
        raise ValidationError(_("This participant is not randomized."))
    if UnblindingRequest.objects.filter(participant=participant, executed_at__isnull=True).exists():
        raise ValidationError(_("A request for this participant is already waiting for the pharmacist."))
    return clinical_create(
        UnblindingRequest(participant=participant, requested_by=by, requested_at=now, reason=reason.strip()),
        by=by,
        reason="emergency unblinding requested",
    )


@transaction.atomic
def unblinding_execute(
    *, request: UnblindingRequest, people_informed: str, by: AbstractBaseUser, now: datetime
) -> UnblindingRequest:
    """The pharmacist releases the sequence to the requester; who was told is recorded."""
    require_unblinded(by)
    locked = UnblindingRequest.objects.select_for_update().get(pk=request.pk)
    if locked.executed_at is not None:
        raise ValidationError(_("This request was already executed."))
    if not people_informed.strip():
        raise ValidationError({"people_informed": _("Record who was told the allocation.")})
    return clinical_update(
        locked,
        by=by,
        reason="emergency unblinding executed",
        changes={"executed_by": by, "executed_at": now, "people_informed": people_informed.strip()},
    )


def unblinding_requests_for(user: AbstractBaseUser) -> list[UnblindingRequest]:
    """The pharmacist sees every request; a principal investigator sees their own."""
    qs = UnblindingRequest.objects.select_related("participant", "requested_by", "executed_by")
    if can_see_allocation(user):
        return list(qs)
    if has_role(user, PRINCIPAL_INVESTIGATOR):
        return list(qs.filter(requested_by=user))
    return []


def pending_unblinding_count() -> int:
    return UnblindingRequest.objects.filter(Q(executed_at__isnull=True)).count()
