"""Screening-log display: a screen failure's reasons from its codes, in the reader's language."""

from __future__ import annotations

from django import template

from participants.models import ScreeningRecord
from participants.selectors import screening_failure_labels

register = template.Library()


@register.filter
def screening_reasons(record: ScreeningRecord) -> str:
    if record.outcome == ScreeningRecord.Outcome.SCREEN_FAILURE and record.failure_codes:
        return "; ".join(screening_failure_labels(record))
    return record.outcome_reason
