"""Request plumbing: deny-by-default access, inactivity logout, the user's language."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from ketatrial import form_stash
from participants.access import AUTHENTICATED, PUBLIC, user_roles, view_declaration

LAST_SEEN_KEY = "ketatrial_last_seen"


class AccessMiddleware:
    """Refuse every view that has not declared who may use it; check the declaration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        module = getattr(view, "__module__", "") or ""
        if module.startswith(("django.contrib.admin", "django.contrib.staticfiles")):
            # The Django admin is for the system administrator (superuser) only.
            is_admin = module.startswith("django.contrib.admin")
            if is_admin and request.user.is_authenticated and not request.user.is_superuser:
                raise PermissionDenied
            return None
        declaration = view_declaration(view)
        if declaration == PUBLIC:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if declaration == AUTHENTICATED:
            return None
        if isinstance(declaration, frozenset) and user_roles(request.user) & declaration:
            return None
        raise PermissionDenied


class InactivityLogoutMiddleware:
    """Sign the user out after INACTIVITY_TIMEOUT_SECONDS without a request.

    The pages keep the session alive while the person types (ketatrial.js calls the keep-alive
    view on input, and warns with a "Stay signed in" button before the time is up). A form POST
    that still arrives after the timeout, to a view that opted in, is kept for the same user and
    shown again after they sign in: see ketatrial.form_stash."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            if last_seen is not None and now - float(last_seen) > settings.INACTIVITY_TIMEOUT_SECONDS:
                return self._sign_out(request, now=now)
            request.session[LAST_SEEN_KEY] = now
            form_stash.purge(request, username=request.user.get_username(), now=now)
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest, *, now: float) -> HttpResponse:
        username = request.user.get_username()
        entry = request.POST.copy() if form_stash.keepable(request) else None
        logout(request)
        messages.info(request, _("You were signed out after a period of inactivity."))
        next_url = request.get_full_path()
        if entry is not None:
            token = form_stash.stash(request, username=username, data=entry, now=now)
            next_url = form_stash.restore_url(request.path, token)
            messages.warning(
                request,
                _(
                    "Nothing was saved, but what you entered was kept: sign in again to review it and save it."
                ),
            )
        return redirect_to_login(next_url)


class UserLanguageMiddleware:
    """Use the language the signed-in user chose (kept in their profile)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            language = getattr(getattr(request.user, "profile", None), "language", "")
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        response = self.get_response(request)
        return response
