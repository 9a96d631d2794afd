"""System checks of the outcomes app: refuse to start without what exports need."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def check_export_pseudonym_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Keyed pseudonyms and date shifts need their own secret: without it (or with a short one, or
    one shared with another purpose) a pseudonym could be recomputed from the participant code."""
    key = getattr(settings, "EXPORT_PSEUDONYM_KEY", "") or ""
    if not key:
        return [Error("EXPORT_PSEUDONYM_KEY must be set when DEBUG is off.", id="outcomes.E001")]
    if settings.DEBUG:
        return []
    if len(key) < 32:
        return [Error("EXPORT_PSEUDONYM_KEY must be at least 32 characters.", id="outcomes.E001")]
    others = {
        name
        for name in ("SECRET_KEY", "AUDIT_CHAIN_KEY", "BACKUP_ENCRYPTION_KEY")
        if key == (getattr(settings, name, "") or "")
    }
    if others:
        return [
            Error(
                f"EXPORT_PSEUDONYM_KEY must differ from {', '.join(sorted(others))}.",
                id="outcomes.E001",
            )
        ]
    return []
