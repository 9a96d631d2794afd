"""The protocol in force for this deployment (defaults plus the settings' overrides file)."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings

from ketatrial.protocol import Protocol, load_overrides, protocol_with_overrides


@cache
def overrides() -> dict[str, Any]:
    return load_overrides(settings.PROTOCOL_OVERRIDES_FILE)


@cache
def protocol() -> Protocol:
    """The protocol definition every part of the application reads."""
    return protocol_with_overrides(overrides())
