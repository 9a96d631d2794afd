"""Reads for participants and users."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from participants.access import has_capability, not_found
from participants.models import Participant

User = get_user_model()


def participant_list_for_user(user: AbstractBaseUser) -> QuerySet[Participant]:
    """Participants the user may see in blinded views (none for roles without the capability)."""
    if not has_capability(user, "view_participants"):
        return Participant.objects.none()
    return Participant.objects.select_related("site")


def participant_get_for_user(user: AbstractBaseUser, pk: int) -> Participant:
    """One participant, or 404 for both 'missing' and 'not yours'."""
    try:
        return participant_list_for_user(user).get(pk=pk)
    except Participant.DoesNotExist:
        raise not_found() from None


def user_list() -> QuerySet:
    return User.objects.prefetch_related("groups").order_by("username")
