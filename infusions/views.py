"""Calendar, timeline, infusion sessions, adverse events, iCal feed. Raters reach none of them."""

from __future__ import annotations

import calendar as pycal
from collections import Counter
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infusions import selectors, services
from infusions.forms import (
    AdverseEventForm,
    AlertActionForm,
    DischargeForm,
    DissociationForm,
    MissedForm,
    RescheduleForm,
    ScheduleForm,
    StartForm,
    StopForm,
    VitalsForm,
)
from infusions.models import InfusionVisit, VitalSigns
from ketatrial.forms import run_service
from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN, MONITOR, PRINCIPAL_INVESTIGATOR
from ketatrial.trial import protocol
from participants.access import not_found, public, role_required
from participants.selectors import participant_get_for_user

CALENDAR_ROLES = (COORDINATOR, INFUSION_PHYSICIAN, PRINCIPAL_INVESTIGATOR, MONITOR)


def _parse_day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


@role_required(*CALENDAR_ROLES)
def calendar_view(request: HttpRequest) -> HttpResponse:
    mode = "month" if request.GET.get("view") == "month" else "week"
    anchor = _parse_day(request.GET.get("start"))
    if mode == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
    else:
        first = anchor.replace(day=1)
        last = first.replace(day=pycal.monthrange(first.year, first.month)[1])
        previous, following = (first - timedelta(days=1)).replace(day=1), last + timedelta(days=1)
    events = selectors.calendar_events(first, last, now=timezone.now())
    p = protocol()
    load = selectors.capacity(events, chairs=p.infusion_chairs_per_day, scanner_slots=p.scanner_slots_per_day)
    days = []
    day = first
    by_day: dict[date, list] = {}
    for e in events:
        by_day.setdefault(e.day, []).append(e)
    while day <= last:
        today = by_day.get(day, [])
        # The month view summarises a day as counts (a month of a large trial is thousands of
        # events); the week view lists them.
        shown = today if mode == "week" else sorted(Counter(str(e.kind_label) for e in today).items())
        days.append((day, shown, load.get(day)))
        day += timedelta(days=1)
    return render(
        request,
        "infusions/calendar.html",
        {
            "mode": mode,
            "days": days,
            "first": first,
            "last": last,
            "previous": previous,
            "following": following,
        },
    )


@role_required(*CALENDAR_ROLES)
def timeline(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    events = selectors.participant_events(participant, now=timezone.now())
    return render(
        request,
        "infusions/timeline.html",
        {
            "participant": participant,
            "events": events,
            "schedule_form": ScheduleForm(action=reverse("infusions:schedule_set", args=[pk])),
            "has_schedule": hasattr(participant, "schedule"),
            "can_schedule": COORDINATOR in {g.name for g in request.user.groups.all()},
            "can_move_day1": not participant.infusion_visits.exclude(
                status=InfusionVisit.Status.PLANNED
            ).exists(),
        },
    )


def _timeline_action(request: HttpRequest, pk: int, form_class: type, call: Any, ok: str) -> HttpResponse:
    """Run a coordinator's schedule action from the timeline; a refusal comes back as a message."""
    participant = participant_get_for_user(request.user, pk)
    form = form_class(request.POST)
    if form.is_valid() and "period" in form.cleaned_data:
        _require_visible(participant, form.cleaned_data["period"], form.cleaned_data["number"])
    if run_service(form, lambda d: call(participant, d)):
        messages.success(request, ok)
    else:
        for error in form.errors.values():
            messages.error(request, " ".join(error))
    return redirect("infusions:timeline", pk=pk)


@role_required(COORDINATOR)
@require_POST
def schedule_set(request: HttpRequest, pk: int) -> HttpResponse:
    return _timeline_action(
        request,
        pk,
        ScheduleForm,
        lambda p, d: services.schedule_set(participant=p, by=request.user, now=timezone.now(), **d),
        _("Schedule saved."),
    )


@role_required(COORDINATOR)
@require_POST
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _timeline_action(
        request,
        pk,
        RescheduleForm,
        lambda p, d: services.infusion_reschedule(participant=p, by=request.user, now=timezone.now(), **d),
        _("Infusion moved."),
    )


@role_required(COORDINATOR)
@require_POST
def mark_missed(request: HttpRequest, pk: int) -> HttpResponse:
    return _timeline_action(
        request,
        pk,
        MissedForm,
        lambda p, d: services.infusion_mark_missed(participant=p, by=request.user, **d),
        _("Infusion marked as missed; it is not made up."),
    )


def _session_context(request: HttpRequest, visit: InfusionVisit, **bound: Any) -> dict[str, Any]:
    base = reverse("infusions:session", args=[visit.participant_id, visit.period, visit.number])
    now_local = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    saved = visit.pk is not None  # a visit not yet opened (GET writes nothing) has no records
    done_minutes = set(visit.vitals.values_list("minute", flat=True)) if saved else set()
    minutes = [m for m in services.vitals_minutes() if m not in done_minutes]
    return {
        "visit": visit,
        "participant": visit.participant,
        "vitals": list(visit.vitals.all()) if saved else [],
        "dissociation": list(visit.dissociation.all()) if saved else [],
        "open_alerts": services.open_alerts(visit) if saved else [],
        "adverse_events": list(visit.adverse_events.all()) if saved else [],
        "start_form": bound.get("start_form")
        or StartForm(action=f"{base}start/", initial={"started_at": now_local}),
        "vitals_form": bound.get("vitals_form")
        or VitalsForm(minutes=minutes, action=f"{base}vitals/", initial={"measured_at": now_local}),
        "action_form_errors": bound.get("action_form_errors"),
        "dissociation_form": bound.get("dissociation_form")
        or DissociationForm(action=f"{base}dissociation/"),
        "stop_form": bound.get("stop_form")
        or StopForm(action=f"{base}stop/", initial={"ended_at": now_local}),
        "discharge_form": bound.get("discharge_form")
        or DischargeForm(action=f"{base}discharge/", initial={"discharged_at": now_local}),
        "ae_form": bound.get("ae_form")
        or AdverseEventForm(action=f"{base}adverse-event/", initial={"onset": now_local}),
        "actions": VitalSigns.Action.choices,
        "base": base,
    }


def _require_visible(participant: Any, period: Any, number: Any) -> None:
    """Beyond the period-2 horizon an infusion answers like a missing one, whatever the request."""
    visible = {
        (e.period, e.number)
        for e in selectors.participant_events(participant, now=timezone.now())
        if e.kind == "infusion"
    }
    if (period, number) not in visible:
        raise not_found()


def _visit(request: HttpRequest, pk: int, period: int, number: int, *, open_it: bool = True) -> InfusionVisit:
    """The visit of a scheduled infusion. A POST opens it (the service creates the row, audited);
    a GET only reads: a visit not opened yet comes back unsaved."""
    participant = participant_get_for_user(request.user, pk)
    _require_visible(participant, period, number)
    try:
        if open_it:
            return services.visit_for(participant, period, number, by=request.user)
        return selectors.visit_get(participant, period, number)
    except ValidationError:  # not in this participant's schedule: the same 404 as a missing one
        raise not_found() from None


@role_required(INFUSION_PHYSICIAN)
def session(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    visit = _visit(request, pk, period, number, open_it=False)
    return render(request, "infusions/session.html", _session_context(request, visit))


def _session_post(
    request: HttpRequest, pk: int, period: int, number: int, form_key: str, form: Any, call: Any, ok: str
) -> HttpResponse:
    visit = _visit(request, pk, period, number)
    if run_service(form, lambda d: call(visit, d)):
        messages.success(request, ok)
        return redirect("infusions:session", pk=pk, period=period, number=number)
    context = _session_context(request, visit, **{form_key: form})
    return render(request, "infusions/session.html", context, status=400)


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_start(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = StartForm(request.POST)

    def call(visit: InfusionVisit, d: dict[str, Any]) -> InfusionVisit:
        return services.session_start(
            visit=visit,
            prechecks=form.prechecks(),
            syringe_code=d["syringe_code"],
            pump_rate_ml_h=d["pump_rate_ml_h"],
            started_at=d["started_at"],
            by=request.user,
            now=timezone.now(),
        )

    return _session_post(request, pk, period, number, "start_form", form, call, _("Infusion started."))


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_vitals(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = VitalsForm(request.POST, minutes=services.vitals_minutes())

    def call(visit: InfusionVisit, d: dict[str, Any]) -> VitalSigns:
        return services.vitals_record(visit=visit, by=request.user, now=timezone.now(), **d)

    return _session_post(request, pk, period, number, "vitals_form", form, call, _("Vitals recorded."))


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_alert_action(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    visit = _visit(request, pk, period, number)
    form = AlertActionForm(request.POST)
    vitals = visit.vitals.filter(pk=request.POST.get("vitals") or 0).first()
    if vitals is None:
        raise not_found()
    if run_service(
        form,
        lambda d: services.vitals_act(
            vitals=vitals, action=d["action"], reason=d["reason"], by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Action recorded."))
        return redirect("infusions:session", pk=pk, period=period, number=number)
    errors = [e for errs in form.errors.values() for e in errs]
    return render(
        request,
        "infusions/session.html",
        _session_context(request, visit, action_form_errors=errors),
        status=400,
    )


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_dissociation(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = DissociationForm(request.POST)

    def call(visit: InfusionVisit, d: dict[str, Any]) -> Any:
        cadss, bprs = form.items()
        return services.dissociation_record(
            visit=visit,
            minute=d["minute"],
            cadss_items=cadss,
            bprs_items=bprs,
            rated_at=timezone.now(),
            by=request.user,
        )

    return _session_post(
        request, pk, period, number, "dissociation_form", form, call, _("CADSS and BPRS+ recorded.")
    )


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_stop(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = StopForm(request.POST)
    return _session_post(
        request,
        pk,
        period,
        number,
        "stop_form",
        form,
        lambda visit, d: services.session_stop(visit=visit, by=request.user, now=timezone.now(), **d),
        _("Stop recorded."),
    )


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_discharge(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = DischargeForm(request.POST)
    return _session_post(
        request,
        pk,
        period,
        number,
        "discharge_form",
        form,
        lambda visit, d: services.session_discharge(visit=visit, by=request.user, now=timezone.now(), **d),
        _("Discharged."),
    )


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_adverse_event(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = AdverseEventForm(request.POST)
    return _session_post(
        request,
        pk,
        period,
        number,
        "ae_form",
        form,
        lambda visit, d: services.adverse_event_record(
            participant=visit.participant, visit=visit, by=request.user, now=timezone.now(), **d
        ),
        _("Adverse event reported."),
    )


@role_required(INFUSION_PHYSICIAN, PRINCIPAL_INVESTIGATOR, MONITOR)
def adverse_events(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    return render(
        request,
        "infusions/adverse_events.html",
        {
            "participant": participant,
            "events": participant.adverse_events.select_related("visit", "reported_by"),
        },
    )


@role_required(COORDINATOR, INFUSION_PHYSICIAN)
def calendar_feed_settings(request: HttpRequest) -> HttpResponse:
    token = services.calendar_token_for(request.user, now=timezone.now(), renew=request.method == "POST")
    url = request.build_absolute_uri(reverse("infusions:ical", args=[token.token]))
    return render(request, "infusions/feed.html", {"url": url})


@public
def ical_feed(request: HttpRequest, token: str) -> HttpResponse:
    record = selectors.calendar_token_get(token)
    if (
        record is None
        or not record.user.is_active
        or not {g.name for g in record.user.groups.all()} & {COORDINATOR, INFUSION_PHYSICIAN}
    ):
        raise not_found()
    today = timezone.localdate()
    language = getattr(getattr(record.user, "profile", None), "language", None) or "es"
    with translation.override(language):  # the feed speaks its owner's language
        events = selectors.calendar_events(
            today - timedelta(days=30), today + timedelta(days=120), now=timezone.now()
        )
        from infusions import ical  # icalendar only for the feed itself

        body = ical.feed(events, user=record.user)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="ketatrial.ics"'
    return response
