from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from participants.access import user_roles
from participants.roles import ROLE_LABELS


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's roles, each with its home page, for the navigation bar."""
    roles = sorted(user_roles(request.user), key=list(ROLE_LABELS).index)
    return {
        "nav_roles": [(role, ROLE_LABELS[role], reverse("role_home", args=[role])) for role in roles],
        "inactivity_timeout_seconds": settings.INACTIVITY_TIMEOUT_SECONDS,
    }
