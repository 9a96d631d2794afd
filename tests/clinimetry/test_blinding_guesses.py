"""Guesses of the product: recorded by the rater (the participant's and their own) and the
infusion physician (their own), audited; turned into guess tables against the truth only inside
the blinding package, after release; before release one pooled share in whole batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from clinimetry import services
from clinimetry.models import BlindingGuess
from participants import allocation
from tests.factories import randomized


@pytest.fixture(autouse=True)
def _unblinded_pharmacist(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]


def _randomized(coordinator, pharmacist, n):  # type: ignore[no-untyped-def]
    at = timezone.now() - timedelta(days=40)
    allocation.allocation_list_generate(by=pharmacist, now=at, n_per_stratum=20, seed=11)
    people = []
    for _ in range(n):
        people.append(randomized(coordinator, now=at))
    return people


@pytest.mark.django_db
def test_the_rater_and_the_physician_record_their_guesses_through_the_page(
    coordinator, pharmacist, rater, infusion_physician, client_for
) -> None:
    person = _randomized(coordinator, pharmacist, 1)[0]
    url = reverse("clinimetry:blinding_guess", args=[person.pk])
    form = {"occasion": "end_of_period1", "guesser": "participant", "guess": "ketamine", "confidence": "2"}
    assert client_for(rater).post(url, form).status_code == 302
    # A definite guess needs its confidence; what was entered stays on the page.
    page = client_for(rater).post(url, {**form, "guesser": "rater", "confidence": ""})
    assert page.status_code == 400 and 'value="rater" selected' in page.content.decode().replace("\n", "")
    # The physician records only their own guess: the participant's is not theirs to enter.
    assert (
        client_for(infusion_physician).post(url, {**form, "guesser": "infusion_physician"}).status_code == 302
    )
    assert client_for(infusion_physician).post(url, {**form, "guesser": "participant"}).status_code == 400
    guesses = {(g.guesser, g.guess, g.confidence) for g in BlindingGuess.objects.all()}
    assert guesses == {("participant", "ketamine", 2), ("infusion_physician", "ketamine", 2)}
    assert BlindingGuess.history.count() == 2


@pytest.mark.django_db
def test_guess_tables_count_guesses_against_the_product_of_the_period_asked_about(
    coordinator, pharmacist, rater, monkeypatch
) -> None:
    people = _randomized(coordinator, pharmacist, 6)
    now = timezone.now()
    truth = {p.pk: allocation.sequence_for(pharmacist, p) for p in people}
    expected = [[0, 0], [0, 0], [0, 0]]
    for k, person in enumerate(people):
        guess = ("ketamine", "placebo", "dont_know")[k % 3]
        services.blinding_guess_record(
            participant=person,
            occasion="end_of_period1",
            guesser="participant",
            guess=guess,
            confidence=None if guess == "dont_know" else 3,
            by=rater,
            now=now,
        )
        given = "ketamine" if truth[person.pk] == "KP" else "placebo"  # period 1 of KP is ketamine
        expected[k % 3][0 if given == "ketamine" else 1] += 1
    with pytest.raises(PermissionDenied):
        allocation.guess_tables()  # sealed key: no table for anyone but the unblinded pharmacist
    assert allocation.guess_tables(pharmacist)[("end_of_period1", "participant")] == tuple(
        map(tuple, expected)
    )
    monkeypatch.setattr(allocation.guesses, "sequence_key_released", lambda: True)
    assert allocation.guess_tables()[("end_of_period1", "participant")] == tuple(map(tuple, expected))
    # Before release, six guesses are not a whole batch of ten: no figure yet.
    assert allocation.pooled_correct_guesses(10)[("end_of_period1", "participant")] == (None, 0)


@pytest.mark.django_db
def test_only_the_right_role_records_each_guess(coordinator, pharmacist, infusion_physician) -> None:
    person = _randomized(coordinator, pharmacist, 1)[0]
    with pytest.raises(PermissionDenied):
        services.blinding_guess_record(
            participant=person,
            occasion="final_visit",
            guesser="rater",
            guess="placebo",
            confidence=1,
            by=infusion_physician,
            now=timezone.now(),
        )
