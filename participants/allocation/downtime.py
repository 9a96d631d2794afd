"""The downtime code-break list (issue 15, item 8): a printed, sealed copy of the allocation for the
unblinded pharmacist, one page per participant (an envelope each), so that an approved emergency
unblinding can still be executed while the system is down.

It reads the allocation, so it lives here, behind both blinding keys; every print is written to the
allocation-view log (ketatrial/allocation_log.py) before the document is made. The pages say how to
keep and open them; an envelope opened during a downtime is recorded in the system as an emergency
unblinding once it is back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from ketatrial.allocation_log import log_allocation_view
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants.allocation.access import (
    PRODUCT_KETAMINE,
    allocation_table,
    product_for,
    require_unblinded,
)
from participants.models import Participant


@dataclass(frozen=True)
class CodeBreakEntry:
    """One envelope: the participant's neutral codes and what each period gives."""

    participant_code: str
    site_code: str
    randomization_number: str
    kit_code: str
    allocation_code: str
    periods: tuple[tuple[int, str, int], ...]  # (period, product in words, infusions)


def _product_words(product: str) -> str:
    if product == PRODUCT_KETAMINE:
        return _("Ketamine hydrochloride %(dose)s mg/kg IV over %(minutes)s min") % {
            "dose": protocol().dose_mg_per_kg,
            "minutes": protocol().infusion_minutes,
        }
    return _("Placebo: %(saline)s, same volume and pump rate") % {"saline": "NaCl 0.9 %"}


def code_break_entries(user: Any, participant: Participant | None = None) -> list[CodeBreakEntry]:
    """The envelopes of every randomized participant (or of one), by participant ID; only for the
    unblinded pharmacist."""
    require_unblinded(user)
    p = protocol()
    entries = []
    for row in allocation_table(user):
        if participant is not None and row.participant.pk != participant.pk:
            continue
        periods = tuple(
            (
                period,
                _product_words(product_for(row.sequence, period)),
                len(p.period1_infusion_days if period == 1 else p.period2_infusion_days(row.sequence)),
            )
            for period in (1, 2)
        )
        entries.append(
            CodeBreakEntry(
                participant_code=row.participant.code,
                site_code=row.participant.site.code,
                randomization_number=row.randomization_number,
                kit_code=row.kit_code,
                allocation_code=row.sequence,
                periods=periods,
            )
        )
    return sorted(entries, key=lambda e: e.participant_code)


def code_break_pdf(request: HttpRequest, *, now: datetime, participant: Participant | None = None) -> bytes:
    """The sealed code-break list as a PDF, one page per participant; the print is logged first."""
    require_unblinded(request.user)
    entries = code_break_entries(request.user, participant)
    log_allocation_view(request, "code_break_list", participant)
    html = render_to_string(
        "conduct/code_break_pdf.html",
        {
            "entries": entries,
            "printed_at": local_minute(now),
            "printed_by": request.user.get_username(),
            "protocol_version": protocol().version,
        },
    )
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    return HTML(string=html).write_pdf()
