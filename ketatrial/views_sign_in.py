"""Sign-in pages: the password, then the second factor where the kind of account needs one
(participants/sign_in.py; the access middleware sends such a user here from every other page)."""

from __future__ import annotations

from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from ketatrial.forms_sign_in import SecondFactorForm, SignInForm
from participants import sign_in
from participants.access import before_second_factor, public


def _demo_context() -> dict[str, Any]:
    """The demo (DEBUG, `make run`) says the second factor is on and where its secrets are."""
    if not (settings.DEBUG and settings.OTP_REQUIRED_FOR):
        return {}
    return {"demo_second_factor": sign_in.required_for_labels()}


class SignInView(LoginView):
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **_demo_context()}


login_view = public(SignInView.as_view())


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return str(settings.LOGIN_REDIRECT_URL)


@before_second_factor
@never_cache
def second_factor(request: HttpRequest) -> HttpResponse:
    """The code of the person's authenticator app; the first time, set the app up from the QR code
    (or the secret typed in) and confirm it with a code. Open to every signed-in user: the
    statistician needs it for an API token."""
    user = request.user
    next_url = _next_url(request)
    if sign_in.second_factor_passed(user):
        return redirect(next_url)
    enrolling = sign_in.confirmed_device(user) is None  # type: ignore[arg-type]
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if enrolling:
            device = sign_in.enrolment_confirm(user=user, token=token)  # type: ignore[arg-type]
        else:
            device = sign_in.second_factor_verify(user=user, token=token)  # type: ignore[arg-type]
        if device is not None:
            # A new session key for the raised privilege (no session fixation across the step).
            request.session.cycle_key()
            django_otp.login(request, device)
            if enrolling:
                messages.success(request, _("Your authenticator app is set up."))
            return redirect(next_url)
        wait = sign_in.second_factor_wait_seconds(user, confirmed=not enrolling)  # type: ignore[arg-type]
        if wait:
            form.add_error(
                "token",
                _("That code is not right. Wait %(seconds)d seconds, then type the newest code.")
                % {"seconds": wait},
            )
        else:
            form.add_error("token", _("That code is not right: type the newest code the app shows."))
    context: dict[str, Any] = {"form": form, "next": next_url, "enrolling": enrolling, **_demo_context()}
    if enrolling:
        device = sign_in.enrolment_device(user)  # type: ignore[arg-type]
        context.update(
            secret=sign_in.secret_base32(device),
            otpauth_uri=sign_in.otpauth_uri(device),
            qr_code=sign_in.qr_code_data_uri(device),
        )
    return render(request, "registration/second_factor.html", context)
