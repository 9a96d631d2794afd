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
    ClosedDayForm,
    ClosedDayRemoveForm,
    ClosedWeekdaysForm,
    DischargeForm,
    DissociationForm,
    MissedForm,
    PauseForm,
    PlannedTimeForm,
    RescheduleForm,
    ResumeForm,
    ScheduleForm,
    StartForm,
    StatutoryHolidaysForm,
    StopForm,
    VitalsForm,
)
from infusions.forms_scan import SyringeScanForm
from infusions.models import ClosedDay, InfusionVisit, VitalSigns
from ketatrial.forms import run_service
from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN, MONITOR, PRINCIPAL_INVESTIGATOR
from ketatrial.trial import protocol
from participants import allocation
from participants.access import capability_required, has_capability, not_found, public, role_required
from participants.models import SyringeScan
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
    events = selectors.calendar_events(first, last, now=timezone.now(), user=request.user)
    closed = selectors.closed_calendar(start=first, end=last)
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
        days.append((day, shown, load.get(day), closed.label(day)))
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
            "can_manage_calendar": has_capability(request.user, "manage_schedule"),
        },
    )


def _timeline_context(request: HttpRequest, participant: Any, **extra: Any) -> dict[str, Any]:
    pk = participant.pk
    events = selectors.participant_events(participant, now=timezone.now())
    closed = selectors.closed_calendar()
    to_come = {id(e): label for e, label in selectors.closed_day_events(events, closed)}
    planned_times = {
        (v.period, v.number): v.planned_time
        for v in participant.infusion_visits.exclude(planned_time=None).only(
            "period", "number", "planned_time"
        )
    }
    rows = [
        (e, to_come.get(id(e), ""), planned_times.get((e.period, e.number)) if e.kind == "infusion" else None)
        for e in events
    ]
    return {
        "participant": participant,
        "events": events,
        "rows": rows,
        "usual_start": protocol().infusion_start_clock,
        "schedule_form": ScheduleForm(action=reverse("infusions:schedule_set", args=[pk])),
        "has_schedule": hasattr(participant, "schedule"),
        "can_schedule": COORDINATOR in {g.name for g in request.user.groups.all()},
        "can_move_day1": not participant.infusion_visits.exclude(
            status=InfusionVisit.Status.PLANNED
        ).exists(),
        **extra,
    }


@role_required(*CALENDAR_ROLES)
def timeline(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    return render(request, "infusions/timeline.html", _timeline_context(request, participant))


def _timeline_action(request: HttpRequest, pk: int, form_class: type, call: Any, ok: str) -> HttpResponse:
    """Run a coordinator's schedule action from the timeline; a refusal comes back as a message. A
    visit on a closed day comes back as a warning with what the person entered, to keep it with a
    reason or choose another date."""
    participant = participant_get_for_user(request.user, pk)
    form = form_class(request.POST)
    if form.is_valid() and "period" in form.cleaned_data:
        _require_visible(participant, form.cleaned_data["period"], form.cleaned_data["number"])
    if run_service(form, lambda d: call(participant, d)):
        messages.success(request, ok)
        return redirect("infusions:timeline", pk=pk)
    if "closed_day_reason" in form.errors:
        context = _timeline_context(
            request,
            participant,
            closed_day_form=form,
            closed_day_action=request.path,
            closed_day_warning=form.errors["closed_day_reason"],
        )
        return render(request, "infusions/timeline.html", context, status=400)
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
def set_time(request: HttpRequest, pk: int) -> HttpResponse:
    return _timeline_action(
        request,
        pk,
        PlannedTimeForm,
        lambda p, d: services.infusion_set_time(participant=p, by=request.user, now=timezone.now(), **d),
        _("Planned start time saved."),
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
    done_minutes = (
        set(visit.vitals.filter(unscheduled=False).values_list("minute", flat=True)) if saved else set()
    )
    minutes = [m for m in services.vitals_minutes() if m not in done_minutes]
    return {
        "visit": visit,
        "participant": visit.participant,
        "vitals": selectors.vitals_in_order(visit) if saved else [],
        **_session_schedule_context(visit, base, now_local, **bound),
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


def _session_schedule_context(
    visit: InfusionVisit, base: str, now_local: str, **bound: Any
) -> dict[str, Any]:
    """The session's planned start, pauses and pump time, with the pause and resume forms."""
    saved = visit.pk is not None
    plan = services.schedule_for(visit.participant)
    infusion = plan.infusion(visit.period, visit.number) if plan is not None else None
    asked = services.pause_suggested(visit) if saved else None
    pause_initial = {"paused_at": now_local}
    if asked is not None:
        pause_initial["pause_reason"] = _("Vital-sign alert: %s") % ", ".join(asked.alerts)
    return {
        "pause_suggested": asked is not None,
        "planned_start": infusion.start if infusion is not None else None,
        "pauses": list(visit.pauses.all()) if saved else [],
        "paused": saved and services.open_pause(visit) is not None,
        "timing": selectors.session_timing(visit, now=timezone.now()) if saved else None,
        "pause_form": bound.get("pause_form") or PauseForm(action=f"{base}pause/", initial=pause_initial),
        "resume_form": bound.get("resume_form")
        or ResumeForm(action=f"{base}resume/", initial={"resumed_at": now_local}),
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
def session_scan(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    """The bedside scan of the syringe label against this infusion's confirmed preparation;
    every scan is recorded, a refusal says why beside the field and keeps what was scanned."""
    visit = _visit(request, pk, period, number, open_it=False)
    form = SyringeScanForm(request.POST)
    if form.is_valid():
        try:
            scan = allocation.syringe_scan_record(
                participant=visit.participant,
                period=period,
                infusion_number=number,
                code=form.cleaned_data["code"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error("code", exc.messages)
        else:
            if scan.outcome == SyringeScan.Outcome.MATCH:
                messages.success(request, allocation.scan_message(scan))
                return redirect("infusions:session", pk=pk, period=period, number=number)
            form.add_error("code", allocation.scan_message(scan))
    context = _session_context(request, visit)
    context["scan_form"] = form
    return render(request, "infusions/session.html", context, status=400)


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
            rated_at=d.get("rated_at") or timezone.now(),
            by=request.user,
            now=timezone.now(),
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
def session_pause(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = PauseForm(request.POST)
    return _session_post(
        request,
        pk,
        period,
        number,
        "pause_form",
        form,
        lambda visit, d: services.session_pause(
            visit=visit,
            paused_at=d["paused_at"],
            reason=d["pause_reason"],
            by=request.user,
            now=timezone.now(),
        ),
        _("Infusion paused."),
    )


@role_required(INFUSION_PHYSICIAN)
@require_POST
def session_resume(request: HttpRequest, pk: int, period: int, number: int) -> HttpResponse:
    form = ResumeForm(request.POST)
    return _session_post(
        request,
        pk,
        period,
        number,
        "resume_form",
        form,
        lambda visit, d: services.session_resume(visit=visit, by=request.user, now=timezone.now(), **d),
        _("Infusion resumed."),
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
            today - timedelta(days=30), today + timedelta(days=120), now=timezone.now(), user=record.user
        )
        from infusions import ical  # icalendar only for the feed itself

        body = ical.feed(events, user=record.user)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="ketatrial.ics"'
    return response


# --- the study calendar: closed days (the coordinator sets it; PROTOCOL.md: "scheduling, calendar")


def _closed_days_context(request: HttpRequest, year: int, **bound: Any) -> dict[str, Any]:
    base = reverse("infusions:closed_days")
    closed = selectors.closed_calendar(start=date(year, 1, 1), end=date(year, 12, 31))
    return {
        "year": year,
        "previous_year": year - 1,
        "next_year": year + 1,
        "closed_days": selectors.closed_days_list(year),
        "weekdays_set_by_team": closed.weekdays_set_by_team,
        "closed_weekday_names": [
            label
            for value, label in ClosedWeekdaysForm.base_fields["weekdays"].choices
            if value in closed.weekdays
        ],
        "day_form": bound.get("day_form") or ClosedDayForm(action=f"{base}add/?year={year}"),
        "weekdays_form": bound.get("weekdays_form")
        or ClosedWeekdaysForm(
            action=f"{base}weekdays/?year={year}", initial={"weekdays": sorted(closed.weekdays)}
        ),
        "statutory_form": bound.get("statutory_form")
        or StatutoryHolidaysForm(action=f"{base}statutory/?year={year}", initial={"year": year}),
        "remove_errors": bound.get("remove_errors"),
    }


def _year(request: HttpRequest) -> int:
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    return year if 2000 <= year <= 2100 else timezone.localdate().year


@capability_required("manage_schedule")
def closed_days(request: HttpRequest) -> HttpResponse:
    return render(request, "infusions/closed_days.html", _closed_days_context(request, _year(request)))


def _closed_days_post(request: HttpRequest, key: str, form: Any, call: Any, ok: Any) -> HttpResponse:
    year = _year(request)
    result = run_service(form, call)
    if result is not None:
        messages.success(request, ok(result) if callable(ok) else ok)
        return redirect(f"{reverse('infusions:closed_days')}?year={year}")
    return render(
        request, "infusions/closed_days.html", _closed_days_context(request, year, **{key: form}), status=400
    )


@capability_required("manage_schedule")
@require_POST
def closed_day_add(request: HttpRequest) -> HttpResponse:
    form = ClosedDayForm(request.POST)
    return _closed_days_post(
        request,
        "day_form",
        form,
        lambda d: services.closed_day_add(day=d["day"], name=d["name"], by=request.user),
        _("Closed day added."),
    )


@capability_required("manage_schedule")
@require_POST
def closed_day_remove(request: HttpRequest) -> HttpResponse:
    form = ClosedDayRemoveForm(request.POST)
    record = ClosedDay.objects.filter(pk=form.cleaned_data["closed_day"]).first() if form.is_valid() else None
    if form.is_valid() and record is None:
        raise not_found()

    def call(d: dict[str, Any]) -> bool:
        services.closed_day_remove(closed_day=record, reason=d["reason"], by=request.user)
        return True

    if run_service(form, call):
        messages.success(request, _("The site is open that day again."))
        return redirect(f"{reverse('infusions:closed_days')}?year={_year(request)}")
    errors = [e for errs in form.errors.values() for e in errs]
    return render(
        request,
        "infusions/closed_days.html",
        _closed_days_context(request, _year(request), remove_errors=errors),
        status=400,
    )


@capability_required("manage_schedule")
@require_POST
def closed_weekdays(request: HttpRequest) -> HttpResponse:
    form = ClosedWeekdaysForm(request.POST)
    return _closed_days_post(
        request,
        "weekdays_form",
        form,
        lambda d: services.closed_weekdays_set(weekdays=d["weekdays"], reason=d["reason"], by=request.user),
        _("Closed weekdays saved."),
    )


@capability_required("manage_schedule")
@require_POST
def closed_days_statutory(request: HttpRequest) -> HttpResponse:
    form = StatutoryHolidaysForm(request.POST)
    return _closed_days_post(
        request,
        "statutory_form",
        form,
        lambda d: services.closed_days_add_statutory(
            year=d["year"], by=request.user, language=translation.get_language() or "es"
        ),
        lambda added: _("%(n)d statutory holidays added.") % {"n": len(added)},
    )
