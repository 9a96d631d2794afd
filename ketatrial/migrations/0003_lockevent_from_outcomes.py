# The database lock's event log moves from outcomes to ketatrial (ketatrial/lock.py reads it): the
# same rows, the tables renamed; outcomes/0003 drops the model from its own state.

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

ACTIONS = [("lock", "Database locked"), ("unlock", "Database unlocked"), ("release", "Sequence key released")]
RENAMES = [
    ("outcomes_lockevent", "ketatrial_lockevent"),
    ("outcomes_historicallockevent", "ketatrial_historicallockevent"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("ketatrial", "0002_notifications"),
        ("outcomes", "0002_export_started_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"ALTER TABLE {old} RENAME TO {new}", reverse_sql=f"ALTER TABLE {new} RENAME TO {old}"
                )
                for old, new in RENAMES
            ],
            state_operations=[
                migrations.CreateModel(
                    name="LockEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("action", models.CharField(choices=ACTIONS, max_length=10, verbose_name="action")),
                        ("at", models.DateTimeField(verbose_name="at")),
                        ("reason", models.TextField(blank=True, verbose_name="reason")),
                        ("snapshot_hash", models.CharField(blank=True, max_length=64, verbose_name="data hash at the event")),
                        ("by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"verbose_name": "database lock event", "ordering": ["at", "pk"]},
                ),
                migrations.CreateModel(
                    name="HistoricalLockEvent",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("action", models.CharField(choices=ACTIONS, max_length=10, verbose_name="action")),
                        ("at", models.DateTimeField(verbose_name="at")),
                        ("reason", models.TextField(blank=True, verbose_name="reason")),
                        ("snapshot_hash", models.CharField(blank=True, max_length=64, verbose_name="data hash at the event")),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        ("by", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "historical database lock event",
                        "verbose_name_plural": "historical database lock events",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
        ),
    ]
