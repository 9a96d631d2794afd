"""The application's database role (PostgreSQL): it owns nothing, so it cannot TRUNCATE, ALTER,
drop or disable the triggers of any table; on the append-only tables (history, audit chain, logs)
it may only read and insert, and on the tables whose rows are never deleted it may not delete.

Migrations run as the owner (compose: the `migrate` service with DATABASE_URL of the owner);
after every migrate the owner grants the application role (settings.DATABASE_APP_ROLE) exactly
this; web, worker and beat connect as that role.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections


def grant_application_role(role: str | None = None, *, using: str = "default") -> bool:
    """Grant `role` (default settings.DATABASE_APP_ROLE) its rights on every table; returns
    whether anything was granted (nothing without PostgreSQL or a role)."""
    from ketatrial.audit_db import append_only_tables, delete_refused_tables

    role = role or getattr(settings, "DATABASE_APP_ROLE", "")
    connection = connections[using]
    if not role or connection.vendor != "postgresql":
        return False
    quote = connection.ops.quote_name
    append_only, no_delete = set(append_only_tables()), set(delete_refused_tables())
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return False
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role]
        )
        owned = [row[0] for row in cursor.fetchall()]
        if owned:
            raise RuntimeError(
                f"the application role {role} owns tables ({', '.join(owned[:5])}): it must own nothing"
            )
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quote(role)}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quote(role)}")
        for table in connection.introspection.table_names(cursor):
            if table in append_only:
                rights = "SELECT, INSERT"
            elif table in no_delete:
                rights = "SELECT, INSERT, UPDATE"
            else:
                rights = "SELECT, INSERT, UPDATE, DELETE"
            cursor.execute(f"GRANT {rights} ON {quote(table)} TO {quote(role)}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}")
    return True
