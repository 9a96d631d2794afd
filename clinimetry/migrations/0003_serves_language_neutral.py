"""The timepoints a rating serves were stored as the task's label in the language of whoever
saved it (exports mixed Spanish and English). They are now the schedule's fixed words; this
rewrites the live ones from the task code, which holds the same information. Frozen here (a
migration must not follow later code): the words infusions.schedule gives each timepoint."""

import re

from django.db import migrations


def neutral(code: str) -> list[str]:
    if code == "baseline":
        return ["baseline"]
    if code == "end-of-study":
        return ["end of study (relapse)"]
    week = re.fullmatch(r"fu-week-(\d+)", code)
    if week:
        return [f"follow-up week {week[1]}"]
    head, *merged = code.split("+")
    predose = re.fullmatch(r"p\d+-predose-(\d+)", head)
    if predose:
        # A later window merged into a pre-dose rating is always one after infusion 1 (the only
        # windows followed by another infusion of the same period).
        return [f"pre-dose infusion {predose[1]}", *(f"{label} after infusion 1" for label in merged)]
    after = re.fullmatch(r"p\d+-(\S+)-inf(\d+)", head)
    if after:
        label, number = after[1], int(after[2])
        return [f"{label} after infusion 1" if number == 1 else f"{label} after last infusion {number}"]
    return [code]


def forwards(apps, schema_editor):
    # Live rows only: the audit history keeps what was recorded, in the words it was recorded in
    # (its tables are append-only).
    model = apps.get_model("clinimetry", "Assessment")
    for pk, code in model.objects.values_list("pk", "task_code"):
        model.objects.filter(pk=pk).update(serves=neutral(code))


class Migration(migrations.Migration):
    dependencies = [("clinimetry", "0002_blinding_guess")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
