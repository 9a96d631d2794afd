"""Shell pages: home per role, protocol, language, system status (the audit pages: views_audit)."""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ketatrial import trial
from ketatrial.forms import LanguageForm
from ketatrial.jobs import queue_health
from ketatrial.navigation import role_links
from ketatrial.protocol import BLINDING_HAZARD, DATA_MANAGER, protocol_values
from ketatrial.selectors import notification_worklist, worker_heartbeat_list_recent, worklist
from participants.access import (
    authenticated,
    not_found,
    public,
    require_role,
    role_required,
    user_roles,
)
from participants.allocation import visibility
from participants.roles import ROLE_LABELS, ROLE_PERMISSIONS
from participants.services import user_set_language


@authenticated
def home(request: HttpRequest) -> HttpResponse:
    roles = [r for r in ROLE_LABELS if r in user_roles(request.user)]
    if len(roles) == 1:
        return redirect("role_home", role=roles[0])
    return render(
        request,
        "home.html",
        {
            "roles": [(r, ROLE_LABELS[r]) for r in roles],
            "notifications": notification_worklist(request.user, now=timezone.now()),
        },
    )


@authenticated
def role_home(request: HttpRequest, role: str) -> HttpResponse:
    """The role's work for today and what is overdue (ketatrial.selectors.worklist), then the
    role's pages."""
    if role not in ROLE_LABELS:
        raise not_found()
    require_role(request.user, role)
    now = timezone.now()
    return render(
        request,
        "role_home.html",
        {
            "role": role,
            "role_label": ROLE_LABELS[role],
            "links": role_links(role),
            "work": worklist(role, request.user, now=now),
            "notifications": notification_worklist(request.user, now=now),
            "now": now,
        },
    )


@authenticated
def protocol_page(request: HttpRequest) -> HttpResponse:
    p = trial.protocol()
    rows = [(name, value, overridden) for name, value, overridden in protocol_values(p, trial.overrides())]
    return render(
        request,
        "protocol.html",
        {
            "protocol": p,
            "rows": rows,
            "hazard": BLINDING_HAZARD,
            "residual": visibility.residual_texts(p.period2_equal_length),
            "pump_rate": p.pump_rate_ml_per_h,
            "role_permissions": [(ROLE_LABELS[r], caps) for r, caps in ROLE_PERMISSIONS.items()],
            "field_count": len(dataclasses.fields(p)),
        },
    )


@authenticated
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    if form.is_valid():
        user_set_language(user=request.user, language=form.cleaned_data["language"])
    return redirect(target)


@authenticated
@never_cache
@require_POST
def session_keep_alive(request: HttpRequest) -> JsonResponse:
    """Called by the page's script while the person types into a form (throttled) and by the
    "Stay signed in" button: the request itself renews the inactivity clock
    (InactivityLogoutMiddleware), so a rater scoring for longer than the timeout is not signed
    out. The answer says how long the session now lasts without another request."""
    return JsonResponse({"seconds_left": settings.INACTIVITY_TIMEOUT_SECONDS})


@public
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """For the container health check (ketatrial/healthcheck.py): this process serves requests
    and reaches its database. Says nothing else, so it may be public."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@role_required(DATA_MANAGER)
def system_status(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "system_status.html",
        {
            "database": connection.vendor,
            "queue": queue_health(),
            "heartbeats": worker_heartbeat_list_recent(),
        },
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
