"""A small randomized trial with signed ratings written straight to the records, with a known
effect: among KP participants (ketamine in period 1) three of four respond at 4 h after
infusion 1, among PK participants one of four."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clinimetry.examples import signed_rating
from clinimetry.models import Assessment
from ketatrial.audit import clinical_create
from participants import allocation
from participants.models import AllocationSlot, Participant
from tests.factories import enrolled


def rate(person: Participant, rater, instrument: str, code: str, period: int, total: int, when) -> Assessment:  # type: ignore[no-untyped-def]
    return clinical_create(
        signed_rating(person, rater, instrument, code, period, total, when), by=rater, reason="entered"
    )


@pytest.fixture
def trial(settings, pharmacist, coordinator, rater, principal_investigator):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    now = timezone.now()
    allocation.allocation_list_generate(by=pharmacist, now=now - timedelta(days=30), n_per_stratum=8, seed=17)
    people = []
    for i in range(8):
        person = enrolled(coordinator, now=now - timedelta(days=30), name=f"Persona {i}")
        # Baseline before randomization (PROTOCOL.md), signed like the ratings below.
        for instrument, baseline in (("hdrs17", 24), ("madrs", 30)):
            rate(person, rater, instrument, "baseline", 0, baseline, now - timedelta(days=29, hours=1))
        allocation.participant_randomize(participant=person, by=coordinator, now=now - timedelta(days=29))
        people.append(Participant.objects.get(pk=person.pk))
    sequences = {
        s.participant_id: s.sequence for s in AllocationSlot.objects.filter(participant__isnull=False)
    }
    responders = {"KP": 3, "PK": 1}
    seen = {"KP": 0, "PK": 0}
    for person in people:
        seq = sequences[person.pk]
        respond = seen[seq] < responders[seq]
        seen[seq] += 1
        base = now - timedelta(days=20)
        for instrument, baseline in (("hdrs17", 24), ("madrs", 30)):
            after = baseline // 3 if respond else baseline - 4
            rate(person, rater, instrument, "p1-4h-inf1", 1, after, base + timedelta(days=1))
            rate(person, rater, instrument, "p1-predose-2+72h", 1, after + 2, base + timedelta(days=4))
            # A period-2 rating that blinded exports must leave out.
            rate(
                person,
                rater,
                instrument,
                "p2-24h-inf4" if seq == "KP" else "p2-predose-5",
                2,
                10,
                base + timedelta(days=15),
            )
    sign_casebooks(principal_investigator)
    return {"people": people, "sequences": sequences, "now": now}


def sign_casebooks(principal_investigator) -> None:  # type: ignore[no-untyped-def]
    """The principal investigator signs every casebook (the database lock needs them all signed)."""
    from review import services as review
    from tests.conftest import PASSWORD

    for person in Participant.objects.all():
        if review.signature_active(person.pk) is None:
            review.casebook_sign(
                by=principal_investigator,
                participant_id=person.pk,
                username=principal_investigator.get_username(),
                password=PASSWORD,
                now=timezone.now(),
            )
