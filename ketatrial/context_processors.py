from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from ketatrial.selectors import notification_unread_count
from participants.access import user_roles
from participants.roles import ROLE_LABELS


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's roles, each with its home page, and the count of notifications
    waiting for acknowledgement, for the navigation bar."""
    roles = sorted(user_roles(request.user), key=list(ROLE_LABELS).index)
    return {
        "nav_roles": [(role, ROLE_LABELS[role], reverse("role_home", args=[role])) for role in roles],
        "inactivity_timeout_seconds": settings.INACTIVITY_TIMEOUT_SECONDS,
        # Called by the template when it shows the badge: pages that do not, query nothing.
        "unread_notifications": partial(notification_unread_count, request.user),
    }
