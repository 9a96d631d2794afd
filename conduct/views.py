"""Pages of what a site also records. Every participant page goes through the participant access
selector and the visibility rule's kind of its data (conduct/selectors.py); the staff log is the
data manager's and the principal investigator's; the code-break list is printed by the blinding
package itself (participants/allocation/downtime.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conduct import paper, paper_forms, selectors, services
from conduct.forms import (
    ChildbearingPotentialForm,
    DelegationForm,
    MedicationForm,
    PregnancyTestForm,
    PriorTreatmentForm,
    TrainingForm,
)
from conduct.models import TASK_LABELS
from ketatrial.forms import run_service
from ketatrial.trial import protocol
from participants.access import capability_required, has_capability, not_found
from participants.allocation.visibility import MEDICATIONS, PREGNANCY
from participants.roles import ROLE_LABELS
from participants.selectors import participant_get_for_pharmacy

# Who may open a participant's medication and pregnancy pages (the visibility rule narrows it).
PARTICIPANT_READERS = ("view_participants",)
# Who keeps data that a downtime interrupts: the paper forms and "entering paper forms".
DOWNTIME = (
    "rate_participants",
    "record_infusions",
    "manage_schedule",
    "view_allocation",
    "manage_users",
    "sign_off",
)


def _require_write(request: HttpRequest, kind: str) -> None:
    if not selectors.may_write(request.user, kind):
        raise PermissionDenied


# --- medications ------------------------------------------------------------------------------


def _medications_page(request: HttpRequest, pk: int, status: int = 200, **bound: Any) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, MEDICATIONS)
    writer = selectors.may_write(request.user, MEDICATIONS)
    return render(
        request,
        "conduct/medications.html",
        {
            "participant": person,
            "meds": selectors.medications_for(person),
            "failed_min": protocol().failed_treatments_min,
            "may_write": writer,
            "prior_form": bound.get("prior_form")
            or (
                PriorTreatmentForm(action=reverse("conduct:prior_treatment_add", args=[pk]))
                if writer
                else None
            ),
            "medication_form": bound.get("medication_form")
            or (MedicationForm(action=reverse("conduct:medication_add", args=[pk])) if writer else None),
        },
        status=status,
    )


@capability_required(*PARTICIPANT_READERS)
def medications(request: HttpRequest, pk: int) -> HttpResponse:
    return _medications_page(request, pk)


@capability_required(*PARTICIPANT_READERS)
@require_POST
def prior_treatment_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, MEDICATIONS)
    _require_write(request, MEDICATIONS)
    form = PriorTreatmentForm(request.POST, action=request.path)
    if run_service(
        form,
        lambda d: services.prior_treatment_add(
            participant=person, values=form.values(), by=request.user, now=timezone.now()
        ),
    ):
        messages.success(request, _("Prior treatment added."))
        return redirect("conduct:medications", pk=pk)
    return _medications_page(request, pk, status=400, prior_form=form)


@capability_required(*PARTICIPANT_READERS)
@require_POST
def medication_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, MEDICATIONS)
    _require_write(request, MEDICATIONS)
    form = MedicationForm(request.POST, action=request.path)
    medication = run_service(
        form,
        lambda d: services.medication_add(
            participant=person, values=form.values(), by=request.user, now=timezone.now()
        ),
    )
    if medication:
        messages.success(request, _("Medication added."))
        if medication.relapse_event_id:
            messages.warning(
                request,
                _("A new antidepressant after randomization: recorded as a relapse event (new treatment)."),
            )
        return redirect("conduct:medications", pk=pk)
    return _medications_page(request, pk, status=400, medication_form=form)


def _edit_page(
    request: HttpRequest, record: Any, form: Any, title: str, back: str, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "conduct/edit.html",
        {"record": record, "form": form, "title": title, "back": back, "label": record._meta.label_lower},
        status=status,
    )


@capability_required(*PARTICIPANT_READERS)
def prior_treatment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.prior_treatment_get_for_user(request.user, pk)
    _require_write(request, MEDICATIONS)
    form = PriorTreatmentForm(request.POST or None, instance=record, action=request.path, editing=True)
    back = reverse("conduct:medications", args=[record.participant_id])
    if request.method == "POST":
        fresh = selectors.prior_treatment_get_for_user(request.user, pk)
        if run_service(
            form,
            lambda d: services.prior_treatment_update(
                treatment=fresh, values=form.values(), reason=d["reason"], by=request.user, now=timezone.now()
            ),
        ):
            messages.success(request, _("Prior treatment changed."))
            return redirect(back)
        return _edit_page(request, fresh, form, _("Change a prior treatment"), back, status=400)
    return _edit_page(request, record, form, _("Change a prior treatment"), back)


@capability_required(*PARTICIPANT_READERS)
def medication_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.medication_get_for_user(request.user, pk)
    _require_write(request, MEDICATIONS)
    form = MedicationForm(request.POST or None, instance=record, action=request.path, editing=True)
    back = reverse("conduct:medications", args=[record.participant_id])
    if request.method == "POST":
        fresh = selectors.medication_get_for_user(request.user, pk)
        if run_service(
            form,
            lambda d: services.medication_update(
                medication=fresh,
                values=form.values(),
                reason=d["reason"],
                by=request.user,
                now=timezone.now(),
            ),
        ):
            messages.success(request, _("Medication changed."))
            return redirect(back)
        return _edit_page(request, fresh, form, _("Change a concomitant medication"), back, status=400)
    return _edit_page(request, record, form, _("Change a concomitant medication"), back)


# --- pregnancy ------------------------------------------------------------------------------------


def _pregnancy_page(request: HttpRequest, pk: int, status: int = 200, **bound: Any) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, PREGNANCY)
    writer = selectors.may_write(request.user, PREGNANCY)
    potential = selectors.childbearing_potential_for(person)
    return render(
        request,
        "conduct/pregnancy.html",
        {
            "participant": person,
            "potential": potential,
            "tests": selectors.pregnancy_tests_for(person),
            "hours": protocol().pregnancy_test_hours,
            "may_write": writer,
            "potential_form": bound.get("potential_form")
            or (
                ChildbearingPotentialForm(
                    instance=potential,
                    action=reverse("conduct:childbearing_potential", args=[pk]),
                    initial={} if potential else {"assessed_on": timezone.localdate().isoformat()},
                )
                if writer
                else None
            ),
            "test_form": bound.get("test_form")
            or (
                PregnancyTestForm(
                    action=reverse("conduct:pregnancy_test_add", args=[pk]),
                    initial={"tested_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
                )
                if writer
                else None
            ),
        },
        status=status,
    )


@capability_required(*PARTICIPANT_READERS)
def pregnancy(request: HttpRequest, pk: int) -> HttpResponse:
    return _pregnancy_page(request, pk)


@capability_required(*PARTICIPANT_READERS)
@require_POST
def childbearing_potential(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, PREGNANCY)
    _require_write(request, PREGNANCY)
    form = ChildbearingPotentialForm(request.POST, action=request.path)
    if run_service(
        form,
        lambda d: services.childbearing_potential_set(
            participant=person,
            of_childbearing_potential=d["of_childbearing_potential"],
            assessed_on=d["assessed_on"],
            note=d["note"],
            reason=d["reason"],
            by=request.user,
            now=timezone.now(),
        ),
    ):
        messages.success(request, _("Childbearing potential recorded."))
        return redirect("conduct:pregnancy", pk=pk)
    return _pregnancy_page(request, pk, status=400, potential_form=form)


@capability_required(*PARTICIPANT_READERS)
@require_POST
def pregnancy_test_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.participant_for_kind(request.user, pk, PREGNANCY)
    _require_write(request, PREGNANCY)
    form = PregnancyTestForm(request.POST, action=request.path)
    if run_service(
        form,
        lambda d: services.pregnancy_test_record(
            participant=person,
            tested_at=d["tested_at"],
            kind=d["kind"],
            result=d["result"],
            by=request.user,
            now=timezone.now(),
        ),
    ):
        messages.success(request, _("Pregnancy test recorded."))
        return redirect("conduct:pregnancy", pk=pk)
    return _pregnancy_page(request, pk, status=400, test_form=form)


@capability_required(*PARTICIPANT_READERS)
def pregnancy_test_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.pregnancy_test_get_for_user(request.user, pk)
    _require_write(request, PREGNANCY)
    form = PregnancyTestForm(request.POST or None, instance=record, action=request.path, editing=True)
    back = reverse("conduct:pregnancy", args=[record.participant_id])
    if request.method == "POST":
        fresh = selectors.pregnancy_test_get_for_user(request.user, pk)
        if run_service(
            form,
            lambda d: services.pregnancy_test_update(
                test=fresh, values=form.values(), reason=d["reason"], by=request.user, now=timezone.now()
            ),
        ):
            messages.success(request, _("Pregnancy test changed."))
            return redirect(back)
        return _edit_page(request, fresh, form, _("Change a pregnancy test"), back, status=400)
    return _edit_page(request, record, form, _("Change a pregnancy test"), back)


# --- delegation and training log --------------------------------------------------------------------

STAFF_LOG = ("manage_users", "sign_off")


def _require_staff_log(request: HttpRequest) -> None:
    if not selectors.may_see_staff_log(request.user):
        raise not_found()


def _staff_page(request: HttpRequest, status: int = 200, **bound: Any) -> HttpResponse:
    _require_staff_log(request)
    today = timezone.localdate()
    delegations = list(selectors.delegation_list())
    return render(
        request,
        "conduct/staff_log.html",
        {
            "delegations": [
                (
                    d,
                    ROLE_LABELS.get(d.role, d.role),
                    [TASK_LABELS.get(t, t) for t in d.tasks],
                    selectors.delegation_in_force(d, today),
                )
                for d in delegations
            ],
            "trainings": selectors.training_list(),
            "may_sign": has_capability(request.user, "sign_off"),
            "delegation_form": bound.get("delegation_form")
            or DelegationForm(action=reverse("conduct:delegation_add")),
            "training_form": bound.get("training_form")
            or TrainingForm(action=reverse("conduct:training_add")),
        },
        status=status,
    )


@capability_required(*STAFF_LOG)
def staff_log(request: HttpRequest) -> HttpResponse:
    return _staff_page(request)


@capability_required(*STAFF_LOG)
def staff_log_csv(request: HttpRequest) -> HttpResponse:
    _require_staff_log(request)
    response = HttpResponse(
        selectors.staff_log_csv(today=timezone.localdate()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="delegation-training-log-{timezone.localdate():%Y%m%d}.csv"'
    )
    return response


@capability_required(*STAFF_LOG)
@require_POST
def delegation_add(request: HttpRequest) -> HttpResponse:
    _require_staff_log(request)
    form = DelegationForm(request.POST, action=request.path)
    if run_service(form, lambda d: services.delegation_add(values=form.values(), by=request.user)):
        messages.success(request, _("Delegation added; it counts once the principal investigator signs it."))
        return redirect("conduct:staff_log")
    return _staff_page(request, status=400, delegation_form=form)


@capability_required(*STAFF_LOG)
def delegation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff_log(request)
    record = selectors.delegation_get(pk)
    if record is None:
        raise not_found()
    form = DelegationForm(request.POST or None, instance=record, action=request.path, editing=True)
    back = reverse("conduct:staff_log")
    if request.method == "POST":
        fresh = selectors.delegation_get(pk)
        if run_service(
            form,
            lambda d: services.delegation_update(
                delegation=fresh, values=form.values(), reason=d["reason"], by=request.user
            ),
        ):
            messages.success(request, _("Delegation changed."))
            return redirect(back)
        return _edit_page(request, fresh, form, _("Change a delegation"), back, status=400)
    return _edit_page(request, record, form, _("Change a delegation"), back)


@capability_required("sign_off")
@require_POST
def delegation_sign(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff_log(request)
    record = selectors.delegation_get(pk)
    if record is None:
        raise not_found()
    from django.core.exceptions import ValidationError

    try:
        services.delegation_sign(delegation=record, by=request.user, now=timezone.now())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Delegation signed."))
    return redirect("conduct:staff_log")


@capability_required(*STAFF_LOG)
@require_POST
def training_add(request: HttpRequest) -> HttpResponse:
    _require_staff_log(request)
    form = TrainingForm(request.POST, action=request.path)
    if run_service(
        form, lambda d: services.training_add(values=form.values(), by=request.user, now=timezone.now())
    ):
        messages.success(request, _("Training record added."))
        return redirect("conduct:staff_log")
    return _staff_page(request, status=400, training_form=form)


@capability_required(*STAFF_LOG)
def training_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff_log(request)
    record = selectors.training_get(pk)
    if record is None:
        raise not_found()
    form = TrainingForm(request.POST or None, instance=record, action=request.path, editing=True)
    back = reverse("conduct:staff_log")
    if request.method == "POST":
        fresh = selectors.training_get(pk)
        if run_service(
            form,
            lambda d: services.training_update(
                record=fresh, values=form.values(), reason=d["reason"], by=request.user, now=timezone.now()
            ),
        ):
            messages.success(request, _("Training record changed."))
            return redirect(back)
        return _edit_page(request, fresh, form, _("Change a training record"), back, status=400)
    return _edit_page(request, record, form, _("Change a training record"), back)


# --- downtime -------------------------------------------------------------------------------------


def _printable_forms(request: HttpRequest) -> list[tuple[str, Any]]:
    return [
        (kind, title)
        for kind, (title, capabilities) in paper_forms.FORMS.items()
        if any(has_capability(request.user, c) for c in capabilities)
        or has_capability(request.user, "sign_off")
        or has_capability(request.user, "manage_users")
    ]


@capability_required(*DOWNTIME)
def downtime(request: HttpRequest) -> HttpResponse:
    from participants.allocation import can_see_allocation

    return render(
        request,
        "conduct/downtime.html",
        {
            "forms": _printable_forms(request),
            "paper_since": paper.paper_entry_since(request.session),
            "code_break": can_see_allocation(request.user),
        },
    )


@capability_required(*DOWNTIME)
def paper_form(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in dict(_printable_forms(request)):
        raise not_found()
    response = HttpResponse(
        paper_forms.paper_form_pdf(kind, now=timezone.now()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="paper-{kind}.pdf"'
    return response


@capability_required(*DOWNTIME)
@require_POST
def paper_entry(request: HttpRequest) -> HttpResponse:
    if request.POST.get("state") == "on":
        paper.paper_entry_begin(request.session, now=timezone.now())
        messages.warning(
            request,
            _(
                "Entering paper forms: every record you save is marked in the audit trail as entered "
                "from paper, with the time of entry. Type the real times written on the forms. Switch "
                "it off when done."
            ),
        )
    else:
        paper.paper_entry_end(request.session)
        messages.success(request, _("Paper entry switched off: records are live entries again."))
    return redirect("conduct:downtime")


@capability_required("view_allocation")
def code_break(request: HttpRequest) -> HttpResponse:
    """The sealed code-break list (every randomized participant, or one with ?participant=pk)."""
    from participants.allocation.downtime import code_break_pdf

    person = None
    wanted = request.GET.get("participant", "")
    if wanted:
        if not wanted.isdigit():
            raise not_found()
        person = participant_get_for_pharmacy(int(wanted))
        if person is None:
            raise not_found()
    pdf = code_break_pdf(request, now=timezone.now(), participant=person)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="code-break-list.pdf"'
    return response
