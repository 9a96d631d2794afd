"""Writes of what a site also records: prior treatments, concomitant medication (a new
antidepressant after randomization goes down clinimetry's relapse path), childbearing potential and
pregnancy tests (checked at the start of every infusion), and the delegation and training log.
Each write is one transaction through the audited write path (ketatrial/audit.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conduct.models import (
    ChildbearingPotential,
    ConcomitantMedication,
    Delegation,
    PregnancyTest,
    PriorTreatment,
    TrainingRecord,
)
from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants.access import has_role
from participants.models import Participant
from participants.roles import ROLE_PERMISSIONS


def _dates_in_order(start: date | None, stop: date | None, today: date) -> None:
    """A start not in the future, a stop not before the start nor in the future."""
    if start and start > today:
        raise ValidationError({"started_on": _("The start date cannot be in the future.")})
    if stop and stop > today:
        raise ValidationError({"stopped_on": _("The stop date cannot be in the future.")})
    if start and stop and stop < start:
        raise ValidationError({"stopped_on": _("The stop date comes before the start.")})


# --- prior treatments ----------------------------------------------------------------------------

PRIOR_TREATMENT_FIELDS = (
    "treatment",
    "dose",
    "started_on",
    "stopped_on",
    "adequate",
    "duration_weeks",
    "dose_adequate",
    "response",
)


def _prior_treatment_check(values: dict[str, Any], today: date) -> None:
    _dates_in_order(values.get("started_on"), values.get("stopped_on"), today)
    if values.get("adequate") and not values.get("duration_weeks"):
        raise ValidationError(
            {"duration_weeks": _("An adequate trial needs its duration: give the weeks at an adequate dose.")}
        )


@transaction.atomic
def prior_treatment_add(
    *, participant: Participant, values: dict[str, Any], by: AbstractBaseUser, now: datetime
) -> PriorTreatment:
    """Record a treatment of the current episode before the trial."""
    _prior_treatment_check(values, timezone.localdate(now))
    return clinical_create(
        PriorTreatment(participant=participant, **{k: values.get(k) for k in PRIOR_TREATMENT_FIELDS}),
        by=by,
    )


@transaction.atomic
def prior_treatment_update(
    *, treatment: PriorTreatment, values: dict[str, Any], reason: str, by: AbstractBaseUser, now: datetime
) -> PriorTreatment:
    """Correct a prior treatment, with the reason."""
    treatment = PriorTreatment.objects.select_for_update().get(pk=treatment.pk)
    _prior_treatment_check(values, timezone.localdate(now))
    return clinical_update(
        treatment, by=by, reason=reason, changes={k: values.get(k) for k in PRIOR_TREATMENT_FIELDS}
    )


# --- concomitant medication ----------------------------------------------------------------------

MEDICATION_FIELDS = (
    "name",
    "drug_class",
    "dose",
    "unit",
    "route",
    "started_on",
    "stopped_on",
    "indication",
)


def new_antidepressant_after_randomization(medication: ConcomitantMedication) -> datetime | None:
    """When a medication is a relapse event of the protocol ("new treatment"): an antidepressant
    started on a day after the randomization day. Returns the event's time (the start of that day
    in the site's zone; a start date has no hour), or None. A medication started on the day of
    randomization or before it is the treatment the participant came in with."""
    if medication.drug_class != ConcomitantMedication.DrugClass.ANTIDEPRESSANT:
        return None
    from participants.allocation import blinded_allocation

    randomization = blinded_allocation(medication.participant)
    if randomization is None:
        return None
    if medication.started_on <= timezone.localdate(randomization.randomized_at):
        return None
    return timezone.make_aware(datetime.combine(medication.started_on, time.min))


def _relapse_event_for(medication: ConcomitantMedication, *, by: AbstractBaseUser, now: datetime) -> None:
    """Record a new antidepressant as the protocol's relapse event, once, through clinimetry's
    relapse path (which also applies the relapse rule)."""
    if medication.relapse_event_id is not None:
        return
    occurred_at = new_antidepressant_after_randomization(medication)
    if occurred_at is None:
        return
    from clinimetry.models import RelapseEvent
    from clinimetry.services import relapse_event_record

    event = relapse_event_record(
        participant=medication.participant,
        kind=RelapseEvent.Kind.NEW_TREATMENT,
        occurred_at=occurred_at,
        note=f"new antidepressant (concomitant medication): {medication.name}",
        by=by,
        now=now,
    )
    clinical_update(
        medication,
        by=by,
        reason="a new antidepressant after randomization: relapse event recorded",
        changes={"relapse_event": event},
    )


@transaction.atomic
def medication_add(
    *, participant: Participant, values: dict[str, Any], by: AbstractBaseUser, now: datetime
) -> ConcomitantMedication:
    """Record a concomitant medication; a new antidepressant after randomization is also recorded
    as a relapse event."""
    _dates_in_order(values.get("started_on"), values.get("stopped_on"), timezone.localdate(now))
    medication = clinical_create(
        ConcomitantMedication(participant=participant, **{k: values.get(k) for k in MEDICATION_FIELDS}),
        by=by,
    )
    _relapse_event_for(medication, by=by, now=now)
    return medication


@transaction.atomic
def medication_update(
    *,
    medication: ConcomitantMedication,
    values: dict[str, Any],
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> ConcomitantMedication:
    """Correct a concomitant medication, with the reason. A correction that makes it a new
    antidepressant after randomization records the relapse event; a relapse event already recorded
    stays (it is corrected on the relapse path, not here)."""
    medication = ConcomitantMedication.objects.select_for_update().get(pk=medication.pk)
    _dates_in_order(values.get("started_on"), values.get("stopped_on"), timezone.localdate(now))
    updated = clinical_update(
        medication, by=by, reason=reason, changes={k: values.get(k) for k in MEDICATION_FIELDS}
    )
    _relapse_event_for(updated, by=by, now=now)
    return updated


# --- childbearing potential and pregnancy tests ----------------------------------------------------


@transaction.atomic
def childbearing_potential_set(
    *,
    participant: Participant,
    of_childbearing_potential: bool,
    assessed_on: date,
    note: str,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> ChildbearingPotential:
    """Record whether the participant is of childbearing potential; a change needs a reason."""
    if assessed_on > timezone.localdate(now):
        raise ValidationError({"assessed_on": _("The date cannot be in the future.")})
    values = {
        "of_childbearing_potential": of_childbearing_potential,
        "assessed_on": assessed_on,
        "note": note.strip(),
    }
    current = ChildbearingPotential.objects.select_for_update().filter(participant=participant).first()
    if current is None:
        return clinical_create(ChildbearingPotential(participant=participant, **values), by=by)
    return clinical_update(current, by=by, reason=reason, changes=values)


def _tested_at_check(tested_at: datetime, now: datetime) -> None:
    if tested_at > now:
        raise ValidationError(
            {
                "tested_at": _(
                    "The test time %(at)s is in the future (it is now %(now)s): enter the time of the test."
                )
                % {"at": local_minute(tested_at), "now": local_minute(now)}
            }
        )


@transaction.atomic
def pregnancy_test_record(
    *,
    participant: Participant,
    tested_at: datetime,
    kind: str,
    result: str,
    by: AbstractBaseUser,
    now: datetime,
) -> PregnancyTest:
    """Record a pregnancy test (its real time: not in the future)."""
    _tested_at_check(tested_at, now)
    return clinical_create(
        PregnancyTest(participant=participant, tested_at=tested_at, kind=kind, result=result), by=by
    )


@transaction.atomic
def pregnancy_test_update(
    *, test: PregnancyTest, values: dict[str, Any], reason: str, by: AbstractBaseUser, now: datetime
) -> PregnancyTest:
    """Correct a pregnancy test, with the reason."""
    test = PregnancyTest.objects.select_for_update().get(pk=test.pk)
    _tested_at_check(values["tested_at"], now)
    return clinical_update(
        test,
        by=by,
        reason=reason,
        changes={k: values[k] for k in ("tested_at", "kind", "result")},
    )


def pregnancy_test_require(participant: Participant, *, at: datetime) -> None:
    """Refuse an infusion starting at `at` for a participant of childbearing potential without a
    negative pregnancy test in the protocol's hours before it (pregnancy_test_hours): the newest
    test before the start decides. A participant whose potential is not recorded, or who is not of
    childbearing potential, needs no test."""
    potential = ChildbearingPotential.objects.filter(participant=participant).first()
    if potential is None or not potential.of_childbearing_potential:
        return
    hours = protocol().pregnancy_test_hours
    latest = (
        PregnancyTest.objects.filter(participant=participant, tested_at__lte=at)
        .order_by("-tested_at", "-pk")
        .first()
    )
    if latest is None or latest.tested_at < at - timedelta(hours=hours):
        raise ValidationError(
            _(
                "No pregnancy test in the %(hours)s h before the start (%(at)s): the participant is of "
                "childbearing potential. Do a test and record a negative result, then start."
            )
            % {"hours": hours, "at": local_minute(at)}
        )
    if latest.result != PregnancyTest.Result.NEGATIVE:
        raise ValidationError(
            _(
                "STOP: the latest pregnancy test (%(when)s) is %(result)s. Do not start the infusion; "
                "tell the principal investigator."
            )
            % {"when": local_minute(latest.tested_at), "result": latest.get_result_display().lower()}
        )


# --- delegation and training log ------------------------------------------------------------------


def _delegation_check(values: dict[str, Any]) -> None:
    role = values.get("role")
    tasks = list(values.get("tasks") or [])
    if role not in ROLE_PERMISSIONS:
        raise ValidationError({"role": _("Choose a role of the protocol.")})
    if not tasks:
        raise ValidationError({"tasks": _("Choose at least one task.")})
    outside = sorted(set(tasks) - set(ROLE_PERMISSIONS[role]))
    if outside:
        raise ValidationError({"tasks": _("These tasks are not part of the role: %s.") % ", ".join(outside)})
    start, end = values.get("starts_on"), values.get("ends_on")
    if start and end and end < start:
        raise ValidationError({"ends_on": _("The last day comes before the first.")})


DELEGATION_FIELDS = ("staff", "role", "tasks", "starts_on", "ends_on")


@transaction.atomic
def delegation_add(*, values: dict[str, Any], by: AbstractBaseUser) -> Delegation:
    """Add a line to the delegation log; it counts once the principal investigator signs it."""
    _delegation_check(values)
    return clinical_create(Delegation(**{k: values.get(k) for k in DELEGATION_FIELDS}), by=by)


@transaction.atomic
def delegation_update(
    *, delegation: Delegation, values: dict[str, Any], reason: str, by: AbstractBaseUser
) -> Delegation:
    """Correct a line of the log, with the reason. A signed line changed in what it delegates
    (role, tasks, days) needs the principal investigator's signature again."""
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    _delegation_check(values)
    changes = {k: values.get(k) for k in DELEGATION_FIELDS}
    if delegation.signed_at is not None and any(getattr(delegation, k) != v for k, v in changes.items()):
        changes |= {"signed_by": None, "signed_at": None}
    return clinical_update(delegation, by=by, reason=reason, changes=changes)


@transaction.atomic
def delegation_sign(*, delegation: Delegation, by: AbstractBaseUser, now: datetime) -> Delegation:
    """The principal investigator signs a line of the delegation log."""
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if delegation.signed_at is not None:
        raise ValidationError(_("This delegation is already signed."))
    return clinical_update(
        delegation,
        by=by,
        reason="signed off by the principal investigator",
        changes={"signed_by": by, "signed_at": now},
    )


TRAINING_FIELDS = ("staff", "course", "completed_on", "certificate", "expires_on")


def _training_check(values: dict[str, Any], today: date) -> None:
    if values.get("completed_on") and values["completed_on"] > today:
        raise ValidationError({"completed_on": _("The date cannot be in the future.")})
    if (
        values.get("expires_on")
        and values.get("completed_on")
        and values["expires_on"] < values["completed_on"]
    ):
        raise ValidationError({"expires_on": _("The certificate expires before the course was completed.")})


@transaction.atomic
def training_add(*, values: dict[str, Any], by: AbstractBaseUser, now: datetime) -> TrainingRecord:
    """Add a training record."""
    _training_check(values, timezone.localdate(now))
    return clinical_create(TrainingRecord(**{k: values.get(k) for k in TRAINING_FIELDS}), by=by)


@transaction.atomic
def training_update(
    *, record: TrainingRecord, values: dict[str, Any], reason: str, by: AbstractBaseUser, now: datetime
) -> TrainingRecord:
    """Correct a training record, with the reason."""
    record = TrainingRecord.objects.select_for_update().get(pk=record.pk)
    _training_check(values, timezone.localdate(now))
    return clinical_update(record, by=by, reason=reason, changes={k: values.get(k) for k in TRAINING_FIELDS})
