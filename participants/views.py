"""Participant and user-management pages; each starts with its access helper."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PHARMACIST,
    PRINCIPAL_INVESTIGATOR,
)
from participants import services
from participants.access import not_found, require_capability, role_required
from participants.forms import ParticipantCreateForm, ParticipantEditForm, UserCreateForm, UserRolesForm
from participants.selectors import participant_get_for_user, participant_list_for_user, user_list

User = get_user_model()

PARTICIPANT_READERS = (
    COORDINATOR,
    INFUSION_PHYSICIAN,
    PHARMACIST,
    DATA_MANAGER,
    PRINCIPAL_INVESTIGATOR,
    MONITOR,
)


@role_required(*PARTICIPANT_READERS)
def participant_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "participants/list.html", {"participants": participant_list_for_user(request.user)}
    )


@role_required(*PARTICIPANT_READERS)
def participant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    return render(request, "participants/detail.html", {"participant": participant})


@role_required(COORDINATOR)
def participant_create(request: HttpRequest) -> HttpResponse:
    require_capability(request.user, "manage_enrollment")
    form = ParticipantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        participant = services.participant_create(
            site=services.site_get_or_create_default(),
            by=request.user,
            now=timezone.now(),
            **form.cleaned_data,
        )
        messages.success(request, _("Participant %s enrolled.") % participant.code)
        return redirect("participants:detail", pk=participant.pk)
    return render(request, "participants/form.html", {"form": form, "title": _("Enroll a participant")})


@role_required(COORDINATOR)
def participant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_enrollment")
    participant = participant_get_for_user(request.user, pk)
    form = ParticipantEditForm(request.POST or None, instance=participant)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        try:
            services.participant_update(participant=participant, by=request.user, reason=reason, **data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Correction saved."))
            return redirect("participants:detail", pk=participant.pk)
    return render(
        request,
        "participants/form.html",
        {"form": form, "title": _("Correct %s") % participant.code},
    )


@role_required(DATA_MANAGER)
def users(request: HttpRequest) -> HttpResponse:
    require_capability(request.user, "manage_users")
    locked = set(AccessAttempt.objects.values_list("username", flat=True).distinct())
    return render(request, "participants/users.html", {"users": user_list(), "locked": locked})


@role_required(DATA_MANAGER)
def user_create(request: HttpRequest) -> HttpResponse:
    require_capability(request.user, "manage_users")
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                username=data["username"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                roles=set(data["roles"]),
                language=data["language"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error("password" if not hasattr(exc, "error_dict") else None, exc)
        else:
            messages.success(request, _("User %s created.") % user.get_username())
            return redirect("participants:users")
    return render(request, "participants/form.html", {"form": form, "title": _("New user")})


@role_required(DATA_MANAGER)
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_users")
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise not_found()
    initial = {"roles": list(user.groups.values_list("name", flat=True)), "active": user.is_active}
    form = UserRolesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_set_roles(
                user=user,
                roles=set(form.cleaned_data["roles"]),
                active=form.cleaned_data["active"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Roles of %s saved.") % user.get_username())
            return redirect("participants:users")
    return render(
        request,
        "participants/user_edit.html",
        {"form": form, "subject": user, "changes": user.role_changes.select_related("changed_by")[:20]},
    )


@role_required(DATA_MANAGER)
@require_POST
def user_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_users")
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise not_found()
    services.user_unlock(user=user)
    messages.success(request, _("Login lock of %s lifted.") % user.get_username())
    return redirect("participants:users")
