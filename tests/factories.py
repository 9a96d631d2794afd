"""Build trial states through the real services (no shortcuts around the rules)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ketatrial.trial import protocol
from participants import services
from participants.eligibility import HDRS17_CRITERION, criterion_index
from participants.models import Participant, ScreeningRecord


def inclusion_answers(hdrs: int | None) -> list[bool | None]:
    """Every inclusion criterion met, the HDRS-17 one answered as the screening total says."""
    p = protocol()
    answers: list[bool | None] = [True] * len(p.inclusion_criteria)
    index = criterion_index(p.inclusion_criteria, HDRS17_CRITERION)
    if index is not None and hdrs is not None:
        answers[index] = hdrs >= p.screening_hdrs17_min
    return answers


def screened(
    coordinator: AbstractBaseUser,
    *,
    now: datetime | None = None,
    consent: bool = True,
    hdrs: int = 24,
    eligible: bool = True,
) -> ScreeningRecord:
    now = now or timezone.now()
    record = services.screening_start(
        site=services.site_get_or_create_default(), by=coordinator, now=now - timedelta(hours=2)
    )
    if consent:
        services.consent_record(
            screening=record,
            version=protocol().consent_version,
            consented_at=now - timedelta(hours=1),
            by=coordinator,
            now=now,
        )
        p = protocol()
        services.screening_assess(
            screening=record,
            inclusion_met=inclusion_answers(hdrs),
            exclusion_present=[False] * (len(p.exclusion_criteria) - 1) + [not eligible],
            hdrs17_total=hdrs,
            by=coordinator,
            now=now,
        )
        record.refresh_from_db()
    return record


def enrolled(
    coordinator: AbstractBaseUser,
    *,
    now: datetime | None = None,
    weight: str = "70.0",
    name: str = "Ana Pérez",
    baseline: bool = True,
    stratum: str = "",
) -> Participant:
    now = now or timezone.now()
    record = screened(coordinator, now=now)
    return services.participant_enroll(
        screening=record,
        by=coordinator,
        now=now,
        baseline_weight_kg=Decimal(weight),
        height_cm=Decimal("170.0"),
        full_name=name,
        date_of_birth=date(1985, 3, 14),
        phone="55 1234 5678",
        address="Insurgentes Sur 3877, CDMX",
        baseline_date=timezone.localdate(now) if baseline else None,
        stratum=stratum,
    )


def baseline_rater() -> AbstractBaseUser:
    """A rater who records the baseline ratings that randomization needs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, created = get_user_model().objects.get_or_create(username="baseline_rater")
    if created:
        user.groups.add(Group.objects.get(name="rater"))
    return user


def baseline_rated(
    participant: Participant, *, at: datetime | None = None, hdrs: int = 24, madrs: int = 30
) -> None:
    """Both baseline ratings (HDRS-17 and MADRS, with these totals) through the rating service at
    `at`: PROTOCOL.md puts screening and baseline before randomization."""
    from clinimetry import services as ratings
    from clinimetry.examples import spread

    at = at or timezone.now()
    for instrument, total in (("hdrs17", hdrs), ("madrs", madrs)):
        ratings.assessment_save(
            participant=participant,
            instrument=instrument,
            task_code="baseline",
            items=spread(instrument, total),
            rated_at=at,
            recall_period="past_week",
            interview_guide="none",
            mode="in_person",
            by=baseline_rater(),
            now=at,
        )


def randomized(
    coordinator: AbstractBaseUser, *, now: datetime | None = None, **kwargs: object
) -> Participant:
    """Enrolled, rated at baseline and randomized at `now` (an allocation list must be active)."""
    from participants import allocation

    now = now or timezone.now()
    person = enrolled(coordinator, now=now, **kwargs)  # type: ignore[arg-type]
    baseline_rated(person, at=now)
    allocation.participant_randomize(participant=person, by=coordinator, now=now)
    return Participant.objects.get(pk=person.pk)
