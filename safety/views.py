"""Safety pages: everyone's notifications (acknowledged, never deleted); for the oversight roles
the blinded safety summary; the adverse-event listing and each event with its follow-up; the
structured suicide-risk follow-up that a principal investigator closes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infusions import services as infusion_services
from infusions.forms import AdverseEventEditForm, AdverseEventFollowUpForm
from infusions.models import AdverseEvent
from ketatrial.forms import run_service
from ketatrial.notifications import notification_acknowledge
from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PRINCIPAL_INVESTIGATOR,
    RATER,
)
from ketatrial.selectors import notification_get_for_user, notification_list_for
from participants.access import authenticated, has_role, not_found, role_required
from participants.selectors import participant_get_for_user
from safety import selectors, services
from safety.forms import AdverseEventFilterForm, CloseForm, SuicideRiskFollowUpForm
from safety.models import SuicideRiskFollowUp

OVERSIGHT = (PRINCIPAL_INVESTIGATOR, DATA_MANAGER, MONITOR)
# The visibility rule's readers of adverse events, and the two roles that change them.
AE_READERS = (*OVERSIGHT, INFUSION_PHYSICIAN, COORDINATOR)
AE_WRITERS = (INFUSION_PHYSICIAN, PRINCIPAL_INVESTIGATOR)
PAGE_SIZE = 25


# --- notifications -----------------------------------------------------------------------------


@authenticated
def notifications(request: HttpRequest) -> HttpResponse:
    """The user's own notifications, those waiting for acknowledgement first by default."""
    unread_only = request.GET.get("show") != "all"
    page = Paginator(notification_list_for(request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "safety/notifications.html", {"page": page, "unread_only": unread_only})


@authenticated
@require_POST
def notification_ack(request: HttpRequest, pk: int) -> HttpResponse:
    note = notification_get_for_user(request.user, pk)
    if note is None:
        raise not_found()
    try:
        notification_acknowledge(notification=note, by=request.user, now=timezone.now())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Notification acknowledged."))
    target = request.POST.get("next") or reverse("safety:notifications")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("safety:notifications")
    return redirect(target)


# --- the blinded summary and the adverse events ---------------------------------------------------


@role_required(*OVERSIGHT)
def summary(request: HttpRequest) -> HttpResponse:
    return render(request, "safety/summary.html", {"summary": selectors.safety_summary(request.user)})


@role_required(*AE_READERS)
def adverse_event_list(request: HttpRequest) -> HttpResponse:
    form = AdverseEventFilterForm(request.GET or None)
    filters = (
        selectors.filters_from(form.cleaned_data) if form.is_valid() else selectors.AdverseEventFilters()
    )
    events = selectors.adverse_event_list_for_user(request.user, filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "safety/adverse_events.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


def _event(request: HttpRequest, pk: int) -> AdverseEvent:
    event = selectors.adverse_event_get_for_user(request.user, pk)
    if event is None:
        raise not_found()
    return event


def _event_page(request: HttpRequest, event: AdverseEvent, status: int = 200, **bound: Any) -> HttpResponse:
    may_write = has_role(request.user, *AE_WRITERS)
    topic = infusion_services.adverse_event_topic(event)
    told = selectors.acknowledgements(topic)
    local_now = timezone.localtime()
    return render(
        request,
        "safety/adverse_event.html",
        {
            "event": event,
            "follow_ups": selectors.adverse_event_follow_ups(event),
            "told": told,
            "mine_waiting": [n for n in told if n.recipient_id == request.user.pk and n.read_at is None],
            "may_write": may_write,
            "edit_form": bound.get("edit_form")
            or (
                AdverseEventEditForm(
                    instance=event, action=reverse("safety:adverse_event_edit", args=[event.pk])
                )
                if may_write
                else None
            ),
            "follow_up_form": bound.get("follow_up_form")
            or (
                AdverseEventFollowUpForm(
                    action=reverse("safety:adverse_event_follow_up", args=[event.pk]),
                    initial={"on": local_now.date().isoformat()},
                )
                if may_write
                else None
            ),
        },
        status=status,
    )


@role_required(*AE_READERS)
def adverse_event(request: HttpRequest, pk: int) -> HttpResponse:
    return _event_page(request, _event(request, pk))


@role_required(*AE_WRITERS)
@require_POST
def adverse_event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = AdverseEventEditForm(
        request.POST, instance=AdverseEvent.objects.get(pk=event.pk), action=request.path
    )
    if run_service(
        form,
        lambda d: infusion_services.adverse_event_update(
            event=event, changes=form.changes(), reason=d["reason"], by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Adverse event changed."))
        return redirect("safety:adverse_event", pk=pk)
    return _event_page(request, _event(request, pk), status=400, edit_form=form)


@role_required(*AE_WRITERS)
@require_POST
def adverse_event_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = AdverseEventFollowUpForm(request.POST, action=request.path)
    if run_service(
        form,
        lambda d: infusion_services.adverse_event_follow_up_add(
            event=event, on=d["on"], note=d["note"], by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Follow-up added."))
        return redirect("safety:adverse_event", pk=pk)
    return _event_page(request, event, status=400, follow_up_form=form)


# --- suicide-risk follow-up --------------------------------------------------------------------


@role_required(*OVERSIGHT)
def suicide_followups(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.suicide_follow_ups_for_user(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "safety/suicide_followups.html", {"page": page})


def _followup(request: HttpRequest, pk: int) -> SuicideRiskFollowUp:
    """The rater sees the follow-ups of their own ratings; the oversight roles those of the
    participants they may see; anyone else, and a missing one, 404."""
    followup = selectors.suicide_follow_up_get(pk)
    if followup is None:
        raise not_found()
    if has_role(request.user, *OVERSIGHT):
        participant_get_for_user(request.user, followup.participant_id)
    elif followup.assessment.rater_id != request.user.pk:
        raise not_found()
    return followup


def _followup_page(
    request: HttpRequest, followup: SuicideRiskFollowUp, status: int = 200, **bound: Any
) -> HttpResponse:
    is_open = followup.is_open
    may_record = is_open and services.may_record_suicide_followup(request.user, followup)
    may_close = is_open and followup.is_assessed and has_role(request.user, PRINCIPAL_INVESTIGATOR)
    record_url = reverse("safety:suicide_followup_record", args=[followup.pk])
    initial = {} if followup.is_assessed else {"assessed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
    return render(
        request,
        "safety/suicide_followup.html",
        {
            "f": followup,
            "questions": [
                (followup._meta.get_field(q).verbose_name, getattr(followup, f"get_{q}_display")())
                for q in SuicideRiskFollowUp.QUESTIONS
            ],
            "record_form": bound.get("record_form")
            or (
                SuicideRiskFollowUpForm(instance=followup, action=record_url, initial=initial)
                if may_record
                else None
            ),
            "close_form": bound.get("close_form")
            or (
                CloseForm(action=reverse("safety:suicide_followup_close", args=[followup.pk]))
                if may_close
                else None
            ),
            "is_rater": has_role(request.user, RATER),
        },
        status=status,
    )


@role_required(*OVERSIGHT, RATER)
def suicide_followup(request: HttpRequest, pk: int) -> HttpResponse:
    return _followup_page(request, _followup(request, pk))


@role_required(PRINCIPAL_INVESTIGATOR, RATER)
@require_POST
def suicide_followup_record(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _followup(request, pk)
    if not services.may_record_suicide_followup(request.user, followup):
        raise PermissionDenied
    form = SuicideRiskFollowUpForm(
        request.POST, instance=selectors.suicide_follow_up_get(pk), action=request.path
    )
    if run_service(
        form,
        lambda d: services.suicide_followup_record(
            followup=followup,
            by=request.user,
            now=timezone.now(),
            assessed_at=d["assessed_at"],
            answers=form.answers(),
            risk_level=d["risk_level"],
            safety_plan=d["safety_plan"],
            support_contacted=d["support_contacted"],
            referral=d["referral"],
            hospitalised=d["hospitalised"],
            notes=d["notes"],
            reason=d["reason"],
        ),
    ):
        messages.success(request, _("Suicide-risk assessment recorded."))
        return redirect("safety:suicide_followup", pk=pk)
    return _followup_page(request, _followup(request, pk), status=400, record_form=form)


@role_required(PRINCIPAL_INVESTIGATOR)
@require_POST
def suicide_followup_close(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _followup(request, pk)
    form = CloseForm(request.POST, action=request.path)
    if run_service(
        form,
        lambda d: services.suicide_followup_close(
            followup=followup, reason=d["reason"], by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Suicide-risk follow-up closed."))
        return redirect("safety:suicide_followup", pk=pk)
    return _followup_page(request, followup, status=400, close_form=form)
