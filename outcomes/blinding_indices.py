"""Blinding indices from guesses of the product (pure: counts in, figures out).

The table is guesses x true product:

                      ketamine given   placebo given
    guess ketamine         n11              n12
    guess placebo          n21              n22
    don't know             n31              n32

Bang's index (Bang, Ni & Davis, Control Clin Trials 2004;25:143-156), per arm:
BI = (n_correct - n_incorrect) / n_arm, "don't know" counted in n_arm; -1 to 1, 0 = random
guessing, 1 = every guess correct; Var = (p_c + p_i - (p_c - p_i)^2) / n_arm.

James's index (James, Bloch, Lee, Kraemer & Fuller, Stat Med 1996;15:1421-1434), both arms:
a kappa-type index of disagreement between guess and truth, with "don't know" weighted as full
blinding: weights 0 for a correct guess, 1/2 for a wrong one, 1 for "don't know". With P_dk the
share of "don't know", among definite guesses the observed weighted disagreement
P_o = sum w_ij p_ij / (1 - P_dk) and the one expected by chance
P_e = sum w_ij p_i. q_j / (1 - P_dk)^2 (q_j: arm j's definite guesses over all), kappa
k = (P_o - P_e) / P_e, and BI = (1 + P_dk + (1 - P_dk) k) / 2: 0 = complete unblinding, 0.5 =
random guessing, 1 = complete blinding; the large-sample variance is the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile

# James's 1996 weights: rows guess ketamine / placebo / don't know, columns given ketamine /
# placebo (0 = correct, 0.5 = wrong, 1 = don't know).
JAMES_WEIGHTS = ((0.0, 0.5), (0.5, 0.0), (1.0, 1.0))


@dataclass(frozen=True)
class Index:
    estimate: float | None
    se: float | None
    low: float | None
    high: float | None
    n: int


def _ci(estimate: float, se: float, n: int) -> Index:
    return Index(estimate, se, estimate - Z95 * se, estimate + Z95 * se, n)


def bang(table: tuple[tuple[int, int], ...]) -> tuple[Index, Index]:
    """Bang's index of each arm (ketamine given, placebo given)."""
    out = []
    for arm in (0, 1):
        correct = table[arm][arm]
        wrong = table[1 - arm][arm]
        n = sum(row[arm] for row in table)
        if n == 0:
            out.append(Index(None, None, None, None, 0))
            continue
        pc, pi = correct / n, wrong / n
        out.append(_ci(pc - pi, math.sqrt((pc + pi - (pc - pi) ** 2) / n), n))
    return out[0], out[1]


def james(
    table: tuple[tuple[int, int], ...], weights: tuple[tuple[float, float], ...] = JAMES_WEIGHTS
) -> Index:
    """James's index over both arms."""
    n = sum(sum(row) for row in table)
    if n == 0:
        return Index(None, None, None, None, 0)
    p = [[cell / n for cell in row] for row in table]
    dk = p[2][0] + p[2][1]
    if dk >= 1.0:  # everyone answered "don't know": complete blinding, nothing varies
        return Index(1.0, 0.0, 1.0, 1.0, n)
    guessed = [p[i][0] + p[i][1] for i in (0, 1)]  # definite guesses of each product, over all
    definite = [p[0][j] + p[1][j] for j in (0, 1)]  # arm j's definite guesses, over all
    chance = sum(weights[i][j] * guessed[i] * definite[j] for i in (0, 1) for j in (0, 1))
    if chance == 0:
        return Index(None, None, None, None, n)
    observed = sum(weights[i][j] * p[i][j] for i in (0, 1) for j in (0, 1)) / (1 - dk)
    expected = chance / (1 - dk) ** 2
    kappa = (observed - expected) / expected
    estimate = (1 + dk + (1 - dk) * kappa) / 2
    spread = 0.0
    for i in (0, 1):
        for j in (0, 1):
            margin = sum(weights[r][j] * guessed[r] + weights[i][r] * definite[r] for r in (0, 1))
            spread += p[i][j] * (1 - dk) ** 2 * ((1 - dk) * weights[i][j] - (1 + kappa) * margin) ** 2
    v1 = spread / (4 * chance**2)
    v2 = dk * (1 - dk) - (1 - dk) * (1 + kappa) * (dk + (1 - dk) * (1 + kappa) / 4)
    return _ci(estimate, math.sqrt(max(v1 + v2, 0.0) / n), n)


def pooled_correct(guesses: list[bool | None], batch: int) -> tuple[float | None, int]:
    """Before release: the share of correct definite guesses among the first whole batches of
    guesses (in the order they were recorded; None = "don't know"), and how many guesses that
    covers. The figure moves only when `batch` more guesses are in."""
    used = guesses[: len(guesses) - len(guesses) % batch]
    definite = [g for g in used if g is not None]
    return (sum(definite) / len(definite) if definite else None), len(used)
