"""Adverse events through the real service, for the safety tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from infusions import services
from infusions.models import AdverseEvent


@pytest.fixture
def report(infusion_physician) -> Callable[..., AdverseEvent]:  # type: ignore[no-untyped-def]
    """Report an adverse event for a participant (no infusion visit needed), non-serious unless
    criteria are given."""

    def make(participant: Any, **values: Any) -> AdverseEvent:
        now = values.pop("now", timezone.now())
        fields: dict[str, Any] = {
            "term": "Headache",
            "category": "Nervous system",
            "onset": now - timedelta(hours=1),
            "severity": "mild",
            "relatedness": "possible",
            "action": "none",
            "outcome": "recovering",
        }
        fields.update(values)
        if fields.get("seriousness_criteria"):
            fields.setdefault("narrative", "Seen at the chair; treated; observed until stable.")
            fields.setdefault("expectedness", "unexpected")
        return services.adverse_event_record(
            participant=participant,
            visit=None,
            by=values.get("by", infusion_physician),
            now=now,
            **{k: v for k, v in fields.items() if k != "by"},
        )

    return make
