"""Demo and test item scores add up to what they claim and score as such."""

import pytest

from clinimetry import scoring
from clinimetry.examples import spread


@pytest.mark.parametrize(
    ("instrument", "total"), [("hdrs17", 0), ("hdrs17", 26), ("hdrs17", 49), ("madrs", 56)]
)
def test_spread_items_score_to_the_total(instrument: str, total: int) -> None:
    assert scoring.score(instrument, spread(instrument, total)).total == total


def test_spread_refuses_a_total_the_items_cannot_reach() -> None:
    with pytest.raises(ValueError):
        spread("hdrs17", 52)
