"""The syringe-scan block of the infusion session page (its own tag, so the page's view and the
block stay apart)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from infusions.forms_scan import SyringeScanForm
from participants import allocation

register = template.Library()


@register.inclusion_tag("infusions/_syringe_scan.html", takes_context=True)
def syringe_scan_block(context: template.Context) -> dict[str, Any]:
    """The scan field and this infusion's scans so far (codes and outcomes: nothing of the
    content, the same for both products)."""
    visit = context["visit"]
    return {
        "form": context.get("scan_form") or SyringeScanForm(),
        "action": reverse("infusions:session_scan", args=[visit.participant_id, visit.period, visit.number]),
        "scans": allocation.syringe_scans(visit.participant, visit.period, visit.number),
        "csrf_token": context.get("csrf_token"),
    }
