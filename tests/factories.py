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
        baseline_date=now.date() if baseline else None,
        stratum=stratum,
    )
