"""The controlled-drug register of ketamine: receipts, doses dispensed, waste (witnessed by a second
pharmacist in their own session), returns to the supplier and stock counts, one register per lot
with its running balance.

Each line is kept by its own audited record: a receipt (KetamineReceipt), a dose dispensed (the
DosePreparation that drew it), a stock count (StockCount), and waste or a return (RegisterEntry).
The register puts them in time order per lot; the arithmetic of the balance is the pure
infusions/dosing.py. Quantities are in mg (to 0.1 mg) with their volume in mL at the lot's
concentration (to 0.01 mL). A lot holds whole vials: a preparation opens whole vials, its dose is
dispensed and the rest of the opened vials is wasted, so the balance in mg is always a whole
number of vials.

The register names the product, so it is the allocation package's (only unblinded pharmacists
read it).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infusions import dosing
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import PHARMACIST
from participants.access import has_role, not_found
from participants.allocation.access import require_unblinded
from participants.models import (
    DosePreparation,
    KetamineReceipt,
    RegisterEntry,
    StockCount,
)

KIND_LABELS = {
    "received": gettext_lazy("Received"),
    "dispensed": gettext_lazy("Dispensed"),
    "wasted": gettext_lazy("Wasted"),
    "returned": gettext_lazy("Returned to the supplier"),
    "counted": gettext_lazy("Counted"),
    "destroyed": gettext_lazy("Syringe destroyed"),
}
# Lines at the same moment: a receipt first, a count last (it counts what the others left).
_KIND_ORDER = {"received": 0, "dispensed": 1, "wasted": 2, "destroyed": 3, "returned": 4, "counted": 5}


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
    """Vials of a new lot received into the pharmacy (the register's first line of the lot)."""
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
    """Whole vials of a lot left on the books: received, minus opened by preparations, minus
    wasted or returned as whole vials."""
    opened = DosePreparation.objects.filter(receipt=receipt).aggregate(n=Sum("vials_opened"))["n"] or 0
    out = RegisterEntry.objects.filter(receipt=receipt).aggregate(n=Sum("vials"))["n"] or 0
    return receipt.vials - opened - out


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


def preparation_waste_record(*, prep: DosePreparation, by: AbstractBaseUser, now: datetime) -> None:
    """The rest of the vials a preparation opened, wasted at the bench; the second pharmacist
    witnesses it at their check. Called by the preparation service in its transaction."""
    if prep.receipt is None or prep.wasted_mg <= 0:
        return
    clinical_create(
        RegisterEntry(
            receipt=prep.receipt,
            kind=RegisterEntry.Kind.WASTED,
            cause=RegisterEntry.Cause.REMAINDER,
            occurred_at=now,
            quantity_mg=prep.wasted_mg,
            preparation=prep,
            recorded_by=by,
        ),
        by=by,
        reason="rest of the opened vials wasted",
    )


def _syringe_destroyed(
    *, prep: DosePreparation, reason: str, by: AbstractBaseUser, now: datetime, cause: str, audit_reason: str
) -> None:
    # The dose was dispensed when it was drawn: destroying the syringe wastes it (a register line
    # another pharmacist witnesses) without changing the balance.
    if prep.receipt is None:
        return
    clinical_create(
        RegisterEntry(
            receipt=prep.receipt,
            kind=RegisterEntry.Kind.WASTED,
            cause=cause,
            occurred_at=now,
            quantity_mg=prep.dose_mg,
            preparation=prep,
            recorded_by=by,
            note=reason,
        ),
        by=by,
        reason=audit_reason,
    )


def rejected_syringe_record(
    *, prep: DosePreparation, reason: str, by: AbstractBaseUser, now: datetime
) -> None:
    """A syringe rejected at the check is destroyed; another pharmacist witnesses it."""
    _syringe_destroyed(
        prep=prep,
        reason=reason,
        by=by,
        now=now,
        cause=RegisterEntry.Cause.REJECTED,
        audit_reason="rejected syringe destroyed",
    )


def discarded_syringe_record(
    *, prep: DosePreparation, reason: str, by: AbstractBaseUser, now: datetime
) -> None:
    """A syringe discarded without being given (expired, dropped...) is destroyed the same way as
    a rejected one, under a cause of its own; another pharmacist witnesses it."""
    _syringe_destroyed(
        prep=prep,
        reason=reason,
        by=by,
        now=now,
        cause=RegisterEntry.Cause.DISCARDED,
        audit_reason="discarded syringe destroyed",
    )


def _locked_receipt(receipt: KetamineReceipt, vials: int) -> KetamineReceipt:
    receipt = KetamineReceipt.objects.select_for_update().get(pk=receipt.pk)
    if vials < 1:
        raise ValidationError({"vials": _("Enter a whole number of vials, 1 or more.")})
    left = accountability_balance(receipt)
    if vials > left:
        raise ValidationError(
            {
                "vials": _("Lot %(lot)s has %(left)d vials on the books; %(vials)d cannot leave it.")
                % {"lot": receipt.lot, "left": left, "vials": vials}
            }
        )
    return receipt


def _note(note: str, what: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": what})
    return note


def _vials_out(
    *, receipt: KetamineReceipt, kind: str, vials: int, note: str, by: AbstractBaseUser, now: datetime
) -> RegisterEntry:
    """Whole vials leaving a lot's books other than by a dose (wasted, returned)."""
    require_unblinded(by)
    receipt = _locked_receipt(receipt, vials)
    return clinical_create(
        RegisterEntry(
            receipt=receipt,
            kind=kind,
            cause=RegisterEntry.Cause.VIALS,
            occurred_at=now,
            vials=vials,
            quantity_mg=vials * receipt.mg_per_vial,
            recorded_by=by,
            note=note,
        ),
        by=by,
        reason=f"vials {'wasted' if kind == RegisterEntry.Kind.WASTED else 'returned'}: {note}",
    )


@transaction.atomic
def vials_waste_record(
    *, receipt: KetamineReceipt, vials: int, note: str, by: AbstractBaseUser, now: datetime
) -> RegisterEntry:
    """Whole vials wasted (broken, expired, contaminated): recorded by one pharmacist, witnessed
    by another in their own session."""
    require_unblinded(by)
    note = _note(note, _("Say what happened to the vials (broken, expired...)."))
    return _vials_out(receipt=receipt, kind=RegisterEntry.Kind.WASTED, vials=vials, note=note, by=by, now=now)


@transaction.atomic
def vials_return_record(
    *, receipt: KetamineReceipt, vials: int, note: str, by: AbstractBaseUser, now: datetime
) -> RegisterEntry:
    """Whole vials returned to the supplier, with the reference of the return."""
    require_unblinded(by)
    note = _note(note, _("Give the return's reference (the supplier's document)."))
    return _vials_out(
        receipt=receipt, kind=RegisterEntry.Kind.RETURNED, vials=vials, note=note, by=by, now=now
    )


def witness_sign(*, entry: RegisterEntry, by: AbstractBaseUser, now: datetime, reason: str) -> RegisterEntry:
    """`by` signs as the witness of a waste line (inside the caller's transaction)."""
    require_unblinded(by)
    if not has_role(by, PHARMACIST) or by.pk == entry.recorded_by_id:
        raise ValidationError(
            _("The witness must be another pharmacist than the one who recorded the waste.")
        )
    if entry.kind != RegisterEntry.Kind.WASTED:
        raise ValidationError(_("Only waste is witnessed."))
    if entry.witness_id is not None:
        raise ValidationError(_("This waste is already witnessed."))
    return clinical_update(entry, by=by, reason=reason, changes={"witness": by, "witnessed_at": now})


@transaction.atomic
def waste_witness(*, pk: int, by: AbstractBaseUser, now: datetime) -> RegisterEntry:
    """Another pharmacist, signed in as themself, witnesses a waste line."""
    require_unblinded(by)
    entry = RegisterEntry.objects.select_for_update().filter(pk=pk).first()
    if entry is None:
        raise not_found()
    return witness_sign(entry=entry, by=by, now=now, reason="waste witnessed")


def waste_awaiting_witness(user: AbstractBaseUser) -> list[RegisterEntry]:
    """Waste lines no one has witnessed yet, the oldest first (the user's own are shown, but only
    another pharmacist can sign them)."""
    require_unblinded(user)
    return list(
        RegisterEntry.objects.filter(kind=RegisterEntry.Kind.WASTED, witness__isnull=True)
        .select_related("receipt", "recorded_by", "preparation__participant")
        .order_by("occurred_at", "id")
    )


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
    """Ketamine per lot: received, opened, used and wasted mg, balance, last count and its gap
    (the register's lines summed)."""
    require_unblinded(user)
    lots = register(user)
    opened = {
        row["receipt"]: row["n"]
        for row in DosePreparation.objects.filter(receipt__isnull=False)
        .values("receipt")
        .annotate(n=Sum("vials_opened"))
    }
    out = {
        row["receipt"]: row["n"] for row in RegisterEntry.objects.values("receipt").annotate(n=Sum("vials"))
    }
    last_counts: dict[int, StockCount] = {}
    for count in StockCount.objects.order_by("receipt_id", "-counted_at", "-id"):
        last_counts.setdefault(count.receipt_id, count)
    rows = []
    for lot in lots:
        total = {kind: Decimal("0.0") for kind in KIND_LABELS}
        for line in lot.rows:
            total[line.kind] += line.quantity_mg
        n_opened = opened.get(lot.receipt.pk) or 0
        rows.append(
            LotBalance(
                lot.receipt,
                n_opened,
                total["dispensed"] - total["destroyed"],
                total["wasted"] + total["destroyed"],
                lot.receipt.vials - n_opened - (out.get(lot.receipt.pk) or 0),
                last_counts.get(lot.receipt.pk),
            )
        )
    return rows


def receipt_list() -> Any:
    """Every ketamine lot received (the pharmacy's dose and count forms choose from them)."""
    return KetamineReceipt.objects.all()


@dataclass(frozen=True)
class RegisterRow:
    """One line of the register as the pharmacist reads it."""

    lot: str
    occurred_at: datetime
    kind: str
    kind_label: str
    quantity_mg: Decimal
    quantity_ml: Decimal
    vials: int | None
    balance_mg: Decimal
    balance_ml: Decimal
    discrepancy_mg: Decimal | None
    recorded_by: str
    witness: str
    witnessed_at: datetime | None
    awaiting_witness: bool
    reference: str
    note: str
    entry_pk: int | None


@dataclass(frozen=True)
class LotRegister:
    receipt: KetamineReceipt
    rows: list[RegisterRow]

    @property
    def balance_mg(self) -> Decimal:
        return self.rows[-1].balance_mg if self.rows else Decimal("0.0")

    @property
    def balance_vials(self) -> Decimal:
        return (self.balance_mg / self.receipt.mg_per_vial).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class _Line:
    at: datetime
    kind: str
    quantity_mg: Decimal
    vials: int | None
    recorded_by: str
    witness: str
    witnessed_at: datetime | None
    awaiting_witness: bool
    reference: str
    note: str
    entry_pk: int | None
    pk: int


def _user(u: Any) -> str:
    return u.username if u is not None else ""


def _prep_reference(prep: DosePreparation | None) -> str:
    if prep is None:
        return ""
    return f"{prep.participant.code} P{prep.period}-{prep.infusion_number} {prep.syringe_code}"


def _lines(receipts: list[KetamineReceipt]) -> dict[int, list[_Line]]:
    lines: dict[int, list[_Line]] = {r.pk: [] for r in receipts}
    for r in receipts:
        lines[r.pk].append(
            _Line(
                r.received_at,
                "received",
                r.vials * r.mg_per_vial,
                r.vials,
                _user(r.received_by),
                "",
                None,
                False,
                _("expiry %(date)s") % {"date": r.expiry_date.isoformat()},
                "",
                None,
                r.pk,
            )
        )
    preps = list(
        DosePreparation.objects.filter(receipt__in=receipts).select_related(
            "participant", "prepared_by", "checked_by"
        )
    )
    entries = list(
        RegisterEntry.objects.filter(receipt__in=receipts).select_related(
            "recorded_by", "witness", "preparation__participant"
        )
    )
    with_remainder = {e.preparation_id for e in entries if e.cause == RegisterEntry.Cause.REMAINDER}
    for p in preps:
        check = {
            DosePreparation.CheckStatus.AWAITING: _("awaiting the second check"),
            DosePreparation.CheckStatus.CONFIRMED: _("checked by %(who)s") % {"who": _user(p.checked_by)},
            DosePreparation.CheckStatus.REJECTED: _("rejected by %(who)s") % {"who": _user(p.checked_by)},
            DosePreparation.CheckStatus.DISCARDED: _("discarded (not given)"),
        }[p.check_status]
        lines[p.receipt_id].append(
            _Line(
                p.prepared_at,
                "dispensed",
                p.dose_mg,
                None,
                _user(p.prepared_by),
                "",
                None,
                False,
                _prep_reference(p),
                _("%(vials)d vial(s) opened; %(check)s") % {"vials": p.vials_opened, "check": check},
                None,
                p.pk,
            )
        )
        if p.wasted_mg > 0 and p.pk not in with_remainder:
            # Prepared before waste was a witnessed line of its own.
            lines[p.receipt_id].append(
                _Line(
                    p.prepared_at,
                    "wasted",
                    p.wasted_mg,
                    None,
                    _user(p.prepared_by),
                    "",
                    None,
                    False,
                    _prep_reference(p),
                    _("rest of the opened vials (recorded before witnessed waste)"),
                    None,
                    p.pk,
                )
            )
    for e in entries:
        destroyed = (RegisterEntry.Cause.REJECTED, RegisterEntry.Cause.DISCARDED)
        kind = "destroyed" if e.cause in destroyed else e.kind
        note = e.note or str(e.get_cause_display())
        if e.cause == RegisterEntry.Cause.DISCARDED:
            note = _("Discarded (not given): %(reason)s") % {"reason": e.note}
        lines[e.receipt_id].append(
            _Line(
                e.occurred_at,
                kind,
                e.quantity_mg,
                e.vials or None,
                _user(e.recorded_by),
                _user(e.witness),
                e.witnessed_at,
                e.kind == RegisterEntry.Kind.WASTED and e.witness_id is None,
                _prep_reference(e.preparation),
                note,
                e.pk,
                e.pk,
            )
        )
    for c in StockCount.objects.filter(receipt__in=receipts).select_related("counted_by", "receipt"):
        lines[c.receipt_id].append(
            _Line(
                c.counted_at,
                "counted",
                c.vials_counted * c.receipt.mg_per_vial,
                c.vials_counted,
                _user(c.counted_by),
                "",
                None,
                False,
                "",
                c.note,
                None,
                c.pk,
            )
        )
    return lines


def register(user: AbstractBaseUser, *, receipt: KetamineReceipt | None = None) -> list[LotRegister]:
    """The register of every lot (or one), each line with the running balance after it."""
    require_unblinded(user)
    receipts = list(
        (KetamineReceipt.objects.filter(pk=receipt.pk) if receipt else KetamineReceipt.objects.all())
        .select_related("received_by")
        .order_by("received_at", "id")
    )
    lines = _lines(receipts)
    lots = []
    for r in receipts:
        ordered = sorted(lines[r.pk], key=lambda line: (line.at, _KIND_ORDER[line.kind], line.pk))
        steps = dosing.register_steps([(line.kind, line.quantity_mg) for line in ordered])
        concentration = r.concentration_mg_ml
        rows = [
            RegisterRow(
                lot=r.lot,
                occurred_at=line.at,
                kind=line.kind,
                kind_label=str(KIND_LABELS[line.kind]),
                quantity_mg=step.quantity_mg,
                quantity_ml=dosing.ml_of(step.quantity_mg, concentration),
                vials=line.vials,
                balance_mg=step.balance_mg,
                balance_ml=dosing.ml_of(step.balance_mg, concentration),
                discrepancy_mg=step.discrepancy_mg,
                recorded_by=line.recorded_by,
                witness=line.witness,
                witnessed_at=line.witnessed_at,
                awaiting_witness=line.awaiting_witness,
                reference=line.reference,
                note=line.note,
                entry_pk=line.entry_pk,
            )
            for line, step in zip(ordered, steps, strict=True)
        ]
        lots.append(LotRegister(r, rows))
    return lots


REGISTER_CSV_HEADER = (
    "lot",
    "time_local",
    "kind",
    "quantity_mg",
    "quantity_ml",
    "vials",
    "balance_mg",
    "balance_ml",
    "discrepancy_mg",
    "recorded_by",
    "witness",
    "witnessed_at_local",
    "reference",
    "note",
)


def _local(moment: datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def register_csv(user: AbstractBaseUser) -> str:
    """The register as CSV (times in the site's zone, mg to 0.1 and mL to 0.01, as on the page)."""
    require_unblinded(user)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_CSV_HEADER)
    for lot in register(user):
        for row in lot.rows:
            writer.writerow(
                [
                    row.lot,
                    _local(row.occurred_at),
                    row.kind,
                    row.quantity_mg,
                    row.quantity_ml,
                    "" if row.vials is None else row.vials,
                    row.balance_mg,
                    row.balance_ml,
                    "" if row.discrepancy_mg is None else row.discrepancy_mg,
                    row.recorded_by,
                    row.witness,
                    _local(row.witnessed_at),
                    row.reference,
                    row.note,
                ]
            )
    return out.getvalue()
