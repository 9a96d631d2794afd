"""Blinding indices against tables worked by hand from the published formulas, and against the
example table that the R package BI and its Julia port BlindingIndex.jl test against (their
documentation cites James et al. 1996, the disulfiram trial): James index 0.896 (SE 0.011), Bang
indices 0.115 (SE 0.018) and 0.022 (SE 0.019), as BlindingIndex.jl's own test expects."""

from __future__ import annotations

import math

import pytest

from outcomes.blinding_indices import bang, james, pooled_correct

# Rows: guess ketamine, guess placebo, don't know; columns: ketamine given, placebo given.
DISULFIRAM = ((48, 22), (4, 30), (330, 319))


def test_the_published_worked_example() -> None:
    j = james(DISULFIRAM)
    assert round(j.estimate, 3) == 0.896 and round(j.se, 3) == 0.011
    assert (round(j.low, 3), round(j.high, 3)) == (0.875, 0.918)
    active, placebo = bang(DISULFIRAM)
    assert (round(active.estimate, 3), round(active.se, 3)) == (0.115, 0.018)
    assert (round(placebo.estimate, 3), round(placebo.se, 3)) == (0.022, 0.019)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (((10, 0), (0, 10), (0, 0)), 0.0),  # every guess right: complete unblinding
        (((5, 5), (5, 5), (0, 0)), 0.5),  # guesses independent of the truth: random
        (((0, 0), (0, 0), (7, 9)), 1.0),  # everyone says "don't know": complete blinding
        # Half "don't know", the rest random: P_dk = 1/2, kappa 0, BI = (1 + 1/2) / 2.
        (((5, 5), (5, 5), (10, 10)), 0.75),
    ],
)
def test_james_on_tables_worked_by_hand(table, expected) -> None:  # type: ignore[no-untyped-def]
    assert james(table).estimate == pytest.approx(expected)


def test_bang_on_a_table_worked_by_hand() -> None:
    # Ketamine arm: 8 right, 2 wrong of 10 -> (8 - 2) / 10 = 0.6; Var = (0.8 + 0.2 - 0.36) / 10.
    # Placebo arm: 3 right, 3 wrong, 4 "don't know" -> 0; Var = (0.3 + 0.3 - 0) / 10.
    active, placebo = bang(((8, 3), (2, 3), (0, 4)))
    assert active.estimate == pytest.approx(0.6) and active.se == pytest.approx(math.sqrt(0.064))
    assert placebo.estimate == pytest.approx(0.0) and placebo.se == pytest.approx(math.sqrt(0.06))
    assert active.low == pytest.approx(0.6 - 1.959964 * math.sqrt(0.064), abs=1e-6)


def test_the_pooled_figure_moves_only_in_whole_batches() -> None:
    guesses = [True, False, None, True, True, False, True, None, True, True, False]
    assert pooled_correct(guesses[:9], 10) == (None, 0)
    share, used = pooled_correct(guesses, 10)
    assert used == 10 and share == pytest.approx(6 / 8)
    assert pooled_correct(guesses + [True] * 9, 10) == (pytest.approx(15 / 18), 20)
