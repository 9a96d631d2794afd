"""Allocation lists: permuted blocks, CSV validation and checksums (pure module, no database)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict
from itertools import permutations

import pytest

from participants.randomization import (
    CSV_COLUMNS,
    KIT_ALPHABET,
    SEQUENCES,
    AllocationListError,
    Row,
    checksum,
    generate_blocks,
    parse_csv,
    rows_to_csv,
    validate_rows,
)

SEEDS = range(200)


def blocks_of(rows: list[Row]) -> dict[tuple[str, int], list[Row]]:
    blocks: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for row in rows:
        blocks[(row.stratum, row.block_no)].append(row)
    return blocks


def by_stratum(rows: list[Row]) -> dict[str, list[Row]]:
    strata: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        strata[row.stratum].append(row)
    return strata


def boundaries(rows: list[Row]) -> tuple[int, ...]:
    """The sequence numbers that end a block."""
    return tuple(block[-1].sequence_no for block in blocks_of(rows).values())


# --- generation -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 2**31 - 1])
@pytest.mark.parametrize("block_sizes", [(2,), (4,), (2, 4), (4, 6, 8)])
def test_it_balances_kp_and_pk_in_every_block(seed: int, block_sizes: tuple[int, ...]) -> None:
    rows = generate_blocks(n_per_stratum=60, block_sizes=block_sizes, strata=("A", "B"), seed=seed)
    for key, block in blocks_of(rows).items():
        counts = Counter(row.sequence for row in block)
        assert counts["KP"] == counts["PK"] == len(block) // 2, key
        assert set(counts) == {"KP", "PK"}, key


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1])
def test_it_gives_the_same_list_from_the_same_seed(seed: int) -> None:
    params = {"n_per_stratum": 40, "block_sizes": (2, 4), "strata": ("A", "B")}
    assert generate_blocks(**params, seed=seed) == generate_blocks(**params, seed=seed)


@pytest.mark.parametrize(("seed", "other_seed"), [(0, 1), (1, 2), (42, 43), (1000, 2**31 - 1)])
def test_it_gives_a_different_list_from_a_different_seed(seed: int, other_seed: int) -> None:
    first = generate_blocks(n_per_stratum=40, seed=seed)
    second = generate_blocks(n_per_stratum=40, seed=other_seed)
    assert [r.sequence for r in first] != [r.sequence for r in second]
    assert {r.kit_code for r in first} != {r.kit_code for r in second}


@pytest.mark.parametrize("block_sizes", [(2,), (4,), (2, 4), (4, 8), (2, 6, 10)])
def test_it_draws_block_sizes_only_from_the_allowed_sizes(block_sizes: tuple[int, ...]) -> None:
    drawn: set[int] = set()
    for seed in range(30):
        rows = generate_blocks(n_per_stratum=50, block_sizes=block_sizes, seed=seed)
        for block in blocks_of(rows).values():
            assert len({row.block_size for row in block}) == 1
            assert block[0].block_size == len(block)
            drawn.add(len(block))
    assert drawn == set(block_sizes)


def test_it_draws_both_block_sizes_over_many_seeds_and_within_a_list() -> None:
    first_block_sizes = Counter()
    for seed in SEEDS:
        rows = generate_blocks(n_per_stratum=40, block_sizes=(2, 4), seed=seed)
        first_block_sizes[rows[0].block_size] += 1
        assert {row.block_size for row in rows} == {2, 4}, f"seed {seed} used one block size only"
    # The first block's size is not constant: each size is drawn about half the time.
    assert set(first_block_sizes) == {2, 4}
    assert 60 <= first_block_sizes[2] <= 140, first_block_sizes


def test_it_varies_block_boundaries_across_seeds() -> None:
    patterns = {boundaries(generate_blocks(n_per_stratum=20, block_sizes=(2, 4), seed=s)) for s in SEEDS}
    # Many different boundary patterns: the end of a block cannot be read off the position.
    assert len(patterns) > 50
    # Every even position can end a block under some seed and not end it under another.
    for position in range(2, 20, 2):
        ends = [position in pattern for pattern in patterns]
        assert any(ends) and not all(ends), position


def test_it_shuffles_the_order_inside_blocks_of_four() -> None:
    orders = Counter()
    for seed in range(100):
        rows = generate_blocks(n_per_stratum=40, block_sizes=(4,), seed=seed)
        for block in blocks_of(rows).values():
            orders[tuple(row.sequence for row in block)] += 1
    # All six balanced orders of KP,KP,PK,PK occur, none favoured systematically.
    assert set(orders) == set(permutations(("KP", "KP", "PK", "PK")))
    assert min(orders.values()) > 0.5 * max(orders.values()), orders


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 17, 33, 100])
@pytest.mark.parametrize("seed", [0, 3, 99])
def test_it_gives_at_least_n_rows_per_stratum_in_complete_blocks_only(n: int, seed: int) -> None:
    rows = generate_blocks(n_per_stratum=n, block_sizes=(2, 4), strata=("A", "B"), seed=seed)
    for stratum, stratum_rows in by_stratum(rows).items():
        assert len(stratum_rows) >= n, stratum
        # Stopping as soon as n is reached: less than one extra largest block.
        assert len(stratum_rows) - n < 4, stratum
        assert [r.sequence_no for r in stratum_rows] == list(range(1, len(stratum_rows) + 1))
        for block in blocks_of(stratum_rows).values():
            assert len(block) == block[0].block_size


def test_it_gives_each_stratum_its_own_balanced_list() -> None:
    strata = ("site1-male", "site1-female", "site2-male")
    rows = generate_blocks(n_per_stratum=30, block_sizes=(2, 4), strata=strata, seed=2024)
    lists = by_stratum(rows)
    assert tuple(lists) == strata
    for stratum_rows in lists.values():
        assert stratum_rows[0].sequence_no == 1
        assert stratum_rows[0].block_no == 1
        assert [r.block_no for r in stratum_rows] == sorted(r.block_no for r in stratum_rows)
        counts = Counter(r.sequence for r in stratum_rows)
        assert counts["KP"] == counts["PK"]
    sequences = [tuple(r.sequence for r in stratum_rows) for stratum_rows in lists.values()]
    assert len(set(sequences)) == len(strata), "strata share one list"
    validate_rows(rows)


def test_it_makes_unique_six_character_kit_codes_from_the_alphabet() -> None:
    rows = generate_blocks(n_per_stratum=500, block_sizes=(2, 4), strata=("A", "B", "C"), seed=5)
    codes = [row.kit_code for row in rows]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert len(code) == 6
        assert set(code) <= set(KIT_ALPHABET)
    assert not set(KIT_ALPHABET) & set("0O1I5S8B2Z6")


def test_it_makes_kit_codes_that_carry_no_information_on_the_sequence() -> None:
    rows = generate_blocks(n_per_stratum=4000, block_sizes=(2, 4), seed=11)
    # Every character appears in every position for both sequences: no position encodes it.
    for position in range(6):
        for sequence in SEQUENCES:
            used = {row.kit_code[position] for row in rows if row.sequence == sequence}
            assert used == set(KIT_ALPHABET), (position, sequence)
    # Sorting by kit code does not sort by sequence: each half holds close to half of each.
    ordered = sorted(rows, key=lambda r: r.kit_code)
    first_half = Counter(r.sequence for r in ordered[: len(ordered) // 2])
    assert abs(first_half["KP"] - first_half["PK"]) < 0.1 * len(ordered) / 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_per_stratum": 10, "block_sizes": (3,)}, "multiples of 2"),
        ({"n_per_stratum": 10, "block_sizes": (2, 5)}, "multiples of 2"),
        ({"n_per_stratum": 10, "block_sizes": (0,)}, "multiples of 2"),
        ({"n_per_stratum": 10, "block_sizes": (-2,)}, "multiples of 2"),
        ({"n_per_stratum": 10, "block_sizes": ()}, "multiples of 2"),
        ({"n_per_stratum": 0}, "at least one participant"),
        ({"n_per_stratum": -5}, "at least one participant"),
        ({"n_per_stratum": 10, "strata": ("A", "B", "A")}, "distinct"),
        ({"n_per_stratum": 10, "strata": ("", "")}, "distinct"),
    ],
)
def test_it_refuses_invalid_parameters(params: dict, message: str) -> None:
    with pytest.raises(AllocationListError, match=message):
        generate_blocks(seed=1, **params)


# --- CSV validation ---------------------------------------------------------------------------

# One stratum, a block of 2 then a block of 4; written out by hand.
GOOD_ROWS = [
    Row("", 1, 1, 2, "KP", "ACDEFG"),
    Row("", 2, 1, 2, "PK", "HJKLMN"),
    Row("", 3, 2, 4, "PK", "PQRTUV"),
    Row("", 4, 2, 4, "KP", "WXY347"),
    Row("", 5, 2, 4, "KP", "9ACDEF"),
    Row("", 6, 2, 4, "PK", "GHJKLM"),
]
HEADER = ",".join(CSV_COLUMNS)
GOOD_CSV = (
    f"{HEADER}\n"
    ",1,1,2,KP,ACDEFG\n"
    ",2,1,2,PK,HJKLMN\n"
    ",3,2,4,PK,PQRTUV\n"
    ",4,2,4,KP,WXY347\n"
    ",5,2,4,KP,9ACDEF\n"
    ",6,2,4,PK,GHJKLM\n"
)


def with_line(line_no: int, replacement: str) -> str:
    """GOOD_CSV with its data line `line_no` (2 = first data line, as in the messages) replaced."""
    lines = GOOD_CSV.splitlines()
    lines[line_no - 1] = replacement
    return "\n".join(lines) + "\n"


def test_it_writes_the_expected_csv() -> None:
    assert rows_to_csv(GOOD_ROWS) == GOOD_CSV


def test_it_reads_a_good_csv() -> None:
    assert parse_csv(GOOD_CSV) == GOOD_ROWS


@pytest.mark.parametrize("seed", [0, 1, 2, 77])
def test_it_round_trips_a_generated_list_through_csv(seed: int) -> None:
    rows = generate_blocks(n_per_stratum=25, block_sizes=(2, 4), strata=("A", "B"), seed=seed)
    validate_rows(rows)
    assert parse_csv(rows_to_csv(rows)) == rows


def test_it_reads_a_csv_with_a_utf8_bom_header() -> None:
    assert parse_csv("\ufeff" + GOOD_CSV) == GOOD_ROWS


def test_it_reads_a_csv_with_windows_line_ends_and_padded_cells() -> None:
    text = GOOD_CSV.replace(",", " , ").replace("\n", "\r\n").replace(",KP ,", ",kp ,")
    assert parse_csv(text) == GOOD_ROWS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "the file is empty", id="empty file"),
        pytest.param("\ufeff \n\n", "the file is empty", id="blank file"),
        pytest.param(
            GOOD_CSV.replace("kit_code", "kit_code,note"), "unexpected column.*note", id="extra column"
        ),
        pytest.param(
            GOOD_CSV.replace("kit_code", "kit_code,kit_code"),
            "repeated column.*kit_code",
            id="repeated column",
        ),
        pytest.param(
            with_line(3, ",2,1,2,PK,HJKLMN,spare"), "line 3: 7 values for 6 columns", id="extra value"
        ),
        pytest.param(with_line(3, ",2,1,2,PK"), "line 3: 5 values for 6 columns", id="missing value"),
        pytest.param(with_line(3, ',2,1,2,PK,"HJKLMN'), "not a readable CSV", id="unclosed quote"),
        pytest.param(with_line(3, ",2,1,2,PK," + "H" * 200_000), "not a readable CSV", id="oversized field"),
        pytest.param(with_line(3, ",+2,1,2,PK,HJKLMN"), "line 3: sequence_no", id="signed number"),
        pytest.param(with_line(3, ",2_0,1,2,PK,HJKLMN"), "line 3: sequence_no", id="underscored number"),
        pytest.param(with_line(3, ",2,1,2,PK,HJK LMN"), "kit code 'HJK LMN' is not", id="space in kit code"),
        pytest.param(with_line(3, ",2,1,2,PK,=1+1"), "kit code '=1\\+1' is not", id="formula kit code"),
        pytest.param(with_line(3, ",2,1,2,PK,H\x00J"), "kit code .H\\?J. is not", id="NUL in kit code"),
        pytest.param(with_line(3, ",2,1,2,PK," + "K" * 21), "is not 1-20 letters", id="kit code too long"),
        pytest.param(
            GOOD_CSV.replace(",1,1,2,", ",1,0,2,").replace(",2,1,2,", ",2,0,2,"),
            "must be 1 or more",
            id="block 0",
        ),
        pytest.param(
            GOOD_CSV.replace(",2,4,", ",3,4,"), "block numbers must run 1..2", id="gap in block numbers"
        ),
        pytest.param(f"{HEADER}\n", "the list is empty", id="header only"),
        pytest.param(GOOD_CSV.replace(",kit_code", ""), "missing column.*kit_code", id="missing column"),
        pytest.param(
            GOOD_CSV.replace("sequence_no,", "seq,"), "missing column.*sequence_no", id="renamed column"
        ),
        pytest.param(with_line(3, ",two,1,2,PK,HJKLMN"), "line 3: sequence_no", id="non-integer sequence_no"),
        pytest.param(with_line(3, ",2.0,1,2,PK,HJKLMN"), "line 3: sequence_no", id="decimal sequence_no"),
        pytest.param(with_line(3, ",2,1,two,PK,HJKLMN"), "line 3: .*block_size", id="non-integer block_size"),
        pytest.param(with_line(4, ",3,2,4,PK,"), "line 4: kit_code is empty", id="empty kit code"),
        pytest.param(with_line(4, ",3,2,4,PK,   "), "line 4: kit_code is empty", id="blank kit code"),
        pytest.param(
            with_line(4, ",3,2,4,PK,ACDEFG"), "kit code ACDEFG appears 2 times", id="duplicated kit"
        ),
        pytest.param(
            with_line(4, ",2,2,4,PK,PQRTUV"),
            "sequence number -/2 appears 2 times",
            id="duplicated sequence_no",
        ),
        pytest.param(
            with_line(4, ",3,2,4,KP,PQRTUV"), "block 2: unbalanced KP=3, PK=1", id="unbalanced block"
        ),
        pytest.param(with_line(4, ",3,2,4,XX,PQRTUV"), "unknown sequence 'XX'", id="unknown sequence"),
        pytest.param(
            GOOD_CSV.replace(",6,2,4,PK", ",7,2,4,PK"), "must run 1..6 without gaps", id="gap in numbers"
        ),
        pytest.param(
            GOOD_CSV.replace(",1,1,2,", ",1,1,4,").replace(",2,1,2,", ",2,1,4,"),
            "block 1: size does not match its rows",
            id="block size larger than its rows",
        ),
        pytest.param(
            with_line(3, ",2,1,4,PK,HJKLMN"), "block 1: size does not match its rows", id="mixed block sizes"
        ),
    ],
)
def test_it_refuses_a_malformed_csv_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(AllocationListError, match=message):
        parse_csv(text)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param([], "empty", id="no rows"),
        pytest.param(GOOD_ROWS[:5], "block 2: size does not match", id="incomplete last block"),
        pytest.param(
            [dataclasses.replace(r, block_no=1) if r.sequence_no == 3 else r for r in GOOD_ROWS],
            "block 1",
            id="row moved into another block",
        ),
        pytest.param(
            [*GOOD_ROWS, Row("B", 1, 1, 2, "KP", "ACDEFG"), Row("B", 2, 1, 2, "PK", "TTTTTT")],
            "kit code ACDEFG appears 2 times",
            id="kit code reused in another stratum",
        ),
    ],
)
def test_it_refuses_malformed_rows_naming_the_problem(rows: list[Row], message: str) -> None:
    with pytest.raises(AllocationListError, match=message):
        validate_rows(rows)


def test_it_reads_a_csv_with_old_mac_line_ends() -> None:
    assert parse_csv(GOOD_CSV.replace("\n", "\r")) == GOOD_ROWS


@pytest.mark.parametrize(
    ("rows", "strata", "message"),
    [
        pytest.param(
            GOOD_ROWS,
            ("A", "B"),
            "unknown stratum \\(none\\) \\(the protocol's strata: 'A', 'B'\\)",
            id="no stratum, protocol has two",
        ),
        pytest.param(
            [dataclasses.replace(r, stratum="A") for r in GOOD_ROWS],
            ("",),
            "unknown stratum 'A' \\(the protocol's strata: none\\)",
            id="a stratum, protocol has none",
        ),
        pytest.param(
            [dataclasses.replace(r, stratum="A") for r in GOOD_ROWS],
            ("A", "B"),
            "stratum 'B' of the protocol has no rows",
            id="a protocol stratum missing",
        ),
    ],
)
def test_it_refuses_a_list_whose_strata_are_not_the_protocols(
    rows: list[Row], strata: tuple[str, ...], message: str
) -> None:
    with pytest.raises(AllocationListError, match=message):
        validate_rows(rows, strata=strata)
    with pytest.raises(AllocationListError, match=message):
        parse_csv(rows_to_csv(rows), strata=strata)


def test_it_accepts_a_list_with_exactly_the_protocols_strata() -> None:
    rows = generate_blocks(n_per_stratum=4, strata=("A", "B"), seed=3)
    assert parse_csv(rows_to_csv(rows), strata=("B", "A")) == rows
    assert parse_csv(GOOD_CSV, strata=("",)) == GOOD_ROWS


def test_it_quotes_a_huge_cell_shortened_in_its_message() -> None:
    with pytest.raises(AllocationListError) as info:
        parse_csv(with_line(3, ",2,1,2," + "X" * 100_000 + ",HJKLMN"))
    assert len(str(info.value)) < 1000


def test_it_accepts_the_same_sequence_numbers_in_different_strata() -> None:
    other = [dataclasses.replace(r, stratum="B", kit_code=r.kit_code[::-1]) for r in GOOD_ROWS]
    validate_rows([*GOOD_ROWS, *other])


# --- checksum ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle_seed", range(5))
def test_it_keeps_the_checksum_under_row_reordering(shuffle_seed: int) -> None:
    rows = generate_blocks(n_per_stratum=30, block_sizes=(2, 4), strata=("A", "B"), seed=8)
    shuffled = rows[:]
    random.Random(shuffle_seed).shuffle(shuffled)
    assert shuffled != rows
    assert checksum(shuffled) == checksum(rows)
    assert checksum(reversed(rows)) == checksum(rows)


def test_it_is_a_sha256_hex_digest() -> None:
    digest = checksum(GOOD_ROWS)
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def test_it_changes_the_checksum_when_any_one_rows_sequence_changes() -> None:
    rows = generate_blocks(n_per_stratum=30, block_sizes=(2, 4), strata=("A", "B"), seed=8)
    original = checksum(rows)
    flip = {"KP": "PK", "PK": "KP"}
    digests = set()
    for index, row in enumerate(rows):
        changed = rows[:]
        changed[index] = dataclasses.replace(row, sequence=flip[row.sequence])
        digest = checksum(changed)
        assert digest != original, index
        digests.add(digest)
    assert len(digests) == len(rows)


@pytest.mark.parametrize(
    "change",
    [
        {"kit_code": "YYYYYY"},
        {"block_no": 9},
        {"block_size": 4},
        {"stratum": "Z"},
    ],
)
def test_it_changes_the_checksum_when_any_other_field_changes(change: dict) -> None:
    changed = [dataclasses.replace(GOOD_ROWS[0], **change), *GOOD_ROWS[1:]]
    assert checksum(changed) != checksum(GOOD_ROWS)


def test_it_refuses_an_empty_kit_code_in_validate_rows_too() -> None:
    rows = [dataclasses.replace(r, kit_code="  ") if r.sequence_no == 1 else r for r in GOOD_ROWS]
    with pytest.raises(AllocationListError, match="empty kit code"):
        validate_rows(rows)


def test_a_new_seed_has_128_bits_of_room() -> None:
    from participants.randomization import new_seed

    seeds = {new_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert max(seeds) > 2**64
