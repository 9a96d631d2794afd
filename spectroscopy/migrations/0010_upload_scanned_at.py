from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("spectroscopy", "0009_change_reason_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalmrsupload",
            name="scanned_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="scanned at"),
        ),
        migrations.AddField(
            model_name="mrsupload",
            name="scanned_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="scanned at"),
        ),
    ]
