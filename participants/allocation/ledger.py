"""Ketamine accountability: receipts, vials opened and wasted, stock counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum

from ketatrial.audit import clinical_create
from participants.allocation.access import require_unblinded
from participants.models import (
    DosePreparation,
    KetamineReceipt,
    StockCount,
)


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


def receipt_list() -> Any:
    """Every ketamine lot received (the pharmacy's dose and count forms choose from them)."""
    return KetamineReceipt.objects.all()
