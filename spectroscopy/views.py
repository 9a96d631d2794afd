"""MRS pages: uploads and results per participant (blinded-safe), result with figures and PDF,
quality dashboard for the data manager."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infusions import selectors as infusion_selectors
from ketatrial.forms import run_service
from ketatrial.protocol import COORDINATOR, DATA_MANAGER, MONITOR, PRINCIPAL_INVESTIGATOR
from participants.access import not_found, role_required
from participants.selectors import participant_get_for_user
from spectroscopy import figures, presentation, selectors, services
from spectroscopy.forms import KindCorrectionForm, TissueForm, UploadForm
from spectroscopy.models import MRSResult, MRSUpload

READERS = (COORDINATOR, PRINCIPAL_INVESTIGATOR, DATA_MANAGER, MONITOR)


def _mrs_events(participant) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(code, label, local date) of the MRS sessions, from the schedule as it is shown to staff
    (infusions.selectors applies the blinding rules of the period-2 sessions)."""
    events = infusion_selectors.participant_events(participant, now=timezone.now())
    # The schedule's timepoint code names the session: it stays right when a visit moves.
    return [
        (e.code, str(e.label), f"{timezone.localtime(e.start):%Y-%m-%d}") for e in events if e.kind == "mrs"
    ]


def _sessions(participant, events: list[tuple[str, str, str]] | None = None) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The sessions to upload to, each with its window (shown on the form: the scan time is
    checked against it)."""
    events = _mrs_events(participant) if events is None else events
    windows = infusion_selectors.mrs_windows(participant) if events else {}
    shown = "%Y-%m-%d %H:%M"
    sessions = []
    for code, label, day in events:
        window = windows.get(code)
        if window is None:
            sessions.append((code, f"{label} ({day})"))
        else:
            sessions.append(
                (
                    code,
                    _("%(label)s (window %(start)s to %(end)s)")
                    % {"label": label, "start": window[0].strftime(shown), "end": window[1].strftime(shown)},
                )
            )
    return sessions or [("unscheduled", _("Unscheduled session"))]


@role_required(*READERS)
def participant_mrs(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    return render(request, "spectroscopy/participant.html", _page(participant))


def _page(participant, **bound: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    events = _mrs_events(participant)
    sessions = _sessions(participant, events)
    mega = selectors.mrs_result_list_mega(participant)
    known = {code for code, _label, _date in events}
    # Sessions with results but no longer on the visible schedule keep their column (named by code).
    extra = sorted({r.upload.session_code for r in mega} - known)
    return {
        "participant": participant,
        "timeline": presentation.timeline(events + [(code, code, "") for code in extra], list(mega)),
        "form": bound.get("form") or UploadForm(sessions=sessions),
        "tissue_form": bound.get("tissue_form") or TissueForm(sessions=sessions),
        "uploads": _with_correction_forms(selectors.mrs_upload_list(participant), bound.get("correction")),
        "tissues": participant.tissue_fractions.order_by("session_code"),
    }


def _correction_prefix(upload_pk: int) -> str:
    return f"correct-{upload_pk}"


def _with_correction_forms(uploads, bound: KindCorrectionForm | None) -> list[MRSUpload]:  # type: ignore[no-untyped-def]
    """The uploads, each with its kind-correction form (the one just submitted, when refused, keeps
    what was typed)."""
    rows = list(uploads)
    for u in rows:
        prefix = _correction_prefix(u.pk)
        u.correction_form = (  # type: ignore[attr-defined]
            bound if bound is not None and bound.prefix == prefix else KindCorrectionForm(prefix=prefix)
        )
    return rows


@role_required(COORDINATOR)
@require_POST
def correct_kind(request: HttpRequest, pk: int, upload_pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    record = selectors.mrs_upload_get(participant, upload_pk)
    if record is None:
        raise not_found()
    form = KindCorrectionForm(request.POST, prefix=_correction_prefix(record.pk))
    corrected = run_service(
        form,
        lambda d: services.upload_correct_kind(upload=record, by=request.user, now=timezone.now(), **d),
    )
    if corrected is None:
        return render(
            request, "spectroscopy/participant.html", _page(participant, correction=form), status=400
        )
    if corrected.status == MRSUpload.Status.REFUSED:
        messages.error(
            request,
            _("The kind was corrected; as %(kind)s the file is refused: %(reason)s")
            % {"kind": corrected.get_kind_display(), "reason": corrected.refusal_reason},
        )
    else:
        messages.success(
            request,
            _("The kind was corrected to %s; the earlier record is kept, withdrawn, with the reason.")
            % corrected.get_kind_display(),
        )
    return redirect("spectroscopy:participant", pk=pk)


@role_required(COORDINATOR)
@require_POST
def tissue(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    form = TissueForm(request.POST, sessions=_sessions(participant))
    if run_service(form, lambda d: services.tissue_record(participant=participant, by=request.user, **d)):
        messages.success(request, _("Tissue fractions saved."))
        return redirect("spectroscopy:participant", pk=pk)
    return render(request, "spectroscopy/participant.html", _page(participant, tissue_form=form), status=400)


@role_required(COORDINATOR)
@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    form = UploadForm(request.POST, request.FILES, sessions=_sessions(participant))
    if form.is_valid():
        incoming = form.cleaned_data["file"]
        try:
            record, created = services.upload_store(
                participant=participant,
                session_code=form.cleaned_data["session_code"],
                kind=form.cleaned_data["kind"],
                source=incoming,
                original_name=incoming.name,
                companion=form.cleaned_data.get("companion"),
                companion_name=getattr(form.cleaned_data.get("companion"), "name", ""),
                scanned_at=form.cleaned_data["scanned_at"],
                confirm_reason=form.cleaned_data["confirm_reason"],
                by=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                form.add_error(None, exc)
                if "file" not in form.errors:  # a browser never fills a file field again
                    form.add_error("file", _("Choose the file again when you send the form."))
            else:
                form.add_error("file", exc)
        else:
            if not created:
                messages.info(
                    request,
                    _("This file was already uploaded on %s; nothing was added.")
                    % record.uploaded_at.strftime("%Y-%m-%d"),
                )
            elif record.status == MRSUpload.Status.REFUSED:
                messages.error(request, _("The file was kept but refused: %s") % record.refusal_reason)
            else:
                messages.success(request, _("File accepted."))
            return redirect("spectroscopy:participant", pk=pk)
    return render(request, "spectroscopy/participant.html", _page(participant, form=form), status=400)


@role_required(COORDINATOR)
@require_POST
def quantify(request: HttpRequest, pk: int, upload_pk: int) -> HttpResponse:
    participant = participant_get_for_user(request.user, pk)
    metab = participant.mrs_uploads.filter(pk=upload_pk).first()
    if metab is None:
        raise not_found()
    water = (
        participant.mrs_uploads.filter(
            session_code=metab.session_code,
            kind=services.WATER_FOR.get(metab.kind, MRSUpload.Kind.MEGA_WATER),
            status=MRSUpload.Status.ACCEPTED,
        )
        .order_by("-uploaded_at")
        .first()
    )
    try:
        result, created = services.result_queue(upload=metab, water=water, now=timezone.now())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if created:
            messages.success(request, _("Quantification queued: it runs as soon as a worker takes it."))
        elif result.status in (MRSResult.Status.QUEUED, MRSResult.Status.RUNNING):
            messages.info(
                request, _("This series is waiting for the workers or being quantified: nothing to do.")
            )
        else:
            messages.success(request, _("This series is already quantified with this pipeline version."))
    return redirect("spectroscopy:participant", pk=pk)


def _result(request: HttpRequest, pk: int) -> MRSResult:
    result = selectors.mrs_result_get(pk)
    if result is None:
        raise not_found()
    participant_get_for_user(request.user, result.upload.participant_id)
    return result


def _result_context(result: MRSResult) -> dict[str, object]:
    events = {code: (label, date) for code, label, date in _mrs_events(result.upload.participant)}
    label, date = events.get(result.upload.session_code, (result.upload.session_code, ""))
    return {
        "r": result,
        "session_label": label,
        "session_date": date,
        "verdict": presentation.verdict(result),
        "groups": presentation.value_groups(result.values) if result.status == MRSResult.Status.DONE else [],
        "constant_groups": presentation.constant_groups(result.constants),
        "tissue": presentation.tissue_rows(services.tissue_values(result)),
        "diff_svg": figures.diff_svg(result.figure),
        "lcm_svg": figures.lcm_svg(result.figure),
        "off_svg": figures.off_svg(result.figure),
        "drift_svg": figures.drift_svg(result.figure),
    }


@role_required(*READERS)
def result_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "spectroscopy/result.html", _result_context(_result(request, pk)))


@role_required(*READERS)
def result_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    result = _result(request, pk)
    if result.status != MRSResult.Status.DONE:
        raise not_found()
    html = render_to_string("spectroscopy/report.html", _result_context(result), request=request)
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="mrs-{result.upload.participant.code}-{result.upload.session_code}-v{result.pipeline_version}.pdf"'
    )
    return response


@role_required(DATA_MANAGER)
def qc_dashboard(request: HttpRequest) -> HttpResponse:
    results = selectors.mrs_result_list_for_qc(request.user)
    return render(request, "spectroscopy/qc.html", {"results": results})
