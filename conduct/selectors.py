"""Reads of what a site also records. Every participant record is reached through the participant
access selector and the visibility rule's kinds (medications, pregnancy): a record the reader may
not see answers 404 like a missing one."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model, QuerySet

from conduct.models import (
    ChildbearingPotential,
    ConcomitantMedication,
    Delegation,
    PregnancyTest,
    PriorTreatment,
    TrainingRecord,
)
from participants.access import not_found
from participants.allocation.visibility import MEDICATIONS, PREGNANCY, STAFF, WRITE, access, may_see
from participants.models import Participant
from participants.roles import ROLE_LABELS
from participants.selectors import participant_get_for_user


def participant_for_kind(user: AbstractBaseUser, pk: int, kind: str) -> Participant:
    """The participant, when the user may see it and this kind of its data; else 404."""
    if not may_see(user, kind):
        raise not_found()
    return participant_get_for_user(user, pk)


def may_write(user: AbstractBaseUser, kind: str) -> bool:
    return access(user, kind) >= WRITE


def _get(model: type[Model], user: AbstractBaseUser, pk: int, kind: str) -> Any:
    record = model._default_manager.select_related("participant").filter(pk=pk).first()
    if record is None:
        raise not_found()
    participant_for_kind(user, record.participant_id, kind)  # type: ignore[attr-defined]
    return record


def prior_treatment_get_for_user(user: AbstractBaseUser, pk: int) -> PriorTreatment:
    return _get(PriorTreatment, user, pk, MEDICATIONS)


def medication_get_for_user(user: AbstractBaseUser, pk: int) -> ConcomitantMedication:
    return _get(ConcomitantMedication, user, pk, MEDICATIONS)


def pregnancy_test_get_for_user(user: AbstractBaseUser, pk: int) -> PregnancyTest:
    return _get(PregnancyTest, user, pk, PREGNANCY)


@dataclass(frozen=True)
class Medications:
    prior: list[PriorTreatment]
    failed_adequate: int
    concomitant: list[ConcomitantMedication]


def medications_for(participant: Participant) -> Medications:
    """Prior treatments (with the count of adequate trials without response) and concomitant
    medication, oldest first."""
    prior = list(PriorTreatment.objects.filter(participant=participant))
    return Medications(
        prior=prior,
        failed_adequate=sum(1 for t in prior if t.counts_as_failed),
        concomitant=list(ConcomitantMedication.objects.filter(participant=participant)),
    )


def childbearing_potential_for(participant: Participant) -> ChildbearingPotential | None:
    return ChildbearingPotential.objects.filter(participant=participant).first()


def pregnancy_tests_for(participant: Participant) -> QuerySet[PregnancyTest]:
    """Newest first."""
    return PregnancyTest.objects.filter(participant=participant)


# --- the delegation and training log --------------------------------------------------------------


def may_see_staff_log(user: AbstractBaseUser) -> bool:
    return may_see(user, STAFF)


def delegation_list() -> QuerySet[Delegation]:
    return Delegation.objects.select_related("staff", "signed_by")


def delegation_get(pk: int) -> Delegation | None:
    return delegation_list().filter(pk=pk).first()


def training_list() -> QuerySet[TrainingRecord]:
    return TrainingRecord.objects.select_related("staff")


def training_get(pk: int) -> TrainingRecord | None:
    return training_list().filter(pk=pk).first()


def delegation_in_force(delegation: Delegation, on: date) -> bool:
    """Signed, and `on` lies between its first and last day."""
    return (
        delegation.signed_at is not None
        and delegation.starts_on <= on
        and (delegation.ends_on is None or on <= delegation.ends_on)
    )


def _cell(value: object) -> str:
    """Text as a spreadsheet shows it, never as a formula (a course typed as "=HYPERLINK(...)")."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def staff_log_csv(*, today: date) -> str:
    """The delegation and training log for an inspection: one row per delegation line and per
    training record, in one CSV."""
    out = io.StringIO()
    rows: list[list[object]] = []
    rows.append(
        [
            "record",
            "staff",
            "full_name",
            "role",
            "tasks",
            "from",
            "until",
            "signed_off_by",
            "signed_off_at_utc",
            "in_force_on_export_day",
            "course",
            "completed_on",
            "certificate",
            "valid_until",
        ]
    )
    for d in delegation_list():
        rows.append(
            [
                "delegation",
                d.staff.get_username(),
                d.staff.get_full_name(),
                str(ROLE_LABELS.get(d.role, d.role)),
                " ".join(d.tasks),
                d.starts_on.isoformat(),
                d.ends_on.isoformat() if d.ends_on else "",
                d.signed_by.get_username() if d.signed_by else "",
                d.signed_at.isoformat() if d.signed_at else "",
                "yes" if delegation_in_force(d, today) else "no",
                "",
                "",
                "",
                "",
            ]
        )
    for t in training_list():
        rows.append(
            [
                "training",
                t.staff.get_username(),
                t.staff.get_full_name(),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                t.course,
                t.completed_on.isoformat(),
                t.certificate,
                t.expires_on.isoformat() if t.expires_on else "",
            ]
        )
    csv.writer(out).writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()
