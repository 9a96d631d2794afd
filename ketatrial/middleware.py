"""Request plumbing: deny-by-default access (with the second factor and account expiry),
inactivity logout, the user's language."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from ketatrial import form_stash
from participants.access import (
    AUTHENTICATED,
    BEFORE_SECOND_FACTOR,
    PUBLIC,
    user_roles,
    view_declaration,
)
from participants.sign_in import (
    access_until,
    account_expired,
    expired_message,
    second_factor_passed,
    second_factor_required,
)

LAST_SEEN_KEY = "ketatrial_last_seen"


class AccessMiddleware:
    """Refuse every view that has not declared who may use it; check the declaration.

    Before any declaration: a signed-in user whose account's last day of access has passed is
    signed out, and one whose kind of account needs a second factor (settings.OTP_REQUIRED_FOR)
    that this session has not passed is sent to the second-factor page, from every view but that
    page and the public ones (sign-in, sign-out), the Django admin included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        module = getattr(view, "__module__", "") or ""
        if module.startswith("django.contrib.staticfiles"):
            return None
        declaration = view_declaration(view)
        if request.user.is_authenticated:
            unfinished = self._sign_in_unfinished(request, declaration)
            if unfinished is not None:
                return unfinished
        if module.startswith("django.contrib.admin"):
            # The Django admin is for the system administrator (superuser) only.
            if request.user.is_authenticated and not request.user.is_superuser:
                raise PermissionDenied
            return None
        if declaration == PUBLIC:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if declaration in (AUTHENTICATED, BEFORE_SECOND_FACTOR):
            return None
        if isinstance(declaration, frozenset) and user_roles(request.user) & declaration:
            return None
        raise PermissionDenied

    @staticmethod
    def _sign_in_unfinished(request: HttpRequest, declaration: Any) -> HttpResponse | None:
        user = request.user
        if account_expired(user, today=timezone.localdate()):
            last_day = access_until(user)
            logout(request)
            messages.error(request, expired_message(last_day))  # type: ignore[arg-type]
            return redirect_to_login(request.get_full_path())
        if declaration in (PUBLIC, BEFORE_SECOND_FACTOR):
            return None
        if second_factor_required(user) and not second_factor_passed(user):
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('second_factor')}?{query}")
        return None


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


def saved_language(user: Any) -> str:
    """The interface language the user chose and kept in their profile, or "" when they have not
    chosen one (an empty profile language: the browser decides) or it is no longer offered."""
    if not user.is_authenticated:
        return ""
    language = getattr(getattr(user, "profile", None), "language", "") or ""
    return language if language in dict(settings.LANGUAGES) else ""


class UserLanguageMiddleware:
    """The page's language: the signed-in user's saved choice (UserProfile.language), else the
    browser's (Accept-Language, among settings.LANGUAGES), else settings.LANGUAGE_CODE.

    Django's LocaleMiddleware, earlier in MIDDLEWARE, has already chosen from the browser (and
    the default), which is all an anonymous page (sign-in) uses; this one, after the
    authentication middleware, puts the user's saved choice first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = saved_language(request.user)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
