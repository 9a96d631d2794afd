"""The forms of a casebook: which clinical records belong to a participant, how to find them, how
to show their fields, and who answers for them. Reads only; every read goes through the one
visibility rule (participants/allocation/visibility.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models

from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN, RATER
from participants.allocation import visibility

# The forms of a participant's casebook, in the order a casebook is read, and the path from each
# record to its participant.
CASEBOOK: tuple[tuple[str, str], ...] = (
    ("participants.screeningrecord", "participant__pk"),
    ("participants.consent", "screening__participant__pk"),
    ("participants.participant", "pk"),
    ("infusions.schedule", "participant_id"),
    ("infusions.infusionvisit", "participant_id"),
    ("infusions.vitalsigns", "visit__participant_id"),
    ("infusions.dissociationrating", "visit__participant_id"),
    ("infusions.adverseevent", "participant_id"),
    ("infusions.adverseeventfollowup", "event__participant_id"),
    ("clinimetry.assessment", "participant_id"),
    ("clinimetry.relapseevent", "participant_id"),
    ("clinimetry.relapse", "participant_id"),
    ("clinimetry.blindingguess", "participant_id"),
    ("safety.suicideriskfollowup", "participant_id"),
    ("spectroscopy.mrsupload", "participant_id"),
    ("spectroscopy.tissuefractions", "participant_id"),
)
PATHS = dict(CASEBOOK)

# Who answers a query on a kind of data: the site role that writes it (the protocol's table).
ANSWERER = {
    visibility.RATINGS: RATER,
    visibility.GUESSES: RATER,
    visibility.SCHEDULE: COORDINATOR,
    visibility.MRS: COORDINATOR,
    visibility.PARTICIPANT: COORDINATOR,
    visibility.INFUSION_SAFETY: INFUSION_PHYSICIAN,
    visibility.ADVERSE_EVENTS: INFUSION_PHYSICIAN,
}
# Fields no reviewer verifies or queries (bookkeeping, not data).
SKIP = {"id", "history", "signature_voided_at", "signed_at", "signed_by", "signature_meaning"}


def model_of(label: str) -> type[models.Model] | None:
    if label not in PATHS:
        return None
    return apps.get_model(label)


def scope_path(label: str) -> str:
    """The path from a record to its participant for visibility.participant_scope ("" for the
    participant itself and for a screening record, which carries its own site)."""
    lookup = PATHS[label]
    if lookup == "pk" or label == "participants.screeningrecord":
        return ""
    return lookup.removesuffix("__pk").removesuffix("_id")


def participant_filter(label: str, participant_id: int) -> dict[str, Any]:
    return {PATHS[label]: participant_id}


def participant_of(label: str, record: models.Model) -> int | None:
    """The participant a record belongs to (one query at most)."""
    lookup = PATHS.get(label)
    if lookup is None:
        return None
    if lookup == "pk":
        return record.pk
    if lookup == "participant_id":
        return getattr(record, "participant_id", None)
    return type(record)._default_manager.filter(pk=record.pk).values_list(lookup, flat=True).first()


def default_answerer(label: str) -> str:
    return ANSWERER.get(visibility.record_kind(label) or "", COORDINATOR)


def reviewable_fields(user: AbstractBaseUser, label: str) -> list[models.Field]:
    """The fields of a form the user may see, as reviewers read them (no bookkeeping)."""
    model = apps.get_model(label)
    fields = [f for f in model._meta.concrete_fields if f.name not in SKIP and f.editable]
    names = visibility.visible_fields(user, label, [f.name for f in fields])
    return [f for f in fields if f.name in names]


def field_value(record: models.Model, field: models.Field) -> str:
    value = getattr(record, field.attname)
    if value is None or value == "":
        return "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.is_relation:
        related = getattr(record, field.name, None)
        return str(related) if related is not None else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict))
    return str(value)


@dataclass(frozen=True)
class Form:
    label: str
    name: str
    record: models.Model


def record_get(user: AbstractBaseUser, label: str, pk: str) -> models.Model | None:
    """One record the user may see, or None (the same for one that does not exist)."""
    model = model_of(label)
    if model is None or not visibility.may_see_records(user, label):
        return None
    try:
        # A record of another site's participant is the same as a missing one.
        return model._default_manager.filter(
            visibility.participant_scope(user, scope_path(label)), pk=pk
        ).first()
    except (ValueError, TypeError, ValidationError):  # not an id of this form: the same 404
        return None


def casebook(user: AbstractBaseUser, participant_id: int) -> list[Form]:
    """Every form of a participant the user may see, one query per kind of form."""
    out = []
    for label, _path in CASEBOOK:
        if not visibility.may_see_records(user, label):
            continue
        model = apps.get_model(label)
        name = str(model._meta.verbose_name)
        for record in model._default_manager.filter(**participant_filter(label, participant_id)).order_by(
            "pk"
        ):
            out.append(Form(label, name, record))
    return out
