"""Outcome pages: lock and release, exports, analyses, CONSORT and the PDF reports."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ketatrial.allocation_log import log_allocation_view
from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    MONITOR,
    PRINCIPAL_INVESTIGATOR,
    STATISTICIAN,
)
from ketatrial.trial import protocol
from outcomes import consort as consort_diagram
from outcomes import levels, report, selectors, services
from outcomes.forms import ExportRequestForm
from outcomes.models import AnalysisRun, ExportJob
from participants import allocation
from participants.access import capability_required, has_role, not_found, role_required
from participants.sign_in import second_factor_passed

TEAM = (COORDINATOR, PRINCIPAL_INVESTIGATOR, DATA_MANAGER, MONITOR, STATISTICIAN)
LOCK_VIEWERS = (PRINCIPAL_INVESTIGATOR, DATA_MANAGER, STATISTICIAN)
EXPORTERS = (STATISTICIAN, DATA_MANAGER)


def _efficacy_visible(request: HttpRequest) -> bool:
    """Results by arm: the statistician, after release, while the database is locked. The
    principal investigator stays blinded (the protocol unblinds them per participant only)."""
    return has_role(request.user, STATISTICIAN) and services.unblinded_allowed()


@role_required(*TEAM)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "outcomes/index.html", {"locked": services.database_locked()})


@role_required(*LOCK_VIEWERS)
def lock_page(request: HttpRequest) -> HttpResponse:
    if _efficacy_visible(request):
        log_allocation_view(request, "key_letters")
    blockers = services.lock_blockers()
    strict = allocation.is_strictly_blinded(request.user) and not _efficacy_visible(request)
    rows = services.blocker_rows(
        blockers,
        detail=has_role(request.user, DATA_MANAGER, PRINCIPAL_INVESTIGATOR),
        batch=protocol().blinded_count_batch if strict else None,
    )
    return render(
        request,
        "outcomes/lock.html",
        {
            "locked": services.database_locked(),
            "released": allocation.sequence_key_released(),
            "blockers": blockers,
            "blocker_rows": rows,
            # The total the reader is shown is the sum of what the rows show them.
            "blocked_total": sum(count for _label, count, _places in rows),
            "events": selectors.lock_event_list(),
            "is_pi": has_role(request.user, PRINCIPAL_INVESTIGATOR),
            "is_statistician": has_role(request.user, STATISTICIAN),
            "key_letters": allocation.sequence_key_letters(request.user)
            if _efficacy_visible(request)
            else {},
            **_residual_context(),
        },
    )


def _residual_context() -> dict[str, object]:
    equal = protocol().period2_equal_length
    return {"residual": allocation.visibility.residual_texts(equal)}


def _run(request: HttpRequest, action, done: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("outcomes:lock")


@capability_required("lock_database")
@require_POST
def lock(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.database_lock(
            by=request.user, now=timezone.now(), reason=request.POST.get("reason", "")
        ),
        _("The database is locked."),
    )


@capability_required("lock_database")
@require_POST
def unlock(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.database_unlock(
            by=request.user, now=timezone.now(), reason=request.POST.get("reason", "")
        ),
        _("The database is unlocked."),
    )


@role_required(STATISTICIAN)
@require_POST
def release(request: HttpRequest) -> HttpResponse:
    def release_and_log() -> None:
        services.sequence_release(by=request.user, now=timezone.now())
        log_allocation_view(request, "key_release")

    return _run(request, release_and_log, _("The sequence key is released."))


def _can_unblinded(request: HttpRequest) -> bool:
    return has_role(request.user, STATISTICIAN) and services.unblinded_allowed()


def _export_form(request: HttpRequest, data: object = None) -> ExportRequestForm:
    """The request form, offering the forms, visits and timepoints of the widest level the user
    may export at (the service refuses any option beyond the level actually asked for)."""
    try:
        widest = services.blinding_for(request.user, unblinded=_can_unblinded(request))
    except PermissionDenied:
        raise not_found() from None
    return ExportRequestForm(data, blinding=widest, timepoints=services.export_timepoint_choices(widest))


def _exports_page(request: HttpRequest, form: ExportRequestForm, *, status: int = 200) -> HttpResponse:
    jobs = list(selectors.export_jobs_for_user(request.user))
    return render(
        request,
        "outcomes/exports.html",
        {
            "jobs": jobs,
            "form": form,
            "can_unblinded": _can_unblinded(request),
            "is_statistician": has_role(request.user, STATISTICIAN),
            "busy": any(j.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING) for j in jobs),
        },
        status=status,
    )


@capability_required("export_data")
def exports(request: HttpRequest) -> HttpResponse:
    return _exports_page(request, _export_form(request))


@capability_required("export_data")
@require_POST
def export_new(request: HttpRequest) -> HttpResponse:
    """Queue an export with its options and purpose; a form with errors comes back filled in."""
    form = _export_form(request, request.POST)
    if form.is_valid():
        try:
            services.export_request(
                by=request.user,
                unblinded=request.POST.get("unblinded") == "1",
                now=timezone.now(),
                purpose=form.cleaned_data["purpose"],
                options=form.options(),
            )
        except PermissionDenied:
            messages.error(request, _("Unblinded exports open only after the sequence key is released."))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Export queued: it appears below when ready."))
            return redirect("outcomes:exports")
    if not form.errors:
        return redirect("outcomes:exports")
    return _exports_page(request, form, status=400)


@capability_required("export_data")
@require_POST
def api_token(request: HttpRequest) -> HttpResponse:
    """A new API token for the signed-in user (the old one stops working); shown once. Only once
    this session passed the second factor: first the second-factor page, then back here."""
    if not second_factor_passed(request.user):
        messages.info(
            request, _("An API token is issued only after the second factor: type your code, then ask again.")
        )
        return redirect(f"{reverse('second_factor')}?{urlencode({'next': reverse('outcomes:exports')})}")
    token = services.api_token_renew(user=request.user, verified_by=request.user.otp_device)
    return render(request, "outcomes/api_token.html", {"token": token.key})


@capability_required("export_data")
def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.export_job_get_for_user(request.user, pk)
    if job is None:
        raise not_found()
    return JsonResponse(
        {"status": job.status, "progress": job.progress, "stage": job.stage, "error": job.error}
    )


@capability_required("export_data")
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        job = services.export_download(user=request.user, job_id=pk, now=timezone.now())
    except ValidationError:
        raise not_found() from None
    if job.blinding == levels.UNBLINDED:
        log_allocation_view(request, "unblinded_export")
    return FileResponse(
        open(job.file, "rb"),  # noqa: SIM115 (FileResponse closes it)
        as_attachment=True,
        filename=services.export_file_name(job),
        content_type="application/zip",
    )


def _runs(request: HttpRequest) -> dict[str, object]:
    monitoring = selectors.analysis_run_latest(AnalysisRun.Kind.MONITORING)
    efficacy = (
        selectors.analysis_run_latest(AnalysisRun.Kind.EFFICACY) if _efficacy_visible(request) else None
    )
    if efficacy:
        log_allocation_view(request, "efficacy_results")
    return {
        "monitoring": monitoring,
        "monitoring_json": json.dumps(monitoring.results, indent=1) if monitoring else "",
        "efficacy": efficacy,
        "tables": report.efficacy_tables(efficacy.results) if efficacy else [],
        "efficacy_json": json.dumps(efficacy.results, indent=1) if efficacy else "",
    }


@role_required(*TEAM)
def analyses(request: HttpRequest) -> HttpResponse:
    return render(request, "outcomes/analyses.html", _runs(request))


@role_required(STATISTICIAN, DATA_MANAGER, PRINCIPAL_INVESTIGATOR)
@require_POST
def analyses_run_now(request: HttpRequest) -> HttpResponse:
    import uuid

    from ketatrial.jobs import job_enqueue

    with transaction.atomic():
        job_enqueue(
            "analyses",
            f"analyses:on demand:{uuid.uuid4().hex}",
            {"trigger": "on demand", "user_id": request.user.pk},
        )
    messages.success(request, _("Analyses queued: they run as soon as a worker takes them."))
    return redirect("outcomes:analyses")


def _pdf(html: str, name: str) -> HttpResponse:
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _report_context(request: HttpRequest, pk: int) -> dict[str, object]:
    run = selectors.analysis_run_get(pk)
    if run is None or (run.kind == AnalysisRun.Kind.EFFICACY and not _efficacy_visible(request)):
        raise not_found()
    if run.kind == AnalysisRun.Kind.EFFICACY:
        log_allocation_view(request, "efficacy_report")
    tables = report.efficacy_tables(run.results) if run.kind == AnalysisRun.Kind.EFFICACY else []
    return {"run": run, "r": run.results, "tables": tables}


@role_required(*TEAM)
def analysis_report(request: HttpRequest, pk: int) -> HttpResponse:
    html = render_to_string("outcomes/analysis_report.html", _report_context(request, pk), request=request)
    return _pdf(html, f"ketatrial-analysis-{pk}.pdf")


@role_required(*TEAM)
def analysis_report_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "outcomes/analysis_report_page.html", _report_context(request, pk))


def _consort_context(request: HttpRequest) -> dict[str, object]:
    unblinded = _efficacy_visible(request)
    if unblinded:
        log_allocation_view(request, "consort_by_arm")
    strict = allocation.is_strictly_blinded(request.user) and not unblinded
    counts = consort_diagram.counts(
        request.user, unblinded=unblinded, batch=protocol().blinded_count_batch if strict else None
    )
    return {
        "counts": counts,
        "svg": consort_diagram.svg(counts),
        "table": consort_diagram.table(counts),
        "unblinded": unblinded,
    }


@role_required(*TEAM)
def consort(request: HttpRequest) -> HttpResponse:
    return render(request, "outcomes/consort.html", _consort_context(request))


@role_required(*TEAM)
def status_report(request: HttpRequest) -> HttpResponse:
    context = {
        **_consort_context(request),
        "monitoring": selectors.analysis_run_latest(AnalysisRun.Kind.MONITORING),
        "locked": services.database_locked(),
        "now": timezone.now(),
        **_residual_context(),
    }
    html = render_to_string("outcomes/status_report.html", context, request=request)
    return _pdf(html, "ketatrial-status-report.pdf")
