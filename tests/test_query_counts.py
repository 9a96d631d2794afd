"""List and calendar pages read in a fixed number of queries, whatever the trial's size: the same
count with 10 and with 200 scheduled participants (zulip's query-count guard)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from infusions import services as infusion_services
from ketatrial.protocol import ROLES
from participants import allocation
from tests.factories import randomized

SIZES = (10, 200)


def _grow_to(n: int, coordinator, pharmacist, day1) -> list:  # type: ignore[no-untyped-def]
    from participants.models import Participant

    now = timezone.now() - timedelta(days=3)
    if allocation.allocation_list_active() is None:
        allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=max(SIZES) + 10, seed=5)
    while Participant.objects.count() < n:
        person = randomized(coordinator, now=now)
        infusion_services.schedule_set(participant=person, day1=day1, by=coordinator, now=now)
    return list(Participant.objects.order_by("pk"))


def _add_work(personas, person) -> None:  # type: ignore[no-untyped-def]
    """One more of each thing a home page lists, at each size: a notification for everyone, an
    overdue query, a finished participant whose casebook waits for the signature."""
    from ketatrial.notifications import notify
    from participants.services import participant_disposition
    from review.services import query_raise

    now = timezone.now()
    notify(recipients=list(personas.values()), subject="Worklist", body="b", url="", now=now)
    query_raise(
        by=personas["data_manager"],
        label="participants.participant",
        record_id=str(person.pk),
        field="height_cm",
        text="Height?",
        now=now,
        due_date=timezone.localdate() - timedelta(days=1),
    )
    participant_disposition(
        participant=person,
        status="completed",
        on=timezone.localdate(),
        reason="",
        by=personas["coordinator"],
        now=now,
    )


def _count(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.fixture(autouse=True)
def _unblinded_pharmacist(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]


@pytest.mark.django_db(transaction=False)
def test_list_and_calendar_pages_make_as_many_queries_at_200_participants_as_at_10(
    personas, client_for
) -> None:
    coordinator, pharmacist = personas["coordinator"], personas["pharmacist"]
    day1 = timezone.localdate() - timedelta(days=1)
    pages = {
        "rater task list": ("rater", reverse("clinimetry:tasks")),
        "calendar week": ("coordinator", reverse("infusions:calendar") + "?view=week"),
        "calendar month": ("coordinator", reverse("infusions:calendar") + "?view=month"),
        "participant list": ("coordinator", reverse("participants:list")),
        "data manager's participant list": ("data_manager", reverse("participants:list")),
        "audit trail": ("data_manager", reverse("audit_index")),
        "audit trail, page 2": ("monitor", reverse("audit_index") + "?page=2"),
        "audit trail of changes by coordinators": (
            "principal_investigator",
            reverse("audit_index") + "?action=~&role=coordinator",
        ),
        "log of views of the allocation": ("data_manager", reverse("allocation_views")),
        # Each role's home page: its worklist for today and what is overdue.
        **{f"{role}'s home": (role, reverse("role_home", args=[role])) for role in ROLES},
    }
    counts: dict[str, list[int]] = {name: [] for name in pages}
    for size in SIZES:
        people = _grow_to(size, coordinator, pharmacist, day1)
        _add_work(personas, people[-2])
        for name, (role, url) in pages.items():
            counts[name].append(_count(client_for(personas[role]), url))
        # One participant's own pages, for the last one enrolled.
        last = people[-1]
        for name, (role, url) in {
            "participant page": ("coordinator", reverse("participants:detail", args=[last.pk])),
            "participant timeline": ("coordinator", reverse("infusions:timeline", args=[last.pk])),
            "participant ratings": ("data_manager", reverse("clinimetry:participant", args=[last.pk])),
            "participant's audit trail": (
                "data_manager",
                reverse("audit_index") + f"?participant={last.code}",
            ),
        }.items():
            counts.setdefault(name, []).append(_count(client_for(personas[role]), url))
    unequal = {name: c for name, c in counts.items() if c[0] != c[1]}
    assert not unequal, unequal
