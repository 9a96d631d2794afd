"""The client's address, for the login lockout (django-axes: AXES_CLIENT_IP_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address the request came from. Behind the TLS proxy (settings.USE_X_FORWARDED_FOR,
    on when DEBUG is off) it is the right-most X-Forwarded-For entry, the one the proxy itself
    wrote (Caddy replaces whatever a client sends); without the header, REMOTE_ADDR."""
    if settings.USE_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1]
    return str(request.META.get("REMOTE_ADDR", ""))
