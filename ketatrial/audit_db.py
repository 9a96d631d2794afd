"""Database-level protection of the audit tables (PostgreSQL).

After every migrate, each history table (and each append-only log) gets a trigger that refuses
UPDATE and DELETE, so not even a raw SQL statement or a careless admin can rewrite the trail.
TRUNCATE is left alone: the test runner empties tables with it between tests.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connections

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION ketatrial_audit_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
TRIGGER_SQL = """
CREATE OR REPLACE TRIGGER ketatrial_audit_immutable
BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ketatrial_audit_immutable();
"""


def append_only_tables() -> list[str]:
    """History tables of the audited models plus models flagged `append_only`."""
    from ketatrial.audit import is_history_model

    return sorted(
        m._meta.db_table for m in apps.get_models() if is_history_model(m) or getattr(m, "append_only", False)
    )


def install_audit_triggers(using: str = "default", **kwargs: Any) -> None:
    """Create (or refresh) the refusing trigger on every append-only table."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(FUNCTION_SQL)
        for table in append_only_tables():
            if table in existing:
                cursor.execute(TRIGGER_SQL.format(table=connection.ops.quote_name(table)))
