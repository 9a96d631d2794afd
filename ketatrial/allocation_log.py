"""The log of every view of the allocation and of the sequence key (issue 14, "what an inspection
asks for"): who looked at what, when, from where; never what was seen.

Every page that shows the allocation (the unblinded pharmacist's pages, an executed emergency
unblinding), the sequence key (its release, its letters) or results by arm (unblinded exports, the
API's unblinded tables, the efficacy report, the CONSORT diagram by arm) calls
`log_allocation_view` once. The rows are append-only (ketatrial.models.AllocationView): the model
refuses a change or a deletion, a PostgreSQL trigger refuses UPDATE and DELETE, and the
application's database role may only read and insert them (ketatrial/db_roles.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ketatrial.models import AllocationView

# What was looked at: a code stored in the log, its words shown on the log page.
WHAT: dict[str, Any] = {
    "pharmacy": _("Allocation table (pharmacy)"),
    "list_parameters": _("Allocation list parameters"),
    "list_download": _("Allocation list downloaded"),
    "preparations": _("A participant's preparations, with the product"),
    "accountability": _("Drug accountability"),
    "unblinding_execute": _("Emergency unblinding: execution page"),
    "unblinding_result": _("Emergency unblinding: result for the principal investigator"),
    "key_release": _("Release of the key to the coded arms"),
    "key_letters": _("Key to the coded arms (lock page)"),
    "unblinded_export": _("Unblinded export downloaded"),
    "unblinded_api": _("Unblinded data read through the API"),
    "efficacy_results": _("Efficacy results by arm (analyses page)"),
    "efficacy_report": _("Efficacy report"),
    "consort_by_arm": _("CONSORT diagram by arm"),
    "code_break_list": _("Sealed code-break list printed (downtime)"),
}

PAGE_SIZE = 50


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from. Behind the TLS proxy (settings trust its
    X-Forwarded-Proto, i.e. production) the proxy's X-Forwarded-For, which Caddy writes itself and
    a client cannot forge (Caddyfile); otherwise the socket's peer."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def log_allocation_view(request: HttpRequest, what: str, participant: Any = None) -> AllocationView:
    """Record that the signed-in user is looking at the allocation or the key (`what`, a code of
    WHAT), for one participant when the page is about one. Written at once, in the request's
    transaction: a page shown is a page logged."""
    if what not in WHAT:
        raise ValueError(f"unknown allocation view {what!r}")
    return AllocationView.objects.create(
        at=timezone.now(),
        user=request.user,
        what=what,
        path=request.get_full_path()[:300],
        participant=participant,
        ip=client_ip(request),
    )


def allocation_view_page(number: str | int | None) -> Page:
    """One page of the log, newest first, in a fixed number of queries."""
    rows = AllocationView.objects.select_related("user", "participant").order_by("-at", "-id")
    return Paginator(rows, PAGE_SIZE).get_page(number)


def what_label(code: str) -> Any:
    return WHAT.get(code, code)
