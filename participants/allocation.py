"""The allocation module: the only code that reads the allocation.

It owns the allocation list, the randomize action, dose preparation and drug accountability (a
preparation reveals the product) and emergency unblinding. Blinding is two keys: a user sees the
allocation only when listed in settings.UNBLINDED_USERNAMES *and* a member of the pharmacist
group. The principal investigator who requested an executed emergency unblinding sees that one
participant's sequence. Everyone else gets neutral values: randomization number, kit code,
syringe code, total volume and pump rate, never the sequence or the product.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from infusions import dosing
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import PHARMACIST, PRINCIPAL_INVESTIGATOR, STATISTICIAN
from ketatrial.trial import protocol
from participants import randomization
from participants.access import has_role
from participants.models import (
    AllocationList,
    AllocationSlot,
    DosePreparation,
    KetamineReceipt,
    Participant,
    SequenceKey,
    StockCount,
    UnblindingRequest,
)
from participants.randomization import AllocationListError, Row

PRODUCT_KETAMINE = "ketamine"
PRODUCT_PLACEBO = "placebo"


# --- who may see -------------------------------------------------------------------------------


def can_see_allocation(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Two keys: listed in settings and in the pharmacist group."""
    return bool(
        user.is_authenticated
        and user.get_username() in settings.UNBLINDED_USERNAMES
        and has_role(user, PHARMACIST)
    )


def require_unblinded(user: AbstractBaseUser | AnonymousUser) -> None:
    if not can_see_allocation(user):
        raise PermissionDenied


def product_for(sequence: str, period: int) -> str:
    """KP: ketamine then placebo; PK: placebo then ketamine."""
    if sequence not in randomization.SEQUENCES or period not in (1, 2):
        raise ValueError(f"no product for sequence {sequence!r} period {period!r}")
    letter = sequence[period - 1]
    return PRODUCT_KETAMINE if letter == "K" else PRODUCT_PLACEBO


# --- allocation list ---------------------------------------------------------------------------


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


# --- randomize ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlindedAllocation:
    """What blinded users may know of a randomization."""

    randomization_number: str
    kit_code: str
    randomized_at: datetime


def _blinded(slot: AllocationSlot) -> BlindedAllocation:
    assert slot.assigned_at is not None
    prefix = f"{slot.stratum}-" if slot.stratum else ""
    return BlindedAllocation(f"R-{prefix}{slot.sequence_no:03d}", slot.kit_code, slot.assigned_at)


def blinded_allocation(participant: Participant) -> BlindedAllocation | None:
    slot = AllocationSlot.objects.filter(participant=participant).first()
    return _blinded(slot) if slot else None


def blinded_allocations(participants: list[Participant]) -> dict[int, BlindedAllocation]:
    """Blinded allocation of many participants in one query (participant pk -> allocation)."""
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {slot.participant_id: _blinded(slot) for slot in slots if slot.participant_id}


@transaction.atomic
def participant_randomize(
    *, participant: Participant, by: AbstractBaseUser, now: datetime
) -> BlindedAllocation:
    """Give the participant the next free slot of the active list in their stratum.

    The active list row is locked for the whole transaction, so concurrent randomizations take
    the slots strictly in list order and none is skipped; the one-to-one constraint on the slot
    refuses a second randomization of the same participant even past this check.
    """
    from participants.services import randomization_readiness

    allocation_list = AllocationList.objects.select_for_update().filter(active=True).first()
    if allocation_list is None:
        raise ValidationError(_("No allocation list is loaded; the pharmacist must generate or upload one."))
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    problems = randomization_readiness(locked, now=now)
    if problems:
        raise ValidationError(problems)
    if AllocationSlot.objects.filter(participant=locked).exists():
        raise ValidationError(_("This participant is already randomized."))
    slot = (
        AllocationSlot.objects.filter(
            allocation_list=allocation_list, stratum=locked.stratum, participant=None
        )
        .order_by("sequence_no")
        .first()
    )
    if slot is None:
        raise ValidationError(_("The allocation list has no free slot left in this stratum."))
    try:
        with transaction.atomic():
            clinical_update(
                slot, by=by, reason="randomized", changes={"participant": locked, "assigned_at": now}
            )
    except IntegrityError as exc:
        raise ValidationError(_("This participant is already randomized.")) from exc
    clinical_update(locked, by=by, reason="randomized", changes={"status": Participant.Status.RANDOMIZED})
    return _blinded(slot)


# --- what each user may see of the sequence ----------------------------------------------------


def _executed_unblinding_for(user: AbstractBaseUser, participant: Participant) -> bool:
    return UnblindingRequest.objects.filter(
        participant=participant, requested_by=user, executed_at__isnull=False
    ).exists()


def sequence_for(user: AbstractBaseUser, participant: Participant) -> str:
    """The participant's sequence, for the unblinded pharmacist or the requester of an executed
    emergency unblinding of this participant; PermissionDenied for anyone else."""
    if not (
        can_see_allocation(user)
        or (has_role(user, PRINCIPAL_INVESTIGATOR) and _executed_unblinding_for(user, participant))
    ):
        raise PermissionDenied
    slot = AllocationSlot.objects.filter(participant=participant).first()
    if slot is None:
        raise ValidationError(_("This participant is not randomized."))
    return slot.sequence


@dataclass(frozen=True)
class AllocationRow:
    participant: Participant
    randomization_number: str
    kit_code: str
    sequence: str


def allocation_table(user: AbstractBaseUser) -> list[AllocationRow]:
    """Every randomized participant with the sequence: the unblinded pharmacist's view."""
    require_unblinded(user)
    slots = AllocationSlot.objects.filter(participant__isnull=False).select_related(
        "participant", "participant__site"
    )
    return [
        AllocationRow(s.participant, _blinded(s).randomization_number, s.kit_code, s.sequence)  # type: ignore[arg-type]
        for s in slots
    ]


def period_day_patterns(participant: Participant) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Infusion day patterns of both periods for the schedule. Period 2's length follows from the
    sequence (4 after KP, 8 after PK): the caller must show it only where the protocol's stated
    hazard allows (never to raters)."""
    slot = AllocationSlot.objects.filter(participant=participant).first()
    if slot is None:
        raise ValidationError(_("This participant is not randomized."))
    p = protocol()
    return p.period1_infusion_days, p.period2_infusion_days(slot.sequence)


def period_day_patterns_many(
    participants: list[Participant],
) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """period_day_patterns for many participants in one query (same caveat)."""
    p = protocol()
    slots = AllocationSlot.objects.filter(participant__in=participants).values_list(
        "participant_id", "sequence"
    )
    return {pk: (p.period1_infusion_days, p.period2_infusion_days(seq)) for pk, seq in slots}


def randomized_count() -> int:
    """How many participants took a slot (a neutral count, for CONSORT)."""
    return AllocationSlot.objects.filter(participant__isnull=False).count()


def is_emergency_unblinded(participant: Participant) -> bool:
    """Neutral flag shown in blinded views: an emergency unblinding was executed."""
    return UnblindingRequest.objects.filter(participant=participant, executed_at__isnull=False).exists()


# --- dose preparation --------------------------------------------------------------------------

SYRINGE_ALPHABET = randomization.KIT_ALPHABET


def _syringe_code() -> str:
    # Random, the same format for both products: the code says nothing about the content.
    return "S-" + "".join(secrets.choice(SYRINGE_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class BlindedPreparation:
    """What the blinded infusion team sees of a preparation (identical for both products)."""

    syringe_code: str
    total_volume_ml: Decimal
    pump_rate_ml_h: Decimal
    prepared_at: datetime


def _blinded_preparation(prep: DosePreparation) -> BlindedPreparation:
    return BlindedPreparation(prep.syringe_code, prep.total_volume_ml, prep.pump_rate_ml_h, prep.prepared_at)


def blinded_preparation(
    participant: Participant, period: int, infusion_number: int
) -> BlindedPreparation | None:
    prep = DosePreparation.objects.filter(
        participant=participant, period=period, infusion_number=infusion_number
    ).first()
    return _blinded_preparation(prep) if prep else None


def preparation_plan(
    *,
    user: AbstractBaseUser,
    participant: Participant,
    period: int,
    weight_kg: Decimal,
    receipt: KetamineReceipt | None,
) -> tuple[str, dosing.Preparation]:
    """Product and arithmetic for a preparation (shown to the pharmacist before saving)."""
    require_unblinded(user)
    product = product_for(sequence_for(user, participant), period)
    p = protocol()
    if product == PRODUCT_KETAMINE and receipt is None:
        raise ValidationError({"receipt": _("Choose the ketamine lot the dose is drawn from.")})
    concentration = receipt.concentration_mg_ml if receipt else Decimal("1")
    try:
        plan = dosing.prepare(
            weight_kg=weight_kg,
            active=product == PRODUCT_KETAMINE,
            mg_per_kg=Decimal(str(p.dose_mg_per_kg)),
            vial_concentration_mg_ml=concentration,
            total_volume_ml=Decimal(str(p.total_volume_ml)),
            infusion_minutes=p.infusion_minutes,
            weight_cap_kg=Decimal(str(p.weight_cap_kg)) if p.weight_cap_kg is not None else None,
        )
    except dosing.DosingError as exc:
        raise ValidationError(str(exc)) from exc
    return product, plan


@transaction.atomic
def dose_prepare(
    *,
    participant: Participant,
    period: int,
    infusion_number: int,
    weight_kg: Decimal,
    receipt: KetamineReceipt | None,
    checked_by: AbstractBaseUser,
    by: AbstractBaseUser,
    now: datetime,
) -> DosePreparation:
    """Record one preparation: dose from the weight measured today, a second pharmacist checks."""
    from participants.services import require_consent

    require_unblinded(by)
    participant = Participant.objects.select_for_update().select_related("screening").get(pk=participant.pk)
    if checked_by.pk == by.pk or not has_role(checked_by, PHARMACIST):
        raise ValidationError({"checked_by": _("The second checker must be another pharmacist.")})
    require_consent(participant, at=now)
    if participant.status != Participant.Status.RANDOMIZED:
        raise ValidationError(_("Only a randomized participant in follow-up can receive an infusion."))
    n_infusions = (
        len(protocol().period1_infusion_days)
        if period == 1
        else len(protocol().period2_infusion_days(sequence_for(by, participant)))
    )
    if not 1 <= infusion_number <= n_infusions:
        raise ValidationError(
            {"infusion_number": _("Infusion number must be between 1 and %d.") % n_infusions}
        )
    product, plan = preparation_plan(
        user=by, participant=participant, period=period, weight_kg=weight_kg, receipt=receipt
    )
    if product == PRODUCT_PLACEBO:
        receipt = None
    vials = math.ceil(plan.volume_drawn_ml / receipt.ml_per_vial) if receipt else 0
    wasted = (vials * receipt.mg_per_vial - plan.dose_mg) if receipt else Decimal("0")
    if receipt is not None and vials > accountability_balance(receipt):
        raise ValidationError({"receipt": _("Lot %s has not enough vials left.") % receipt.lot})
    prep = DosePreparation(
        participant=participant,
        period=period,
        infusion_number=infusion_number,
        weight_kg=weight_kg,
        weight_capped=plan.weight_capped,
        dose_mg=plan.dose_mg,
        receipt=receipt,
        vial_concentration_mg_ml=receipt.concentration_mg_ml if receipt else None,
        volume_drawn_ml=plan.volume_drawn_ml,
        vials_opened=vials,
        wasted_mg=wasted,
        diluent_ml=plan.diluent_ml,
        total_volume_ml=plan.total_volume_ml,
        pump_rate_ml_h=plan.pump_rate_ml_h,
        syringe_code=_syringe_code(),
        prepared_by=by,
        checked_by=checked_by,
        prepared_at=now,
    )
    if DosePreparation.objects.filter(
        participant=participant, period=period, infusion_number=infusion_number
    ).exists():
        raise ValidationError(_("This infusion is already prepared."))
    return clinical_create(prep, by=by, reason="prepared")


def preparations_for(user: AbstractBaseUser, participant: Participant) -> list[DosePreparation]:
    require_unblinded(user)
    return list(
        DosePreparation.objects.filter(participant=participant).select_related(
            "prepared_by", "checked_by", "receipt"
        )
    )


def preparation_get(user: AbstractBaseUser, pk: int) -> DosePreparation:
    require_unblinded(user)
    prep = DosePreparation.objects.filter(pk=pk).select_related("participant").first()
    if prep is None:
        from participants.access import not_found

        raise not_found()
    return prep


def label_context(prep: DosePreparation) -> dict[str, Any]:
    """The syringe label: the same fields, wording and layout for ketamine and placebo."""
    return {
        "participant_code": prep.participant.code,
        "period": prep.period,
        "infusion_number": prep.infusion_number,
        "syringe_code": prep.syringe_code,
        "total_volume_ml": prep.total_volume_ml,
        "pump_rate_ml_h": prep.pump_rate_ml_h,
        "infusion_minutes": protocol().infusion_minutes,
        "prepared_date": prep.prepared_at,
    }


# --- drug accountability -----------------------------------------------------------------------


@transaction.atomic
def receipt_record(
    *,
    lot: str,
    vials: int,
    mg_per_vial: Decimal,
    ml_per_vial: Decimal,
    expiry_date: Any,
    by: AbstractBaseUser,
    now: datetime,
) -> KetamineReceipt:
    require_unblinded(by)
    return clinical_create(
        KetamineReceipt(
            lot=lot,
            vials=vials,
            mg_per_vial=mg_per_vial,
            ml_per_vial=ml_per_vial,
            expiry_date=expiry_date,
            received_at=now,
            received_by=by,
        ),
        by=by,
        reason="received",
    )


def accountability_balance(receipt: KetamineReceipt) -> int:
    """Vials of a lot left on the books: received minus opened."""
    opened = DosePreparation.objects.filter(receipt=receipt).aggregate(n=Sum("vials_opened"))["n"] or 0
    return receipt.vials - opened


@transaction.atomic
def stock_count_record(
    *, receipt: KetamineReceipt, vials_counted: int, note: str, by: AbstractBaseUser, now: datetime
) -> StockCount:
    """A physical count; the book balance at that moment is stored beside it."""
    require_unblinded(by)
    KetamineReceipt.objects.select_for_update().get(pk=receipt.pk)
    count = StockCount(
        receipt=receipt,
        counted_at=now,
        vials_counted=vials_counted,
        vials_expected=accountability_balance(receipt),
        counted_by=by,
        note=note,
    )
    return clinical_create(count, by=by, reason="counted")


@dataclass(frozen=True)
class LotBalance:
    receipt: KetamineReceipt
    vials_opened: int
    mg_used: Decimal
    mg_wasted: Decimal
    balance: int
    last_count: StockCount | None

    @property
    def discrepancy(self) -> int | None:
        return None if self.last_count is None else self.last_count.discrepancy


def accountability(user: AbstractBaseUser) -> list[LotBalance]:
    """Ketamine per lot: received, opened, used and wasted mg, balance, last count and its gap."""
    require_unblinded(user)
    # Two separate aggregations: joining preparations and counts in one query would multiply rows.
    usage = {
        row["receipt"]: row
        for row in DosePreparation.objects.filter(receipt__isnull=False)
        .values("receipt")
        .annotate(opened=Sum("vials_opened"), used=Sum("dose_mg"), wasted=Sum("wasted_mg"))
    }
    last_counts: dict[int, StockCount] = {}
    for count in StockCount.objects.order_by("receipt_id", "-counted_at", "-id"):
        last_counts.setdefault(count.receipt_id, count)
    rows = []
    for r in KetamineReceipt.objects.order_by("received_at"):
        u = usage.get(r.pk, {})
        opened = u.get("opened") or 0
        rows.append(
            LotBalance(
                r,
                opened,
                u.get("used") or Decimal("0"),
                u.get("wasted") or Decimal("0"),
                r.vials - opened,
                last_counts.get(r.pk),
            )
        )
    return rows


# --- emergency unblinding ----------------------------------------------------------------------


@transaction.atomic
def unblinding_request(
    *, participant: Participant, reason: str, by: AbstractBaseUser, now: datetime
) -> UnblindingRequest:
    """The principal investigator asks for one participant's sequence, with the clinical reason."""
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the clinical reason for unblinding.")})
    if not AllocationSlot.objects.filter(participant=participant).exists():
        raise ValidationError(_("This participant is not randomized."))
    if UnblindingRequest.objects.filter(participant=participant, executed_at__isnull=True).exists():
        raise ValidationError(_("A request for this participant is already waiting for the pharmacist."))
    return clinical_create(
        UnblindingRequest(participant=participant, requested_by=by, requested_at=now, reason=reason.strip()),
        by=by,
        reason="emergency unblinding requested",
    )


@transaction.atomic
def unblinding_execute(
    *, request: UnblindingRequest, people_informed: str, by: AbstractBaseUser, now: datetime
) -> UnblindingRequest:
    """The pharmacist releases the sequence to the requester; who was told is recorded."""
    require_unblinded(by)
    locked = UnblindingRequest.objects.select_for_update().get(pk=request.pk)
    if locked.executed_at is not None:
        raise ValidationError(_("This request was already executed."))
    if not people_informed.strip():
        raise ValidationError({"people_informed": _("Record who was told the allocation.")})
    return clinical_update(
        locked,
        by=by,
        reason="emergency unblinding executed",
        changes={"executed_by": by, "executed_at": now, "people_informed": people_informed.strip()},
    )


def unblinding_requests_for(user: AbstractBaseUser) -> list[UnblindingRequest]:
    """The pharmacist sees every request; a principal investigator sees their own."""
    qs = UnblindingRequest.objects.select_related("participant", "requested_by", "executed_by")
    if can_see_allocation(user):
        return list(qs)
    if has_role(user, PRINCIPAL_INVESTIGATOR):
        return list(qs.filter(requested_by=user))
    return []


def pending_unblinding_count() -> int:
    return UnblindingRequest.objects.filter(Q(executed_at__isnull=True)).count()


# --- coded sequences for the statistician --------------------------------------------------------


def _sequence_key(now: datetime) -> SequenceKey:
    """The one key (row 1), drawn on first use; two workers drawing at once agree on the first."""
    key = SequenceKey.objects.filter(pk=1).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return clinical_create(
                SequenceKey(pk=1, kp_letter=secrets.choice("AB"), created_at=now), by=None, reason="drawn"
            )
    except (IntegrityError, ValidationError):
        return SequenceKey.objects.get(pk=1)


def sequence_key_released() -> bool:
    """Whether the statistician has released the key (a neutral fact: it says nothing of it)."""
    return SequenceKey.objects.filter(released_at__isnull=False).exists()


def coded_sequences(
    user: AbstractBaseUser, participants: list[Participant], *, now: datetime
) -> dict[int, str]:
    """Participant pk -> 'A' or 'B' for the statistician's blinded exports; the letters mean
    nothing until the key is released."""
    if not has_role(user, STATISTICIAN):
        raise PermissionDenied
    key = _sequence_key(now)
    other = "B" if key.kp_letter == "A" else "A"
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {
        s.participant_id: key.kp_letter if s.sequence == "KP" else other for s in slots if s.participant_id
    }


def sequence_key_release(*, user: AbstractBaseUser, database_locked: bool, now: datetime) -> None:
    """The statistician opens the key, only while the database is locked; audited, once."""
    if not has_role(user, STATISTICIAN):
        raise PermissionDenied
    if not database_locked:
        raise ValidationError(_("The sequence key can be released only after the database lock."))
    key = _sequence_key(now)
    with transaction.atomic():
        key = SequenceKey.objects.select_for_update().get(pk=key.pk)
        if key.released_at is not None:
            raise ValidationError(_("The sequence key was already released."))
        clinical_update(
            key,
            by=user,
            reason="released after database lock",
            changes={"released_at": now, "released_by": user},
        )


def released_sequences(
    user: AbstractBaseUser | None, participants: list[Participant]
) -> dict[int, dict[str, str]]:
    """After release, for the statistician (or the scheduled analyses, user None): participant
    pk -> sequence, code letter and the product of each period."""
    if not ((user is None or has_role(user, STATISTICIAN)) and sequence_key_released()):
        raise PermissionDenied
    key = SequenceKey.objects.get()
    other = "B" if key.kp_letter == "A" else "A"
    slots = AllocationSlot.objects.filter(participant__in=participants)
    return {
        s.participant_id: {
            "sequence": s.sequence,
            "sequence_code": key.kp_letter if s.sequence == "KP" else other,
            "product_period1": product_for(s.sequence, 1),
            "product_period2": product_for(s.sequence, 2),
        }
        for s in slots
        if s.participant_id
    }


def sequence_key_letters(user: AbstractBaseUser) -> dict[str, str]:
    """After release: code letter -> sequence (the key itself)."""
    if not (has_role(user, STATISTICIAN) and sequence_key_released()):
        raise PermissionDenied
    key = SequenceKey.objects.get()
    return {key.kp_letter: "KP", ("B" if key.kp_letter == "A" else "A"): "PK"}
