"""The eight roles of the protocol and the capabilities each grants.

Roles are Django groups named by the role code; a migration creates them with these permissions
and a system check verifies the database still matches this table.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PHARMACIST,
    PRINCIPAL_INVESTIGATOR,
    RATER,
    ROLES,
    STATISTICIAN,
)

ROLE_LABELS = {
    RATER: _("Rater (psychiatrist)"),
    INFUSION_PHYSICIAN: _("Infusion physician"),
    COORDINATOR: _("Coordinator"),
    PHARMACIST: _("Pharmacist (unblinded)"),
    STATISTICIAN: _("Statistician"),
    DATA_MANAGER: _("Data manager"),
    PRINCIPAL_INVESTIGATOR: _("Principal investigator"),
    MONITOR: _("Monitor"),
}

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    RATER: ("rate_participants",),
    INFUSION_PHYSICIAN: ("record_infusions", "view_participants"),
    COORDINATOR: ("manage_enrollment", "manage_schedule", "view_participants"),
    PHARMACIST: ("view_allocation", "prepare_doses", "execute_unblinding", "view_participants"),
    STATISTICIAN: ("export_data",),
    DATA_MANAGER: ("export_data", "manage_users", "review_audit", "manage_queries", "view_participants"),
    PRINCIPAL_INVESTIGATOR: (
        "lock_database",
        "request_unblinding",
        "review_audit",
        "sign_off",
        "view_participants",
    ),
    MONITOR: ("review_audit", "verify_source", "view_participants"),
}

assert set(ROLE_PERMISSIONS) == set(ROLES)


def sync_role_groups(group_model: Any, permission_model: Any) -> None:
    """Create or update every role group with exactly its capabilities.

    Takes the model classes so that the migration (historical models) and the test set-up after a
    database flush use the same code.
    """
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=role)
        group.permissions.set(
            permission_model.objects.filter(content_type__app_label="ketatrial", codename__in=codenames)
        )
