"""System checks that refuse a misconfigured trial at start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver

from ketatrial.protocol import ProtocolError, load_overrides, protocol_with_overrides
from participants.access import view_declaration


@register()
def check_protocol(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The protocol overrides file must exist and name only known parameters of the right kind."""
    try:
        p = protocol_with_overrides(load_overrides(settings.PROTOCOL_OVERRIDES_FILE))
    except (OSError, ValueError, ProtocolError, TypeError) as exc:
        return [Error(f"Protocol overrides are invalid: {exc}", id="ketatrial.E001")]
    if p.missed_infusion_made_up:
        return [
            Error(
                "missed_infusion_made_up is not implemented: the schedule follows the protocol default "
                "(a missed infusion is not made up).",
                id="ketatrial.E004",
            )
        ]
    from infusions.dosing import DosingError, weight_range

    try:
        weight_range(p.weight_min_kg, p.weight_max_kg)
    except DosingError as exc:  # a range that is empty or not positive would refuse every dose
        return [Error(f"The plausible weight range cannot be used: {exc}.", id="ketatrial.E005")]
    return []


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue
            found.extend(_walk(pattern.url_patterns, prefix + str(pattern.pattern)))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern.callback))
    return found


@register(Tags.security, Tags.urls)
def check_every_view_declares_access(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Deny by default: a view without an access declaration would be refused; say so early."""
    errors = []
    for route, callback in _walk(get_resolver().url_patterns):
        module = getattr(callback, "__module__", "")
        if module.startswith("django.contrib.staticfiles") or module.startswith("django.views.static"):
            continue
        if view_declaration(callback) is None:
            errors.append(Error(f"View for '{route}' declares no access rule.", id="ketatrial.E002"))
    return errors


@register(Tags.security)
def check_identity_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Identifying data cannot be stored without a valid encryption key."""
    from cryptography.fernet import Fernet

    if not settings.IDENTITY_ENCRYPTION_KEYS:
        return [Error("IDENTITY_ENCRYPTION_KEYS must be set when DEBUG is off.", id="ketatrial.E003")]
    try:
        for key in settings.IDENTITY_ENCRYPTION_KEYS:
            Fernet(key.encode())
    except (ValueError, TypeError):
        return [
            Error("IDENTITY_ENCRYPTION_KEYS holds a value that is not a Fernet key.", id="ketatrial.E003")
        ]
    return []


@register(Tags.security)
def check_audit_chain_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The audit chain cannot be written or verified without its key."""
    key = getattr(settings, "AUDIT_CHAIN_KEY", "")
    if not key:
        return [Error("AUDIT_CHAIN_KEY must be set when DEBUG is off.", id="ketatrial.E010")]
    if not settings.DEBUG and len(key) < 32:
        return [Error("AUDIT_CHAIN_KEY must be at least 32 characters.", id="ketatrial.E010")]
    return []
