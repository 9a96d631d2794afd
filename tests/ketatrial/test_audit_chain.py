"""The audit trail holds against whoever owns the database: raw SQL that rewrites a live row or a
history row, removes a history row or cuts the newest rows off is named by audit_verify; the
application role cannot TRUNCATE, ALTER or disable a trigger, nor delete an allocation slot."""

from __future__ import annotations

import io
import uuid
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from clinimetry.models import Assessment
from ketatrial import audit_chain
from ketatrial.models import AuditChainLink
from tests.factories import enrolled

pytestmark = pytest.mark.django_db


@contextmanager
def owner_without_triggers(*tables: str):  # type: ignore[no-untyped-def]
    """What the owner (or a superuser) can do on PostgreSQL: switch the refusing triggers off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _rating(coordinator, rater):  # type: ignore[no-untyped-def]
    from clinimetry import services

    person = enrolled(coordinator)
    return services.assessment_save(
        participant=person,
        instrument="madrs",
        task_code="baseline",
        items={str(n): 3 for n in range(1, 11)},
        rated_at=timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
    )


def test_records_written_by_the_application_verify_clean(coordinator, rater) -> None:
    _rating(coordinator, rater)
    assert AuditChainLink.objects.count() > 0
    assert audit_chain.verify() == []


def test_raw_sql_rewriting_a_live_row_and_a_history_row_is_named_by_audit_verify(coordinator, rater) -> None:
    rating = _rating(coordinator, rater)
    history = rating.history.order_by("-history_id").first()
    with owner_without_triggers("clinimetry_historicalassessment") as cursor:
        cursor.execute("UPDATE clinimetry_assessment SET total = 5 WHERE id = %s", [rating.pk])
        cursor.execute(
            "UPDATE clinimetry_historicalassessment SET history_change_reason = 'nothing' WHERE history_id = %s",
            [history.history_id],
        )
    breaks = {(b.table, b.row_id): b.problem for b in audit_chain.verify()}
    assert (
        "differs from its last audited version in total" in breaks[("clinimetry_assessment", str(rating.pk))]
    )
    assert "rewritten" in breaks[("clinimetry_historicalassessment", str(history.history_id))]
    out = io.StringIO()
    with pytest.raises(CommandError, match="break"):
        call_command("audit_verify", stdout=out)
    assert f"clinimetry_assessment #{rating.pk}" in out.getvalue()
    assert f"clinimetry_historicalassessment #{history.history_id}" in out.getvalue()


def test_a_removed_history_row_breaks_its_chain(coordinator, rater) -> None:
    from clinimetry import services

    rating = _rating(coordinator, rater)
    services.assessment_save(
        participant=rating.participant,
        instrument="madrs",
        task_code="baseline",
        items={str(n): 2 for n in range(1, 11)},
        rated_at=rating.rated_at,
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        reason="transcription error",
    )
    first = rating.history.order_by("history_id").first()
    with owner_without_triggers("clinimetry_historicalassessment") as cursor:
        cursor.execute(
            "DELETE FROM clinimetry_historicalassessment WHERE history_id = %s", [first.history_id]
        )
    problems = [b.problem for b in audit_chain.verify() if b.table == "clinimetry_historicalassessment"]
    assert any("removed" in p for p in problems) and any("missing" in p for p in problems)


def test_cutting_off_the_newest_rows_with_their_links_is_found_against_the_heads_file(
    coordinator, rater, settings, tmp_path
) -> None:
    settings.AUDIT_CHAIN_HEADS_DIR = tmp_path
    rating = _rating(coordinator, rater)
    path = audit_chain.heads_write(today=timezone.localdate())
    newest = rating.history.order_by("-history_id").first()
    # The newest history row and its link removed, the live row put back as the row before: the
    # chains in the database are consistent again; only the file written outside knows.
    with owner_without_triggers("clinimetry_historicalassessment", "ketatrial_auditchainlink") as cursor:
        cursor.execute(
            "DELETE FROM ketatrial_auditchainlink WHERE history_table = %s AND history_id = %s",
            ["clinimetry_historicalassessment", newest.history_id],
        )
        cursor.execute(
            "DELETE FROM clinimetry_historicalassessment WHERE history_id = %s", [newest.history_id]
        )
        cursor.execute("DELETE FROM clinimetry_assessment WHERE id = %s", [rating.pk])
    assert [b for b in audit_chain.verify() if b.table.startswith("clinimetry_")] == []
    found = audit_chain.heads_check(path)
    assert [b.table for b in found] == ["clinimetry_historicalassessment"]
    assert Assessment.objects.count() == 0


def test_an_allocation_slot_is_never_deleted(pharmacist, settings) -> None:
    from django.core.exceptions import ValidationError

    from participants import allocation

    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=3)
    slot = (
        allocation.allocation_slots_for_test()[0]
        if hasattr(allocation, "allocation_slots_for_test")
        else None
    )
    from django.apps import apps

    model = apps.get_model("participants", "allocationslot")
    assert model.delete_refused
    slot = model.objects.first()
    with pytest.raises(ValidationError):
        slot.delete()
    if connection.vendor == "postgresql":
        from django.db import DatabaseError, transaction

        with (
            pytest.raises(DatabaseError, match="never deleted"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE id = %s", [slot.pk])


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_truncate_alter_or_rewrite_the_audit_tables() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's; CI runs this")
    import psycopg2
    from psycopg2 import errors

    from ketatrial.db_roles import grant_application_role

    role = f"ketatrial_app_{uuid.uuid4().hex[:8]}"
    settings_dict = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'test-only'")
    try:
        assert grant_application_role(role)
        app = psycopg2.connect(
            dbname=settings_dict["NAME"],
            user=role,
            password="test-only",
            host=settings_dict["HOST"] or "127.0.0.1",
            port=settings_dict["PORT"] or 5432,
        )
        app.autocommit = True
        try:
            with app.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM clinimetry_historicalassessment")
                for statement in (
                    "TRUNCATE clinimetry_historicalassessment",
                    "ALTER TABLE clinimetry_historicalassessment DISABLE TRIGGER USER",
                    "UPDATE clinimetry_historicalassessment SET history_change_reason = 'x'",
                    "DELETE FROM ketatrial_auditchainlink",
                    "DROP TABLE clinimetry_historicalassessment",
                ):
                    with pytest.raises((errors.InsufficientPrivilege, errors.lookup("42501"))):
                        cursor.execute(statement)
        finally:
            app.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
