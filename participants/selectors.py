"""Reads for participants and users."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from participants.access import has_capability, not_found
from participants.allocation import visibility
from participants.models import Participant, ScreeningRecord, Site

User = get_user_model()


def participant_list_for_user(user: AbstractBaseUser) -> QuerySet[Participant]:
    """Participants the user may see in blinded views (none for roles without the capability)."""
    if not (has_capability(user, "view_participants") or has_capability(user, "rate_participants")):
        return Participant.objects.none()
    # The user's sites are part of the one visibility rule: another site's participant is missing.
    return Participant.objects.filter(visibility.participant_scope(user)).select_related("site")


def participant_get_for_user(user: AbstractBaseUser, pk: int) -> Participant:
    """One participant, or 404 for both 'missing' and 'not yours'."""
    try:
        return participant_list_for_user(user).get(pk=pk)
    except Participant.DoesNotExist:
        raise not_found() from None


def user_list() -> QuerySet:
    """Every account with its roles, last day of access and whether a second factor is set up
    (`has_second_factor`)."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        User.objects.prefetch_related("groups", "profile__sites")
        .select_related("profile")
        .annotate(has_second_factor=Exists(confirmed))
        .order_by("username")
    )


def user_get(pk: int) -> AbstractBaseUser | None:
    """One user, or None."""
    return User.objects.filter(pk=pk).first()


def access_attempt_usernames() -> set[str]:
    """Usernames with failed login attempts on record (django-axes): the users page marks them locked."""
    return set(AccessAttempt.objects.values_list("username", flat=True).distinct())


def _site_scope(user: AbstractBaseUser | None) -> Q:
    # No user: a caller outside a request (a report, a command) that reads the whole trial.
    sites = visibility.sites_for(user) if user is not None else None
    return Q() if sites is None else Q(site_id__in=sorted(sites))


def screening_record_list(user: AbstractBaseUser | None = None) -> QuerySet[ScreeningRecord]:
    """The screening log with each record's site and consents (the user's sites only)."""
    return (
        ScreeningRecord.objects.filter(_site_scope(user)).select_related("site").prefetch_related("consents")
    )


def screening_record_get(pk: int, user: AbstractBaseUser | None = None) -> ScreeningRecord | None:
    """One screening record with its site, or None (also for another site's record)."""
    return ScreeningRecord.objects.filter(_site_scope(user)).select_related("site").filter(pk=pk).first()


def participant_get_for_pharmacy(pk: int, user: AbstractBaseUser | None = None) -> Participant | None:
    """One participant with its site, or None (also another site's, given the user); for the
    pharmacist's pages, which check the blinding keys."""
    scope = visibility.participant_scope(user) if user is not None else Q()
    return Participant.objects.filter(scope, pk=pk).select_related("site").first()


def site_list() -> QuerySet[Site]:
    """Every site, by code, with how many participants and accounts each has."""
    return Site.objects.annotate(
        participant_count=Count("participant", distinct=True), user_count=Count("profiles", distinct=True)
    ).order_by("code")


def site_get(pk: int) -> Site | None:
    """One site, or None."""
    return Site.objects.filter(pk=pk).first()


def sites_of_user(user: AbstractBaseUser) -> list[Site]:
    """The sites listed on the account (empty: none listed)."""
    return list(Site.objects.filter(profiles__user=user).order_by("code"))


def screening_sites_for(user: AbstractBaseUser) -> list[Site]:
    """The sites where the user may start a screening: their sites (every site for a trial-wide
    account with none listed), by code."""
    sites = visibility.sites_for(user)
    found = Site.objects.order_by("code")
    return list(found if sites is None else found.filter(pk__in=sorted(sites)))


def failure_label(code: str, record: ScreeningRecord | None = None, *, hdrs17_min: int | None = None) -> str:
    """A screen-failure code in words, in the reader's language (the criterion's own text is the
    checklist as shown at screening)."""
    kind, _sep, number = code.partition(":")
    criteria = {
        "inclusion": record.inclusion_criteria if record else [],
        "exclusion": record.exclusion_criteria if record else [],
    }.get(kind)
    if criteria is not None and number.isdigit():
        index = int(number) - 1
        text = criteria[index] if 0 <= index < len(criteria) else f"#{number}"
        if kind == "inclusion":
            return _("Inclusion not met: %(criterion)s") % {"criterion": text}
        return _("Exclusion present: %(criterion)s") % {"criterion": text}
    if code == "hdrs17_below_min":
        if hdrs17_min is None:
            from ketatrial.trial import protocol

            hdrs17_min = protocol().screening_hdrs17_min
        return _("Screening HDRS-17 below %(min)s") % {"min": hdrs17_min}
    return _("Other reason")


def screening_failure_labels(record: ScreeningRecord) -> list[str]:
    return [failure_label(code, record) for code in record.failure_codes or []]


def screening_failure_reasons() -> list[tuple[str, int]]:
    """Screen failures by reason for the CONSORT diagram: each person once, under the first
    reason of their checklist (so the categories add up to the screen-failure box); the same
    criterion in two checklist versions counts as one category when its words are the same."""
    counts: dict[str, int] = {}
    for record in ScreeningRecord.objects.filter(outcome=ScreeningRecord.Outcome.SCREEN_FAILURE).only(
        "failure_codes", "inclusion_criteria", "exclusion_criteria"
    ):
        codes = record.failure_codes or ["other"]
        label = failure_label(codes[0], record)
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def screening_counts() -> dict[str, object]:
    """Screening-log counts for the CONSORT diagram: assessed, outcomes, failure reasons, enrolled."""
    from participants.allocation import randomized_count

    by_outcome = {o.value: 0 for o in ScreeningRecord.Outcome}
    records = list(ScreeningRecord.objects.values_list("outcome", flat=True))
    for outcome in records:
        by_outcome[outcome] += 1
    return {
        "assessed": len(records),
        "by_outcome": by_outcome,
        "failure_reasons": screening_failure_reasons(),
        "enrolled": Participant.objects.count(),
        "randomized": randomized_count(),
    }
