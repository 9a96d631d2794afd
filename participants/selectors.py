"""Reads for participants and users."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from ketatrial.protocol import PHARMACIST
from participants.access import has_capability, not_found
from participants.models import Participant, ScreeningRecord

User = get_user_model()


def participant_list_for_user(user: AbstractBaseUser) -> QuerySet[Participant]:
    """Participants the user may see in blinded views (none for roles without the capability)."""
    if not (has_capability(user, "view_participants") or has_capability(user, "rate_participants")):
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


def user_get(pk: int) -> AbstractBaseUser | None:
    """One user, or None."""
    return User.objects.filter(pk=pk).first()


def access_attempt_usernames() -> set[str]:
    """Usernames with failed login attempts on record (django-axes): the users page marks them locked."""
    return set(AccessAttempt.objects.values_list("username", flat=True).distinct())


def screening_record_list() -> QuerySet[ScreeningRecord]:
    """The screening log with each record's site and consents."""
    return ScreeningRecord.objects.select_related("site").prefetch_related("consents")


def screening_record_get(pk: int) -> ScreeningRecord | None:
    """One screening record with its site, or None."""
    return ScreeningRecord.objects.select_related("site").filter(pk=pk).first()


def participant_get_for_pharmacy(pk: int) -> Participant | None:
    """One participant with its site, or None; for the pharmacist's pages, which check the blinding keys."""
    return Participant.objects.filter(pk=pk).select_related("site").first()


def pharmacist_checker_list(user: AbstractBaseUser) -> QuerySet:
    """Active pharmacists other than the user: who may double-check the user's preparation."""
    return User.objects.filter(groups__name=PHARMACIST, is_active=True).exclude(pk=user.pk)


def screening_counts() -> dict[str, object]:
    """Screening-log counts for the CONSORT diagram: assessed, outcomes, failure reasons, enrolled."""
    from participants.allocation import randomized_count

    records = list(ScreeningRecord.objects.values_list("outcome", "outcome_reason"))
    by_outcome = {o.value: 0 for o in ScreeningRecord.Outcome}
    reasons: dict[str, int] = {}
    for outcome, reason in records:
        by_outcome[outcome] += 1
        if outcome == ScreeningRecord.Outcome.SCREEN_FAILURE:
            for part in filter(None, (r.strip() for r in reason.split(";"))):
                reasons[part] = reasons.get(part, 0) + 1
    return {
        "assessed": len(records),
        "by_outcome": by_outcome,
        "failure_reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
        "enrolled": Participant.objects.count(),
        "randomized": randomized_count(),
    }
