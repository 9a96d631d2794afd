"""Participant and user-management pages; each starts with its access helper."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ketatrial.allocation_log import log_allocation_view
from ketatrial.forms import run_service
from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PHARMACIST,
    PRINCIPAL_INVESTIGATOR,
)
from ketatrial.trial import protocol
from participants import allocation, services, sign_in
from participants.access import not_found, require_capability, role_required
from participants.forms import (
    ConsentForm,
    DeclineForm,
    DispositionForm,
    EligibilityForm,
    EnrollForm,
    ParticipantEditForm,
    RandomizeForm,
    UnblindingRequestForm,
    UserAccessForm,
    UserCreateForm,
    UserRolesForm,
)
from participants.forms_sites import ScreeningStartForm, UserSitesForm
from participants.models import ScreeningRecord
from participants.selectors import (
    access_attempt_usernames,
    participant_get_for_user,
    participant_list_for_user,
    screening_counts,
    screening_record_get,
    screening_record_list,
    screening_sites_for,
    sites_of_user,
    user_get,
    user_list,
)

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
    """Paged (PAGE_SIZE a page, by code), so the page and its queries do not grow with the trial."""
    from django.core.paginator import Paginator

    page = Paginator(participant_list_for_user(request.user).order_by("code"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    participants = list(page.object_list)
    allocations = allocation.blinded_allocations(participants)
    rows = [(p, allocations.get(p.pk)) for p in participants]
    return render(request, "participants/list.html", {"rows": rows, "page": page})


PAGE_SIZE = 50


@role_required(*PARTICIPANT_READERS)
def participant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    context = {
        "participant": participant,
        "allocation": allocation.blinded_allocation(participant),
        "emergency_unblinded": allocation.is_emergency_unblinded(participant),
        "consent": services.latest_consent(participant.screening),
        "readiness": services.randomization_readiness(participant, now=timezone.now()),
        "needs_reconsent": services.consent_problem(participant.screening, at=timezone.now()),
        "randomize_form": RandomizeForm(participant_code=participant.code),
    }
    return render(request, "participants/detail.html", context)


@role_required(COORDINATOR)
@require_POST
def participant_randomize(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_enrollment")
    participant = participant_get_for_user(request.user, pk)
    form = RandomizeForm(request.POST, participant_code=participant.code)
    if not form.is_valid():  # one click must not randomize: the confirmation is ticked first
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect("participants:detail", pk=participant.pk)
    try:
        result = allocation.participant_randomize(
            participant=participant, by=request.user, now=timezone.now()
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Randomized: number %(number)s, kit %(kit)s.")
            % {"number": result.randomization_number, "kit": result.kit_code},
        )
    return redirect("participants:detail", pk=participant.pk)


@role_required(COORDINATOR)
def participant_identity(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    return render(
        request,
        "participants/identity.html",
        {"participant": participant, "identity": services.identity_read(participant)},
    )


@role_required(COORDINATOR)
def participant_disposition(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    choices = [(s.value, s.label) for s in services.DISPOSITIONS]
    form = DispositionForm(request.POST or None, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            services.participant_disposition(
                participant=participant,
                status=form.cleaned_data["status"],
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Disposition recorded."))
            return redirect("participants:detail", pk=participant.pk)
    return render(
        request, "participants/form.html", {"form": form, "title": _("Disposition of %s") % participant.code}
    )


# --- screening log -----------------------------------------------------------------------------


@role_required(COORDINATOR)
def screening_list(request: HttpRequest) -> HttpResponse:
    """The screening log of the coordinator's sites; a screening starts at one of them (the only
    one preselected)."""
    services.site_get_or_create_default()  # the protocol's site exists before anyone picks one
    sites = screening_sites_for(request.user)
    form = ScreeningStartForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.screening_start(
                site=form.cleaned_data["site"], by=request.user, now=timezone.now()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Screening %s started.") % record.code)
            return redirect("participants:screening", pk=record.pk)
    records = screening_record_list(request.user)
    return render(
        request,
        "participants/screening_list.html",
        {"records": records, "counts": screening_counts(), "start_form": form, "sites": sites},
        status=400 if form.is_bound else 200,
    )


def _screening_page(request: HttpRequest, record: ScreeningRecord, **forms_: Any) -> HttpResponse:
    consent_form = forms_.get("consent_form") or ConsentForm(
        initial={
            "version": protocol().consent_version,
            "consented_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        }
    )
    consent_form.helper.form_action = reverse("participants:screening_consent", args=[record.pk])
    eligibility_form = forms_.get("eligibility_form") or EligibilityForm(
        inclusion=record.inclusion_criteria,
        exclusion=record.exclusion_criteria,
        initial=EligibilityForm.initial_from(
            record.inclusion_met, record.exclusion_present, record.hdrs17_total
        ),
    )
    eligibility_form.helper.form_action = reverse("participants:screening_eligibility", args=[record.pk])
    decline_form = forms_.get("decline_form") or DeclineForm()
    decline_form.helper.form_action = reverse("participants:screening_decline", args=[record.pk])
    context = {
        "record": record,
        "consents": record.consents.select_related("obtained_by"),
        "consent_problem": services.consent_problem(record, at=timezone.now()),
        "consent_form": consent_form,
        "eligibility_form": eligibility_form,
        "decline_form": decline_form,
        "enrolled": getattr(record, "participant", None),
    }
    return render(request, "participants/screening_detail.html", context, status=400 if forms_ else 200)


def _screening_get(user: Any, pk: int) -> ScreeningRecord:
    # Another site's screening answers 404, the same as a missing one.
    record = screening_record_get(pk, user)
    if record is None:
        raise not_found()
    return record


@role_required(COORDINATOR)
def screening_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _screening_page(request, _screening_get(request.user, pk))


@role_required(COORDINATOR)
@require_POST
def screening_consent(request: HttpRequest, pk: int) -> HttpResponse:
    record = _screening_get(request.user, pk)
    form = ConsentForm(request.POST)
    now = timezone.now()
    if run_service(form, lambda d: services.consent_record(screening=record, by=request.user, now=now, **d)):
        messages.success(request, _("Consent recorded."))
        return redirect("participants:screening", pk=record.pk)
    return _screening_page(request, record, consent_form=form)


@role_required(COORDINATOR)
@require_POST
def screening_eligibility(request: HttpRequest, pk: int) -> HttpResponse:
    record = _screening_get(request.user, pk)
    form = EligibilityForm(
        request.POST, inclusion=record.inclusion_criteria, exclusion=record.exclusion_criteria
    )

    def assess(data: dict[str, Any]) -> ScreeningRecord:
        inclusion_met, exclusion_present = form.answers()
        return services.screening_assess(
            screening=record,
            inclusion_met=inclusion_met,
            exclusion_present=exclusion_present,
            hdrs17_total=data["hdrs17_total"],
            reason=data["reason"],
            by=request.user,
            now=timezone.now(),
        )

    if run_service(form, assess):
        messages.success(request, _("Eligibility saved."))
        return redirect("participants:screening", pk=record.pk)
    return _screening_page(request, record, eligibility_form=form)


@role_required(COORDINATOR)
@require_POST
def screening_decline(request: HttpRequest, pk: int) -> HttpResponse:
    record = _screening_get(request.user, pk)
    form = DeclineForm(request.POST)
    if run_service(form, lambda d: services.screening_decline(screening=record, by=request.user, **d)):
        messages.success(request, _("Decline recorded."))
        return redirect("participants:screening", pk=record.pk)
    return _screening_page(request, record, decline_form=form)


@role_required(COORDINATOR)
def screening_enroll(request: HttpRequest, pk: int) -> HttpResponse:
    record = _screening_get(request.user, pk)
    form = EnrollForm(request.POST or None, strata=protocol().strata)
    if request.method == "POST" and form.is_valid():
        try:
            participant = services.participant_enroll(
                screening=record, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Participant %s enrolled.") % participant.code)
            return redirect("participants:detail", pk=participant.pk)
    return render(request, "participants/form.html", {"form": form, "title": _("Enroll %s") % record.code})


# --- emergency unblinding (principal investigator) ---------------------------------------------


@role_required(PRINCIPAL_INVESTIGATOR)
def unblinding_request(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    form = UnblindingRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            allocation.unblinding_request(
                participant=participant,
                reason=form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Request sent to the pharmacist."))
            return redirect("participants:unblinding_list")
    return render(
        request,
        "participants/form.html",
        {"form": form, "title": _("Emergency unblinding of %s") % participant.code},
    )


@role_required(PRINCIPAL_INVESTIGATOR)
def unblinding_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for req in allocation.unblinding_requests_for(request.user):
        sequence = allocation.sequence_for(request.user, req.participant) if req.executed_at else None
        if sequence:
            log_allocation_view(request, "unblinding_result", req.participant)
        rows.append((req, sequence))
    return render(request, "participants/unblinding_list.html", {"rows": rows})


@role_required(COORDINATOR)
def participant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_enrollment")
    participant = participant_get_for_user(request.user, pk)
    form = ParticipantEditForm(request.POST or None, instance=participant)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason, confirm_reason = data.pop("reason"), data.pop("confirm_reason")
        try:
            services.participant_update(
                participant=participant,
                by=request.user,
                reason=reason,
                confirm_reason=confirm_reason,
                now=timezone.now(),
                **data,
            )
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
    locked = access_attempt_usernames()
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
    user = user_get(pk)
    if user is None:
        raise not_found()
    initial = {"roles": list(user.groups.values_list("name", flat=True)), "active": user.is_active}
    posted_access = request.method == "POST" and UserAccessForm.SUBMIT in request.POST
    posted_sites = request.method == "POST" and UserSitesForm.SUBMIT in request.POST
    form = UserRolesForm(
        request.POST if request.method == "POST" and not (posted_access or posted_sites) else None,
        initial=initial,
    )
    sites_form = UserSitesForm(
        request.POST if posted_sites else None, initial={"sites": [s.pk for s in sites_of_user(user)]}
    )
    if posted_sites and sites_form.is_valid():
        try:
            services.user_set_sites(
                user=user,
                sites=list(sites_form.cleaned_data["sites"]),
                reason=sites_form.cleaned_data["reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            sites_form.add_error(None, exc)
        else:
            messages.success(request, _("Sites of %s saved.") % user.get_username())
            return redirect("participants:users")
    access_form = UserAccessForm(
        request.POST if posted_access else None, initial={"access_until": sign_in.access_until(user)}
    )
    if posted_access and access_form.is_valid():
        data = access_form.cleaned_data
        try:
            services.user_set_access(
                user=user,
                access_until=data["access_until"],
                reset_second_factor=data["reset_second_factor"],
                reason=data["reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            access_form.add_error(None, exc)
        else:
            messages.success(request, _("Access of %s saved.") % user.get_username())
            return redirect("participants:users")
    if form.is_bound and form.is_valid():
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
        {
            "form": form,
            "access_form": access_form,
            "sites_form": sites_form,
            "subject": user,
            "second_factor": sign_in.confirmed_device(user) is not None,
            "second_factor_required": sign_in.second_factor_required(user),
            "changes": user.role_changes.select_related("changed_by")[:20],
        },
    )


@role_required(DATA_MANAGER)
@require_POST
def user_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    require_capability(request.user, "manage_users")
    user = user_get(pk)
    if user is None:
        raise not_found()
    services.user_unlock(user=user)
    messages.success(request, _("Login lock of %s lifted.") % user.get_username())
    return redirect("participants:users")
