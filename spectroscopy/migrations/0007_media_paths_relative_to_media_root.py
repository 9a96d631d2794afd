"""MRS file paths stored relative to MEDIA_ROOT (issue 16): absolute paths broke every file when the
database and the media folder were restored to another place, and said so as "not a NIfTI file".

Each changed upload gets a history row with the reason (system user), so its history ends with
what the live row holds. A path under MEDIA_ROOT is made relative to it; an absolute path from
another root (a restore made before this migration) is recognised by the layout below MEDIA_ROOT,
mrs/<participant>/<session>/<file>; anything else is left as it is (read as an absolute path).
Reversible: relative paths become absolute under the MEDIA_ROOT of the reverse run.
"""

from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import migrations
from django.utils import timezone

FIELDS = ("stored_path", "working_path", "companion_path", "converted_path")


def to_relative(value: str, roots: tuple[PurePosixPath, ...]) -> str:
    if not value or not value.startswith("/"):
        return value
    path = PurePosixPath(value)
    for root in roots:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    parts = path.parts
    if len(parts) >= 5 and parts[-4] == "mrs":
        return "/".join(parts[-4:])
    return value


def to_absolute(value: str, root: Path) -> str:
    if not value or value.startswith("/"):
        return value
    return str(root / value)


def _convert(apps, change, reason):  # type: ignore[no-untyped-def]
    upload_model = apps.get_model("spectroscopy", "MRSUpload")
    history_model = apps.get_model("spectroscopy", "HistoricalMRSUpload")
    now = timezone.now()
    attnames = [f.attname for f in upload_model._meta.concrete_fields]
    for upload in upload_model.objects.order_by("pk").iterator():
        changes = {name: change(getattr(upload, name)) for name in FIELDS}
        changes = {name: value for name, value in changes.items() if value != getattr(upload, name)}
        if not changes:
            continue
        upload_model.objects.filter(pk=upload.pk).update(**changes)
        for name, value in changes.items():
            setattr(upload, name, value)
        history_model.objects.create(
            **{name: getattr(upload, name) for name in attnames},
            history_date=now,
            history_type="~",
            history_change_reason=reason,
            history_user=None,
        )


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    root = Path(settings.MEDIA_ROOT)
    roots = tuple(dict.fromkeys(PurePosixPath(p) for p in (str(root), str(root.resolve()))))
    _convert(apps, lambda v: to_relative(v, roots), "media paths stored relative to MEDIA_ROOT")


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    root = Path(settings.MEDIA_ROOT)
    _convert(apps, lambda v: to_absolute(v, root), "media paths stored absolute again (migration reversed)")


class Migration(migrations.Migration):
    dependencies = [("spectroscopy", "0006_withdrawn_uploads_do_not_block_the_same_file")]

    operations = [migrations.RunPython(forwards, backwards)]
