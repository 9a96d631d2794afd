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
from participants.allocation.pharmacy import PreparationRow, preparation_discard, preparation_rows
from participants.forms import (
    GenerateListForm,
    KitReplaceForm,
    KitUnavailableForm,
    ReceiptForm,
    StockCountForm,
    UnblindingExecuteForm,
    UploadListForm,
)
from participants.forms_pharmacy import (
    DiscardPreparationForm,
    PreparationCheckForm,
    PrepareDoseForm,
    VialsOutForm,
)
from participants.models import AllocationList, UnblindingRequest
from participants.selectors import participant_get_for_pharmacy

MAX_LIST_BYTES = 2 * 1024 * 1024


def _worklist(request: HttpRequest) -> dict[str, object]:
    """The pharmacist's work: doses to prepare today and tomorrow, preparations waiting for my
    check (someone else's), mine waiting for someone else's, rejected ones to prepare again, waste
    to witness, open emergency-unblinding requests."""
    user = request.user
    due = allocation.doses_due(user, now=timezone.now())
    awaiting = allocation.preparations_awaiting_check(user)
    waste = allocation.waste_awaiting_witness(user)
    requests = allocation.unblinding_requests_for(user)
    return {
        "due": due,
        "due_to_prepare": sum(1 for d in due if d.preparation is None),
        "to_check": [p for p in awaiting if p.prepared_by_id != user.pk],
        "mine_awaiting": [p for p in awaiting if p.prepared_by_id == user.pk],
        "rejected": allocation.preparations_rejected(user),
        "waste_to_witness": [e for e in waste if e.recorded_by_id != user.pk],
        "open_requests": [r for r in requests if r.executed_at is None],
        "requests": requests,
    }


def _home_context(request: HttpRequest, **forms_: object) -> dict[str, object]:
    log_allocation_view(request, "pharmacy")
    active = allocation.allocation_list_active()
    return {
        **_worklist(request),
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
    }


def _refused(form: Any, field: str | None, exc: ValidationError) -> None:
    # Only the messages: a service's per-field error (a dict) names fields this form lacks.
    form.add_error(field, exc.messages)


def _refused_beside_fields(form: Any, exc: ValidationError) -> None:
    """A service's refusal on the form: beside the field it names, else above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


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


def _discard_choices(rows: list[PreparationRow]) -> list[tuple[int, str]]:
    """The syringes that can be discarded (not given, not already rejected or discarded)."""
    choices = []
    for row in rows:
        if not row.discardable:
            continue
        label = _("Period %(p)s, infusion %(n)s") % {"p": row.prep.period, "n": row.prep.infusion_number}
        label = f"{label}: {row.prep.syringe_code}"
        if row.expired:
            label += f" ({_('expired')})"
        choices.append((row.prep.pk, label))
    return choices


@capability_required("prepare_doses")
def preparations(request: HttpRequest, pk: int) -> HttpResponse:
    """A participant's preparations: record one, or discard a syringe that was not given."""
    allocation.require_unblinded(request.user)
    participant = participant_get_for_pharmacy(pk, request.user)
    if participant is None:
        raise not_found()
    log_allocation_view(request, "preparations", participant)
    now = timezone.now()
    rows = preparation_rows(request.user, participant, now=now)
    posted = request.POST if request.method == "POST" else None
    discarding = posted is not None and "discard-preparation" in posted
    form = PrepareDoseForm(None if discarding else posted, receipts=allocation.receipt_list())
    discard_form = DiscardPreparationForm(posted if discarding else None, choices=_discard_choices(rows))
    if discarding and discard_form.is_valid():
        try:
            prep = preparation_discard(
                pk=discard_form.cleaned_data["preparation"],
                reason=discard_form.cleaned_data["reason"],
                by=request.user,
                now=now,
            )
        except ValidationError as exc:
            _refused_beside_fields(discard_form, exc)
        else:
            done = (
                _(
                    "Syringe %(code)s discarded: destroy it (another pharmacist witnesses it in the "
                    "register). The infusion can be prepared again."
                )
                if prep.receipt_id
                else _("Syringe %(code)s discarded: destroy it. The infusion can be prepared again.")
            )
            messages.warning(request, done % {"code": prep.syringe_code})
            return redirect("participants:preparations", pk=participant.pk)
    elif posted is not None and not discarding and form.is_valid():
        try:
            allocation.dose_prepare(participant=participant, by=request.user, now=now, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _(
                    "Preparation recorded. It waits for another pharmacist's check: the label prints "
                    "once it is confirmed."
                ),
            )
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
            "rows": rows,
            "discardable": any(row.discardable for row in rows),
            "form": form,
            "discard_form": discard_form,
        },
        status=400 if form.errors or discard_form.errors else 200,
    )


@capability_required("prepare_doses")
def preparation_check(request: HttpRequest, pk: int) -> HttpResponse:
    """The second pharmacist's check of a preparation, in their own session."""
    prep = allocation.preparation_get(request.user, pk)
    log_allocation_view(request, "preparations", prep.participant)
    form = PreparationCheckForm(request.POST or None)
    own = prep.prepared_by_id == request.user.pk
    if request.method == "POST" and form.is_valid():
        try:
            allocation.preparation_check(pk=prep.pk, by=request.user, now=timezone.now(), **form.cleaned_data)
        except ValidationError as exc:
            _refused_beside_fields(form, exc)
        else:
            if form.cleaned_data["decision"] == allocation.CONFIRM:
                messages.success(request, _("Preparation confirmed: the label can be printed."))
            else:
                messages.warning(
                    request,
                    _(
                        "Preparation rejected: destroy the syringe (another pharmacist witnesses it in "
                        "the register) and prepare the infusion again."
                    ),
                )
            return redirect("participants:pharmacy")
    return render(
        request,
        "participants/preparation_check.html",
        {"prep": prep, "form": form, "own": own},
        status=400 if form.errors else 200,
    )


@capability_required("prepare_doses")
def preparation_label(request: HttpRequest, pk: int) -> HttpResponse:
    prep = allocation.preparation_get(request.user, pk)
    try:
        context = allocation.label_context(prep)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("participants:preparations", pk=prep.participant_id)
    html = render_to_string("participants/label.html", context)
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    pdf = HTML(string=html).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="syringe-{prep.syringe_code}.pdf"'
    return response


def _accountability_page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    receipts = allocation.receipt_list()
    return render(
        request,
        "participants/accountability.html",
        {
            "lots": allocation.accountability(request.user),
            "registers": allocation.register(request.user),
            "receipt_form": forms_.get("receipt_form") or ReceiptForm(),
            "count_form": forms_.get("count_form") or StockCountForm(receipts=receipts),
            "out_form": forms_.get("out_form") or VialsOutForm(receipts=receipts, prefix="out"),
        },
        status=status,
    )


@capability_required("prepare_doses")
def accountability(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    log_allocation_view(request, "accountability")
    if request.method != "POST":
        return _accountability_page(request)
    receipts = allocation.receipt_list()
    now = timezone.now()
    if "lot" in request.POST:
        form: Any = ReceiptForm(request.POST)
        key = "receipt_form"
    elif "vials_counted" in request.POST:
        form = StockCountForm(request.POST, receipts=receipts)
        key = "count_form"
    else:
        form = VialsOutForm(request.POST, receipts=receipts, prefix="out")
        key = "out_form"
    if form.is_valid():
        try:
            if key == "receipt_form":
                allocation.receipt_record(by=request.user, now=now, **form.cleaned_data)
                messages.success(request, _("Receipt recorded."))
            elif key == "count_form":
                count = allocation.stock_count_record(by=request.user, now=now, **form.cleaned_data)
                if count.discrepancy:
                    messages.warning(
                        request, _("Discrepancy: %(d)+d vials against the books.") % {"d": count.discrepancy}
                    )
                else:
                    messages.success(request, _("Count matches the books."))
            else:
                data = dict(form.cleaned_data)
                kind = data.pop("kind")
                if kind == "wasted":
                    allocation.vials_waste_record(by=request.user, now=now, **data)
                    messages.success(request, _("Waste recorded: another pharmacist witnesses it."))
                else:
                    allocation.vials_return_record(by=request.user, now=now, **data)
                    messages.success(request, _("Return recorded."))
        except ValidationError as exc:
            _refused_beside_fields(form, exc)
        else:
            return redirect("participants:accountability")
    return _accountability_page(request, status=400, **{key: form})


@capability_required("prepare_doses")
def register_download(request: HttpRequest) -> HttpResponse:
    allocation.require_unblinded(request.user)
    log_allocation_view(request, "accountability")
    response = HttpResponse(allocation.register_csv(request.user), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="ketamine-register-{stamp}.csv"'
    return response


@capability_required("prepare_doses")
@require_POST
def waste_witness(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        allocation.waste_witness(pk=pk, by=request.user, now=timezone.now())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Waste witnessed."))
    return redirect(
        "participants:pharmacy" if request.POST.get("next") == "home" else "participants:accountability"
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
