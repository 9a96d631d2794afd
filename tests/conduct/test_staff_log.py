"""The delegation and training log: tasks in the capability vocabulary of the role, signed off by
the principal investigator, kept by the data manager, exported as CSV for an inspection."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from conduct import services
from conduct.models import TASK_LABELS, Delegation
from conduct.selectors import delegation_in_force
from participants.roles import ROLE_PERMISSIONS

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=MX)


def test_every_capability_has_its_words_in_the_log() -> None:
    assert set(TASK_LABELS) == {c for caps in ROLE_PERMISSIONS.values() for c in caps}


def _values(staff, **changes: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "staff": staff,
        "role": "infusion_physician",
        "tasks": ["record_infusions"],
        "starts_on": date(2026, 3, 1),
        "ends_on": None,
        **changes,
    }


def test_a_delegation_counts_once_signed_and_a_change_asks_for_a_new_signature(
    data_manager, principal_investigator, infusion_physician
) -> None:
    line = services.delegation_add(values=_values(infusion_physician), by=data_manager)
    assert not delegation_in_force(line, NOW.date())
    with pytest.raises(PermissionDenied):
        services.delegation_sign(delegation=line, by=data_manager, now=NOW)
    signed = services.delegation_sign(delegation=line, by=principal_investigator, now=NOW)
    assert delegation_in_force(signed, NOW.date())
    assert not delegation_in_force(signed, date(2026, 2, 28))
    changed = services.delegation_update(
        delegation=signed,
        values=_values(infusion_physician, ends_on=date(2026, 6, 30)),
        reason="contract ends",
        by=data_manager,
    )
    assert changed.signed_at is None and changed.signed_by is None
    assert changed.history.first().history_change_reason == "contract ends"


def test_tasks_outside_the_role_and_days_out_of_order_are_refused(data_manager, infusion_physician) -> None:
    with pytest.raises(ValidationError) as outside:
        services.delegation_add(
            values=_values(infusion_physician, tasks=["record_infusions", "view_allocation"]), by=data_manager
        )
    assert "view_allocation" in str(outside.value.message_dict["tasks"])
    with pytest.raises(ValidationError) as order:
        services.delegation_add(values=_values(infusion_physician, ends_on=date(2026, 2, 1)), by=data_manager)
    assert "ends_on" in order.value.message_dict
    assert not Delegation.objects.exists()


def test_the_log_is_the_data_managers_and_the_principal_investigators(
    data_manager, principal_investigator, infusion_physician, client_for, make_user
) -> None:
    page = reverse("conduct:staff_log")
    dm = client_for(data_manager)
    post = {
        "staff": infusion_physician.pk,
        "role": "infusion_physician",
        "tasks": ["record_infusions"],
        "starts_on": "2026-03-01",
    }
    assert dm.post(reverse("conduct:delegation_add"), post).status_code == 302
    line = Delegation.objects.get()
    # No sign-off button for the data manager; the PI signs.
    assert reverse("conduct:delegation_sign", args=[line.pk]) not in dm.get(page).content.decode()
    assert dm.post(reverse("conduct:delegation_sign", args=[line.pk])).status_code == 403
    pi = client_for(principal_investigator)
    assert reverse("conduct:delegation_sign", args=[line.pk]) in pi.get(page).content.decode()
    assert pi.post(reverse("conduct:delegation_sign", args=[line.pk])).status_code == 302
    training = {
        "staff": infusion_physician.pk,
        "course": "=GCP refresher",
        "completed_on": "2026-02-10",
        "certificate": "GCP-123",
    }
    assert dm.post(reverse("conduct:training_add"), training).status_code == 302
    for role in ("monitor", "coordinator", "rater", "statistician"):
        assert client_for(make_user(f"{role}_x", role)).get(page).status_code == 403, role
    export = dm.get(reverse("conduct:staff_log_csv"))
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    delegation_row = next(r for r in rows if r["record"] == "delegation")
    assert delegation_row["staff"] == infusion_physician.username
    assert delegation_row["signed_off_by"] == principal_investigator.username
    assert delegation_row["tasks"] == "record_infusions"
    training_row = next(r for r in rows if r["record"] == "training")
    assert training_row["course"] == "'=GCP refresher"  # never a spreadsheet formula
    assert training_row["certificate"] == "GCP-123"


def test_a_refused_delegation_keeps_what_was_typed(data_manager, infusion_physician, client_for) -> None:
    response = client_for(data_manager).post(
        reverse("conduct:delegation_add"),
        {
            "staff": infusion_physician.pk,
            "role": "infusion_physician",
            "tasks": ["view_allocation"],
            "starts_on": "2026-03-01",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "not part of the role" in body and 'value="2026-03-01"' in body
