"""What each role's home page and navigation list: (label, url name) per role."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PHARMACIST,
    PRINCIPAL_INVESTIGATOR,
    RATER,
    STATISTICIAN,
)

ROLE_WORK: dict[str, tuple[tuple[object, str], ...]] = {
    RATER: (
        (_("Assessment tasks"), "clinimetry:tasks"),
        (_("Queries"), "review:queries"),
        (_("Downtime procedure"), "conduct:downtime"),
    ),
    INFUSION_PHYSICIAN: (
        (_("Calendar"), "infusions:calendar"),
        (_("Participants"), "participants:list"),
        (_("Calendar feed (iCal)"), "infusions:feed_settings"),
        (_("Queries"), "review:queries"),
        (_("Downtime procedure"), "conduct:downtime"),
    ),
    COORDINATOR: (
        (_("Screening log"), "participants:screening_list"),
        (_("Participants"), "participants:list"),
        (_("Calendar"), "infusions:calendar"),
        (_("Calendar feed (iCal)"), "infusions:feed_settings"),
        (_("Queries"), "review:queries"),
        (_("Downtime procedure"), "conduct:downtime"),
    ),
    PHARMACIST: (
        (_("Notifications"), "safety:notifications"),
        (_("Allocation and preparations"), "participants:pharmacy"),
        (_("Drug accountability"), "participants:accountability"),
        (_("Participants"), "participants:list"),
        (_("Downtime procedure"), "conduct:downtime"),
    ),
    STATISTICIAN: (
        (_("Exports"), "outcomes:exports"),
        (_("Analyses"), "outcomes:analyses"),
        (_("Database lock"), "outcomes:lock"),
        (_("CONSORT flow diagram"), "outcomes:consort"),
    ),
    DATA_MANAGER: (
        (_("Queries"), "review:queries"),
        (_("Casebooks"), "review:casebooks"),
        (_("Protocol deviations"), "review:deviations"),
        (_("Safety"), "safety:summary"),
        (_("Users and roles"), "participants:users"),
        (_("Delegation and training log"), "conduct:staff_log"),
        (_("Downtime procedure"), "conduct:downtime"),
        (_("Audit trail"), "audit_index"),
        (_("Views of the allocation"), "allocation_views"),
        (_("Participants"), "participants:list"),
        (_("System status"), "system_status"),
        (_("MRS quality"), "spectroscopy:qc"),
        (_("Database lock"), "outcomes:lock"),
        (_("Exports"), "outcomes:exports"),
        (_("Analyses"), "outcomes:analyses"),
    ),
    PRINCIPAL_INVESTIGATOR: (
        (_("Safety"), "safety:summary"),
        (_("Notifications"), "safety:notifications"),
        (_("Casebooks"), "review:casebooks"),
        (_("Queries"), "review:queries"),
        (_("Protocol deviations"), "review:deviations"),
        (_("Participants"), "participants:list"),
        (_("Emergency unblinding requests"), "participants:unblinding_list"),
        (_("Delegation and training log"), "conduct:staff_log"),
        (_("Downtime procedure"), "conduct:downtime"),
        (_("Audit trail"), "audit_index"),
        (_("Views of the allocation"), "allocation_views"),
        (_("Database lock"), "outcomes:lock"),
        (_("Analyses"), "outcomes:analyses"),
        (_("CONSORT flow diagram"), "outcomes:consort"),
    ),
    MONITOR: (
        (_("Casebooks"), "review:casebooks"),
        (_("Queries"), "review:queries"),
        (_("Protocol deviations"), "review:deviations"),
        (_("Safety"), "safety:summary"),
        (_("Participants"), "participants:list"),
        (_("Audit trail"), "audit_index"),
        (_("Analyses"), "outcomes:analyses"),
        (_("CONSORT flow diagram"), "outcomes:consort"),
    ),
}


def role_links(role: str) -> list[tuple[object, str]]:
    """The role's work links whose pages exist, as (label, url)."""
    links = []
    for label, name in ROLE_WORK.get(role, ()):
        try:
            links.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return links
