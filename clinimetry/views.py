"""Rater pages: task list, HDRS-17 and MADRS entry, signature, participant ratings and chart.
No infusion data reaches these pages."""

from __future__ import annotations

import json
import time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinimetry import charts, scales, selectors, services
from clinimetry.forms import AssessmentForm, BlindingGuessForm, RelapseEventForm, SignForm
from clinimetry.items import item_table
from ketatrial import form_stash
from ketatrial.forms import run_service
from ketatrial.protocol import DATA_MANAGER, INFUSION_PHYSICIAN, MONITOR, PRINCIPAL_INVESTIGATOR, RATER
from participants import allocation
from participants.access import not_found, role_required, user_roles
from participants.models import Participant
from participants.selectors import participant_get_for_user
from safety.selectors import suicide_follow_up_latest

READERS = (RATER, PRINCIPAL_INVESTIGATOR, MONITOR, DATA_MANAGER)


@role_required(RATER)
def tasks(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "clinimetry/tasks.html",
        {
            "tasks": selectors.due_tasks(
                selectors.task_list_participants(now=now, user=request.user), now=now
            ),
            "now": timezone.now(),
            # MADRS first: the primary scale is entered first at a visit.
            "scales": sorted(
                ((k, s.name) for k, s in scales.SCALES.items()), key=lambda ks: ks[0] != "madrs"
            ),
        },
    )


@role_required(*READERS)
def participant(request: HttpRequest, pk: int) -> HttpResponse:
    person = participant_get_for_user(request.user, pk)
    points = selectors.chart_points(person)
    return render(
        request,
        "clinimetry/participant.html",
        {
            "participant": person,
            "rows": selectors.derived_rows(person),
            "chart": charts.totals_svg(points),
            "relapse": getattr(person, "relapse", None),
            "relapse_form": RelapseEventForm(),
            "is_rater": RATER in {g.name for g in request.user.groups.all()},
            "strictly_blinded": allocation.is_strictly_blinded(request.user),
        },
    )


def _task(person: Participant, ref: str) -> selectors.RatingTask:
    try:
        return selectors.task_for_rater(person, ref, now=timezone.now())
    except ValidationError:
        raise not_found() from None


def _initial(instrument: str, existing: Any, task: selectors.RatingTask) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "rated_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        # From the timepoint (a week is too long a look back hours after an infusion); the page
        # shows the period in words only, never the timepoint.
        "recall_period": selectors.task_recall_default(task),
        "interview_guide": scales.get(instrument).interview_guide,
        "mode": "in_person",
    }
    if existing is not None:
        initial.update({f"item_{k}": v for k, v in existing.items.items()})
        initial.update(
            {
                "rated_at": timezone.localtime(existing.rated_at).strftime("%Y-%m-%dT%H:%M"),
                "recall_period": existing.recall_period,
                "interview_guide": existing.interview_guide,
                "mode": existing.mode,
            }
        )
    return initial


def _entry_to_show_again(request: HttpRequest) -> dict[str, list[str]] | None:
    """An entry to fill the form with, never to save: the one kept when the inactivity sign-out
    caught its POST (ketatrial.form_stash; the rater signed in again), or the one the page sent
    because the time was up while the session was in fact still alive (another tab renewed it)."""
    if request.method == "POST" and request.POST.get("keep_only"):
        return dict(request.POST.lists())
    if request.method == "GET" and form_stash.asked_to_restore(request):
        kept = form_stash.take(request, now=time.time())
        if kept is None:
            messages.warning(
                request,
                _(
                    "What you entered before being signed out is no longer available: it is kept "
                    "for one hour, for the same user, once."
                ),
            )
        return kept
    return None


@role_required(RATER)
@form_stash.keeps_entry_on_sign_out
def rate(request: HttpRequest, pk: int, instrument: str, ref: str) -> HttpResponse:
    """Enter or correct a rating. An entry is saved only by the Save button of a form that rates
    at least one item, and a partial one only once the rater confirms the items left unrated; an
    entry the inactivity sign-out caught comes back filled in for review, not saved."""
    if instrument not in selectors.INSTRUMENTS:
        raise not_found()
    person = participant_get_for_user(request.user, pk)
    task = _task(person, ref)
    code = task.code
    existing = selectors.assessment_get_for_task(person, instrument, code)
    initial = _initial(instrument, existing, task)
    entry = _entry_to_show_again(request)
    if entry is not None:
        item_names = [f"item_{c}" for c in item_table(instrument)]
        initial.update({name: (entry.get(name) or [None])[-1] for name in item_names})
        initial.update({k: entry[k][-1] for k in AssessmentForm.META_FIELDS if entry.get(k)})
        messages.warning(request, _("Not saved yet: what you entered is shown again. Review it and save it."))
        form = AssessmentForm(instrument=instrument, initial=initial)
    else:
        form = AssessmentForm(request.POST or None, instrument=instrument, initial=initial)
    if request.method == "POST" and entry is None:
        saved = run_service(
            form,
            lambda d: services.assessment_save(
                participant=person,
                instrument=instrument,
                task_code=code,
                items=form.items(),
                rated_at=d["rated_at"],
                recall_period=d["recall_period"],
                interview_guide=d["interview_guide"],
                mode=d["mode"],
                by=request.user,
                now=timezone.now(),
                reason=d["reason"],
            ),
        )
        if saved is not None:
            if saved.safety_flag:
                return _safety_page(saved)
            total = saved.total if saved.total is not None else "—"
            if saved.missing_items:
                messages.success(
                    request,
                    _("Partial rating saved (missing items: %(items)s): total %(total)s.")
                    % {"items": ", ".join(saved.missing_items), "total": total},
                )
            else:
                messages.success(request, _("Rating saved: total %s.") % total)
            return redirect(reverse("clinimetry:assessment", args=[saved.pk]))
    maxima = {f"item_{code_}": max(guide) for code_, (_n, _e, guide) in item_table(instrument).items()}
    scale = scales.get(instrument)
    return render(
        request,
        "clinimetry/rate.html",
        {
            "form": form,
            "participant": person,
            "task": task,
            "instrument": instrument,
            "scale_name": scale.name,
            # The page's script reads the scale from these: items rated one way or another
            # (16A/16B) and the entries that mean "not assessed".
            "alternatives": json.dumps([[f"item_{c}" for c in group] for group in scale.alternatives]),
            "not_assessed": json.dumps(
                {f"item_{i.code}": i.not_assessed for i in scale.items if i.not_assessed is not None}
            ),
            "existing": existing,
            "maxima": maxima,
            # Shown but not saved (refused, or back after the sign-out): the page keeps it if the
            # inactivity time runs out again.
            "unsaved": request.method == "POST" or entry is not None,
        },
        status=400 if form.errors else 200,
    )


@role_required(*READERS)
def assessment(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.assessment_get(pk)
    if item is None:
        raise not_found()
    participant_get_for_user(request.user, item.participant_id)
    form = SignForm()
    return render(
        request,
        "clinimetry/assessment.html",
        {
            "a": item,
            "sign_form": form,
            "can_sign": item.rater_id == request.user.pk and not item.signed_at,
            **_assessment_context(request, item),
        },
    )


def _assessment_context(request: HttpRequest, item: Any) -> dict[str, Any]:
    return {
        # Every item with its score and line, reviewed before signing (not the total alone).
        "item_rows": selectors.assessment_item_rows(item),
        "strictly_blinded": allocation.is_strictly_blinded(request.user),
        "correct_url": selectors.rate_url(item.participant_id, item.instrument, item.task_code),
    }


@role_required(RATER)
@require_POST
def sign(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.assessment_get_for_rater(pk, request.user)
    if item is None:
        raise not_found()
    form = SignForm(request.POST)
    if run_service(
        form,
        lambda d: services.assessment_sign(
            assessment=item, password=d["password"], by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Signed."))
        return redirect("clinimetry:assessment", pk=pk)
    return render(
        request,
        "clinimetry/assessment.html",
        {"a": item, "sign_form": form, "can_sign": True, **_assessment_context(request, item)},
        status=400,
    )


@role_required(RATER)
def safety(request: HttpRequest, pk: int) -> HttpResponse:
    """The rater of a rating that flags suicide risk goes to its structured follow-up, which
    states the procedure; a rating without one keeps the general procedure page."""
    item = selectors.assessment_get_for_rater(pk, request.user, with_participant=True)
    if item is None:
        raise not_found()
    if suicide_follow_up_latest(item) is not None:
        return _safety_page(item)
    return render(request, "clinimetry/safety.html", {"a": item})


def _safety_page(item: Any) -> HttpResponse:
    """Where the rater goes after a rating that flags suicide risk: its follow-up, else the
    general procedure page."""
    followup = suicide_follow_up_latest(item)
    if followup is None:
        return redirect("clinimetry:safety", pk=item.pk)
    return redirect("safety:suicide_followup", pk=followup.pk)


@role_required(RATER, PRINCIPAL_INVESTIGATOR)
@require_POST
def relapse_event(request: HttpRequest, pk: int) -> HttpResponse:
    person = participant_get_for_user(request.user, pk)
    form = RelapseEventForm(request.POST)
    if run_service(
        form,
        lambda d: services.relapse_event_record(participant=person, by=request.user, now=timezone.now(), **d),
    ):
        messages.success(request, _("Relapse event recorded."))
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    return redirect("clinimetry:participant", pk=pk)


@role_required(RATER, INFUSION_PHYSICIAN)
def blinding_guess(request: HttpRequest, pk: int) -> HttpResponse:
    """Guesses of the product (SAP "Blinding"): the rater records the participant's and their
    own, the infusion physician theirs, at the end of period 1 and at the final visit."""
    person = participant_get_for_user(request.user, pk)
    guessers = [g for g, role in services.GUESS_RECORDERS.items() if role in user_roles(request.user)]
    form = BlindingGuessForm(request.POST or None, guessers=guessers)
    if request.method == "POST" and run_service(
        form,
        lambda d: services.blinding_guess_record(
            participant=person,
            occasion=d["occasion"],
            guesser=d["guesser"],
            guess=d["guess"],
            confidence=d["confidence"],
            by=request.user,
            now=timezone.now(),
            reason=d["reason"],
        ),
    ):
        messages.success(request, _("Guess recorded."))
        return redirect("clinimetry:blinding_guess", pk=pk)
    return render(
        request,
        "clinimetry/blinding_guess.html",
        {"participant": person, "form": form, "recorded": selectors.blinding_guesses_of(person, guessers)},
        status=400 if form.errors else 200,
    )
