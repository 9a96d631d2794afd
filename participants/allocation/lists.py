"""The allocation list: generated (permuted blocks) or uploaded, stored with its checksum, verified."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create
from ketatrial.trial import protocol
from participants import randomization
from participants.allocation.access import require_unblinded
from participants.models import (
    AllocationList,
    AllocationSlot,
)
from participants.randomization import AllocationListError, Row


def _slot_rows(allocation_list: AllocationList) -> list[Row]:
    return [
        Row(s.stratum, s.sequence_no, s.block_no, s.block_size, s.sequence, s.kit_code)
        for s in allocation_list.slots.all()
    ]


def allocation_list_active() -> AllocationList | None:
    return AllocationList.objects.filter(active=True).first()


def allocation_list_verify(allocation_list: AllocationList) -> bool:
    """True when the stored rows still match the checksum taken when the list was stored."""
    return randomization.checksum(_slot_rows(allocation_list)) == allocation_list.checksum


def _store(
    *, rows: list[Row], method: str, parameters: dict[str, Any], by: AbstractBaseUser, now: datetime
) -> AllocationList:
    current = AllocationList.objects.select_for_update().filter(active=True).first()
    if current is not None:
        if current.slots.filter(participant__isnull=False).exists():
            raise ValidationError(
                _("The allocation list is in use: it cannot be replaced once a participant is randomized.")
            )
        current.active = False
        current.save(update_fields=["active"])
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
) -> AllocationList:
    """Generate and store a permuted-block list; the parameters (with the seed) are recorded."""
    require_unblinded(by)
    p = protocol()
    parameters = {
        "method": "permuted blocks, random block sizes",
        "n_per_stratum": n_per_stratum,
        "block_sizes": list(block_sizes or p.allocation_block_sizes),
        "strata": list(strata or p.strata),
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
    except AllocationListError as exc:
        raise ValidationError(str(exc)) from exc
    parameters["rows"] = len(rows)
    return _store(rows=rows, method=AllocationList.Method.GENERATED, parameters=parameters, by=by, now=now)


@transaction.atomic
def allocation_list_upload(
    *, by: AbstractBaseUser, now: datetime, text: str, filename: str
) -> AllocationList:
    """Validate an uploaded CSV and store it whole, or store nothing and say what is wrong."""
    require_unblinded(by)
    try:
        rows = randomization.parse_csv(text)
    except AllocationListError as exc:
        raise ValidationError(_("The allocation list was not imported: %s") % exc) from exc
    parameters = {
        "method": "uploaded CSV",
        "filename": filename,
        "rows": len(rows),
        "strata": sorted({r.stratum for r in rows}),
    }
    try:
        return _store(rows=rows, method=AllocationList.Method.UPLOADED, parameters=parameters, by=by, now=now)
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
