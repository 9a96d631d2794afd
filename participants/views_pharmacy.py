"""The unblinded pharmacist's pages. Each one passes both blinding keys before anything else."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ketatrial.allocation_log import log_allocation_view
from ketatrial.trial import protocol
from participants import allocation
from participants.access import capability_required, not_found
from participants.forms import (
    GenerateListForm,
    KitReplaceForm,
    KitUnavailableForm,
    PreparationForm,
    ReceiptForm,
    StockCountForm,
    UnblindingExecuteForm,
    UploadListForm,
)
from participants.models import AllocationList, UnblindingRequest
from participants.selectors import participant_get_for_pharmacy, pharmacist_checker_list

MAX_LIST_BYTES = 2 * 1024 * 1024


def _home_context(request: HttpRequest, **forms_: object) -> dict[str, object]:
    log_allocation_view(request, "pharmacy")
    active = allocation.allocation_list_active()
    return {
        "active_list": active,
        "list_verified": active is None or allocation.allocation_list_verify(active),
        "counts": allocation.allocation_list_counts(request.user, active) if active else [],
        "kit_events": allocation.kit_events(request.user, active) if active else [],
        "protocol_strata": [s for s in protocol().strata if s],
        "rows": allocation.allocation_table(request.user),
        "generate_form": forms_.get("generate_form") or GenerateListForm(initial={"block_sizes": "2,4"}),
        "upload_form": forms_.get("upload_form") or UploadListForm(),
        "unavailable_form": forms_.get("unavailable_form") or KitUnavailableForm(prefix="unavailable"),
        "replace_form": forms_.get("replace_form") or KitReplaceForm(prefix="replace"),
        "requests": allocation.unblinding_requests_for(request.user),
    }


def _refused(form: Any, field: str | None, exc: ValidationError) -> None:
    # Only the messages: a service's per-field error (a dict) names fields this form lacks.
    form.add_error(field, exc.messages)


@capability_required("view_allocation")
def pharmacy_home(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    return render(request, "participants/pharmacy_home.html", _home_context(request))


@capability_required("view_allocation")
@require_POST
def list_generate(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    form = GenerateListForm(request.POST)
    if form.is_valid():
        try:
            allocation.allocation_list_generate(by=request.user, now=timezone.now(), **form.cleaned_data)
        except ValidationError as exc:
            _refused(form, None, exc)
        else:
            messages.success(request, _("Allocation list generated."))
            return redirect("participants:pharmacy")
    return render(
        request, "participants/pharmacy_home.html", _home_context(request, generate_form=form), status=400
    )


@capability_required("view_allocation")
@require_POST
def list_upload(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    form = UploadListForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["csv_file"]
        try:
            # Checked before reading: a list of 2,000 slots is some 60 kB.
            if upload.size > MAX_LIST_BYTES:
                raise ValidationError(
                    _(
                        "Nothing was stored: the file is %(mb).1f MB; an allocation list is a small CSV "
                        "(at most 2 MB). Check that you chose the right file."
                    )
                    % {"mb": upload.size / 1024 / 1024}
                )
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(
                    _("Nothing was stored: the file is not UTF-8 text; save the list as CSV (UTF-8).")
                ) from None
            allocation.allocation_list_upload(
                by=request.user,
                now=timezone.now(),
                text=text,
                filename=upload.name or "",
                replace_reason=form.cleaned_data["replace_reason"],
            )
        except ValidationError as exc:
            _refused(form, "csv_file", exc)
        else:
            messages.success(request, _("Allocation list imported."))
            return redirect("participants:pharmacy")
    return render(
        request, "participants/pharmacy_home.html", _home_context(request, upload_form=form), status=400
    )


@capability_required("view_allocation")
def list_parameters(request: HttpRequest, pk: int) -> HttpResponse:
    allocation.require_unblinded(request.user)
    allocation_list = AllocationList.objects.filter(pk=pk).first()
    if allocation_list is None:
        raise not_found()
    log_allocation_view(request, "list_parameters")
    response = HttpResponse(
        allocation.allocation_list_parameters_csv(request.user, allocation_list), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="allocation-list-{pk}-parameters.csv"'
    return response


@capability_required("view_allocation")
def list_download(request: HttpRequest, pk: int) -> HttpResponse:
    allocation.require_unblinded(request.user)
    allocation_list = AllocationList.objects.filter(pk=pk).first()
    if allocation_list is None:
        raise not_found()
    log_allocation_view(request, "list_download")
    response = HttpResponse(
        allocation.allocation_list_csv(request.user, allocation_list), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="allocation-list-{pk}.csv"'
    return response


@capability_required("view_allocation")
@require_POST
def kit_unavailable(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    form = KitUnavailableForm(request.POST, prefix="unavailable")
    if form.is_valid():
        try:
            kit = allocation.kit_mark_unavailable(by=request.user, now=timezone.now(), **form.cleaned_data)
        except ValidationError as exc:
            _refused(form, None, exc)
        else:
            messages.success(
                request,
                _("Kit %(code)s is out of use; add a replacement kit for its slot.") % {"code": kit.code},
            )
            return redirect("participants:pharmacy")
    return render(
        request, "participants/pharmacy_home.html", _home_context(request, unavailable_form=form), status=400
    )


@capability_required("view_allocation")
@require_POST
def kit_replace(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    form = KitReplaceForm(request.POST, prefix="replace")
    if form.is_valid():
        try:
            kit = allocation.kit_replace(by=request.user, now=timezone.now(), **form.cleaned_data)
        except ValidationError as exc:
            _refused(form, None, exc)
        else:
            messages.success(request, _("Kit %(code)s now serves the slot.") % {"code": kit.code})
            return redirect("participants:pharmacy")
    return render(
        request, "participants/pharmacy_home.html", _home_context(request, replace_form=form), status=400
    )


@capability_required("prepare_doses")
def preparations(request: HttpRequest, pk: int) -> HttpResponse:
    allocation.require_unblinded(request.user)
    participant = participant_get_for_pharmacy(pk)
    if participant is None:
        raise not_found()
    log_allocation_view(request, "preparations", participant)
    receipts = allocation.receipt_list()
    checkers = pharmacist_checker_list(request.user)
    form = PreparationForm(request.POST or None, receipts=receipts, checkers=checkers)
    if request.method == "POST" and form.is_valid():
        try:
            allocation.dose_prepare(
                participant=participant, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Preparation recorded; print the label."))
            return redirect("participants:preparations", pk=participant.pk)
    sequence = (
        allocation.sequence_for(request.user, participant)
        if hasattr(participant, "allocation_slot")
        else None
    )
    return render(
        request,
        "participants/preparations.html",
        {
            "participant": participant,
            "sequence": sequence,
            "products": {1: allocation.product_for(sequence, 1), 2: allocation.product_for(sequence, 2)}
            if sequence
            else {},
            "preparations": allocation.preparations_for(request.user, participant),
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@capability_required("prepare_doses")
def preparation_label(request: HttpRequest, pk: int) -> HttpResponse:
    prep = allocation.preparation_get(request.user, pk)
    html = render_to_string("participants/label.html", allocation.label_context(prep))
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    pdf = HTML(string=html).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="syringe-{prep.syringe_code}.pdf"'
    return response


@capability_required("prepare_doses")
def accountability(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    log_allocation_view(request, "accountability")
    receipts = allocation.receipt_list()
    receipt_form = ReceiptForm(request.POST if "lot" in request.POST else None)
    count_form = StockCountForm(request.POST if "vials_counted" in request.POST else None, receipts=receipts)
    if request.method == "POST":
        try:
            if receipt_form.is_bound and receipt_form.is_valid():
                allocation.receipt_record(by=request.user, now=timezone.now(), **receipt_form.cleaned_data)
                messages.success(request, _("Receipt recorded."))
                return redirect("participants:accountability")
            if count_form.is_bound and count_form.is_valid():
                count = allocation.stock_count_record(
                    by=request.user, now=timezone.now(), **count_form.cleaned_data
                )
                if count.discrepancy:
                    messages.warning(
                        request, _("Discrepancy: %(d)+d vials against the books.") % {"d": count.discrepancy}
                    )
                else:
                    messages.success(request, _("Count matches the books."))
                return redirect("participants:accountability")
        except ValidationError as exc:
            (receipt_form if receipt_form.is_bound else count_form).add_error(None, exc)
    return render(
        request,
        "participants/accountability.html",
        {
            "lots": allocation.accountability(request.user),
            "receipt_form": receipt_form,
            "count_form": count_form,
        },
        status=400 if (receipt_form.errors or count_form.errors) else 200,
    )


@capability_required("execute_unblinding")
def unblinding_execute(request: HttpRequest, pk: int) -> HttpResponse:
    allocation.require_unblinded(request.user)
    req = UnblindingRequest.objects.filter(pk=pk).select_related("participant", "requested_by").first()
    if req is None:
        raise not_found()
    log_allocation_view(request, "unblinding_execute", req.participant)
    form = UnblindingExecuteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            allocation.unblinding_execute(
                request=req, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Unblinding executed; the requester can now see the sequence."))
            return redirect("participants:pharmacy")
    return render(request, "participants/unblinding_execute.html", {"req": req, "form": form})
