"""Blank paper forms for a downtime (issue 15, item 8): the rating scales, the vital signs and the
infusion session, printed in advance and kept at the site. They are blank (no participant, no
schedule), so a print tells nothing of anyone's allocation; the rating forms, like the rater's
pages, name no period or infusion. Each form asks for the real times, which are typed in later
with "entering paper forms" switched on (conduct/paper.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinimetry import scales
from clinimetry.items import item_table
from infusions import dissociation
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol

# Form -> (title, the capabilities that may print it).
FORMS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "hdrs17": (_("HDRS-17 rating (paper)"), ("rate_participants",)),
    "madrs": (_("MADRS rating (paper)"), ("rate_participants",)),
    "vitals": (_("Vital signs during an infusion (paper)"), ("record_infusions",)),
    "session": (_("Infusion session, CADSS and BPRS+ (paper)"), ("record_infusions",)),
}


BPRS_NAMES = {
    "suspiciousness": _("Suspiciousness"),
    "hallucinatory_behaviour": _("Hallucinatory behaviour"),
    "unusual_thought_content": _("Unusual thought content"),
    "conceptual_disorganization": _("Conceptual disorganization"),
}


def _rating_items(key: str) -> list[dict[str, Any]]:
    scale = scales.get(key)
    table = item_table(key)
    items = []
    for item in scale.items:
        name, _es, guide = table[item.code]
        items.append(
            {
                "code": item.code,
                "name": gettext(name),
                "choices": [
                    (score, gettext(guide[score][0]) if score in guide else gettext("not assessed"))
                    for score in item.choices
                ],
            }
        )
    return items


def _vitals_rows() -> list[str]:
    return [gettext("Before the start")] + [
        gettext("%(minute)s min") % {"minute": m} for m in protocol().vitals_minutes
    ]


def paper_form_context(kind: str, *, now: datetime) -> dict[str, Any]:
    """What a blank form prints."""
    if kind not in FORMS:
        raise ValueError(f"unknown paper form {kind!r}")
    p = protocol()
    context: dict[str, Any] = {
        "kind": kind,
        "title": FORMS[kind][0],
        "printed_at": local_minute(now),
        "protocol_version": p.version,
    }
    if kind in ("hdrs17", "madrs"):
        context["items"] = _rating_items(kind)
    elif kind == "vitals":
        context["rows"] = _vitals_rows()
        context["thresholds"] = {
            "systolic": p.alert_systolic_above,
            "diastolic": p.alert_diastolic_above,
            "hr_above": p.alert_heart_rate_above,
            "hr_below": p.alert_heart_rate_below,
            "spo2": p.alert_spo2_below,
        }
    else:
        from infusions.services import PRECHECKS

        context["prechecks"] = [str(label) for _key, label in PRECHECKS]
        context["pregnancy_hours"] = p.pregnancy_test_hours
        context["infusion_minutes"] = p.infusion_minutes
        context["observation_minutes"] = p.observation_minutes_min
        context["cadss_items"] = range(1, dissociation.CADSS_ITEMS + 1)
        context["cadss_scores"] = range(dissociation.CADSS_MAX_ITEM + 1)
        context["bprs_items"] = [BPRS_NAMES[name] for name in dissociation.BPRS_POSITIVE_ITEMS]
        context["dissociation_minutes"] = p.dissociation_minutes
    return context


def paper_form_pdf(kind: str, *, now: datetime) -> bytes:
    """The blank form as a PDF."""
    html = render_to_string("conduct/paper_form_pdf.html", paper_form_context(kind, now=now))
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    return HTML(string=html).write_pdf()
