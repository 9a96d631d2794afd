"""Create the eight role groups with their capability permissions (reversible)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from participants.roles import ROLE_PERMISSIONS, sync_role_groups


def create_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    app_config = apps.get_app_config("ketatrial")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    sync_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0001_sites_screening_participants_allocation_pharmacy"),
        ("ketatrial", "0001_capabilities_and_heartbeats"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
