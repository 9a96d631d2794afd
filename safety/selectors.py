"""Safety reads: the adverse-event listing with its filters, one event with its follow-up and
acknowledgements, the blinded safety summary, and the suicide-risk follow-ups.

Blinding. The principal investigator and the other readers of these pages are blinded: nothing
here reads the allocation, and the summary is pooled over both arms, never by sequence or
product. Nor is anything listed or counted by period position (period, infusion number): period
2 has 4 infusions after KP and 8 after PK, so adverse-event counts by period, or over time by
participant, could hint at a participant's sequence. The listing shows each event's onset date,
never the infusion it followed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from infusions.models import AdverseEvent, AdverseEventFollowUp
from ketatrial.models import Notification
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR
from participants.selectors import participant_list_for_user
from safety.models import SuicideRiskFollowUp

TZ = ZoneInfo(settings.TIME_ZONE)

SERIOUS = "serious"
NON_SERIOUS = "non_serious"
OPEN = "open"
RESOLVED = "resolved"


@dataclass(frozen=True)
class AdverseEventFilters:
    """The listing's filters; every one optional."""

    participant: str = ""
    seriousness: str = ""  # SERIOUS, NON_SERIOUS or a seriousness criterion
    severity: str = ""
    relatedness: str = ""
    state: str = ""  # OPEN or RESOLVED
    onset_from: date | None = None
    onset_to: date | None = None


def adverse_event_list_for_user(
    user: AbstractBaseUser, filters: AdverseEventFilters
) -> QuerySet[AdverseEvent]:
    """The adverse events of the participants the user may see, filtered, newest onset first, each
    with its participant, reporter and count of follow-up entries (one query per page)."""
    events = AdverseEvent.objects.filter(participant__in=participant_list_for_user(user))
    if filters.participant:
        events = events.filter(participant__code__iexact=filters.participant.strip())
    if filters.seriousness == SERIOUS:
        events = events.filter(serious=True)
    elif filters.seriousness == NON_SERIOUS:
        events = events.filter(serious=False)
    elif filters.seriousness in AdverseEvent.Criterion.values:
        # The criteria are a JSON list of codes, none part of another: its text holds '"code"'.
        events = events.filter(seriousness_criteria__icontains=f'"{filters.seriousness}"')
    if filters.severity:
        events = events.filter(severity=filters.severity)
    if filters.relatedness:
        events = events.filter(relatedness=filters.relatedness)
    if filters.state == OPEN:
        events = events.exclude(outcome__in=AdverseEvent.RESOLVED)
    elif filters.state == RESOLVED:
        events = events.filter(outcome__in=AdverseEvent.RESOLVED)
    if filters.onset_from:
        events = events.filter(onset__gte=datetime.combine(filters.onset_from, time.min, tzinfo=TZ))
    if filters.onset_to:
        events = events.filter(onset__lte=datetime.combine(filters.onset_to, time.max, tzinfo=TZ))
    return (
        events.select_related("participant", "reported_by")
        .annotate(follow_up_count=Count("follow_ups"))
        .order_by("-onset", "-pk")
    )


def adverse_event_get_for_user(user: AbstractBaseUser, pk: int) -> AdverseEvent | None:
    """One adverse event of a participant the user may see; None for a hidden one and a missing
    one alike."""
    return (
        AdverseEvent.objects.filter(pk=pk, participant__in=participant_list_for_user(user))
        .select_related("participant", "reported_by")
        .first()
    )


def adverse_event_follow_ups(event: AdverseEvent) -> list[AdverseEventFollowUp]:
    return list(event.follow_ups.select_related("recorded_by").order_by("on", "pk"))


def acknowledgements(topic: str) -> list[Notification]:
    """The notifications about one record (its topic), each with its recipient and, once
    acknowledged, when: who was told and who has seen it."""
    return list(
        Notification.objects.filter(topic=topic).select_related("recipient").order_by("created_at", "pk")
    )


@dataclass
class SafetySummary:
    """Counts pooled over both arms (never by sequence, product or period position)."""

    events: int = 0
    participants_with_events: int = 0
    serious: int = 0
    susars: int = 0
    open_events: int = 0
    by_severity: list[tuple[str, int]] = field(default_factory=list)
    by_relatedness: list[tuple[str, int]] = field(default_factory=list)
    by_criterion: list[tuple[str, int]] = field(default_factory=list)
    serious_events: list[AdverseEvent] = field(default_factory=list)
    open_suicide_follow_ups: list[SuicideRiskFollowUp] = field(default_factory=list)
    unacknowledged: list[tuple[str, int]] = field(default_factory=list)
    unacknowledged_total: int = 0


def safety_summary(user: AbstractBaseUser) -> SafetySummary:
    """The blinded safety summary: adverse events pooled over both arms by severity, seriousness
    criterion and causality; the serious events listed (by onset date, not by infusion); the open
    suicide-risk follow-ups; and the principal investigators' safety notifications not yet
    acknowledged. A fixed number of queries whatever the trial's size.

    Pooled on purpose: the PI is blinded, so no count is split by sequence or product, and none by
    period or infusion either, since an adverse-event count over time by participant could hint at
    KP's shorter period 2."""
    events = AdverseEvent.objects.filter(participant__in=participant_list_for_user(user))
    totals = events.aggregate(
        n=Count("pk"),
        people=Count("participant", distinct=True),
        serious=Count("pk", filter=Q(serious=True)),
        open=Count("pk", filter=~Q(outcome__in=AdverseEvent.RESOLVED)),
    )
    severity = dict(events.values_list("severity").annotate(n=Count("pk")).order_by())
    relatedness = dict(events.values_list("relatedness").annotate(n=Count("pk")).order_by())
    serious = list(events.filter(serious=True).select_related("participant").order_by("-onset", "-pk"))
    criteria = Counter(c for e in serious for c in e.seriousness_criteria or [])
    summary = SafetySummary(
        events=totals["n"],
        participants_with_events=totals["people"],
        serious=totals["serious"],
        susars=sum(1 for e in serious if e.is_susar),
        open_events=totals["open"],
        by_severity=[(str(label), severity.get(code, 0)) for code, label in AdverseEvent.Severity.choices],
        by_relatedness=[
            (str(label), relatedness.get(code, 0)) for code, label in AdverseEvent.Relatedness.choices
        ],
        by_criterion=[(str(label), criteria.get(code, 0)) for code, label in AdverseEvent.Criterion.choices],
        serious_events=serious,
    )
    summary.open_suicide_follow_ups = list(suicide_follow_ups_for_user(user).filter(closed_at__isnull=True))
    waiting = dict(
        Notification.objects.filter(recipient__groups__name=PRINCIPAL_INVESTIGATOR, read_at__isnull=True)
        .exclude(kind=Notification.Kind.MESSAGE)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    summary.unacknowledged = [
        (str(label), waiting[code]) for code, label in Notification.Kind.choices if waiting.get(code)
    ]
    summary.unacknowledged_total = sum(waiting.values())
    return summary


def suicide_follow_ups_for_user(user: AbstractBaseUser) -> QuerySet[SuicideRiskFollowUp]:
    """Suicide-risk follow-ups of participants the user may see (with their rating and people)."""
    return (
        SuicideRiskFollowUp.objects.filter(participant__in=participant_list_for_user(user))
        .select_related("participant", "assessment", "assessed_by", "closed_by")
        .order_by("-opened_at", "-pk")
    )


def suicide_follow_up_get(pk: int) -> SuicideRiskFollowUp | None:
    return (
        SuicideRiskFollowUp.objects.filter(pk=pk)
        .select_related("participant", "assessment", "assessed_by", "closed_by")
        .first()
    )


def filters_from(data: dict[str, Any]) -> AdverseEventFilters:
    return AdverseEventFilters(**{k: v for k, v in data.items() if v not in (None, "")})


def suicide_follow_up_latest(assessment: Any) -> SuicideRiskFollowUp | None:
    """The newest follow-up a rating opened, or None."""
    return SuicideRiskFollowUp.objects.filter(assessment=assessment).order_by("-opened_at", "-pk").first()
