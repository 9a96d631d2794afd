"""Allocation lists: permuted blocks with random block sizes, CSV validation, checksums.

Pure module (no Django). A list is a sequence of `Row`s per stratum; every block holds each
sequence equally often (1:1), block sizes are drawn at random from the allowed sizes, and the
same parameters and seed always give the same list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SEQUENCES: tuple[str, str] = ("KP", "PK")
CSV_COLUMNS = ("stratum", "sequence_no", "block_no", "block_size", "sequence", "kit_code")
KIT_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY3479"  # no look-alike characters (0/O, 1/I, 5/S, 8/B, 2/Z, 6)


@dataclass(frozen=True)
class Row:
    stratum: str
    sequence_no: int
    block_no: int
    block_size: int
    sequence: str
    kit_code: str


class AllocationListError(ValueError):
    """An allocation list (generated parameters or uploaded CSV) is unusable; says why."""


def _kit_code(rng: random.Random, used: set[str]) -> str:
    # Kit codes come from the same seeded generator but carry no information on the sequence.
    while True:
        code = "".join(rng.choice(KIT_ALPHABET) for _ in range(6))
        if code not in used:
            used.add(code)
            return code


def generate_blocks(
    *,
    n_per_stratum: int,
    block_sizes: Sequence[int] = (2, 4),
    strata: Sequence[str] = ("",),
    seed: int,
    sequences: Sequence[str] = SEQUENCES,
) -> list[Row]:
    """Permuted-block list: at least `n_per_stratum` rows per stratum, completed blocks only.

    Block sizes are drawn uniformly from `block_sizes` (each a positive multiple of the number of
    sequences); inside a block every sequence appears equally often in random order.
    """
    k = len(sequences)
    if n_per_stratum < 1:
        raise AllocationListError("the list needs at least one participant per stratum")
    if not block_sizes or any(size <= 0 or size % k for size in block_sizes):
        raise AllocationListError(f"block sizes must be positive multiples of {k}")
    if len(set(strata)) != len(strata):
        raise AllocationListError("strata must be distinct")
    # Seeded on purpose: the list must be reproducible from its recorded seed. Secrecy comes from the
    # 128-bit seed (drawn with `secrets`, too many to try) and the sealed list. Kit codes, which
    # blinded staff see, come from a second stream derived from the seed by SHA-256, so they
    # carry no trace of the allocation stream.
    rng = random.Random(seed)  # noqa: S311
    kit_rng = random.Random(hashlib.sha256(f"kit-codes:{seed}".encode()).digest())  # noqa: S311
    used: set[str] = set()
    rows: list[Row] = []
    for stratum in strata:
        sequence_no = 0
        block_no = 0
        while sequence_no < n_per_stratum:
            block_no += 1
            size = rng.choice(list(block_sizes))
            block = [seq for seq in sequences for _ in range(size // k)]
            rng.shuffle(block)
            for seq in block:
                sequence_no += 1
                rows.append(Row(stratum, sequence_no, block_no, size, seq, _kit_code(kit_rng, used)))
    return rows


def new_seed() -> int:
    """A fresh 128-bit seed for a generated list (recorded with the list so it can be reproduced)."""
    return secrets.randbits(128)


def validate_rows(rows: Sequence[Row], sequences: Sequence[str] = SEQUENCES) -> None:
    """Refuse a list that is not a clean permuted-block list; the message says what is wrong."""
    if not rows:
        raise AllocationListError("the list is empty")
    problems: list[str] = []
    for row in rows:
        if row.sequence not in sequences:
            problems.append(f"row {row.stratum}/{row.sequence_no}: unknown sequence '{row.sequence}'")
    problems += [
        f"row {row.stratum or '-'}/{row.sequence_no}: empty kit code"
        for row in rows
        if not row.kit_code.strip()
    ]
    kits = Counter(row.kit_code for row in rows)
    problems += [f"kit code {code} appears {n} times" for code, n in kits.items() if n > 1]
    numbers = Counter((row.stratum, row.sequence_no) for row in rows)
    problems += [
        f"sequence number {s or '-'}/{no} appears {n} times" for (s, no), n in numbers.items() if n > 1
    ]
    by_stratum: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_stratum[row.stratum].append(row)
    for stratum, stratum_rows in by_stratum.items():
        stratum_rows.sort(key=lambda r: r.sequence_no)
        expected = list(range(1, len(stratum_rows) + 1))
        if [r.sequence_no for r in stratum_rows] != expected:
            problems.append(
                f"stratum {stratum or '-'}: sequence numbers must run 1..{len(stratum_rows)} without gaps"
            )
        blocks: dict[int, list[Row]] = defaultdict(list)
        for row in stratum_rows:
            blocks[row.block_no].append(row)
        for block_no, block in sorted(blocks.items()):
            sizes = {r.block_size for r in block}
            counts = Counter(r.sequence for r in block)
            if len(sizes) != 1 or len(block) != sizes.pop():
                problems.append(f"stratum {stratum or '-'} block {block_no}: size does not match its rows")
            if len(set(counts.values())) != 1 or set(counts) != set(sequences):
                problems.append(
                    f"stratum {stratum or '-'} block {block_no}: unbalanced "
                    + ", ".join(f"{s}={counts.get(s, 0)}" for s in sequences)
                )
        previous_end = 0
        for block_no, block in sorted(blocks.items()):
            numbers_in_block = sorted(r.sequence_no for r in block)
            if numbers_in_block != list(range(numbers_in_block[0], numbers_in_block[0] + len(block))):
                problems.append(f"stratum {stratum or '-'} block {block_no}: rows are not consecutive")
            if numbers_in_block[0] < previous_end:
                problems.append(
                    f"stratum {stratum or '-'} block {block_no}: block numbers must rise with sequence numbers"
                )
            previous_end = numbers_in_block[-1]
    if problems:
        raise AllocationListError("; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))


def parse_csv(text: str) -> list[Row]:
    """Read an uploaded allocation CSV (header: stratum, sequence_no, block_no, block_size,
    sequence, kit_code) and validate it; raises AllocationListError naming the first problems."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple((name or "").strip() for name in (reader.fieldnames or ()))
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise AllocationListError(
            f"missing column(s): {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"
        )
    rows: list[Row] = []
    for line_no, raw in enumerate(reader, start=2):
        record = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        try:
            rows.append(
                Row(
                    stratum=record["stratum"],
                    sequence_no=int(record["sequence_no"]),
                    block_no=int(record["block_no"]),
                    block_size=int(record["block_size"]),
                    sequence=record["sequence"].upper(),
                    kit_code=record["kit_code"],
                )
            )
        except ValueError:
            raise AllocationListError(
                f"line {line_no}: sequence_no, block_no and block_size must be whole numbers"
            ) from None
        if not record["kit_code"]:
            raise AllocationListError(f"line {line_no}: kit_code is empty")
    validate_rows(rows)
    return rows


def rows_to_csv(rows: Iterable[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.stratum, r.sequence_no, r.block_no, r.block_size, r.sequence, r.kit_code])
    return out.getvalue()


def checksum(rows: Iterable[Row]) -> str:
    """SHA-256 of the list in canonical order: changes to any row change it."""
    ordered = sorted(rows, key=lambda r: (r.stratum, r.sequence_no))
    return hashlib.sha256(rows_to_csv(ordered).encode()).hexdigest()
