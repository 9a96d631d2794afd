"""The sign-in forms: password (refused once the account's access has ended) and the code of the
authenticator app (the second factor)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from participants.sign_in import access_until, account_expired, expired_message


class SignInForm(AuthenticationForm):
    """Username and password; an account past its last day of access is refused with the date, so
    the person knows whom to ask (only after the right password: it tells nothing to a guesser)."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if account_expired(user, today=timezone.localdate()):
            raise ValidationError(expired_message(access_until(user)), code="expired")  # type: ignore[arg-type]


class SecondFactorForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the authenticator app"),
        max_length=10,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "class": "form-control",
            }
        ),
        help_text=_("Six digits; a new code every 30 seconds."),
    )

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split())
        if not (token.isdigit() and len(token) == 6):
            raise ValidationError(_("Type the six digits the app shows."), code="format")
        return token
