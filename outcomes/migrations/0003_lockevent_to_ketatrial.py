# The database lock's event log now belongs to ketatrial (ketatrial/0003 renamed its tables).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0002_export_started_at"),
        ("ketatrial", "0003_lockevent_from_outcomes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="HistoricalLockEvent"),
                migrations.DeleteModel(name="LockEvent"),
            ],
        ),
    ]
