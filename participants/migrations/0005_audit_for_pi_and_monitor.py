"""The principal investigator and the monitor read the audit trail (each what the visibility rule
lets them see): the role groups get the roles table's capabilities again."""

from django.db import migrations

from participants.roles import sync_role_groups


def sync_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    sync_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [("participants", "0004_sequence_key")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
