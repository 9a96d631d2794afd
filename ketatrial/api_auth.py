"""API authentication (Django REST framework) with the sign-in rules of the pages: an expired
account is refused, and a session counts only once it passed the second factor where one is
required (the API views are not behind the access middleware: they authenticate themselves)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from participants.sign_in import account_expired, second_factor_passed, second_factor_required


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, refused once the account's last day of access has passed."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        if account_expired(user, today=timezone.localdate()):
            raise exceptions.AuthenticationFailed(_("This account's access has ended."))
        return user, token


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, only when the page rules would let it through: not expired, and
    past the second factor when the user's kind of account needs one."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if account_expired(user, today=timezone.localdate()):
            return None
        if second_factor_required(user) and not second_factor_passed(user):
            return None
        return result


class SessionScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema describes the session above as drf-spectacular does DRF's own (the token
    class above is a subclass of DRF's, which drf-spectacular already matches)."""

    target_class = "ketatrial.api_auth.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
