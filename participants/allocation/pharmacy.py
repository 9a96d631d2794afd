"""Dose preparation: product and arithmetic (the arithmetic itself is in the pure
infusions/dosing.py), the second pharmacist's check, syringe codes, labels identical for both
products, and the bedside scan of a label.

The second check is a check: pharmacist A records a preparation, which waits; pharmacist B (any
other unblinded pharmacist, never A) signs in as themself, reads the lot off the vial and the
volume drawn off the syringe, and confirms (or rejects, with the reason). Until it is confirmed the
syringe gets no label and the infusion cannot start. Both people and times are in the
preparation's audit history.

A syringe is good until its beyond-use time (beyond_use_at: the protocol's hours after it was
prepared, the same for both products): past it the bedside scan says STOP and the infusion does
not start. A syringe that was not given (expired, dropped...) is discarded by a pharmacist with the
reason; its content is destroyed in the register and the infusion can be prepared again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infusions import dosing
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import PHARMACIST
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants import randomization
from participants.access import has_role
from participants.allocation.access import (
    PRODUCT_KETAMINE,
    PRODUCT_PLACEBO,
    product_for,
    require_unblinded,
    sequence_for,
)
from participants.allocation.ledger import (
    accountability_balance,
    discarded_syringe_record,
    preparation_waste_record,
    rejected_syringe_record,
    witness_sign,
)
from participants.models import (
    DosePreparation,
    KetamineReceipt,
    Participant,
    RegisterEntry,
    SyringeScan,
)

SYRINGE_ALPHABET = randomization.KIT_ALPHABET


def _syringe_code() -> str:
    # Random, the same format for both products: the code says nothing about the content.
    return "S-" + "".join(secrets.choice(SYRINGE_ALPHABET) for _ in range(8))


# A rejected or discarded syringe is destroyed: it no longer holds its infusion, which can be
# prepared again. Every other preparation is the infusion's live one (at most one, a constraint).
NOT_LIVE = (DosePreparation.CheckStatus.REJECTED, DosePreparation.CheckStatus.DISCARDED)


def beyond_use_at(prepared_at: datetime) -> datetime:
    """The moment a syringe prepared at `prepared_at` may no longer be given: the protocol's
    syringe_beyond_use_hours later (the same rule for ketamine and placebo). The label prints it;
    from that moment on the syringe is expired."""
    return prepared_at + timedelta(hours=protocol().syringe_beyond_use_hours)


def is_expired(prepared_at: datetime, *, at: datetime) -> bool:
    """Whether a syringe prepared at `prepared_at` is past its beyond-use time at `at` ("use
    before" the printed time: at that very moment it is expired)."""
    return at >= beyond_use_at(prepared_at)


@dataclass(frozen=True)
class BlindedPreparation:
    """What the blinded infusion team sees of a preparation (identical for both products)."""

    syringe_code: str
    total_volume_ml: Decimal
    pump_rate_ml_h: Decimal
    prepared_at: datetime
    confirmed: bool
    beyond_use: datetime

    def expired_at(self, moment: datetime) -> bool:
        """Whether the syringe is past its beyond-use time at `moment`."""
        return is_expired(self.prepared_at, at=moment)


def _blinded_preparation(prep: DosePreparation) -> BlindedPreparation:
    return BlindedPreparation(
        syringe_code=prep.syringe_code,
        total_volume_ml=prep.total_volume_ml,
        pump_rate_ml_h=prep.pump_rate_ml_h,
        prepared_at=prep.prepared_at,
        confirmed=prep.check_status == DosePreparation.CheckStatus.CONFIRMED,
        beyond_use=beyond_use_at(prep.prepared_at),
    )


def blinded_preparation(
    participant: Participant, period: int, infusion_number: int, *, lock: bool = False
) -> BlindedPreparation | None:
    """The live (not rejected, not discarded) preparation of an infusion, as the infusion team
    may see it. `lock`: inside a transaction that holds the infusion's visit, also lock the
    preparation (session_start), so that a discard of it (preparation_discard) and the start wait
    for each other."""
    preps = DosePreparation.objects.filter(
        participant=participant, period=period, infusion_number=infusion_number
    ).exclude(check_status__in=NOT_LIVE)
    prep = (preps.select_for_update() if lock else preps).first()
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
            weight_min_kg=p.weight_min_kg,
            weight_max_kg=p.weight_max_kg,
        )
    except dosing.WeightError as exc:
        raise ValidationError(
            {
                "weight_kg": _(
                    "A dose cannot be computed from a weight of %(weight)s kg: the weight must be a "
                    "number between %(min)s and %(max)s kg. Weigh the participant again and enter "
                    "the weight in kg."
                )
                % {"weight": weight_kg, "min": f"{p.weight_min_kg:g}", "max": f"{p.weight_max_kg:g}"}
            }
        ) from exc
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
    by: AbstractBaseUser,
    now: datetime,
) -> DosePreparation:
    """Record one preparation: dose from the weight measured today; it waits for another
    pharmacist's check (preparation_check) before it is labelled or given."""
    from participants.services import require_consent

    require_unblinded(by)
    participant = Participant.objects.select_for_update().select_related("screening").get(pk=participant.pk)
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
    vials, wasted = (
        dosing.vials_and_waste(
            volume_drawn_ml=plan.volume_drawn_ml,
            ml_per_vial=receipt.ml_per_vial,
            mg_per_vial=receipt.mg_per_vial,
            dose_mg=plan.dose_mg,
        )
        if receipt
        else (0, Decimal("0"))
    )
    if receipt is not None and vials > accountability_balance(receipt):
        raise ValidationError({"receipt": _("Lot %s has not enough vials left.") % receipt.lot})
    prep = DosePreparation(
        participant=participant,
        period=period,
        infusion_number=infusion_number,
        weight_kg=plan.weight_measured_kg,
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
        prepared_at=now,
        check_status=DosePreparation.CheckStatus.AWAITING,
    )
    if (
        DosePreparation.objects.filter(
            participant=participant, period=period, infusion_number=infusion_number
        )
        .exclude(check_status__in=NOT_LIVE)
        .exists()
    ):
        raise ValidationError(_("This infusion is already prepared."))
    clinical_create(prep, by=by, reason="prepared; awaiting the second pharmacist's check")
    preparation_waste_record(prep=prep, by=by, now=now)
    return prep


CONFIRM = "confirm"
REJECT = "reject"


@transaction.atomic
def preparation_check(
    *,
    pk: int,
    decision: str,
    lot: str,
    volume_drawn_ml: Decimal | None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> DosePreparation:
    """The second pharmacist's check, in their own session: `by` (another pharmacist than the
    preparer) confirms the preparation after reading the lot off the vial and the volume drawn
    off the syringe, which must match the record; or rejects it with the reason (the syringe is
    destroyed, witnessed, and the infusion prepared again). Confirming also witnesses the waste of
    the rest of the opened vials."""
    require_unblinded(by)
    prep = (
        DosePreparation.objects.select_for_update(of=("self",))
        .select_related("receipt")
        .filter(pk=pk)
        .first()
    )
    if prep is None:
        from participants.access import not_found

        raise not_found()
    if not has_role(by, PHARMACIST) or by.pk == prep.prepared_by_id:
        raise ValidationError(
            _("You prepared this dose: another pharmacist must check it, signed in as themself.")
        )
    if prep.check_status != DosePreparation.CheckStatus.AWAITING:
        raise ValidationError(
            _("This preparation was already checked (%(status)s).")
            % {"status": prep.get_check_status_display()}
        )
    reason = (reason or "").strip()
    if decision == REJECT:
        if not reason:
            raise ValidationError({"reason": _("Give the reason for rejecting the preparation.")})
        clinical_update(
            prep,
            by=by,
            reason=f"second pharmacist's check: rejected: {reason}",
            changes={
                "check_status": DosePreparation.CheckStatus.REJECTED,
                "checked_by": by,
                "checked_at": now,
                "check_note": reason,
            },
        )
        rejected_syringe_record(prep=prep, reason=reason, by=by, now=now)
        return prep
    if decision != CONFIRM:
        raise ValidationError({"decision": _("Confirm or reject the preparation.")})
    problems = {}
    recorded_lot = prep.receipt.lot if prep.receipt else ""
    if (lot or "").strip().upper() != recorded_lot.upper():
        problems["lot"] = _(
            "This is not the lot the preparer recorded: read the lot on the vial again (leave it "
            "empty when no ketamine vial was used); if the preparation is wrong, reject it with the "
            "reason."
        )
    if volume_drawn_ml is None or volume_drawn_ml != prep.volume_drawn_ml:
        problems["volume_drawn_ml"] = _(
            "This is not the volume the preparer recorded: read the volume drawn again; if the "
            "preparation is wrong, reject it with the reason."
        )
    if problems:
        raise ValidationError(problems)
    clinical_update(
        prep,
        by=by,
        reason="second pharmacist's check: confirmed" + (f": {reason}" if reason else ""),
        changes={
            "check_status": DosePreparation.CheckStatus.CONFIRMED,
            "checked_by": by,
            "checked_at": now,
            "check_note": reason,
        },
    )
    for entry in prep.register_entries.select_for_update().filter(
        cause=RegisterEntry.Cause.REMAINDER, witness__isnull=True
    ):
        witness_sign(entry=entry, by=by, now=now, reason="waste witnessed at the second check")
    return prep


DISCARD_AUDIT_PREFIX = "discarded (not given): "


@transaction.atomic
def preparation_discard(*, pk: int, reason: str, by: AbstractBaseUser, now: datetime) -> DosePreparation:
    """A pharmacist discards a syringe that was not given (past its beyond-use time, dropped,
    contaminated...), with the reason: the preparation no longer holds its infusion, which can be
    prepared again, and a ketamine syringe's content is destroyed in the register (another
    pharmacist witnesses it, as after a rejected check). Refused once an infusion session has
    started with the syringe, and for a preparation already rejected or discarded."""
    from infusions.models import InfusionVisit
    from participants.access import not_found

    require_unblinded(by)
    infusion = (
        DosePreparation.objects.filter(pk=pk).values("participant_id", "period", "infusion_number").first()
    )
    if infusion is None:
        raise not_found()
    # Locked in session_start's order, the infusion's visit (whatever its status) and then the
    # preparation: a start waits for the discard and then finds no live preparation, or the
    # discard waits for the start and then finds the syringe given.
    visit = (
        InfusionVisit.objects.select_for_update()
        .filter(
            participant_id=infusion["participant_id"],
            period=infusion["period"],
            number=infusion["infusion_number"],
        )
        .first()
    )
    prep = DosePreparation.objects.select_for_update(of=("self",)).select_related("receipt").get(pk=pk)
    if prep.check_status in NOT_LIVE:
        raise ValidationError(
            _("Nothing to discard: this preparation is already “%(status)s”.")
            % {"status": prep.get_check_status_display()}
        )
    if (
        visit is not None
        and visit.status != InfusionVisit.Status.PLANNED
        and visit.syringe_code == prep.syringe_code
    ):
        raise ValidationError(
            _(
                "Syringe %(code)s was given: the infusion started with it at %(start)s. Only a "
                "syringe that was not given can be discarded."
            )
            % {
                "code": prep.syringe_code,
                "start": local_minute(visit.started_at) if visit.started_at else "—",
            }
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {
                "reason": _(
                    "Give the reason for discarding the syringe (past its beyond-use time, dropped...)."
                )
            }
        )
    clinical_update(
        prep,
        by=by,
        reason=DISCARD_AUDIT_PREFIX + reason,
        changes={"check_status": DosePreparation.CheckStatus.DISCARDED},
    )
    discarded_syringe_record(prep=prep, reason=reason, by=by, now=now)
    return prep


def preparations_awaiting_check(user: AbstractBaseUser) -> list[DosePreparation]:
    """Preparations waiting for a second pharmacist's check, the oldest first."""
    require_unblinded(user)
    return list(
        DosePreparation.objects.filter(check_status=DosePreparation.CheckStatus.AWAITING)
        .select_related("participant", "prepared_by")
        .order_by("prepared_at", "id")
    )


def preparations_rejected(user: AbstractBaseUser) -> list[DosePreparation]:
    """Rejected preparations whose infusion has not been prepared again (no live preparation)."""
    require_unblinded(user)
    live = set(
        DosePreparation.objects.exclude(check_status__in=NOT_LIVE).values_list(
            "participant_id", "period", "infusion_number"
        )
    )
    return [
        p
        for p in DosePreparation.objects.filter(check_status=DosePreparation.CheckStatus.REJECTED)
        .select_related("participant", "prepared_by", "checked_by")
        .order_by("-checked_at", "-id")
        if (p.participant_id, p.period, p.infusion_number) not in live
    ]


@dataclass(frozen=True)
class DoseDue:
    """An infusion of today or tomorrow and where its preparation stands."""

    participant: Participant
    period: int
    infusion_number: int
    start: datetime
    preparation: DosePreparation | None
    # The live preparation is past its beyond-use time (now): discard it and prepare again.
    expired: bool = False

    @property
    def state(self) -> str:
        return "to_prepare" if self.preparation is None else self.preparation.check_status


def doses_due(user: AbstractBaseUser, *, now: datetime, days: int = 2) -> list[DoseDue]:
    """The planned infusions of today and the next `days - 1` days (the site's dates), each with
    its live preparation, if any."""
    from datetime import timedelta

    from django.utils import timezone

    from infusions.selectors import calendar_events

    require_unblinded(user)
    today = timezone.localtime(now).date()
    events = [
        e
        for e in calendar_events(today, today + timedelta(days=days - 1), now=now, user=user)
        if e.kind == "infusion" and e.status.startswith("planned") and e.number is not None
    ]
    live = {
        (p.participant_id, p.period, p.infusion_number): p
        for p in DosePreparation.objects.filter(participant__in={e.participant.pk for e in events}).exclude(
            check_status__in=NOT_LIVE
        )
    }
    due = []
    for e in events:
        if e.number is None:
            continue
        prep = live.get((e.participant.pk, e.period, e.number))
        due.append(
            DoseDue(
                e.participant,
                e.period,
                e.number,
                e.start,
                prep,
                expired=prep is not None and is_expired(prep.prepared_at, at=now),
            )
        )
    return due


def preparations_for(user: AbstractBaseUser, participant: Participant) -> list[DosePreparation]:
    require_unblinded(user)
    return list(
        DosePreparation.objects.filter(participant=participant)
        .select_related("prepared_by", "checked_by", "receipt")
        .order_by("period", "infusion_number", "prepared_at", "id")
    )


@dataclass(frozen=True)
class PreparationRow:
    """A preparation as the pharmacist's page lists it, with where its syringe stands at `now`."""

    prep: DosePreparation
    beyond_use: datetime
    # An infusion session started with this syringe.
    given: bool
    # Live and not given: it can be discarded.
    discardable: bool
    # Live, not given and past its beyond-use time: discard it and prepare the infusion again.
    expired: bool
    discarded_by: str = ""
    discarded_at: datetime | None = None
    discard_reason: str = ""


def preparation_rows(
    user: AbstractBaseUser, participant: Participant, *, now: datetime
) -> list[PreparationRow]:
    """The participant's preparations for the pharmacist's page: given or not, expired or not,
    and who discarded a discarded one, when and why (from its audit history). Three queries."""
    from infusions.models import InfusionVisit

    preps = preparations_for(user, participant)
    started = set(
        InfusionVisit.objects.filter(participant=participant)
        .exclude(status=InfusionVisit.Status.PLANNED)
        .values_list("period", "number", "syringe_code")
    )
    discarded = [p.pk for p in preps if p.check_status == DosePreparation.CheckStatus.DISCARDED]
    discards: dict[int, Any] = {}
    if discarded:
        for h in (
            DosePreparation.history.filter(
                id__in=discarded, check_status=DosePreparation.CheckStatus.DISCARDED
            )
            .select_related("history_user")
            .order_by("history_date", "history_id")
        ):
            discards.setdefault(h.id, h)
    rows = []
    for p in preps:
        given = (p.period, p.infusion_number, p.syringe_code) in started
        discardable = p.check_status not in NOT_LIVE and not given
        h = discards.get(p.pk)
        rows.append(
            PreparationRow(
                prep=p,
                beyond_use=beyond_use_at(p.prepared_at),
                given=given,
                discardable=discardable,
                expired=discardable and is_expired(p.prepared_at, at=now),
                discarded_by=h.history_user.get_username() if h is not None and h.history_user else "",
                discarded_at=h.history_date if h is not None else None,
                discard_reason=(h.history_change_reason or "").removeprefix(DISCARD_AUDIT_PREFIX)
                if h is not None
                else "",
            )
        )
    return rows


def preparation_get(user: AbstractBaseUser, pk: int) -> DosePreparation:
    require_unblinded(user)
    prep = (
        DosePreparation.objects.filter(pk=pk)
        .select_related("participant", "receipt", "prepared_by", "checked_by")
        .first()
    )
    if prep is None:
        from participants.access import not_found

        raise not_found()
    return prep


def label_context(prep: DosePreparation) -> dict[str, Any]:
    """The syringe label of a confirmed preparation: the same fields, wording and layout for
    ketamine and placebo, with a QR code of the syringe code (segno) and the beyond-use time in
    the site's zone."""
    import segno  # imported here: only the label needs it

    if prep.check_status != DosePreparation.CheckStatus.CONFIRMED:
        raise ValidationError(_("The label prints once another pharmacist has confirmed the preparation."))
    p = protocol()
    return {
        "participant_code": prep.participant.code,
        "period": prep.period,
        "infusion_number": prep.infusion_number,
        "syringe_code": prep.syringe_code,
        "qr_svg": segno.make_qr(prep.syringe_code, error="m").svg_data_uri(border=4),
        "total_volume_ml": prep.total_volume_ml,
        "pump_rate_ml_h": prep.pump_rate_ml_h,
        "infusion_minutes": p.infusion_minutes,
        "prepared_at": local_minute(prep.prepared_at),
        "beyond_use": local_minute(beyond_use_at(prep.prepared_at)),
        "prepared_by": prep.prepared_by.username,
        "checked_by": prep.checked_by.username if prep.checked_by else "",
    }


SCAN_MESSAGES = {
    SyringeScan.Outcome.MATCH: gettext_lazy(
        "Syringe %(code)s is the confirmed preparation for this participant and infusion."
    ),
    SyringeScan.Outcome.OTHER_PARTICIPANT: gettext_lazy(
        "STOP: syringe %(code)s was prepared for another participant. Do not connect it; call the pharmacy."
    ),
    SyringeScan.Outcome.OTHER_INFUSION: gettext_lazy(
        "STOP: syringe %(code)s was prepared for another infusion of this participant. Do not connect "
        "it; call the pharmacy."
    ),
    SyringeScan.Outcome.NOT_CONFIRMED: gettext_lazy(
        "STOP: syringe %(code)s has not been confirmed by the second pharmacist. Do not connect it; "
        "call the pharmacy."
    ),
    SyringeScan.Outcome.UNKNOWN: gettext_lazy(
        "STOP: %(code)s is not a syringe code the pharmacy prepared. Scan the label again; if it "
        "is refused again, call the pharmacy."
    ),
    SyringeScan.Outcome.EXPIRED: gettext_lazy(
        "STOP: syringe %(code)s expired at %(beyond_use)s (its beyond-use time). Do not connect it; "
        "call the pharmacy."
    ),
}


def scan_message(scan: SyringeScan) -> str:
    """What the bedside reads after a scan (the same words for both products)."""
    values = {"code": scan.scanned_code or "—", "beyond_use": ""}
    if scan.outcome == SyringeScan.Outcome.EXPIRED:
        prep = DosePreparation.objects.filter(syringe_code=scan.scanned_code).only("prepared_at").first()
        if prep is not None:
            values["beyond_use"] = local_minute(beyond_use_at(prep.prepared_at))
    return str(SCAN_MESSAGES[SyringeScan.Outcome(scan.outcome)]) % values


@transaction.atomic
def syringe_scan_record(
    *,
    participant: Participant,
    period: int,
    infusion_number: int,
    code: str,
    by: AbstractBaseUser,
    now: datetime,
) -> SyringeScan:
    """The infusion physician scans a syringe label at the bedside: the code is checked against
    the participant's confirmed preparation for this infusion, then its beyond-use time against
    `now`. Every scan is recorded (a wrong or expired syringe caught here is a near miss the study
    wants to know about), with what it matched; the caller shows scan_message(). The outcome is the
    same whatever the product."""
    scanned = (code or "").strip().upper()[:40]
    if not scanned:
        raise ValidationError({"code": _("Scan the label's code (or type the syringe code).")})
    prep = DosePreparation.objects.filter(syringe_code=scanned).first()
    if prep is None:
        outcome = SyringeScan.Outcome.UNKNOWN
    elif prep.participant_id != participant.pk:
        outcome = SyringeScan.Outcome.OTHER_PARTICIPANT
    elif (prep.period, prep.infusion_number) != (period, infusion_number):
        outcome = SyringeScan.Outcome.OTHER_INFUSION
    elif prep.check_status != DosePreparation.CheckStatus.CONFIRMED:
        outcome = SyringeScan.Outcome.NOT_CONFIRMED
    elif is_expired(prep.prepared_at, at=now):
        outcome = SyringeScan.Outcome.EXPIRED
    else:
        outcome = SyringeScan.Outcome.MATCH
    return clinical_create(
        SyringeScan(
            participant=participant,
            period=period,
            infusion_number=infusion_number,
            scanned_code=scanned,
            outcome=outcome,
            scanned_by=by,
            scanned_at=now,
        ),
        by=by,
        reason="syringe scanned: " + outcome,
    )


def syringe_scans(participant: Participant, period: int, infusion_number: int) -> list[SyringeScan]:
    """The scans of an infusion's syringe, the newest first (blinded: codes and outcomes only)."""
    return list(
        SyringeScan.objects.filter(participant=participant, period=period, infusion_number=infusion_number)
        .select_related("scanned_by")
        .order_by("-scanned_at", "-id")
    )
