"""The allocation list: generated (permuted blocks) or uploaded, stored with its checksum, verified.

A list is stored whole or not at all. It uses exactly the protocol's strata, and kit codes never
seen before (not even on a replaced list: a kit code names one kit for good). While no participant
has a slot, the pharmacist may replace the active list, but only on purpose: with a reason, kept
as an audited AllocationListReplacement. Once a slot is used the list stays for the trial.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create
from ketatrial.trial import protocol
from participants import randomization
from participants.allocation.access import require_unblinded
from participants.allocation.randomize import allocation_strata, randomization_number, slot_kits
from participants.models import (
    AllocationKit,
    AllocationList,
    AllocationListReplacement,
    AllocationSlot,
)
from participants.randomization import AllocationListError, Row


def _slot_rows(allocation_list: AllocationList) -> list[Row]:
    return [
        Row(*values)
        for values in allocation_list.slots.order_by().values_list(
            "stratum", "sequence_no", "block_no", "block_size", "sequence", "kit_code"
        )
    ]


def allocation_list_active() -> AllocationList | None:
    return AllocationList.objects.filter(active=True).first()


def allocation_list_verify(allocation_list: AllocationList) -> bool:
    """True when the stored rows still match the checksum taken when the list was stored."""
    return randomization.checksum(_slot_rows(allocation_list)) == allocation_list.checksum


def audit_reason(text: str) -> str:
    """`text` cut to the audit trail's reason column (100 characters). The whole reason is a field
    of the record itself, so its history row keeps it in full."""
    return text if len(text) <= 100 else text[:99] + "…"


def kit_codes_stored(codes: list[str]) -> list[str]:
    """Which of `codes` already name a kit (a slot's own or a replacement), in any list."""
    found: set[str] = set()
    for start in range(0, len(codes), 500):  # SQLite caps the parameters of one query
        chunk = codes[start : start + 500]
        found |= set(AllocationSlot.objects.filter(kit_code__in=chunk).values_list("kit_code", flat=True))
        found |= set(AllocationKit.objects.filter(kit_code__in=chunk).values_list("kit_code", flat=True))
    return sorted(found)


def _store(
    *,
    rows: list[Row],
    method: str,
    parameters: dict[str, Any],
    by: AbstractBaseUser,
    now: datetime,
    replace_reason: str,
) -> AllocationList:
    current = AllocationList.objects.select_for_update().filter(active=True).first()
    replace_reason = (replace_reason or "").strip()
    if current is not None:
        if current.slots.filter(participant__isnull=False).exists():
            raise ValidationError(
                _("The allocation list is in use: it cannot be replaced once a participant is randomized.")
            )
        if not replace_reason:
            raise ValidationError(
                _(
                    "Nothing was stored: list %(pk)s is active (%(n)s slots, nobody randomized yet). "
                    "To replace it, tick “Replace the unused active list” and give the reason."
                )
                % {"pk": current.pk, "n": current.slots.count()}
            )
    stored = kit_codes_stored([row.kit_code for row in rows])
    if stored:
        raise ValidationError(
            _(
                "Nothing was stored: %(n)s kit code(s) of this list are already stored (%(codes)s). "
                "A kit code is never used twice, not even from a replaced list: give these kits new "
                "codes (a generated list with a new seed has new codes)."
            )
            % {"n": len(stored), "codes": ", ".join(stored[:10]) + (" …" if len(stored) > 10 else "")}
        )
    if current is not None:
        current.active = False
        current.save(update_fields=["active"])
        parameters = {**parameters, "replaces_list": current.pk, "replace_reason": replace_reason}
    allocation_list = AllocationList.objects.create(
        method=method,
        parameters=parameters,
        checksum=randomization.checksum(rows),
        created_at=now,
        created_by=by,
        active=True,
    )
    for row in rows:
        slot = AllocationSlot(
            allocation_list=allocation_list,
            stratum=row.stratum,
            sequence_no=row.sequence_no,
            block_no=row.block_no,
            block_size=row.block_size,
            sequence=row.sequence,
            kit_code=row.kit_code,
        )
        clinical_create(slot, by=by, reason=f"allocation list {allocation_list.pk} {method}")
    if current is not None:
        clinical_create(
            AllocationListReplacement(
                replaced=current,
                replacement=allocation_list,
                reason=replace_reason,
                replaced_at=now,
                replaced_by=by,
            ),
            by=by,
            reason=audit_reason(f"list {current.pk} replaced: {replace_reason}"),
        )
    return allocation_list


@transaction.atomic
def allocation_list_generate(
    *,
    by: AbstractBaseUser,
    now: datetime,
    n_per_stratum: int,
    block_sizes: tuple[int, ...] | None = None,
    strata: tuple[str, ...] | None = None,
    seed: int | None = None,
    replace_reason: str = "",
) -> AllocationList:
    """Generate and store a permuted-block list; the parameters (with the seed) are recorded.
    `replace_reason` replaces an active list nobody has used yet (refused without one)."""
    require_unblinded(by)
    p = protocol()
    parameters = {
        "method": "permuted blocks, random block sizes",
        "n_per_stratum": n_per_stratum,
        "block_sizes": list(block_sizes or p.allocation_block_sizes),
        "strata": list(strata or allocation_strata()),
        "sequences": list(randomization.SEQUENCES),
        "ratio": "1:1",
        # Kept as text: a 128-bit seed does not survive every JSON reader as a number.
        "seed": str(seed if seed is not None else randomization.new_seed()),
        "generator": "python random.Random (Mersenne Twister), participants/randomization.py",
        "protocol_version": p.version,
    }
    try:
        rows = randomization.generate_blocks(
            n_per_stratum=n_per_stratum,
            block_sizes=tuple(parameters["block_sizes"]),
            strata=tuple(parameters["strata"]),
            seed=int(parameters["seed"]),
        )
        problems = randomization.strata_problems(rows, allocation_strata())
        if problems:
            raise AllocationListError("; ".join(problems))
    except AllocationListError as exc:
        raise ValidationError(_("The allocation list was not generated: %s") % exc) from exc
    parameters["rows"] = len(rows)
    return _store(
        rows=rows,
        method=AllocationList.Method.GENERATED,
        parameters=parameters,
        by=by,
        now=now,
        replace_reason=replace_reason,
    )


def _safe_filename(name: str) -> str:
    # Kept in the parameters record (JSON, then CSV): printable characters only, short.
    cleaned = "".join(ch for ch in name if ch.isprintable())[:200]
    return cleaned or "(no name)"


@transaction.atomic
def allocation_list_upload(
    *, by: AbstractBaseUser, now: datetime, text: str, filename: str, replace_reason: str = ""
) -> AllocationList:
    """Validate an uploaded CSV and store it whole, or store nothing and say what is wrong.
    `replace_reason` replaces an active list nobody has used yet (refused without one)."""
    require_unblinded(by)
    try:
        rows = randomization.parse_csv(text, strata=allocation_strata())
    except AllocationListError as exc:
        raise ValidationError(_("The allocation list was not imported: %s") % exc) from exc
    parameters = {
        "method": "uploaded CSV",
        "filename": _safe_filename(filename),
        "rows": len(rows),
        "strata": sorted({r.stratum for r in rows}),
    }
    try:
        return _store(
            rows=rows,
            method=AllocationList.Method.UPLOADED,
            parameters=parameters,
            by=by,
            now=now,
            replace_reason=replace_reason,
        )
    except IntegrityError as exc:
        raise ValidationError(
            _("The allocation list was not imported: a kit code is already used by an earlier list.")
        ) from exc


def allocation_list_parameters_csv(user: AbstractBaseUser, allocation_list: AllocationList) -> str:
    """The downloadable record of how the list was made (parameters, checksum, creator)."""
    require_unblinded(user)
    lines = ["parameter,value"]
    record = {
        **allocation_list.parameters,
        "checksum_sha256": allocation_list.checksum,
        "created_at": allocation_list.created_at.isoformat(),
        "created_by": allocation_list.created_by.get_username(),
    }
    for key, value in record.items():
        text = ";".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f'{key},"{text}"')
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # Free text (reasons) opened in a spreadsheet: a leading =, +, - or @ would run as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


FULL_LIST_COLUMNS = (
    *randomization.CSV_COLUMNS,
    "randomization_number",
    "participant",
    "randomized_at",
    "current_kit_code",
    "current_kit_available",
    "kits_out_of_use",
)


def allocation_list_csv(user: AbstractBaseUser, allocation_list: AllocationList) -> str:
    """The whole list for the unblinded pharmacist: the six columns the checksum covers, as
    stored, then who took each slot and when, and the slot's kit (replacements, kits out of use
    with their reasons)."""
    require_unblinded(user)
    slots = list(allocation_list.slots.select_related("participant").order_by("stratum", "sequence_no"))
    kits = slot_kits(slots)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FULL_LIST_COLUMNS)
    for slot in slots:
        kit = kits[slot.pk]
        writer.writerow(
            [
                slot.stratum,
                slot.sequence_no,
                slot.block_no,
                slot.block_size,
                slot.sequence,
                slot.kit_code,
                randomization_number(slot),
                slot.participant.code if slot.participant else "",
                timezone.localtime(slot.assigned_at).isoformat() if slot.assigned_at else "",
                kit.code,
                "yes" if kit.available else "no",
                "; ".join(_cell(f"{code}: {reason}") for code, reason in kit.out_of_use),
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class SlotCount:
    """Slots of one stratum and sequence: how many, used, free, and free without a usable kit."""

    stratum: str
    sequence: str
    total: int
    used: int
    free: int
    free_kit_out_of_use: int


def allocation_list_counts(user: AbstractBaseUser, allocation_list: AllocationList) -> list[SlotCount]:
    """Used and unused slots by stratum and sequence (the unblinded pharmacist's view)."""
    require_unblinded(user)
    groups = (
        allocation_list.slots.order_by()
        .values("stratum", "sequence")
        .annotate(total=Count("id"), used=Count("participant"))
        .order_by("stratum", "sequence")
    )
    # Only slots with a kit event can lack a usable kit: read those, not the whole list.
    eventful = list(
        allocation_list.slots.filter(participant__isnull=True)
        .filter(Q(kit_unavailable_at__isnull=False) | Q(replacement_kits__isnull=False))
        .distinct()
    )
    kits = slot_kits(eventful)
    blocked: dict[tuple[str, str], int] = defaultdict(int)
    for slot in eventful:
        if not kits[slot.pk].available:
            blocked[(slot.stratum, slot.sequence)] += 1
    return [
        SlotCount(
            stratum=g["stratum"],
            sequence=g["sequence"],
            total=g["total"],
            used=g["used"],
            free=g["total"] - g["used"],
            free_kit_out_of_use=blocked[(g["stratum"], g["sequence"])],
        )
        for g in groups
    ]
