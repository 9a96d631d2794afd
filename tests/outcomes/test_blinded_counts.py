"""Counts a strictly blinded reader sees move only in batches: one participant entering
follow-up (KP's period 2 ends weeks before PK's) must not show on the statistician's CONSORT
diagram before release, while exposed readers see it at once."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clinimetry.examples import signed_rating
from infusions import services as infusion_services
from ketatrial.audit import clinical_create
from outcomes import consort
from participants import allocation
from tests.factories import randomized


@pytest.fixture(autouse=True)
def _unblinded_pharmacist(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]


def test_batched_rounds_down_to_whole_batches() -> None:
    assert [consort.batched(n, 10) for n in (0, 1, 9, 10, 11, 19, 20, 37)] == [0, 0, 0, 10, 10, 10, 20, 30]


@pytest.mark.django_db
def test_one_participant_entering_follow_up_moves_no_count_the_statistician_sees(
    coordinator, pharmacist, rater, statistician, data_manager, client_for
) -> None:
    at = timezone.now() - timedelta(days=200)
    allocation.allocation_list_generate(by=pharmacist, now=at, n_per_stratum=20, seed=3)
    people = []
    for _ in range(3):
        person = randomized(coordinator, now=at)
        infusion_services.schedule_set(
            participant=person, day1=at.date() + timedelta(days=2), by=coordinator, now=at
        )
        people.append(person)

    def diagram(user) -> str:  # type: ignore[no-untyped-def]
        html = client_for(user).get(reverse("outcomes:consort")).content.decode()
        return re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", html)

    before = {"statistician": diagram(statistician), "data_manager": diagram(data_manager)}
    when = datetime.combine(at.date() + timedelta(days=120), time(10), tzinfo=timezone.get_current_timezone())
    clinical_create(
        signed_rating(people[0], rater, "madrs", "fu-week-1", 3, 12, when), by=rater, reason="entered"
    )
    assert diagram(statistician) == before["statistician"]
    assert diagram(data_manager) != before["data_manager"]
    assert consort.counts(unblinded=False)["arms"]["pooled"]["followup"] == 1
    assert consort.counts(unblinded=False, batch=10)["arms"]["pooled"]["followup"] == 0


@pytest.mark.django_db
def test_a_planted_count_leak_is_caught(
    coordinator, pharmacist, rater, statistician, client_for, monkeypatch
) -> None:
    """With the batching planted away, the same single step shows on the statistician's diagram."""
    monkeypatch.setattr(consort, "batched", lambda n, size: n)
    at = timezone.now() - timedelta(days=200)
    allocation.allocation_list_generate(by=pharmacist, now=at, n_per_stratum=20, seed=3)
    person = randomized(coordinator, now=at)
    infusion_services.schedule_set(
        participant=person, day1=at.date() + timedelta(days=2), by=coordinator, now=at
    )
    before = client_for(statistician).get(reverse("outcomes:consort")).content.decode()
    when = datetime.combine(at.date() + timedelta(days=120), time(10), tzinfo=timezone.get_current_timezone())
    clinical_create(
        signed_rating(person, rater, "madrs", "fu-week-1", 3, 12, when), by=rater, reason="entered"
    )
    after = client_for(statistician).get(reverse("outcomes:consort")).content.decode()
    strip = re.compile(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"')
    assert strip.sub("", before) != strip.sub("", after)
