"""Eligibility from the screening checklist (pure module, no database)."""

from __future__ import annotations

from datetime import date

import pytest

from ketatrial.protocol import DEFAULT_PROTOCOL
from participants.eligibility import (
    AGE_CRITERION,
    HDRS17_CRITERION,
    Eligibility,
    age_on,
    assess_eligibility,
    criterion_index,
    hdrs17_contradiction,
)

INCLUSION = (
    "Age 18-65",
    "DSM-5 major depressive disorder, current episode",
    ">= 2 failed adequate antidepressant trials in the current episode",
    "Stable treatment >= 4 weeks",
    "Able to consent",
)
EXCLUSION = (
    "Psychotic features, bipolar or primary psychotic disorder",
    "Substance use disorder in the past 6 months",
    "MRI contraindication",
    "Pregnancy or breast-feeding",
)
HDRS17_MIN = 18


def assess(
    *,
    inclusion_met: list[bool | None] | None = None,
    exclusion_present: list[bool | None] | None = None,
    hdrs17_total: int | None = 24,
) -> Eligibility:
    """An eligible candidate, unless the caller changes an answer."""
    return assess_eligibility(
        inclusion=INCLUSION,
        inclusion_met=[True] * len(INCLUSION) if inclusion_met is None else inclusion_met,
        exclusion=EXCLUSION,
        exclusion_present=[False] * len(EXCLUSION) if exclusion_present is None else exclusion_present,
        hdrs17_total=hdrs17_total,
        hdrs17_min=HDRS17_MIN,
    )


def with_answer(answers: list[bool | None], index: int, value: bool | None) -> list[bool | None]:
    changed = list(answers)
    changed[index] = value
    return changed


def test_it_finds_a_candidate_meeting_every_criterion_eligible() -> None:
    assert assess() == Eligibility(complete=True, eligible=True, reasons=())


@pytest.mark.parametrize("index", range(len(INCLUSION)), ids=INCLUSION)
def test_it_names_each_unmet_inclusion_criterion(index: int) -> None:
    result = assess(inclusion_met=with_answer([True] * len(INCLUSION), index, False))
    assert result.complete is True
    assert result.eligible is False
    assert result.reasons == (f"Inclusion not met: {INCLUSION[index]}",)


@pytest.mark.parametrize("index", range(len(EXCLUSION)), ids=EXCLUSION)
def test_it_names_each_present_exclusion_criterion(index: int) -> None:
    result = assess(exclusion_present=with_answer([False] * len(EXCLUSION), index, True))
    assert result.complete is True
    assert result.eligible is False
    assert result.reasons == (f"Exclusion present: {EXCLUSION[index]}",)


def test_it_names_every_failed_criterion_at_once() -> None:
    result = assess(
        inclusion_met=[False, True, False, True, True],
        exclusion_present=[False, False, True, False],
        hdrs17_total=12,
    )
    assert result.eligible is False
    assert result.reasons == (
        f"Inclusion not met: {INCLUSION[0]}",
        f"Inclusion not met: {INCLUSION[2]}",
        f"Exclusion present: {EXCLUSION[2]}",
        "Screening HDRS-17 12 < 18",
    )


@pytest.mark.parametrize(
    ("hdrs17_total", "eligible", "reasons"),
    [
        (0, False, ("Screening HDRS-17 0 < 18",)),
        (17, False, ("Screening HDRS-17 17 < 18",)),
        (18, True, ()),
        (19, True, ()),
        (52, True, ()),
    ],
)
def test_it_requires_the_screening_hdrs17_to_reach_the_threshold(
    hdrs17_total: int, eligible: bool, reasons: tuple[str, ...]
) -> None:
    result = assess(hdrs17_total=hdrs17_total)
    assert result.complete is True
    assert result.eligible is eligible
    assert result.reasons == reasons


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"inclusion_met": [True, None, True, True, True]}, id="inclusion unanswered"),
        pytest.param({"inclusion_met": [None] * 5}, id="no inclusion answered"),
        pytest.param({"exclusion_present": [False, False, False, None]}, id="exclusion unanswered"),
        pytest.param({"hdrs17_total": None}, id="HDRS-17 missing"),
    ],
)
def test_it_leaves_an_unanswered_checklist_incomplete_and_not_eligible(answers: dict) -> None:
    result = assess(**answers)
    assert result.complete is False
    assert result.eligible is False
    # An unanswered question is not a reason for ineligibility.
    assert result.reasons == ()


def test_it_still_names_failed_criteria_on_an_incomplete_checklist() -> None:
    result = assess(inclusion_met=[False, None, True, True, True], hdrs17_total=None)
    assert result.complete is False
    assert result.eligible is False
    assert result.reasons == (f"Inclusion not met: {INCLUSION[0]}",)


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"inclusion_met": [True] * (len(INCLUSION) - 1)}, id="inclusion too short"),
        pytest.param({"inclusion_met": [True] * (len(INCLUSION) + 1)}, id="inclusion too long"),
        pytest.param({"inclusion_met": []}, id="inclusion empty"),
        pytest.param({"exclusion_present": [False] * (len(EXCLUSION) - 1)}, id="exclusion too short"),
        pytest.param({"exclusion_present": [False] * (len(EXCLUSION) + 1)}, id="exclusion too long"),
    ],
)
def test_it_refuses_an_answer_list_of_the_wrong_length(answers: dict) -> None:
    with pytest.raises(ValueError, match="one answer is needed per criterion"):
        assess(**answers)


# --------------------------------------------------------------------------- cross-checks (issue 13)
# PROTOCOL.md: "Default inclusion (editable list): age 18-65; ...; HDRS-17 >= 18 at screening".

PROTOCOL_INCLUSION = DEFAULT_PROTOCOL.inclusion_criteria


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1950, 1, 10), date(2026, 3, 2), 76),  # the tester's case
        (date(1960, 3, 3), date(2026, 3, 2), 65),  # 66 tomorrow
        (date(1960, 3, 2), date(2026, 3, 2), 66),  # 66 today
        (date(2008, 3, 2), date(2026, 3, 2), 18),  # 18 today
        (date(2008, 3, 3), date(2026, 3, 2), 17),  # 18 tomorrow
        (date(2000, 2, 29), date(2018, 2, 28), 17),  # a 29 February birthday comes on 1 March
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (date(2000, 2, 29), date(2020, 2, 29), 20),
    ],
)
def test_it_counts_age_in_completed_years(birth: date, on: date, age: int) -> None:
    assert age_on(birth, on) == age


def test_it_finds_the_age_and_hdrs17_criteria_of_the_protocol_checklist() -> None:
    assert PROTOCOL_INCLUSION[criterion_index(PROTOCOL_INCLUSION, AGE_CRITERION)] == "Age 18-65 years"
    assert (
        PROTOCOL_INCLUSION[criterion_index(PROTOCOL_INCLUSION, HDRS17_CRITERION)]
        == "HDRS-17 >= 18 at screening"
    )
    # "age" inside another word is not the age criterion.
    assert (
        criterion_index(("Stage of the current episode", "Able to manage a treatment"), AGE_CRITERION) is None
    )


@pytest.mark.parametrize(
    ("answer", "total", "contradiction"),
    [
        (True, 12, ("HDRS-17 >= 18 at screening", True)),  # "yes" with a total under 18
        (True, 17, ("HDRS-17 >= 18 at screening", True)),
        (True, 18, None),
        (True, 30, None),
        (False, 18, ("HDRS-17 >= 18 at screening", False)),  # "no" with a total of 18 or more
        (False, 25, ("HDRS-17 >= 18 at screening", False)),
        (False, 17, None),
        (None, 12, None),  # not answered yet: the checklist is incomplete, not contradictory
        (True, None, None),  # no total yet
    ],
)
def test_an_hdrs17_answer_is_checked_against_the_screening_total(
    answer: bool | None, total: int | None, contradiction: tuple[str, bool] | None
) -> None:
    answers: list[bool | None] = [True] * len(PROTOCOL_INCLUSION)
    answers[criterion_index(PROTOCOL_INCLUSION, HDRS17_CRITERION)] = answer  # type: ignore[index]
    found = hdrs17_contradiction(
        inclusion=PROTOCOL_INCLUSION, inclusion_met=answers, hdrs17_total=total, hdrs17_min=18
    )
    assert found == contradiction


def test_a_total_under_the_threshold_is_one_reason_not_two() -> None:
    """ "no" to the HDRS-17 criterion with a total of 12 is one fact: the reason is the total."""
    answers: list[bool | None] = [True] * len(PROTOCOL_INCLUSION)
    answers[criterion_index(PROTOCOL_INCLUSION, HDRS17_CRITERION)] = False  # type: ignore[index]
    result = assess_eligibility(
        inclusion=PROTOCOL_INCLUSION,
        inclusion_met=answers,
        exclusion=(),
        exclusion_present=[],
        hdrs17_total=12,
        hdrs17_min=18,
    )
    assert (result.complete, result.eligible) == (True, False)
    assert (result.reasons, result.codes) == (("Screening HDRS-17 12 < 18",), ("hdrs17_below_min",))
