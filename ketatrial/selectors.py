"""Reads for the shell pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ketatrial.models import Notification, WorkerHeartbeat
from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PRINCIPAL_INVESTIGATOR,
    RATER,
    STATISTICIAN,
)
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol


def worker_heartbeat_list_recent() -> QuerySet[WorkerHeartbeat]:
    """The ten latest worker heartbeats (lazy, newest first)."""
    return WorkerHeartbeat.objects.all()[:10]


def notification_unread_count(user: AbstractBaseUser | AnonymousUser) -> int:
    """How many of the user's notifications wait for acknowledgement (the navigation bar's badge)."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_list_for(user: AbstractBaseUser, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first (lazy: the page slices it)."""
    notes = Notification.objects.filter(recipient=user)
    if unread_only:
        notes = notes.filter(read_at__isnull=True)
    return notes.order_by("-created_at", "-pk")


def notification_get_for_user(user: AbstractBaseUser, pk: int) -> Notification | None:
    """One of the user's own notifications; None for someone else's and for a missing one alike."""
    return Notification.objects.filter(pk=pk, recipient=user).first()


# --- Worklists: each role's home page, its work for today and what is overdue --------------------
#
# "Today" and "overdue" are days in the site's time zone (America/Mexico_City). Every list reads in
# a fixed number of queries whatever the trial's size (tests/test_query_counts.py), and every
# participant shown comes through the participant-access selector (participant_list_for_user).
# Blinding: the rater's list is the task list's own (opaque rating visits by due day); the
# statistician's holds nothing that a participant's sequence can move; exposed roles see the
# schedule through infusions.selectors, which applies the period-2 horizon.

# How many rows of a long list the home page shows (the count above it is the whole list's).
WORKLIST_ROWS = 15

# Participants whose trial is over: their casebook can be signed.
FINISHED_STATUSES = ("completed", "withdrawn", "discontinued", "lost")

INFUSION_STATES = {
    "booked": gettext_lazy("booked"),
    "started": gettext_lazy("started"),
    "monitoring": gettext_lazy("monitoring"),
    "ready": gettext_lazy("ready to discharge"),
    "discharged": gettext_lazy("discharged"),
}


def day_start(now: datetime) -> datetime:
    """Midnight of `now`'s day in the site's time zone: before it is "overdue", from it "today"."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _visible_ids(user: AbstractBaseUser) -> set[int]:
    from participants.selectors import participant_list_for_user

    return set(participant_list_for_user(user).values_list("pk", flat=True))


@dataclass(frozen=True)
class InfusionRow:
    """One of today's infusions at the chair, as the infusion physician and the coordinator see it."""

    participant: Any
    label: str
    start: datetime
    state: str
    period: int
    number: int
    chair: int | None  # the day's booking order against the chairs; None: over capacity

    @property
    def state_label(self) -> str:
        return str(INFUSION_STATES[self.state])

    @property
    def time(self) -> str:
        """The start, or the planned start, as "HH:MM TZ" in the site's time zone."""
        return local_minute(self.start)[11:]


def _session_state(visit: Any, *, now: datetime) -> str:
    """booked, started, monitoring (stopped, observed), ready (to discharge) or discharged."""
    from infusions.models import InfusionVisit

    if visit is None or visit.status == InfusionVisit.Status.PLANNED or visit.started_at is None:
        return "booked"
    if visit.discharged_at is not None:
        return "discharged"
    if visit.ended_at is None:
        return "started"
    observed = visit.ended_at + timedelta(minutes=protocol().observation_minutes_min)
    return "ready" if now >= observed else "monitoring"


def infusions_today(user: AbstractBaseUser, *, now: datetime) -> list[InfusionRow]:
    """Today's infusions (not missed) of the participants the user may see, by start time: what
    the schedule shows staff (infusions.selectors.calendar_events, period-2 horizon applied) with
    where each session stands. Chairs are not assigned in the records: the day's infusions are
    numbered against the protocol's chairs per day, in order of start."""
    from infusions.models import InfusionVisit
    from infusions.selectors import calendar_events

    today = timezone.localdate(now)
    visible = _visible_ids(user)
    events = [
        e
        for e in calendar_events(today, today, now=now)
        if e.kind == "infusion" and e.status != "missed" and e.participant.pk in visible
    ]
    visits = {
        (v.participant_id, v.period, v.number): v
        for v in InfusionVisit.objects.filter(participant_id__in=[e.participant.pk for e in events])
    }
    chairs = protocol().infusion_chairs_per_day
    rows = []
    for index, e in enumerate(sorted(events, key=lambda e: (e.start, e.participant.code))):
        visit = visits.get((e.participant.pk, e.period, e.number))
        rows.append(
            InfusionRow(
                participant=e.participant,
                label=e.label,
                start=visit.started_at if visit is not None and visit.started_at else e.start,
                state=_session_state(visit, now=now),
                period=e.period,
                number=e.number or 0,
                chair=index + 1 if index < chairs else None,
            )
        )
    return rows


def vital_alerts_without_action(user: AbstractBaseUser) -> list[Any]:
    """Vital signs past a threshold whose alert still waits for its action (pause, stop, continue
    with a reason), oldest first, with their visit and participant."""
    from infusions.models import VitalSigns
    from participants.selectors import participant_list_for_user

    return list(
        VitalSigns.objects.exclude(alerts=[])
        .filter(action="", visit__participant__in=participant_list_for_user(user))
        .select_related("visit", "visit__participant")
        .order_by("measured_at", "pk")
    )


def sessions_not_discharged(user: AbstractBaseUser, *, now: datetime) -> list[Any]:
    """Sessions started before today and never discharged (still running, or stopped without a
    recorded discharge), oldest first."""
    from infusions.models import InfusionVisit
    from participants.selectors import participant_list_for_user

    return list(
        InfusionVisit.objects.filter(
            started_at__lt=day_start(now),
            discharged_at__isnull=True,
            participant__in=participant_list_for_user(user),
        )
        .select_related("participant")
        .order_by("started_at", "pk")
    )


def infusion_label(period: int, number: int) -> str:
    """An infusion's neutral name, as the schedule pages write it."""
    return _("Period %(p)d, infusion %(n)d") % {"p": period, "n": number}


def infusion_physician_worklist(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """Today's infusions and the overdue actions: alerts without their action (late: past the
    escalation time), sessions of past days not discharged."""
    escalate = timedelta(minutes=protocol().vitals_alert_escalate_minutes)
    alerts = [
        {
            "vitals": v,
            "visit": v.visit,
            "label": infusion_label(v.visit.period, v.visit.number),
            "when": local_minute(v.measured_at),
            "late": v.measured_at + escalate < now,
        }
        for v in vital_alerts_without_action(user)
    ]
    not_discharged = [
        {"visit": v, "label": infusion_label(v.period, v.number), "when": local_minute(v.started_at)}
        for v in sessions_not_discharged(user, now=now)
    ]
    return {
        "infusions": infusions_today(user, now=now),
        "chairs": protocol().infusion_chairs_per_day,
        "alerts": alerts,
        "alerts_late": sum(1 for a in alerts if a["late"]),
        "not_discharged": not_discharged,
        "overdue": len(alerts) + len(not_discharged),
    }


@dataclass(frozen=True)
class DueItem:
    """A scheduled visit the coordinator books or follows up (a rating visit, an MRS scan, an
    infusion whose window passed), in the schedule's neutral words."""

    participant: Any
    label: str
    due: datetime
    window_end: datetime | None
    overdue: bool

    @property
    def when(self) -> str:
        return local_minute(self.due)


def coordinator_worklist(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """The coordinator's day: randomized participants without a day 1, today's infusions against
    the chairs, MRS scans to book (within the booking lead) and rating visits due (within the
    task list's days ahead), and what was missed: infusions whose window passed with nothing
    recorded, rating visits and scans whose window passed without their data, over the task
    list's overdue days. The schedule is read as staff see it (period-2 horizon); whether a rating
    was entered is read, never its scores."""
    from clinimetry.models import Assessment
    from clinimetry.selectors import INSTRUMENTS
    from infusions.selectors import calendar_events
    from participants.models import Participant
    from participants.selectors import participant_list_for_user
    from spectroscopy.models import MRSUpload

    p = protocol()
    today = timezone.localdate(now)
    visible = _visible_ids(user)
    events = [
        e
        for e in calendar_events(
            today - timedelta(days=p.task_overdue_days), today + timedelta(days=p.booking_lead_days), now=now
        )
        if e.participant.pk in visible
    ]
    ids = {e.participant.pk for e in events}
    rated: dict[tuple[int, str], set[str]] = {}
    for pk, code, instrument in Assessment.objects.filter(
        participant_id__in=ids, task_code__in={e.code for e in events if e.kind == "rating"}
    ).values_list("participant_id", "task_code", "instrument"):
        rated.setdefault((pk, code), set()).add(instrument)
    scanned = set(
        MRSUpload.objects.filter(
            participant_id__in=ids,
            session_code__in={e.code for e in events if e.kind == "mrs"},
            status=MRSUpload.Status.ACCEPTED,
        ).values_list("participant_id", "session_code")
    )
    ahead = now + timedelta(days=p.task_list_ahead_days)
    book_until = now + timedelta(days=p.booking_lead_days)
    ratings, scans, missed = [], [], []
    for e in events:
        passed = e.window_end is not None and e.window_end < now
        if e.kind == "rating" and not set(INSTRUMENTS) <= rated.get((e.participant.pk, e.code), set()):
            if passed:
                missed.append(DueItem(e.participant, e.label, e.start, e.window_end, True))
            elif e.window_start is None or e.window_start <= ahead:
                ratings.append(DueItem(e.participant, e.label, e.start, e.window_end, False))
        elif e.kind == "mrs" and (e.participant.pk, e.code) not in scanned:
            if passed:
                missed.append(DueItem(e.participant, e.label, e.start, e.window_end, True))
            elif e.start <= book_until:
                scans.append(DueItem(e.participant, e.label, e.start, e.window_end, False))
        elif e.kind == "infusion" and e.status.startswith("planned") and passed:
            missed.append(DueItem(e.participant, e.label, e.start, e.window_end, True))
    to_schedule = list(
        participant_list_for_user(user)
        .filter(status=Participant.Status.RANDOMIZED, schedule__isnull=True)
        .order_by("code")
    )
    infusions = infusions_today(user, now=now)
    return {
        "to_schedule": to_schedule,
        "infusions": infusions,
        "chairs": p.infusion_chairs_per_day,
        "over_capacity": sum(1 for r in infusions if r.chair is None),
        "scans": sorted(scans, key=lambda d: (d.due, d.participant.code)),
        "ratings": sorted(ratings, key=lambda d: (d.due, d.participant.code)),
        "missed": sorted(missed, key=lambda d: (d.due, d.participant.code)),
        "booking_lead_days": p.booking_lead_days,
        "ahead_days": p.task_list_ahead_days,
        "overdue_days": p.task_overdue_days,
    }


def rater_worklist(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """The rater's due and overdue rating tasks: exactly the task list (clinimetry.selectors
    due_tasks), by due time then opaque name, shown as "Rating visit" and the due day; nothing of
    the period or the infusion."""
    from clinimetry import scales
    from clinimetry.selectors import due_tasks, task_list_participants

    visible = _visible_ids(user)
    tasks = due_tasks([p for p in task_list_participants(now=now) if p.pk in visible], now=now)
    return {
        "tasks": tasks,
        "overdue": sum(1 for t in tasks if t.window_end < now),
        "scales": sorted(((k, s.name) for k, s in scales.SCALES.items()), key=lambda ks: ks[0] != "madrs"),
    }


def _participant_visible(user: AbstractBaseUser) -> Q:
    """A review record (query, verification) about a participant the user may see, or about none."""
    from participants.selectors import participant_list_for_user

    return Q(participant__isnull=True) | Q(participant__in=participant_list_for_user(user))


def _visible_queries(user: AbstractBaseUser) -> Any:
    """Queries on records the user may see, field by field (review.services.query_visible as one
    filter): the open and answered ones."""
    from participants.allocation import visibility
    from review.models import Query
    from review.records import PATHS

    labels = [label for label in PATHS if visibility.may_see_records(user, label)]
    queries = (
        Query.objects.filter(record_model__in=labels)
        .filter(_participant_visible(user))
        .exclude(state=Query.State.CLOSED)
    )
    for label, fields in visibility.FIELD_KINDS.items():
        hidden = [name for name in fields if name not in visibility.visible_fields(user, label, [name])]
        if label in labels and hidden:
            queries = queries.exclude(record_model=label, field__in=hidden)
    return queries


def _form_name(label: str) -> str:
    from review.records import model_of

    model = model_of(label)
    return str(model._meta.verbose_name) if model is not None else label


def query_worklist(
    user: AbstractBaseUser, *, now: datetime, assigned_to: str | None = None
) -> dict[str, Any]:
    """Open and answered queries the user may see (only those assigned to `assigned_to`, when
    given, and then only the open ones, which wait for that role's answer): how many in each
    state, how many overdue (due before today) and due today, and the first by due date."""
    from review.models import Query

    queries = _visible_queries(user)
    if assigned_to is not None:
        queries = queries.filter(assignee_role=assigned_to, state=Query.State.OPEN)
    today = timezone.localdate(now)
    totals = queries.aggregate(
        total=Count("pk"),
        open=Count("pk", filter=Q(state=Query.State.OPEN)),
        answered=Count("pk", filter=Q(state=Query.State.ANSWERED)),
        overdue=Count("pk", filter=Q(due_date__lt=today)),
        due_today=Count("pk", filter=Q(due_date=today)),
    )
    first = list(
        queries.select_related("participant").order_by(F("due_date").asc(nulls_last=True), "raised_at", "pk")[
            :WORKLIST_ROWS
        ]
    )
    return {
        **totals,
        "states": [(label, totals[code]) for code, label in Query.State.choices if code in totals],
        "rows": [
            {
                "query": q,
                "form": _form_name(q.record_model),
                "overdue": q.due_date is not None and q.due_date < today,
            }
            for q in first
        ],
        "today": today,
    }


def notification_worklist(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """The user's notifications waiting for acknowledgement: by kind, how many came before today
    (overdue), and the newest."""
    waiting = Notification.objects.filter(recipient=user, read_at__isnull=True)
    by_kind = dict(waiting.values_list("kind").annotate(n=Count("pk")).order_by())
    return {
        "total": sum(by_kind.values()),
        "by_kind": [(label, by_kind[code]) for code, label in Notification.Kind.choices if by_kind.get(code)],
        "overdue": waiting.filter(created_at__lt=day_start(now)).count(),
        "rows": [
            {"note": n, "when": local_minute(n.created_at), "overdue": n.created_at < day_start(now)}
            for n in waiting.order_by("-created_at", "-pk")[:WORKLIST_ROWS]
        ],
    }


def casebooks_to_sign(user: AbstractBaseUser) -> list[Any]:
    """Participants whose trial is over and whose casebook has no signature in force (never
    signed, or voided by a later correction), by code, each with `open_queries`: the casebook is
    signed once they are closed."""
    from participants.selectors import participant_list_for_user
    from review.models import CasebookSignature, Query

    signed = CasebookSignature.objects.filter(voided_at__isnull=True).values("participant_id")
    open_queries = (
        Query.objects.filter(participant=OuterRef("pk"))
        .exclude(state=Query.State.CLOSED)
        .order_by()
        .values("participant")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        participant_list_for_user(user)
        .filter(status__in=FINISHED_STATUSES)
        .exclude(pk__in=signed)
        .annotate(open_queries=Coalesce(Subquery(open_queries), 0))
        .order_by("code")
    )


def principal_investigator_worklist(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """Safety first: notifications to acknowledge, open suicide-risk follow-ups (waiting for their
    assessment, or for the PI to close them), serious adverse events not resolved; then casebooks
    to sign and the queries assigned to the principal investigator."""
    from safety.selectors import (
        OPEN,
        SERIOUS,
        AdverseEventFilters,
        adverse_event_list_for_user,
        suicide_follow_ups_for_user,
    )

    follow_ups = list(
        suicide_follow_ups_for_user(user).filter(closed_at__isnull=True).order_by("opened_at", "pk")
    )
    casebooks = casebooks_to_sign(user)
    start = day_start(now)
    return {
        "suicide_follow_ups": [
            {"follow_up": f, "when": local_minute(f.opened_at), "overdue": f.opened_at < start}
            for f in follow_ups
        ],
        "suicide_overdue": sum(1 for f in follow_ups if f.opened_at < start),
        "serious_open": list(
            adverse_event_list_for_user(user, AdverseEventFilters(seriousness=SERIOUS, state=OPEN))[
                :WORKLIST_ROWS
            ]
        ),
        "serious_open_total": adverse_event_list_for_user(
            user, AdverseEventFilters(seriousness=SERIOUS, state=OPEN)
        ).count(),
        "casebooks": casebooks[:WORKLIST_ROWS],
        "casebooks_total": len(casebooks),
        "casebooks_ready": sum(1 for c in casebooks if not c.open_queries),
        "queries": query_worklist(user, now=now, assigned_to=PRINCIPAL_INVESTIGATOR),
    }


def reverification_list(user: AbstractBaseUser) -> Any:
    """Forms verified once whose verification lapsed with a later change and that are not
    verified again (whole form), newest change first: lazy, the caller slices and counts."""
    from participants.allocation import visibility
    from review.models import Verification
    from review.records import PATHS

    labels = [label for label in PATHS if visibility.may_see_records(user, label)]
    standing = Verification.objects.filter(
        record_model=OuterRef("record_model"),
        record_id=OuterRef("record_id"),
        invalidated_at__isnull=True,
        fields=[],
    )
    return (
        Verification.objects.filter(record_model__in=labels, invalidated_at__isnull=False)
        .filter(_participant_visible(user))
        .exclude(Exists(standing))
        .select_related("participant")
        .order_by("-invalidated_at", "-pk")
    )


def verification_worklist(user: AbstractBaseUser) -> dict[str, Any]:
    """Source-data verification: forms the user may see, how many are verified (whole form) and
    how many wait, and the forms whose verification a later change voided."""
    from participants.allocation import visibility
    from review.models import Verification
    from review.records import CASEBOOK, model_of

    labels = [label for label, _lookup in CASEBOOK if visibility.may_see_records(user, label)]
    total = sum(model_of(label)._default_manager.count() for label in labels)  # type: ignore[union-attr]
    verified = (
        Verification.objects.filter(record_model__in=labels, invalidated_at__isnull=True, fields=[])
        .values("record_model", "record_id")
        .distinct()
        .count()
    )
    lapsed = reverification_list(user)
    rows = []
    seen: set[tuple[str, str]] = set()
    for v in lapsed[: WORKLIST_ROWS * 3]:
        if (v.record_model, v.record_id) not in seen and len(rows) < WORKLIST_ROWS:
            seen.add((v.record_model, v.record_id))
            rows.append({"verification": v, "form": _form_name(v.record_model)})
    return {
        "total": total,
        "verified": verified,
        "waiting": max(total - verified, 0),
        "lapsed": rows,
        "lapsed_total": lapsed.values("record_model", "record_id").distinct().count(),
    }


def lock_worklist(*, form_locks: bool = True) -> dict[str, Any]:
    """The database lock and the sequence key, and (when asked) how many forms are locked one by
    one (None otherwise)."""
    from ketatrial.lock import database_locked
    from participants.allocation import sequence_key_released
    from review.models import FormLock

    released = sequence_key_released()
    return {
        "database_locked": database_locked(),
        "key_released": released,
        # Named here: templates never name the sequence (test_allocation_module_is_alone).
        "key_label": _("Sequence key released") if released else _("Sequence key sealed"),
        "form_locks": FormLock.objects.filter(unlocked_at__isnull=True).count() if form_locks else None,
    }


def review_worklist(user: AbstractBaseUser, *, now: datetime, verify: bool) -> dict[str, Any]:
    """The data manager's and the monitor's day: queries by state and due date, the overdue ones,
    locks, and (the monitor) forms awaiting verification."""
    return {
        "queries": query_worklist(user, now=now),
        "locks": lock_worklist(),
        "verification": verification_worklist(user) if verify else None,
    }


def statistician_worklist(user: AbstractBaseUser) -> dict[str, Any]:
    """Analyses and exports, and where the lock and the key stand. Nothing that a participant's
    sequence can move before release: no participant, no count of participants, no date of a
    participant's step; the user's own export jobs and the stored analysis runs only (the runs
    are nightly or on demand, whatever the data do)."""
    from outcomes.models import AnalysisRun, ExportJob
    from outcomes.selectors import analysis_run_latest
    from outcomes.services import unblinded_allowed

    jobs = ExportJob.objects.filter(requested_by=user)
    by_status = dict(jobs.values_list("status").annotate(n=Count("pk")).order_by())
    efficacy_open = unblinded_allowed()
    runs = [
        {"run": run, "when": local_minute(run.run_at)}
        for run in (
            analysis_run_latest(AnalysisRun.Kind.MONITORING),
            analysis_run_latest(AnalysisRun.Kind.EFFICACY) if efficacy_open else None,
        )
        if run is not None
    ]
    return {
        # Not the forms locked: the data manager locks a participant's forms as they finish.
        "locks": lock_worklist(form_locks=False),
        "runs": runs,
        "efficacy_open": efficacy_open,
        "exports": [
            {"job": j, "when": local_minute(j.requested_at)}
            for j in jobs.order_by("-requested_at", "-pk")[:5]
        ],
        "export_states": [(label, by_status.get(code, 0)) for code, label in ExportJob.Status.choices],
        "exports_failed": by_status.get(ExportJob.Status.FAILED, 0),
    }


def worklist(role: str, user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """The home page's worklist of one of the user's roles (the pharmacist's is the pharmacy page)."""
    if role == RATER:
        return rater_worklist(user, now=now)
    if role == INFUSION_PHYSICIAN:
        return infusion_physician_worklist(user, now=now)
    if role == COORDINATOR:
        return coordinator_worklist(user, now=now)
    if role == PRINCIPAL_INVESTIGATOR:
        return principal_investigator_worklist(user, now=now)
    if role in (DATA_MANAGER, MONITOR):
        return review_worklist(user, now=now, verify=role == MONITOR)
    if role == STATISTICIAN:
        return statistician_worklist(user)
    return {}
