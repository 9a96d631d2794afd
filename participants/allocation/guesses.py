"""Guesses of the product against the truth (SAP "Blinding"): the blinding package is the only
code that reads the allocation, so the guess tables are made here and leave it only as counts
after release, or as one pooled share of correct guesses in whole batches before."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from participants.allocation.access import can_see_allocation, product_for
from participants.allocation.sequence_key import sequence_key_released
from participants.models import AllocationSlot

ROWS = ("ketamine", "placebo", "dont_know")
COLUMNS = ("ketamine", "placebo")


def _truth() -> dict[int, str]:
    return dict(
        AllocationSlot.objects.filter(participant__isnull=False).values_list("participant_id", "sequence")
    )


def _guesses() -> list[Any]:
    from clinimetry.models import BlindingGuess

    return list(BlindingGuess.objects.order_by("recorded_at", "pk"))


def guess_tables(user: AbstractBaseUser | None = None) -> dict[tuple[str, str], tuple[tuple[int, int], ...]]:
    """(occasion, guesser) -> counts, rows guess ketamine / placebo / don't know, columns the
    product given in the period asked about. Only after the sequence key is released (the
    efficacy analyses, user None) or for the unblinded pharmacist."""
    if not (sequence_key_released() or (user is not None and can_see_allocation(user))):
        raise PermissionDenied
    truth = _truth()
    tables: dict[tuple[str, str], list[list[int]]] = {}
    for g in _guesses():
        if g.participant_id not in truth:
            continue
        given = product_for(truth[g.participant_id], g.about_period)
        table = tables.setdefault((g.occasion, g.guesser), [[0, 0], [0, 0], [0, 0]])
        table[ROWS.index(g.guess)][COLUMNS.index(given)] += 1
    return {key: tuple(tuple(row) for row in table) for key, table in tables.items()}


def pooled_correct_guesses(batch: int) -> dict[tuple[str, str], tuple[float | None, int]]:
    """Before release: per (occasion, guesser), the share of correct definite guesses among the
    first whole batches of `batch` guesses (in recording order) and how many guesses that covers;
    pooled over both sequences, so no participant's product can be read off it."""
    from outcomes.blinding_indices import pooled_correct

    truth = _truth()
    marks: dict[tuple[str, str], list[bool | None]] = {}
    for g in _guesses():
        if g.participant_id not in truth:
            continue
        right = (
            None
            if g.guess == "dont_know"
            else g.guess == product_for(truth[g.participant_id], g.about_period)
        )
        marks.setdefault((g.occasion, g.guesser), []).append(right)
    return {key: pooled_correct(values, batch) for key, values in marks.items()}
