"""Database-level protection of the audit tables (PostgreSQL).

After every migrate, each history table (and each append-only log) gets a trigger that refuses
UPDATE and DELETE, so not even a raw SQL statement or a careless admin can rewrite the trail; the
tables whose rows are never deleted (allocation slots) get one that refuses DELETE; and the
application role gets its grants (ketatrial/db_roles.py).
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


DELETE_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION ketatrial_delete_refused() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never deleted: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
DELETE_TRIGGER_SQL = """
CREATE OR REPLACE TRIGGER ketatrial_delete_refused
BEFORE DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ketatrial_delete_refused();
"""


def delete_refused_tables() -> list[str]:
    """Live tables whose rows are never deleted (models flagged `delete_refused`)."""
    return sorted(m._meta.db_table for m in apps.get_models() if getattr(m, "delete_refused", False))


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
        cursor.execute(DELETE_FUNCTION_SQL)
        for table in delete_refused_tables():
            if table in existing:
                cursor.execute(DELETE_TRIGGER_SQL.format(table=connection.ops.quote_name(table)))
    from ketatrial.db_roles import grant_application_role

    grant_application_role(using=using)
