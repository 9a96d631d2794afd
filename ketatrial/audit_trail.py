"""The audit trail as people read it: every history row of every audited record the reader may
see, filtered, paged and exported, each entry with its field-level changes in words.

What a reader sees obeys the one visibility rule (participants.allocation.visibility): records of
a model whose kind the reader may not see are not in the trail at all (not in the rows, the counts
or the choices of the form filter), and of a visible record only the fields the reader may see of
the live record appear, old and new values alike. The allocation's own tables are never read
here (ClinicalModel.audit_restricted); a randomization shows as the participant's change of status
with the randomization number, which blinded pages already show.

The rows of one page come from one UNION over the history tables (the filters applied in each
part, history columns only, so the database sorts and counts without joins), and a page costs a
fixed number of queries whatever the size of the trial: the count, the page, one query per model
on the page for the versions of its records, one per indirect way to a participant (a consent
through its screening), one per kind of linked record named in the changes (users,
participants, ...) and one for the randomization numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from ketatrial.audit import ACTIONS, ClinicalModel, audited_models
from participants.allocation import visibility

Reader = AbstractBaseUser | AnonymousUser

PARTICIPANT_LABEL = "participants.participant"


@dataclass(frozen=True)
class TrailFilter:
    """What the reader asked for; every part optional. Dates are local days, both included."""

    participant_id: int | None = None
    no_participant_match: bool = False
    form: str = ""
    user_id: int | None = None
    role: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class FieldChange:
    name: str  # the field's code ("status", "items.4")
    label: str  # its words ("status", "item 4 (Insomnia: early)")
    old: str | None
    new: str | None


@dataclass(frozen=True)
class TrailEntry:
    when: datetime
    form: str  # the model's label, "clinimetry.assessment"
    form_name: str  # its words, "assessment"
    history_id: int  # the history row's number in that form's history table
    object_id: int
    participant: str  # the participant's ID, "" when the record belongs to none
    action: str
    action_code: str
    username: str
    user_name: str  # full name
    reason: str
    changes: tuple[FieldChange, ...]

    @property
    def user(self) -> str:
        return f"{self.username} ({self.user_name})" if self.user_name else self.username


@dataclass(frozen=True)
class _Ref:
    history_id: int
    form: str
    object_id: int


# --- which records the reader may see --------------------------------------------------------


def visible_models(user: Reader) -> list[type[ClinicalModel]]:
    """The audited models whose records the reader may see, in a stable order."""
    return sorted(
        (m for m in audited_models() if visibility.may_see_records(user, m._meta.label_lower)),
        key=lambda m: m._meta.label_lower,
    )


def visible_model(user: Reader, label: str) -> type[ClinicalModel] | None:
    """The audited model of that label if the reader may see its records; None otherwise (the
    caller answers "not found", as for a model that does not exist)."""
    return next((m for m in visible_models(user) if m._meta.label_lower == label), None)


def _participant_model() -> type[models.Model]:
    return apps.get_model("participants", "Participant")


def _live_path(model: type[models.Model], depth: int = 0) -> str | None:
    """The lookup from a live record to its participant's id ("participant", "screening__participant",
    "visit__participant"), or None for trial-wide records (a database lock)."""
    participant = _participant_model()
    if model is participant:
        return "pk"
    for field in model._meta.get_fields():
        if field.name == "participant" and field.is_relation and field.related_model is participant:
            return "participant"
    if depth >= 2:
        return None
    for field in model._meta.concrete_fields:
        related = field.related_model if field.is_relation else None
        if related is not None and related is not model and issubclass(related, ClinicalModel):
            inner = _live_path(related, depth + 1)
            if inner and inner != "pk":
                return f"{field.name}__{inner}"
    return None


def _participant_link(model: type[models.Model]) -> tuple[str | None, type[models.Model] | None, str]:
    """How a history row of `model` names its participant: (the row's attribute, and when that is
    not the participant's id itself, the model to look it up in and the lookup there)."""
    if model is _participant_model():
        return "id", None, ""
    path = _live_path(model)
    if path is None:
        return None, None, ""
    head, _sep, rest = path.partition("__")
    field = model._meta.get_field(head)
    if field.concrete and not rest:
        return field.attname, None, ""  # type: ignore[union-attr]
    if field.concrete:
        # From the history row's own link (a deleted record's history keeps its participant).
        return field.attname, field.related_model, rest  # type: ignore[union-attr,return-value]
    return "id", model, path


def _participant_q(model: type[models.Model], participant_id: int) -> Q:
    """History rows of `model` that belong to that participant."""
    if model is _participant_model():
        return Q(id=participant_id)
    path = _live_path(model)
    if path is None:
        return Q(pk__in=[])
    head, _sep, rest = path.partition("__")
    field = model._meta.get_field(head)
    if field.concrete and not rest:
        return Q(**{field.attname: participant_id})  # type: ignore[union-attr]
    if field.concrete:
        ids = field.related_model._default_manager.filter(**{rest: participant_id}).values("pk")  # type: ignore[union-attr]
        return Q(**{f"{field.attname}__in": ids})  # type: ignore[union-attr]
    return Q(id__in=model._default_manager.filter(**{path: participant_id}).values("pk"))


def _site_q(model: type[models.Model], user: Reader) -> Q:
    """History rows of `model` that belong to a participant of the reader's sites (or to no
    participant: trial-wide records); everything for a reader of every site. Part of the one
    visibility rule (visibility.participant_scope): another site's records are not in the trail."""
    sites = visibility.sites_for(user)
    if sites is None:
        return Q()
    if model is _participant_model() or model._meta.label_lower == "participants.screeningrecord":
        return Q(site_id__in=sorted(sites))  # a screening record carries its own site
    path = _live_path(model)
    if path is None:
        return Q()
    ids = _participant_model()._default_manager.filter(site_id__in=sorted(sites)).values("pk")
    head, _sep, rest = path.partition("__")
    field = model._meta.get_field(head)
    if field.concrete and not rest:
        return Q(**{f"{field.attname}__in": ids})  # type: ignore[union-attr]
    if field.concrete:
        inner = field.related_model._default_manager.filter(**{f"{rest}__in": ids}).values("pk")  # type: ignore[union-attr]
        return Q(**{f"{field.attname}__in": inner})  # type: ignore[union-attr]
    return Q(id__in=model._default_manager.filter(**{f"{path}__in": ids}).values("pk"))


def record_in_scope(user: Reader, model: type[models.Model], pk: int) -> bool:
    """Whether a record's history belongs to the reader's sites (the record page answers 404
    otherwise, as for a record that does not exist)."""
    if visibility.sites_for(user) is None:
        return True
    return model.history.model._default_manager.filter(_site_q(model, user), id=pk).exists()  # type: ignore[attr-defined]


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def trail_rows(user: Reader, wanted: TrailFilter) -> QuerySet:
    """The history rows the reader may see and asked for, newest first, as
    (history id, time, model label, record id) from one UNION query of history columns only (the
    participant of each row is found for the page alone, in _entries)."""
    parts = []
    if wanted.no_participant_match:
        return _participant_model()._default_manager.none()
    user_model = get_user_model()
    for model in visible_models(user):
        label = model._meta.label_lower
        if wanted.form and wanted.form != label:
            continue
        rows = model.history.model._default_manager.order_by()  # type: ignore[attr-defined]
        if wanted.action:
            rows = rows.filter(history_type=wanted.action)
        if wanted.user_id is not None:
            rows = rows.filter(history_user_id=wanted.user_id)
        if wanted.role:
            rows = rows.filter(
                history_user_id__in=user_model._default_manager.filter(groups__name=wanted.role).values("pk")
            )
        if wanted.date_from:
            rows = rows.filter(history_date__gte=_local_start(wanted.date_from))
        if wanted.date_to:
            rows = rows.filter(history_date__lt=_local_start(wanted.date_to + timedelta(days=1)))
        if wanted.participant_id is not None:
            rows = rows.filter(_participant_q(model, wanted.participant_id))
        rows = rows.filter(_site_q(model, user))
        parts.append(
            rows.annotate(
                t_hid=F("history_id"),
                t_when=F("history_date"),
                t_form=Cast(Value(label), models.CharField(max_length=100)),
                t_object=F("id"),
            ).values_list("t_hid", "t_when", "t_form", "t_object")
        )
    if not parts:
        return _participant_model()._default_manager.none()
    first, *rest = parts
    combined = first.union(*rest, all=True) if rest else first
    return combined.order_by("-t_when", "-t_hid", "t_form")


# --- entries in words --------------------------------------------------------------------------


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".strip()
    if isinstance(value, date | Decimal | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(_as_text(v) if v is not None else "—") for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return str(value)


class _Names:
    """Words for the linked records named in a page's changes, fetched once per linked model:
    users by username and full name, records with a code (participant, screening, site) by
    code; a linked record of a kind the reader may not see only by its number."""

    def __init__(self, user: Reader) -> None:
        self.user = user
        self.wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
        self.words: dict[tuple[type[models.Model], Any], str] = {}

    def want(self, model: type[models.Model], pk: Any) -> None:
        if pk is not None:
            self.wanted[model].add(pk)

    def fetch(self) -> None:
        user_model = get_user_model()
        for model, pks in self.wanted.items():
            if model is user_model:
                for pk, username, first, last in model._default_manager.filter(pk__in=pks).values_list(
                    "pk", "username", "first_name", "last_name"
                ):
                    full = f"{first} {last}".strip()
                    self.words[(model, pk)] = f"{username} ({full})" if full else username
            elif self._readable(model) and any(f.name == "code" for f in model._meta.concrete_fields):
                for pk, code in model._default_manager.filter(pk__in=pks).values_list("pk", "code"):
                    self.words[(model, pk)] = str(code)

    def _readable(self, model: type[models.Model]) -> bool:
        if issubclass(model, ClinicalModel):
            return visibility.may_see_records(self.user, model._meta.label_lower)
        return True

    def word(self, model: type[models.Model], pk: Any) -> str | None:
        if pk is None:
            return None
        return self.words.get((model, pk), f"{model._meta.verbose_name} #{pk}")


@dataclass
class _Raw:
    """A change before its linked records are put in words."""

    name: str
    label: str
    old: Any
    new: Any
    related: type[models.Model] | None = None


def _field_value(record: models.Model, field: models.Field) -> Any:
    value = getattr(record, field.attname)
    if field.choices and not field.is_relation:
        return dict(field.flatchoices).get(value, value)
    return value


def _key_label(model: type[models.Model], field: models.Field, key: Any, record: models.Model) -> str:
    hook = getattr(model, "audit_item_label", None)
    label = hook(field.name, str(key), record) if hook else None
    return label or f"{field.verbose_name}: {key}"


def _item_changes(
    model: type[models.Model], field: models.Field, old: Any, new: Any, record: models.Model
) -> list[_Raw] | None:
    """A JSON field of items changes item by item ("item 4 (Insomnia: early): 1 -> 2"): a dict by
    key, a list of the same length by position (from 1). None when the value is not such a set."""
    if isinstance(new, dict) and isinstance(old, dict | type(None)):
        old = old or {}
        keys = list(new) + [k for k in old if k not in new]
        return [
            _Raw(f"{field.name}.{k}", _key_label(model, field, k, record), old.get(k), new.get(k))
            for k in keys
            if old.get(k) != new.get(k) or k not in old
        ]
    if (
        isinstance(new, list)
        and isinstance(old, list)
        and len(old) == len(new)
        and all(not isinstance(v, dict | list) for v in (*old, *new))
    ):
        return [
            _Raw(f"{field.name}.{i}", _key_label(model, field, i, record), a, b)
            for i, (a, b) in enumerate(zip(old, new, strict=True), start=1)
            if a != b
        ]
    return None


def _raw_changes(
    model: type[models.Model], record: models.Model, previous: models.Model | None, shown: list[str]
) -> list[_Raw]:
    out: list[_Raw] = []
    for name in shown:
        field = model._meta.get_field(name)
        new = _field_value(record, field)
        old = _field_value(previous, field) if previous is not None else None
        if previous is not None and old == new:
            continue
        if previous is None and new in (None, "", [], {}):
            continue  # a new record's empty fields say nothing
        if isinstance(field, models.JSONField) and (previous is not None or isinstance(new, dict)):
            items = _item_changes(model, field, old, new, record)
            if items is not None:
                out.extend(items)
                continue
        related = field.related_model if field.is_relation else None
        out.append(_Raw(name, str(field.verbose_name), old, new, related))  # type: ignore[arg-type]
    return out


def _entries(user: Reader, refs: list[_Ref]) -> list[TrailEntry]:
    """The refs as entries, in the given order, in a fixed number of queries."""
    by_form: dict[str, list[_Ref]] = defaultdict(list)
    for ref in refs:
        by_form[ref.form].append(ref)
    models_by_label = {m._meta.label_lower: m for m in visible_models(user)}
    versions: dict[tuple[str, int], tuple[Any, Any]] = {}
    names = _Names(user)
    participant_model = _participant_model()
    for form, form_refs in by_form.items():
        history = models_by_label[form].history.model  # type: ignore[attr-defined]
        # Every version of the page's records (a record's history is short, whatever the trial's
        # size), so each row finds the one before it without a query of its own.
        rows = history._default_manager.filter(id__in={r.object_id for r in form_refs}).select_related(
            "history_user"
        )
        previous: dict[Any, Any] = {}
        for row in sorted(rows, key=lambda r: (r.id, r.history_date, r.history_id)):
            versions[(form, row.history_id)] = (row, previous.get(row.id))
            previous[row.id] = row
    participant_of = _participants_of(refs, versions, models_by_label)
    for pid in participant_of.values():
        names.want(participant_model, pid)

    randomized: list[tuple[int, int]] = []  # (history id, participant id) of randomizations
    randomized_status = participant_model.Status.RANDOMIZED  # type: ignore[attr-defined]
    raw: dict[tuple[str, int], list[_Raw]] = {}
    for ref in refs:
        found = versions.get((ref.form, ref.history_id))
        if found is None:
            continue
        record, previous = found
        model = models_by_label[ref.form]
        every = [f.name for f in model._meta.fields if f.editable and f.name != "id"]
        shown = visibility.visible_fields(user, ref.form, every)
        changes = _raw_changes(model, record, previous, shown)
        for change in changes:
            if change.related is not None:
                names.want(change.related, change.old)
                names.want(change.related, change.new)
        if (
            ref.form == PARTICIPANT_LABEL
            and "status" in shown
            and record.status == randomized_status
            and (previous is None or previous.status != randomized_status)
        ):
            randomized.append((ref.history_id, record.id))
        raw[(ref.form, ref.history_id)] = changes
    names.fetch()
    numbers = _randomization_numbers(user, [pid for _h, pid in randomized])
    for history_id, pid in randomized:
        if pid in numbers:
            raw[(PARTICIPANT_LABEL, history_id)].append(
                _Raw("randomization_number", _("randomization number"), None, numbers[pid])
            )

    entries = []
    for ref in refs:
        found = versions.get((ref.form, ref.history_id))
        if found is None:
            continue
        record, _previous = found
        model = models_by_label[ref.form]
        who = record.history_user
        changes = tuple(
            FieldChange(
                c.name,
                c.label,
                names.word(c.related, c.old) if c.related else _as_text(c.old),
                names.word(c.related, c.new) if c.related else _as_text(c.new),
            )
            for c in raw[(ref.form, ref.history_id)]
        )
        entries.append(
            TrailEntry(
                when=record.history_date,
                form=ref.form,
                form_name=str(model._meta.verbose_name),
                history_id=record.history_id,
                object_id=record.id,
                participant=names.words.get((participant_model, participant_of.get(ref)), ""),
                action=str(ACTIONS.get(record.history_type, record.history_type)),
                action_code=record.history_type,
                username=who.get_username() if who else _("system"),
                user_name=who.get_full_name() if who else "",
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
    return entries


def _participants_of(
    refs: list[_Ref], versions: dict[tuple[str, int], tuple[Any, Any]], models_by_label: dict[str, Any]
) -> dict[_Ref, int]:
    """The participant of each ref: read off the history row, or looked up in one query per kind
    of link on the page (a consent through its screening, vital signs through their visit)."""
    found: dict[_Ref, int] = {}
    pending: dict[tuple[type[models.Model], str], dict[_Ref, Any]] = defaultdict(dict)
    for ref in refs:
        version = versions.get((ref.form, ref.history_id))
        attribute, lookup, path = _participant_link(models_by_label[ref.form])
        if version is None or attribute is None:
            continue
        link = getattr(version[0], attribute)
        if link is None:
            continue
        if lookup is None:
            found[ref] = link
        else:
            pending[(lookup, path)][ref] = link
    for (lookup, path), links in pending.items():
        targets = dict(lookup._default_manager.filter(pk__in=set(links.values())).values_list("pk", path))
        found.update({ref: targets[link] for ref, link in links.items() if targets.get(link) is not None})
    return found


def _randomization_numbers(user: Reader, participant_ids: list[int]) -> dict[int, str]:
    """The randomization numbers of these participants, from the allocation module's blinded
    values (what the participant pages show), for a reader who may see participant records."""
    if not participant_ids or not visibility.may_see_records(user, PARTICIPANT_LABEL):
        return {}
    from participants import allocation

    people = list(_participant_model()._default_manager.filter(pk__in=participant_ids))
    return {pk: a.randomization_number for pk, a in allocation.blinded_allocations(people).items()}


def trail_entries(user: Reader, rows: Iterable[tuple[Any, ...]]) -> list[TrailEntry]:
    """Entries for rows of `trail_rows` (one page of them)."""
    refs = [_Ref(hid, form, obj) for hid, _when, form, obj in rows]
    return _entries(user, refs)


def record_entries(user: Reader, model: type[ClinicalModel], pk: int) -> list[TrailEntry]:
    """One record's history, oldest first, as the reader may see it (the caller has checked that
    the reader may see the model's records)."""
    label = model._meta.label_lower
    rows = (
        model.history.model._default_manager.filter(id=pk)  # type: ignore[attr-defined]
        .order_by("history_date", "history_id")
        .values_list("history_id", flat=True)
    )
    return _entries(user, [_Ref(hid, label, pk) for hid in rows])


# --- CSV ---------------------------------------------------------------------------------------

CSV_CHUNK = 500


def csv_header() -> list[str]:
    return [
        "when",
        "participant",
        "form",
        "form_label",
        "record_id",
        "history_id",
        "action",
        "username",
        "user_name",
        "reason",
        "field",
        "field_label",
        "old_value",
        "new_value",
    ]


def _cell(value: object) -> str:
    """Text as a spreadsheet shows it, never as a formula (a reason typed as "=HYPERLINK(...)")."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(user: Reader, wanted: TrailFilter) -> Iterator[list[str]]:
    """Every entry the filter selects, one line per changed field (one line for an entry without
    visible changes), read a chunk at a time so memory stays flat."""
    rows = trail_rows(user, wanted)
    start = 0
    while True:
        chunk = list(rows[start : start + CSV_CHUNK])
        if not chunk:
            return
        for entry in trail_entries(user, chunk):
            when = timezone.localtime(entry.when).isoformat(timespec="seconds")
            head = [
                when,
                entry.participant,
                entry.form,
                entry.form_name,
                str(entry.object_id),
                str(entry.history_id),
                entry.action,
                entry.username,
                entry.user_name,
                entry.reason,
            ]
            for change in entry.changes or (None,):
                tail = [change.name, change.label, change.old, change.new] if change else ["", "", "", ""]
                yield [_cell(v) for v in (*head, *tail)]
        start += CSV_CHUNK
