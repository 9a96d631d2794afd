"""Data review pages: the query worklist and threads, a form's review page (fields, queries,
verification, lock), a participant's casebook (progress, signature) and the casebook list."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PRINCIPAL_INVESTIGATOR,
    RATER,
)
from participants.access import has_capability, not_found, role_required, user_roles
from participants.allocation import visibility
from participants.models import Participant
from review import forms, records, services
from review.models import CasebookSignature, FormLock, ProtocolDeviation, Query, Verification

REVIEWERS = (DATA_MANAGER, MONITOR, PRINCIPAL_INVESTIGATOR)
QUERY_READERS = (*REVIEWERS, COORDINATOR, RATER, INFUSION_PHYSICIAN)


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _records_of(queries: list[Query]) -> dict[tuple[str, str], Any]:
    """The records the queries point at, one query per form."""
    by_label: dict[str, set[str]] = defaultdict(set)
    for q in queries:
        by_label[q.record_model].add(q.record_id)
    found = {}
    for label, ids in by_label.items():
        model = records.model_of(label)
        if model is None:
            continue
        for record in model._default_manager.filter(pk__in=ids):
            found[(label, str(record.pk))] = record
    return found


@role_required(*QUERY_READERS)
def query_list(request: HttpRequest) -> HttpResponse:
    """The worklist: queries on records the user may see; by default the open and answered ones
    assigned to the user's roles (site) or all of them (reviewers)."""
    state = request.GET.get("state", "active")
    queries = (
        Query.objects.select_related("participant", "raised_by")
        .filter(visibility.participant_scope(request.user, "participant", or_none=True))
        .order_by("due_date", "-raised_at", "-pk")
    )
    if state == "active":
        queries = queries.exclude(state=Query.State.CLOSED)
    elif state in Query.State.values:
        queries = queries.filter(state=state)
    roles = user_roles(request.user)
    if not roles & set(REVIEWERS):
        queries = queries.filter(assignee_role__in=roles)
    visible_labels = [label for label in records.PATHS if visibility.may_see_records(request.user, label)]
    queries = queries.filter(record_model__in=visible_labels)
    page = Paginator(queries, 50).get_page(request.GET.get("page"))
    rows = [q for q in page.object_list if services.query_visible(request.user, q)]
    found = _records_of(rows)
    return render(
        request,
        "review/queries.html",
        {
            "page": page,
            "rows": [(q, found.get((q.record_model, q.record_id))) for q in rows],
            "state": state,
            "states": Query.State.choices,
        },
    )


def _query_or_404(request: HttpRequest, pk: int) -> Query:
    query = (
        Query.objects.select_related("participant", "raised_by", "closed_by")
        .filter(visibility.participant_scope(request.user, "participant", or_none=True))
        .filter(pk=pk)
        .first()
    )
    if query is None or not services.query_visible(request.user, query):
        raise not_found()
    roles = user_roles(request.user)
    if not roles & set(REVIEWERS) and query.assignee_role not in roles:
        raise not_found()
    return query


@role_required(*QUERY_READERS)
def query_detail(request: HttpRequest, pk: int) -> HttpResponse:
    query = _query_or_404(request, pk)
    now = timezone.now()
    action = request.POST.get("action") if request.method == "POST" else None
    answer, close, reopen = forms.AnswerForm(), forms.CloseForm(), forms.ReopenForm()
    try:
        if action == "answer":
            answer = forms.AnswerForm(request.POST)
            if answer.is_valid():
                services.query_answer(
                    by=request.user,
                    query=query,
                    text=answer.cleaned_data["text"],
                    corrected=answer.cleaned_data["corrected"],
                    now=now,
                )
                messages.success(request, _("Answer sent."))
                return redirect("review:query", pk=pk)
        elif action == "close":
            close = forms.CloseForm(request.POST)
            if close.is_valid():
                services.query_close(
                    by=request.user, query=query, reason=close.cleaned_data["reason"], now=now
                )
                messages.success(request, _("Query closed."))
                return redirect("review:query", pk=pk)
        elif action == "reopen":
            reopen = forms.ReopenForm(request.POST)
            if reopen.is_valid():
                services.query_reopen(by=request.user, query=query, text=reopen.cleaned_data["text"], now=now)
                messages.success(request, _("Query re-opened."))
                return redirect("review:query", pk=pk)
    except ValidationError as exc:
        _errors(request, exc)
    except PermissionDenied:
        raise not_found() from None
    record = records.model_of(query.record_model)._default_manager.filter(pk=query.record_id).first()  # type: ignore[union-attr]
    field_label = ""
    if query.field:
        field_label = str(records.model_of(query.record_model)._meta.get_field(query.field).verbose_name)  # type: ignore[union-attr]
    roles = user_roles(request.user)
    return render(
        request,
        "review/query.html",
        {
            "query": query,
            "record": record,
            "form_name": records.model_of(query.record_model)._meta.verbose_name,  # type: ignore[union-attr]
            "field_label": field_label,
            "thread": list(query.messages.select_related("by")),
            "may_answer": query.assignee_role in roles and query.state != Query.State.CLOSED,
            "may_close": services._may_close(request.user, query),
            "may_review": bool(roles & set(REVIEWERS)),
            "answer": answer,
            "close": close,
            "reopen": reopen,
        },
    )


@role_required(*REVIEWERS)
def record(request: HttpRequest, label: str, record_id: str) -> HttpResponse:
    """One form as a reviewer reads it: each field the role may see, its verification and its
    queries; raise a query, verify, lock or unlock."""
    instance = records.record_get(request.user, label, record_id)
    if instance is None:
        raise not_found()
    fields = records.reviewable_fields(request.user, label)
    choices = [(f.name, str(f.verbose_name)) for f in fields]
    now = timezone.now()
    action = request.POST.get("action") if request.method == "POST" else None
    raise_form = forms.RaiseForm(fields=choices, assignee=records.default_answerer(label))
    verify_form = forms.VerifyForm(fields=choices)
    try:
        if action == "raise":
            raise_form = forms.RaiseForm(
                request.POST, fields=choices, assignee=records.default_answerer(label)
            )
            if raise_form.is_valid():
                data = raise_form.cleaned_data
                query = services.query_raise(
                    by=request.user,
                    label=label,
                    record_id=record_id,
                    field=data["field"],
                    text=data["text"],
                    assignee_role=data["assignee_role"],
                    due_date=data["due_date"],
                    now=now,
                )
                messages.success(request, _("Query %(q)s raised.") % {"q": query})
                return redirect("review:record", label=label, record_id=record_id)
        elif action == "verify":
            verify_form = forms.VerifyForm(request.POST, fields=choices)
            if verify_form.is_valid():
                services.verify(
                    by=request.user,
                    label=label,
                    record_id=record_id,
                    fields=verify_form.cleaned_data["fields_verified"],
                    now=now,
                )
                messages.success(request, _("Verification recorded."))
                return redirect("review:record", label=label, record_id=record_id)
        elif action == "lock":
            lock = forms.LockForm(request.POST)
            if lock.is_valid():
                services.form_lock(
                    by=request.user,
                    label=label,
                    record_id=record_id,
                    reason=lock.cleaned_data["reason"],
                    now=now,
                )
                messages.success(request, _("Form locked."))
                return redirect("review:record", label=label, record_id=record_id)
        elif action == "unlock":
            unlock = forms.UnlockForm(request.POST)
            current = services.active_lock(label, record_id)
            if unlock.is_valid() and current is not None:
                services.form_unlock(
                    by=request.user, lock=current, reason=unlock.cleaned_data["reason"], now=now
                )
                messages.success(request, _("Form unlocked."))
                return redirect("review:record", label=label, record_id=record_id)
            messages.error(request, _("Give the reason for unlocking."))
    except ValidationError as exc:
        _errors(request, exc)
    except PermissionDenied:
        messages.error(request, _("Your role cannot do that."))
    state = services.verification_state(label, record_id, [f.name for f in fields])
    queries = [
        q
        for q in Query.objects.filter(record_model=label, record_id=str(instance.pk)).order_by("-raised_at")
        if services.query_visible(request.user, q)
    ]
    lapsed = Verification.objects.filter(
        record_model=label, record_id=str(instance.pk), invalidated_at__isnull=False
    ).order_by("-invalidated_at")[:5]
    return render(
        request,
        "review/record.html",
        {
            "label": label,
            "record": instance,
            "form_name": instance._meta.verbose_name,
            "participant_id": records.participant_of(label, instance),
            "rows": [
                (
                    f.name,
                    f.verbose_name,
                    records.field_value(instance, f),
                    state.get(f.name),
                    [q for q in queries if q.field == f.name],
                )
                for f in fields
            ],
            "whole": state.get(""),
            "form_queries": [q for q in queries if not q.field],
            "lapsed": lapsed,
            "lock": services.active_lock(label, instance.pk),
            "raise_form": raise_form,
            "verify_form": verify_form,
            "may_raise": services._may_raise(request.user),
            "may_verify": has_capability(request.user, "verify_source"),
            "may_lock": has_capability(request.user, "manage_queries"),
        },
    )


def _progress(user: Any, participant_id: int) -> dict[str, Any]:
    forms_ = records.casebook(user, participant_id)
    standing = defaultdict(list)
    for v in Verification.objects.filter(participant_id=participant_id, invalidated_at__isnull=True):
        standing[(v.record_model, v.record_id)].append(v)
    locks = {
        (lock.record_model, lock.record_id)
        for lock in FormLock.objects.filter(participant_id=participant_id, unlocked_at__isnull=True)
    }
    open_queries = defaultdict(int)
    for q in Query.objects.filter(participant_id=participant_id).exclude(state=Query.State.CLOSED):
        if services.query_visible(user, q):
            open_queries[(q.record_model, q.record_id)] += 1
    rows = []
    for form in forms_:
        key = (form.label, str(form.record.pk))
        verified = any(not v.fields for v in standing.get(key, []))
        rows.append((form, verified, key in locks, open_queries.get(key, 0)))
    done = sum(1 for _f, v, _l, _q in rows if v)
    return {
        "rows": rows,
        "verified": done,
        "total": len(rows),
        "pct": round(100 * done / len(rows)) if rows else 0,
    }


@role_required(*REVIEWERS)
def casebook(request: HttpRequest, pk: int) -> HttpResponse:
    person = Participant.objects.filter(visibility.participant_scope(request.user), pk=pk).first()
    if person is None:
        raise not_found()
    form = forms.SignForm(initial={"username": request.user.get_username()})
    if request.method == "POST":
        form = forms.SignForm(request.POST)
        if form.is_valid():
            try:
                services.casebook_sign(
                    by=request.user,
                    participant_id=person.pk,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                    now=timezone.now(),
                    request=request,
                )
                messages.success(request, _("Casebook signed."))
                return redirect("review:casebook", pk=pk)
            except ValidationError as exc:
                _errors(request, exc)
            except PermissionDenied:
                raise not_found() from None
    return render(
        request,
        "review/casebook.html",
        {
            "person": person,
            **_progress(request.user, person.pk),
            "signature": services.signature_active(person.pk),
            "voided": CasebookSignature.objects.filter(participant=person, voided_at__isnull=False).first(),
            "sign_form": form,
            "meaning": services.SIGNATURE_MEANING,
            "may_sign": has_capability(request.user, "sign_off"),
        },
    )


@role_required(*REVIEWERS)
def casebooks(request: HttpRequest) -> HttpResponse:
    """Every participant: forms verified, open queries, the casebook signature (a constant number
    of queries per page)."""
    people = Paginator(
        Participant.objects.filter(visibility.participant_scope(request.user)).order_by("code"), 50
    ).get_page(request.GET.get("page"))
    ids = [p.pk for p in people.object_list]
    verified = defaultdict(set)
    for label, record_id, participant_id in Verification.objects.filter(
        participant_id__in=ids, invalidated_at__isnull=True, fields=[]
    ).values_list("record_model", "record_id", "participant_id"):
        if visibility.may_see_records(request.user, label):
            verified[participant_id].add((label, record_id))
    open_queries = defaultdict(int)
    for participant_id, label in (
        Query.objects.filter(participant_id__in=ids)
        .exclude(state=Query.State.CLOSED)
        .values_list("participant_id", "record_model")
    ):
        if visibility.may_see_records(request.user, label):
            open_queries[participant_id] += 1
    signed = dict(
        CasebookSignature.objects.filter(participant_id__in=ids, voided_at__isnull=True).values_list(
            "participant_id", "signed_at"
        )
    )
    totals = defaultdict(int)
    for label, lookup in records.CASEBOOK:
        if not visibility.may_see_records(request.user, label):
            continue
        model = records.model_of(label)
        for participant_id in model._default_manager.filter(**{f"{lookup}__in": ids}).values_list(
            lookup, flat=True
        ):  # type: ignore[union-attr]
            totals[participant_id] += 1
    rows = [
        (p, len(verified[p.pk]), totals[p.pk], open_queries[p.pk], signed.get(p.pk))
        for p in people.object_list
    ]
    visible = [
        label for label, _lookup in records.CASEBOOK if visibility.may_see_records(request.user, label)
    ]
    all_total = sum(records.model_of(label)._default_manager.count() for label in visible)  # type: ignore[union-attr]
    all_verified = (
        Verification.objects.filter(record_model__in=visible, invalidated_at__isnull=True, fields=[])
        .values("record_model", "record_id")
        .distinct()
        .count()
    )
    return render(
        request,
        "review/casebooks.html",
        {"page": people, "rows": rows, "all_total": all_total, "all_verified": all_verified},
    )


def _scope_participants(request: HttpRequest, form: forms.DeviationForm) -> None:
    # Only the participants of the reviewer's sites are offered (and accepted).
    field = form.fields["participant"]
    field.queryset = field.queryset.filter(visibility.participant_scope(request.user))


@role_required(*REVIEWERS)
def deviations(request: HttpRequest) -> HttpResponse:
    """The protocol-deviation log: every deviation, newest first; the data manager and the
    monitor add to it (a major one takes the participant out of the per-protocol set)."""
    form = forms.DeviationForm()
    _scope_participants(request, form)
    may_record = services._may_raise(request.user)
    if request.method == "POST" and may_record:
        form = forms.DeviationForm(request.POST)
        _scope_participants(request, form)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.deviation_record(
                    by=request.user,
                    participant_id=data["participant"].pk,
                    category=data["category"],
                    occurred_on=data["occurred_on"],
                    description=data["description"],
                    action=data["action"],
                    major=data["major"],
                    now=timezone.now(),
                )
                messages.success(request, _("Deviation logged."))
                return redirect("review:deviations")
            except ValidationError as exc:
                _errors(request, exc)
    entries = Paginator(
        ProtocolDeviation.objects.select_related("participant", "recorded_by")
        .filter(visibility.participant_scope(request.user, "participant"))
        .order_by("-occurred_on", "-pk"),
        50,
    ).get_page(request.GET.get("page"))
    return render(
        request, "review/deviations.html", {"page": entries, "form": form, "may_record": may_record}
    )


@role_required(*REVIEWERS)
def casebook_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    from review.casebook_pdf import casebook_pdf

    person = Participant.objects.filter(visibility.participant_scope(request.user), pk=pk).first()
    if person is None:
        raise not_found()
    response = HttpResponse(
        casebook_pdf(request.user, person, now=timezone.now()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="casebook-{person.code}.pdf"'
    return response
