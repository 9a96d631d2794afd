"""Audit trail for clinical records (django-simple-history underneath).

Every clinical model derives from `ClinicalModel`: each save writes a history row with the user,
the time, the full record and the reason. Creating a record needs no reason; changing a saved one
does, and `ClinicalModel.save` refuses an update without one so that no code path can skip it.
Services are the only writers; they call `clinical_create` / `clinical_update` inside their own
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalChanges, HistoricalRecords

from ketatrial.lock import require_unlocked

M = TypeVar("M", bound="ClinicalModel")


class ReasonRequired(ValidationError):
    """A saved clinical record was changed without a reason."""


class ClinicalModel(models.Model):
    """Base of every audited clinical record."""

    # Set True on a model whose history may not be shown in the audit pages (the allocation).
    audit_restricted = False
    # Set True on the few records written while the database is locked (the lock itself).
    lock_exempt = False

    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and not (getattr(self, "_change_reason", "") or "").strip():
            raise ReasonRequired(_("A reason is required to change a saved record."))
        # The lock check and the write are one transaction holding the shared lock-state lock, so a
        # write begun before the database lock commits before it, never after (see
        # ketatrial.lock.lock_state).
        with transaction.atomic():
            _refuse_while_locked(self)
            super().save(*args, **kwargs)
        # A reason covers one write: the next save of this object needs its own.
        self._change_reason = ""

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            _refuse_while_locked(self)
            return super().delete(*args, **kwargs)


# Checks every audited write passes before it is saved or deleted (an app registers its own at
# start-up: review refuses writes to a locked form). Each raises ValidationError to refuse.
WRITE_GUARDS: list[Any] = []


def _refuse_while_locked(record: ClinicalModel) -> None:
    for guard in WRITE_GUARDS:
        guard(record)
    if record.lock_exempt:
        return
    require_unlocked()


def clinical_create(instance: M, *, by: AbstractBaseUser | None, reason: str = "") -> M:
    """Validate and insert a new clinical record, audited as created by `by`."""
    instance._history_user = by  # type: ignore[attr-defined]
    instance._change_reason = reason or "created"  # type: ignore[attr-defined]
    instance.full_clean()
    instance.save()
    return instance


def clinical_update(instance: M, *, by: AbstractBaseUser | None, reason: str, changes: dict[str, Any]) -> M:
    """Apply `changes` to a saved record; refused without a reason or when nothing changes."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired({"reason": _("Give the reason for this change.")})
    changed = {k: v for k, v in changes.items() if getattr(instance, k) != v}
    if not changed:
        raise ValidationError(_("Nothing was changed."))
    for name, value in changed.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance._history_user = by  # type: ignore[attr-defined]
    instance._change_reason = reason  # type: ignore[attr-defined]
    instance.save()
    return instance


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class AuditEntry:
    when: datetime
    user: str
    action: str
    reason: str
    changes: tuple[FieldChange, ...]


ACTIONS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}


def audited_models() -> list[type[ClinicalModel]]:
    """Clinical models whose history the audit pages may show."""
    return [m for m in apps.get_models() if issubclass(m, ClinicalModel) and not m.audit_restricted]


def is_history_model(model: type[models.Model]) -> bool:
    return issubclass(model, HistoricalChanges)


def _display(record: models.Model, name: str) -> Any:
    field = record._meta.get_field(name)
    value = getattr(record, field.attname)
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    return value


def audit_entries(instance: ClinicalModel, *, shown: Any = None) -> list[AuditEntry]:
    """The history of one record, oldest first, each change with its old and new values.
    `shown(names)`, when given, keeps the fields the reader may see (in order); a change of
    hidden fields only appears as an entry without values."""
    records = list(instance.history.select_related("history_user").order_by("history_date", "history_id"))
    entries: list[AuditEntry] = []
    previous = None
    every = [f.name for f in instance._meta.fields if f.editable and f.name != "id"]
    allowed = set(every if shown is None else shown(every))
    for record in records:
        if previous is None:
            fields = [n for n in every if n in allowed]
            changes = tuple(
                FieldChange(str(record._meta.get_field(n).verbose_name), None, _display(record, n))
                for n in fields
            )
        else:
            delta = record.diff_against(previous)
            changes = tuple(
                FieldChange(
                    str(record._meta.get_field(c.field).verbose_name),
                    _display(previous, c.field),
                    _display(record, c.field),
                )
                for c in delta.changes
                if c.field in allowed
            )
        user = record.history_user.get_username() if record.history_user else _("system")
        entries.append(
            AuditEntry(
                when=record.history_date,
                user=str(user),
                action=str(ACTIONS.get(record.history_type, record.history_type)),
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
        previous = record
    return entries
