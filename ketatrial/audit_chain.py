"""An audit trail that holds against whoever owns the database.

Triggers refuse UPDATE and DELETE on the history tables, and the application connects as a role
that cannot TRUNCATE, ALTER or disable them (ketatrial/db_roles.py). The database owner still can.
What the owner cannot do is write a matching keyed hash:

- Every history row, once written, gets a link (AuditChainLink): HMAC-SHA256 under
  settings.AUDIT_CHAIN_KEY of the previous link of the same record and of the row as stored (read
  back, so the bytes hashed are the bytes kept). The key lives in the environment, never in the
  database.
- `audit_verify` (a command, and a nightly beat job) walks every record's chain: a history row
  rewritten, deleted or slipped in without a link breaks it; and it compares every live clinical
  row with its last audited version: a raw UPDATE of a live rating, which leaves no history, shows
  as a difference. It reports each break by table and id.
- The nightly job also writes the chain heads outside the database (AUDIT_CHAIN_HEADS_DIR: one
  file per day with each history table's last link and a keyed digest over all its links), so
  removing the newest rows and their links together (a truncated tail) is found against the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from ketatrial.models import AuditChainLink


def _key() -> bytes:
    key = getattr(settings, "AUDIT_CHAIN_KEY", "")
    if not key:
        raise RuntimeError("AUDIT_CHAIN_KEY is not set")
    return key.encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value else "NaN"
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def canonical(row: models.Model, *, skip: tuple[str, ...] = ()) -> bytes:
    """The row's stored values as sorted JSON (what the hash covers)."""
    values = {
        f.attname: _plain(f.value_from_object(row))
        for f in row._meta.concrete_fields
        if f.attname not in skip
    }
    return json.dumps(values, sort_keys=True, default=str, separators=(",", ":")).encode()


def digest(previous: str, row: models.Model) -> str:
    return hmac.new(_key(), previous.encode() + b"|" + canonical(row), hashlib.sha256).hexdigest()


def history_models() -> list[type[models.Model]]:
    from ketatrial.audit import is_history_model

    return sorted((m for m in apps.get_models() if is_history_model(m)), key=lambda m: m._meta.db_table)


def _object_id(row: models.Model) -> str:
    return str(row.instance_type._meta.pk.value_from_object(row))  # type: ignore[attr-defined]


def link_history_row(sender: type[models.Model], history_instance: models.Model, **kwargs: Any) -> None:
    """simple-history's post_create_historical_record: chain the new row, in its transaction."""
    stored = type(history_instance)._default_manager.get(pk=history_instance.pk)
    table = type(history_instance)._meta.db_table
    object_id = _object_id(stored)
    previous = (
        AuditChainLink.objects.filter(history_table=table, object_id=object_id)
        .order_by("-id")
        .values_list("digest", flat=True)
        .first()
        or ""
    )
    AuditChainLink.objects.create(
        history_table=table,
        history_id=stored.pk,
        object_id=object_id,
        previous=previous,
        digest=digest(previous, stored),
    )


@dataclass(frozen=True)
class Break:
    table: str
    row_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} #{self.row_id}: {self.problem}"


def _history_fields(history_model: type[models.Model]) -> list[str]:
    """The tracked fields: a history row holds every field of its live row under the same name."""
    live = history_model.instance_type  # type: ignore[attr-defined]
    return [f.attname for f in live._meta.concrete_fields]


def verify(*, with_live: bool = True) -> list[Break]:
    """Every break of every chain, then every live row that differs from its last audited
    version (or has none)."""
    breaks: list[Break] = []
    for model in history_models():
        breaks += list(_verify_table(model))
        if with_live:
            breaks += list(_verify_live(model))
    return breaks


def _verify_table(model: type[models.Model]) -> Iterator[Break]:
    table = model._meta.db_table
    links = {
        link.history_id: link
        for link in AuditChainLink.objects.filter(history_table=table).order_by("id").iterator()
    }
    last: dict[str, str] = {}
    seen = set()
    for row in model._default_manager.order_by(model._meta.pk.attname).iterator():
        seen.add(row.pk)
        object_id = _object_id(row)
        link = links.get(row.pk)
        if link is None:
            yield Break(
                table, str(row.pk), "history row without a chain link (inserted outside the application)"
            )
            continue
        expected_previous = last.get(object_id, "")
        if link.previous != expected_previous:
            yield Break(table, str(row.pk), "chain broken before this row (a history row was removed)")
        if not hmac.compare_digest(link.digest, digest(link.previous, row)):
            yield Break(table, str(row.pk), "history row differs from what was chained (rewritten)")
        last[object_id] = link.digest
    for history_id in sorted(set(links) - seen):
        yield Break(table, str(history_id), "chained history row is missing (deleted)")


def _verify_live(model: type[models.Model]) -> Iterator[Break]:
    live = model.instance_type  # type: ignore[attr-defined]
    fields = _history_fields(model)
    pk = live._meta.pk.attname
    latest: dict[Any, tuple[str, dict[str, Any]]] = {}
    for row in (
        model._default_manager.order_by(model._meta.pk.attname).values(pk, "history_type", *fields).iterator()
    ):
        latest[row[pk]] = (row["history_type"], row)
    for row in live._default_manager.values(*fields).iterator():
        audited = latest.get(row[pk])
        if audited is None or audited[0] == "-":
            yield Break(
                live._meta.db_table,
                str(row[pk]),
                "live row has no audited version (written outside the application)",
            )
            continue
        differ = sorted(name for name in fields if _plain(row[name]) != _plain(audited[1][name]))
        if differ:
            yield Break(
                live._meta.db_table,
                str(row[pk]),
                "live row differs from its last audited version in " + ", ".join(differ),
            )


def heads() -> dict[str, dict[str, Any]]:
    """Per history table: the number of links, the last one, and a keyed digest over all."""
    out = {}
    for model in history_models():
        table = model._meta.db_table
        running = hmac.new(_key(), table.encode(), hashlib.sha256)
        count, last = 0, None
        for link_id, link_digest in (
            AuditChainLink.objects.filter(history_table=table)
            .order_by("id")
            .values_list("id", "digest")
            .iterator()
        ):
            running.update(link_digest.encode())
            count, last = count + 1, link_id
        out[table] = {"links": count, "last_link": last, "digest": running.hexdigest()}
    return out


def heads_write(*, today: date) -> Path:
    folder = Path(settings.AUDIT_CHAIN_HEADS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"audit-heads-{today.isoformat()}.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps({"date": today.isoformat(), "tables": heads()}, indent=1, sort_keys=True))
    temporary.replace(target)
    return target


def heads_check(path: Path) -> list[Break]:
    """The chains as they were when `path` was written must still be there, unchanged: the links
    up to each table's recorded last link give the recorded digest."""
    recorded = json.loads(path.read_text())["tables"]
    breaks = []
    for table, head in recorded.items():
        running = hmac.new(_key(), table.encode(), hashlib.sha256)
        count = 0
        query = AuditChainLink.objects.filter(history_table=table)
        if head["last_link"] is not None:
            query = query.filter(id__lte=head["last_link"])
        for link_digest in query.order_by("id").values_list("digest", flat=True).iterator():
            running.update(link_digest.encode())
            count += 1
        if count != head["links"] or not hmac.compare_digest(running.hexdigest(), head["digest"]):
            breaks.append(
                Break(
                    table,
                    str(head["last_link"]),
                    f"chain differs from the head written on {path.name} (rows removed or rewritten)",
                )
            )
    return breaks


def latest_heads_file() -> Path | None:
    folder = Path(settings.AUDIT_CHAIN_HEADS_DIR)
    files = sorted(folder.glob("audit-heads-*.json")) if folder.exists() else []
    return files[-1] if files else None


def link_unlinked() -> int:
    """Chain the history rows that have no link (written before the chain existed), record by
    record in id order after any existing links. Run once when upgrading; a row slipped in later
    is a break for verify to report, not something to link silently."""
    from django.db import transaction

    count = 0
    for model in history_models():
        table = model._meta.db_table
        linked = set(AuditChainLink.objects.filter(history_table=table).values_list("history_id", flat=True))
        with transaction.atomic():
            for row in model._default_manager.order_by(model._meta.pk.attname).iterator():
                if row.pk in linked:
                    continue
                link_history_row(model, row)
                count += 1
    return count
