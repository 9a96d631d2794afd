"""Export packages stored relative to MEDIA_ROOT (issue 16): an absolute path broke every download
once the database and the media folder were restored to another place.

A path under MEDIA_ROOT is made relative to it; an absolute path from another root (a restore made
before this migration) is recognised by the layout below MEDIA_ROOT, exports/<file>; anything else
is left as it is (read as an absolute path). Reversible: relative paths become absolute under the
MEDIA_ROOT of the reverse run. Export jobs have no history, so nothing else changes.
"""

from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import migrations


def to_relative(value: str, roots: tuple[PurePosixPath, ...]) -> str:
    if not value or not value.startswith("/"):
        return value
    path = PurePosixPath(value)
    for root in roots:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    if len(path.parts) >= 3 and path.parts[-2] == "exports":
        return "/".join(path.parts[-2:])
    return value


def _convert(apps, change):  # type: ignore[no-untyped-def]
    job_model = apps.get_model("outcomes", "ExportJob")
    for pk, path in job_model.objects.exclude(path="").values_list("pk", "path").iterator():
        if change(path) != path:
            job_model.objects.filter(pk=pk).update(path=change(path))


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    root = Path(settings.MEDIA_ROOT)
    roots = tuple(dict.fromkeys(PurePosixPath(p) for p in (str(root), str(root.resolve()))))
    _convert(apps, lambda v: to_relative(v, roots))


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    root = Path(settings.MEDIA_ROOT)
    _convert(apps, lambda v: v if not v or v.startswith("/") else str(root / v))


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0004_analysis_run_job")]

    operations = [migrations.RunPython(forwards, backwards)]
