"""What a person typed into a form when the inactivity sign-out caught them, kept for them alone.

A rater can score for longer than the inactivity timeout (the page keeps the session alive while
they type, but a laptop that slept, a lost connection or a page without script still lets the
timeout pass). When the form's POST then arrives on an expired session, the inactivity middleware
keeps the entry here instead of dropping it, signs the user out and sends them to sign in with a
one-time token in the return address; the view shows the form again filled in from it.

Decisions:
- Only views that opt in with `@keeps_entry_on_sign_out` have their POST kept: forms whose
  fields can be shown again as they were (never a password or an upload).
- The entry is shown again, never saved: a rating needs the rater's own confirmation, so the
  form comes back filled in with a message asking to review and save.
- Kept in the session, not in the cache: the default cache lives in one process (gunicorn runs
  several workers), and Django's login keeps the data of the anonymous session it replaces
  (`login()` cycles the key), so an entry written after the sign-out survives the sign-in in the
  same browser and nowhere else.
- Bound to the username that typed it, to the path it was posted to and to a one-time token;
  dropped after an hour, on use, and on any request by another user (a colleague signing in on
  the same browser never sees it, and nothing is saved under their name). The CSRF token is
  checked before anything is kept and is not kept itself. Nothing here is logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, resolve

F = TypeVar("F", bound=Callable[..., Any])

KEEPS_ENTRY_ATTR = "ketatrial_keeps_entry_on_sign_out"
SESSION_KEY = "ketatrial_kept_entries"
RESTORE_PARAM = "restore"
MAX_AGE_SECONDS = 3600
MAX_FIELDS = 200  # a rating form has about 25; anything larger is not a form we opt in
# Never kept: the CSRF token (rotated at sign-in anyway), the rater's confirmations and the marker
# of a page that sent its entry because the time was up.
NOT_KEPT = frozenset({"csrfmiddlewaretoken", "partial_confirmed", "keep_only"})


def keeps_entry_on_sign_out(view: F) -> F:
    """Declare that a POST to this view that arrives after the inactivity timeout is kept for the
    same user and shown again after they sign in (see the module docstring)."""
    setattr(view, KEEPS_ENTRY_ATTR, True)
    return view


def _view_of(request: HttpRequest) -> Callable[..., Any] | None:
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None)).func
    except Resolver404:
        return None


def keepable(request: HttpRequest) -> bool:
    """A POST with a valid CSRF token to a view that opted in."""
    if request.method != "POST":
        return False
    view = _view_of(request)
    if view is None or not getattr(view, KEEPS_ENTRY_ATTR, False):
        return False
    # The sign-out happens before the CSRF middleware's view check would run: check it here, so a
    # forged cross-site POST can never be put in front of the rater as their own entry.
    csrf = CsrfViewMiddleware(lambda r: HttpResponse())
    return csrf.process_view(request, view, (), {}) is None


def stash(request: HttpRequest, *, username: str, data: QueryDict, now: float) -> str:
    """Keep the entry of `data` for `username` at this path; returns the one-time token.
    Call after the sign-out: it writes into the fresh session that the sign-in will keep."""
    fields = {k: data.getlist(k) for k in list(data.keys())[:MAX_FIELDS] if k not in NOT_KEPT}
    token = secrets.token_urlsafe(16)
    entries = dict(request.session.get(SESSION_KEY) or {})
    entries[token] = {"username": username, "path": request.path, "fields": fields, "at": now}
    request.session[SESSION_KEY] = entries
    return token


def restore_url(path: str, token: str) -> str:
    """Where the sign-in leads back to: the form's page with the token to fill it in again."""
    return f"{path}?{RESTORE_PARAM}={token}"


def purge(request: HttpRequest, *, username: str, now: float) -> None:
    """Drop entries kept for another user or longer than an hour (on every signed-in request)."""
    entries = request.session.get(SESSION_KEY)
    if not entries:
        return
    kept = {
        token: entry
        for token, entry in entries.items()
        if entry.get("username") == username and now - float(entry.get("at", 0)) <= MAX_AGE_SECONDS
    }
    if kept != entries:
        request.session[SESSION_KEY] = kept


def take(request: HttpRequest, *, now: float) -> dict[str, list[str]] | None:
    """The entry named by the request's restore token, once, for the same user at the same path
    within the hour; None when there is none (the token is used up either way)."""
    token = request.GET.get(RESTORE_PARAM)
    entries = request.session.get(SESSION_KEY)
    if not token or not entries or token not in entries:
        return None
    entries = dict(entries)
    entry = entries.pop(token)
    request.session[SESSION_KEY] = entries
    if (
        entry.get("username") != request.user.get_username()
        or entry.get("path") != request.path
        or now - float(entry.get("at", 0)) > MAX_AGE_SECONDS
    ):
        return None
    return dict(entry["fields"])


def asked_to_restore(request: HttpRequest) -> bool:
    return bool(request.GET.get(RESTORE_PARAM))
