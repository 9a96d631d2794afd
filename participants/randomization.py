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
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SEQUENCES: tuple[str, str] = ("KP", "PK")
CSV_COLUMNS = ("stratum", "sequence_no", "block_no", "block_size", "sequence", "kit_code")
KIT_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY3479"  # no look-alike characters (0/O, 1/I, 5/S, 8/B, 2/Z, 6)
# A kit code is printed on labels, typed by staff and written into CSV downloads: letters, digits,
# dot, hyphen and underscore only (no spaces, no leading sign that a spreadsheet reads as a
# formula), at most 20 characters (the column's width).
KIT_CODE_MAX = 20
KIT_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")
STRATUM_MAX = 40


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


def _short(text: str, limit: int = 40) -> str:
    # Messages quote what was uploaded: a 2 MB cell must not come back whole, nor a control
    # character at all.
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def kit_code_problem(code: str) -> str | None:
    """Why `code` cannot be a kit code, or None when it can."""
    if not code.strip():
        return "empty kit code"
    if not KIT_CODE_PATTERN.fullmatch(code):
        return (
            f"kit code '{_short(code)}' is not 1-{KIT_CODE_MAX} letters, digits, '.', '-' or '_' "
            "starting with a letter or digit"
        )
    return None


def _stratum_label(stratum: str) -> str:
    return f"'{_short(stratum)}'" if stratum else "(none)"


def strata_problems(rows: Sequence[Row], strata: Sequence[str]) -> list[str]:
    """A list must use exactly the protocol's strata: none unknown, none missing. ("",) means the
    protocol declares no strata, so every row must have an empty stratum."""
    declared = set(strata)
    used = {row.stratum for row in rows}
    expected = ", ".join(_stratum_label(s) for s in sorted(declared)) if declared - {""} else "none"
    problems = [
        f"unknown stratum {_stratum_label(s)} (the protocol's strata: {expected})"
        for s in sorted(used - declared)
    ]
    problems += [
        f"stratum {_stratum_label(s)} of the protocol has no rows" for s in sorted(declared - used) if used
    ]
    return problems


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


def validate_rows(
    rows: Sequence[Row], sequences: Sequence[str] = SEQUENCES, strata: Sequence[str] | None = None
) -> None:
    """Refuse a list that is not a clean permuted-block list; the message says what is wrong.

    With `strata` (the protocol's), a list with an unknown stratum, or without rows for one of
    them, is refused too.
    """
    if not rows:
        raise AllocationListError("the list is empty")
    problems: list[str] = strata_problems(rows, strata) if strata is not None else []
    for row in rows:
        if row.sequence not in sequences:
            problems.append(
                f"row {_short(row.stratum) or '-'}/{row.sequence_no}: unknown sequence '{_short(row.sequence, 10)}'"
            )
    for row in rows:
        problem = kit_code_problem(row.kit_code)
        if problem:
            problems.append(f"row {_short(row.stratum) or '-'}/{row.sequence_no}: {problem}")
        if len(row.stratum) > STRATUM_MAX:
            problems.append(f"row {_short(row.stratum)}/{row.sequence_no}: stratum longer than {STRATUM_MAX}")
        if row.block_no < 1 or row.block_size < 1:
            problems.append(
                f"row {_short(row.stratum) or '-'}/{row.sequence_no}: block_no and block_size must be 1 or more"
            )
    kits = Counter(row.kit_code for row in rows)
    problems += [f"kit code {_short(code)} appears {n} times" for code, n in kits.items() if n > 1]
    numbers = Counter((row.stratum, row.sequence_no) for row in rows)
    problems += [
        f"sequence number {_short(s) or '-'}/{no} appears {n} times"
        for (s, no), n in numbers.items()
        if n > 1
    ]
    by_stratum: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_stratum[row.stratum].append(row)
    for stratum, stratum_rows in by_stratum.items():
        stratum_rows.sort(key=lambda r: r.sequence_no)
        expected = list(range(1, len(stratum_rows) + 1))
        if [r.sequence_no for r in stratum_rows] != expected:
            problems.append(
                f"stratum {_short(stratum) or '-'}: sequence numbers must run 1..{len(stratum_rows)} without gaps"
            )
        blocks: dict[int, list[Row]] = defaultdict(list)
        for row in stratum_rows:
            blocks[row.block_no].append(row)
        for block_no, block in sorted(blocks.items()):
            sizes = {r.block_size for r in block}
            counts = Counter(r.sequence for r in block)
            if len(sizes) != 1 or len(block) != sizes.pop():
                problems.append(
                    f"stratum {_short(stratum) or '-'} block {block_no}: size does not match its rows"
                )
            if len(set(counts.values())) != 1 or set(counts) != set(sequences):
                problems.append(
                    f"stratum {_short(stratum) or '-'} block {block_no}: unbalanced "
                    + ", ".join(f"{s}={counts.get(s, 0)}" for s in sequences)
                )
        if sorted(blocks) != list(range(1, len(blocks) + 1)):
            problems.append(
                f"stratum {_short(stratum) or '-'}: block numbers must run 1..{len(blocks)} without gaps"
            )
        previous_end = 0
        for block_no, block in sorted(blocks.items()):
            numbers_in_block = sorted(r.sequence_no for r in block)
            if numbers_in_block != list(range(numbers_in_block[0], numbers_in_block[0] + len(block))):
                problems.append(
                    f"stratum {_short(stratum) or '-'} block {block_no}: rows are not consecutive"
                )
            if numbers_in_block[0] < previous_end:
                problems.append(
                    f"stratum {_short(stratum) or '-'} block {block_no}: block numbers must rise with sequence numbers"
                )
            previous_end = numbers_in_block[-1]
    if problems:
        raise AllocationListError("; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))


def _whole(text: str) -> int:
    # ASCII digits only: int() would also take "1_000", "+3" or other scripts' digits.
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise ValueError(text)
    return int(text)


def parse_csv(text: str, strata: Sequence[str] | None = None) -> list[Row]:
    """Read an uploaded allocation CSV (header: exactly stratum, sequence_no, block_no, block_size,
    sequence, kit_code, in any order) and validate it (against the protocol's `strata` when given);
    raises AllocationListError naming the first problems, never another error."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise AllocationListError(
            f"the file is empty; the first line must name the columns {', '.join(CSV_COLUMNS)}"
        )
    try:
        # newline="": the csv module reads \n, \r\n and a lone \r alike; strict: a quote left open
        # is an error, not a field that swallows the rest of the file.
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = [name.strip() for name in next(reader, [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        extra = [name or "(unnamed)" for name in header if name not in CSV_COLUMNS]
        repeated = sorted({name for name in header if name and header.count(name) > 1})
        if missing or extra or repeated:
            parts = []
            if missing:
                parts.append(f"missing column(s): {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected column(s): {', '.join(name[:40] for name in extra[:10])}")
            if repeated:
                parts.append(f"repeated column(s): {', '.join(repeated)}")
            raise AllocationListError("; ".join(parts) + f"; expected exactly {', '.join(CSV_COLUMNS)}")
        rows: list[Row] = []
        for line_no, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue  # a blank line (often the last one)
            if len(values) != len(header):
                raise AllocationListError(f"line {line_no}: {len(values)} values for {len(header)} columns")
            record = dict(zip(header, (v.strip() for v in values), strict=True))
            try:
                rows.append(
                    Row(
                        stratum=record["stratum"],
                        sequence_no=_whole(record["sequence_no"]),
                        block_no=_whole(record["block_no"]),
                        block_size=_whole(record["block_size"]),
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
    except csv.Error as exc:
        # A stray quote, a field over the csv module's size limit and the like.
        raise AllocationListError(f"the file is not a readable CSV (line {reader.line_num}: {exc})") from None
    validate_rows(rows, strata=strata)
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
