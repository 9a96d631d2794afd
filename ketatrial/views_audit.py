"""The audit trail pages (data manager, monitor, principal investigator) and the log of views of
the allocation (data manager, principal investigator). What each reader sees is the one
visibility rule's (participants.allocation.visibility), read in ketatrial.audit_trail."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import translation

from ketatrial import allocation_log, audit_trail
from ketatrial.audit import ACTIONS
from ketatrial.forms import AuditFilterForm
from ketatrial.protocol import DATA_MANAGER, MONITOR, PRINCIPAL_INVESTIGATOR
from participants.access import not_found, require_capability, role_required
from participants.roles import ROLE_LABELS
from participants.selectors import participant_list_for_user

AUDIT_READERS = (DATA_MANAGER, PRINCIPAL_INVESTIGATOR, MONITOR)
ALLOCATION_LOG_READERS = (DATA_MANAGER, PRINCIPAL_INVESTIGATOR)
PAGE_SIZE = 50


def _filter_form(request: HttpRequest) -> AuditFilterForm:
    users = [
        (pk, f"{username} ({f'{first} {last}'.strip()})" if (first or last) else username)
        for pk, username, first, last in get_user_model()
        ._default_manager.order_by("username")
        .values_list("pk", "username", "first_name", "last_name")
    ]
    return AuditFilterForm(
        request.GET or None,
        forms_=sorted(
            (
                (m._meta.label_lower, str(m._meta.verbose_name))
                for m in audit_trail.visible_models(request.user)
            ),
            key=lambda choice: choice[1].lower(),
        ),
        users=users,
        roles=[(code, str(label)) for code, label in ROLE_LABELS.items()],
        actions=[(code, str(label)) for code, label in ACTIONS.items()],
    )


def _wanted(request: HttpRequest, form: AuditFilterForm) -> audit_trail.TrailFilter:
    """The filter the form asks for; an invalid form filters nothing out but shows its errors."""
    if not form.is_bound or not form.is_valid():
        return audit_trail.TrailFilter()
    data = form.cleaned_data
    participant_id, no_match = None, False
    if data["participant"]:
        participant_id = (
            participant_list_for_user(request.user)
            .filter(code=data["participant"])
            .values_list("pk", flat=True)
            .first()
        )
        no_match = participant_id is None
    return audit_trail.TrailFilter(
        participant_id=participant_id,
        no_participant_match=no_match,
        form=data["form"],
        user_id=data["user"],
        role=data["role"],
        action=data["action"],
        date_from=data["date_from"],
        date_to=data["date_to"],
    )


@role_required(*AUDIT_READERS)
def audit_index(request: HttpRequest) -> HttpResponse:
    """The trail, filtered and paged: a fixed number of queries per page (tests/test_query_counts.py)."""
    require_capability(request.user, "review_audit")
    form = _filter_form(request)
    wanted = _wanted(request, form)
    page = Paginator(audit_trail.trail_rows(request.user, wanted), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "audit/index.html",
        {
            "form": form,
            "page": page,
            "entries": audit_trail.trail_entries(request.user, page.object_list),
            "csv_query": request.GET.urlencode() if form.is_bound and form.is_valid() else "",
        },
    )


@role_required(*AUDIT_READERS)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trail as CSV, streamed; the same visibility as the page. The file name says
    nothing of the filter or the reader (a participant's ID stays out of download folders)."""
    require_capability(request.user, "review_audit")
    wanted = _wanted(request, _filter_form(request))
    user, language = request.user, translation.get_language()

    class Echo:
        def write(self, value: str) -> str:
            return value

    def lines() -> Iterator[str]:
        writer = csv.writer(Echo())
        with translation.override(language):
            yield "\ufeff"  # so a spreadsheet reads the file as UTF-8 (accents in names and reasons)
            yield writer.writerow(audit_trail.csv_header())
            for row in audit_trail.csv_rows(user, wanted):
                yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response


@role_required(*AUDIT_READERS)
def audit_record(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    """One record's history, as the visibility rule lets this reader see the live record: a
    model the reader may not see answers exactly like a record that does not exist."""
    require_capability(request.user, "review_audit")
    model = audit_trail.visible_model(request.user, label)
    if model is None:
        raise not_found()
    instance = model._default_manager.filter(pk=pk).first()
    if instance is None or not audit_trail.record_in_scope(request.user, model, pk):
        raise not_found()
    return render(
        request,
        "audit/record.html",
        {
            "instance": instance,
            "label": model._meta.verbose_name,
            "entries": audit_trail.record_entries(request.user, model, pk),
        },
    )


@role_required(*ALLOCATION_LOG_READERS)
def allocation_views(request: HttpRequest) -> HttpResponse:
    """Who looked at the allocation or the key, when and from where; nothing of what they saw."""
    page = allocation_log.allocation_view_page(request.GET.get("page"))
    rows = [(view, allocation_log.what_label(view.what)) for view in page.object_list]
    return render(request, "audit/allocation_views.html", {"page": page, "rows": rows})
