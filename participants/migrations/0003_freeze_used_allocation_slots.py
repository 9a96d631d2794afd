"""PostgreSQL: the content of an allocation slot never changes and a used slot is never freed.

The service refuses these already; the trigger stops raw SQL and any future code path too.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION ketatrial_allocation_slot_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.participant_id IS NOT NULL THEN
            RAISE EXCEPTION 'allocation slot % is used and cannot be deleted', OLD.id;
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.sequence IS DISTINCT FROM OLD.sequence OR NEW.kit_code IS DISTINCT FROM OLD.kit_code
       OR NEW.sequence_no IS DISTINCT FROM OLD.sequence_no OR NEW.stratum IS DISTINCT FROM OLD.stratum
       OR NEW.block_no IS DISTINCT FROM OLD.block_no OR NEW.block_size IS DISTINCT FROM OLD.block_size
       OR NEW.allocation_list_id IS DISTINCT FROM OLD.allocation_list_id THEN
        RAISE EXCEPTION 'allocation slot % content cannot change', OLD.id;
    END IF;
    IF OLD.participant_id IS NOT NULL AND NEW.participant_id IS DISTINCT FROM OLD.participant_id THEN
        RAISE EXCEPTION 'allocation slot % is used and cannot be reassigned', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER ketatrial_allocation_slot_guard
BEFORE UPDATE OR DELETE ON participants_allocationslot
FOR EACH ROW EXECUTE FUNCTION ketatrial_allocation_slot_guard();
"""
DROP = """
DROP TRIGGER IF EXISTS ketatrial_allocation_slot_guard ON participants_allocationslot;
DROP FUNCTION IF EXISTS ketatrial_allocation_slot_guard();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no parameters: '%' is plpgsql's
            cursor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("participants", "0002_create_role_groups")]

    operations = [migrations.RunPython(forwards, backwards)]
