"""Emergency unblinding: the principal investigator asks, the unblinded pharmacist executes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from ketatrial.models import Notification
from ketatrial.notifications import notify
from ketatrial.protocol import PHARMACIST, PRINCIPAL_INVESTIGATOR
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
    """The principal investigator asks for one participant's sequence, with the clinical reason;
    every unblinded pharmacist is notified at once. The notice carries the request (participant,
    requester, the PI's own words), never the allocation."""
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the clinical reason for unblinding.")})
    if not AllocationSlot.objects.filter(participant=participant).exists():
        raise ValidationError(_("This participant is not randomized."))
    if UnblindingRequest.objects.filter(participant=participant, executed_at__isnull=True).exists():
        raise ValidationError(_("A request for this participant is already waiting for the pharmacist."))
    request = clinical_create(
        UnblindingRequest(participant=participant, requested_by=by, requested_at=now, reason=reason.strip()),
        by=by,
        reason="emergency unblinding requested",
    )
    notify(
        recipients=unblinded_pharmacists(),
        subject=_("Emergency unblinding requested: %s") % participant.code,
        body=_("%(who)s asks for the emergency unblinding of %(code)s. Clinical reason: %(reason)s")
        % {"who": _person(by), "code": participant.code, "reason": request.reason},
        url=reverse("participants:unblinding_execute", args=[request.pk]),
        now=now,
        kind=Notification.Kind.UNBLINDING,
        topic=f"participants.unblindingrequest:{request.pk}",
    )
    return request


def unblinded_pharmacists() -> list[AbstractBaseUser]:
    """The active users who hold both keys (listed in settings and pharmacists): those who can
    execute an emergency unblinding."""
    return list(
        get_user_model().objects.filter(
            groups__name=PHARMACIST, is_active=True, username__in=settings.UNBLINDED_USERNAMES
        )
    )


def _person(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]


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
    executed = clinical_update(
        locked,
        by=by,
        reason="emergency unblinding executed",
        changes={"executed_by": by, "executed_at": now, "people_informed": people_informed.strip()},
    )
    # The requester reads the result on the requests page (a logged view); neither the in-app
    # notice nor its e-mail names the sequence.
    notify(
        recipients=[executed.requested_by],
        subject=_("Emergency unblinding executed: %s") % executed.participant.code,
        body=_("%(who)s executed your emergency unblinding of %(code)s. Read it on the requests page.")
        % {"who": _person(by), "code": executed.participant.code},
        url=reverse("participants:unblinding_list"),
        now=now,
        kind=Notification.Kind.UNBLINDING,
        topic=f"participants.unblindingrequest:{executed.pk}",
    )
    return executed


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
