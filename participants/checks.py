"""Start-up checks of the roles and the unblinded users."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError

from ketatrial.protocol import PHARMACIST, RATER
from participants.roles import ROLE_PERMISSIONS


@register()
def check_second_factor_setting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """OTP_REQUIRED_FOR names only roles and the two kinds of account participants.sign_in knows:
    a misspelt entry would silently leave its accounts without a second factor."""
    from participants.sign_in import OTP_REQUIRED_FOR_CHOICES

    unknown = sorted(set(settings.OTP_REQUIRED_FOR) - set(OTP_REQUIRED_FOR_CHOICES))
    if unknown:
        return [
            Error(
                f"OTP_REQUIRED_FOR names unknown kinds of account: {unknown}.",
                hint=f"Use any of {list(OTP_REQUIRED_FOR_CHOICES)}.",
                id="participants.E010",
            )
        ]
    return []


@register("database")
def check_roles_match_definition(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every role group exists with exactly the capabilities of participants.roles."""
    from django.contrib.auth.models import Group

    messages: list[CheckMessage] = []
    try:
        groups = {g.name: g for g in Group.objects.prefetch_related("permissions")}
    except DatabaseError:
        return []
    for role, capabilities in ROLE_PERMISSIONS.items():
        group = groups.get(role)
        if group is None:
            messages.append(Error(f"Role group '{role}' is missing; run migrate.", id="participants.E001"))
            continue
        held = {p.codename for p in group.permissions.all()}
        if held != set(capabilities):
            messages.append(
                Error(
                    f"Role '{role}' has permissions {sorted(held)}, expected {sorted(capabilities)}.",
                    id="participants.E002",
                )
            )
    return messages


@register("database")
def check_unblinded_users(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each name in UNBLINDED_USERNAMES should be an active pharmacist and never a rater."""
    from django.contrib.auth import get_user_model

    messages: list[CheckMessage] = []
    user_model = get_user_model()
    try:
        if not settings.UNBLINDED_USERNAMES or not user_model.objects.exists():
            return []  # a fresh database: nobody to check yet
        users = {
            u.username: u
            for u in user_model.objects.filter(username__in=settings.UNBLINDED_USERNAMES).prefetch_related(
                "groups"
            )
        }
    except DatabaseError:
        return []
    for name in settings.UNBLINDED_USERNAMES:
        user = users.get(name)
        if user is None:
            messages.append(
                Warning(f"UNBLINDED_USERNAMES lists '{name}', who does not exist.", id="participants.W001")
            )
            continue
        roles = {g.name for g in user.groups.all()}
        if RATER in roles:
            messages.append(Error(f"'{name}' is a rater and may not be unblinded.", id="participants.E003"))
        elif PHARMACIST not in roles:
            messages.append(
                Warning(f"'{name}' is listed as unblinded but is not a pharmacist.", id="participants.W002")
            )
    return messages


@register("database")
def check_allocation_list_checksum(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The active allocation list still matches the checksum taken when it was stored."""
    from participants.allocation import allocation_list_active, allocation_list_verify

    try:
        allocation_list = allocation_list_active()
        if allocation_list is None or allocation_list_verify(allocation_list):
            return []
    except DatabaseError:
        return []
    return [
        Error(
            f"Allocation list {allocation_list.pk} does not match its stored checksum: it was altered.",
            id="participants.E004",
        )
    ]
