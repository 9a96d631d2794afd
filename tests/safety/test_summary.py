"""The blinded safety summary: pooled over both arms, never by sequence, product or period
position, in a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketatrial.models import Notification
from participants import allocation
from participants.models import AllocationSlot
from safety import selectors
from tests.factories import enrolled, randomized

ALLOCATION_WORDS = re.compile(r"\b(KP|PK)\b|ketamin|placebo|sequence|secuencia", re.IGNORECASE)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def trial(coordinator, pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    now = timezone.now() - timedelta(days=2)
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=5)
    people = [randomized(coordinator, now=now, name=f"Persona {i}") for i in range(4)]
    assert {s.sequence for s in AllocationSlot.objects.filter(participant__in=people)} == {"KP", "PK"}
    return people


def test_the_summary_is_pooled_and_names_no_arm_product_or_period_for_the_principal_investigator(
    trial, report, principal_investigator, client_for
) -> None:
    a, b, c, _d = trial
    report(a, severity="mild")
    report(a, severity="moderate", relatedness="probable")
    report(
        b,
        term="Syncope",
        severity="severe",
        relatedness="definite",
        seriousness_criteria=["hospitalisation", "medically_important"],
    )
    report(
        c,
        term="Fall",
        severity="moderate",
        relatedness="unlikely",
        seriousness_criteria=["hospitalisation"],
        expectedness="expected",
    )
    summary = selectors.safety_summary(principal_investigator)
    assert (summary.events, summary.participants_with_events, summary.serious, summary.susars) == (4, 3, 2, 1)
    assert dict(summary.by_severity) == {"Mild": 1, "Moderate": 2, "Severe": 1}
    assert dict(summary.by_relatedness)["Possible"] == 1 and dict(summary.by_relatedness)["Definite"] == 1
    criteria = dict(summary.by_criterion)
    assert criteria["Requires in-patient hospitalisation or prolongs it"] == 2
    assert criteria["Other medically important event"] == 1
    assert {e.term for e in summary.serious_events} == {"Fall", "Syncope"}
    assert dict(summary.unacknowledged) == {"Serious adverse event": 2}
    client = client_for(principal_investigator)
    for url in (
        reverse("safety:summary"),
        reverse("safety:adverse_events"),
        reverse("safety:adverse_event", args=[summary.serious_events[0].pk]),
        reverse("safety:notifications"),
    ):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, url
        page = CSRF.sub("", response.content.decode())
        assert not ALLOCATION_WORDS.search(page), (url, ALLOCATION_WORDS.search(page))
        # No period position either: events are listed by onset date, never by infusion.
        assert not re.search(r"Period [12]|P[12]-\d", page), url


def test_the_summary_counts_open_suicide_follow_ups_and_unacknowledged_notifications(
    participant, principal_investigator, rater, client_for
) -> None:
    from clinimetry import services as ratings
    from clinimetry.examples import spread

    ratings.assessment_save(
        participant=participant,
        instrument="madrs",
        task_code="baseline",
        items={**spread("madrs", 30), "10": 4},
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
    )
    summary = selectors.safety_summary(principal_investigator)
    assert [f.participant for f in summary.open_suicide_follow_ups] == [participant]
    assert dict(summary.unacknowledged) == {"Suicide-risk item": 1}
    Notification.objects.update(read_at=timezone.now())
    assert selectors.safety_summary(principal_investigator).unacknowledged_total == 0
    page = client_for(principal_investigator).get(reverse("safety:summary"), HTTP_ACCEPT_LANGUAGE="en")
    assert participant.code in page.content.decode()


def test_the_summary_reads_in_as_many_queries_for_a_larger_trial(
    coordinator, report, principal_investigator, client_for
) -> None:
    client = client_for(principal_investigator)
    counts = []
    for size in (2, 12):
        while _people() < size:
            n = _people()
            report(
                enrolled(coordinator, name=f"N{n}"),
                seriousness_criteria=["medically_important"] if n % 2 else [],
            )
        client.get(reverse("safety:summary"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("safety:summary")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def _people() -> int:
    from participants.models import Participant

    return Participant.objects.count()
