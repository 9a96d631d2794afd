"""Export packages are stored relative to MEDIA_ROOT (issue 16), so a restore of the database and
the media folder to another place still downloads every export."""

from __future__ import annotations

import importlib
import shutil
from pathlib import PurePosixPath

import pytest
from django.urls import reverse
from django.utils import timezone

from outcomes import services
from outcomes.models import ExportJob

migration = importlib.import_module("outcomes.migrations.0005_export_paths_relative_to_media_root")


def test_an_export_is_stored_relative_to_media_root_and_downloads_after_the_folder_moves(
    trial, statistician, client_for, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "old" / "media"
    job = ExportJob.objects.create(
        requested_by=statistician,
        requested_at=timezone.now(),
        blinding=services.blinding_for(statistician, unblinded=False),
    )
    job = services.export_run(job.pk, now=timezone.now())
    assert job.status == "done", job.error
    assert job.path.startswith("exports/") and job.file.is_file()
    package = job.file.read_bytes()

    shutil.move(tmp_path / "old" / "media", tmp_path / "new-media")  # restored to another place
    settings.MEDIA_ROOT = tmp_path / "new-media"

    download = client_for(statistician).get(reverse("outcomes:export_download", args=[job.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == package


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("/srv/media/exports/ketatrial-export-3.zip", "exports/ketatrial-export-3.zip"),
        ("/srv/media-link/exports/ketatrial-export-3.zip", "exports/ketatrial-export-3.zip"),
        # Written under another root (a restore made before the migration): known by the layout.
        ("/old/place/var/media/exports/ketatrial-export-3.zip", "exports/ketatrial-export-3.zip"),
        ("exports/ketatrial-export-3.zip", "exports/ketatrial-export-3.zip"),
        ("", ""),
        ("/somewhere/else/file.zip", "/somewhere/else/file.zip"),
    ],
)
def test_the_migration_makes_absolute_export_paths_relative(stored: str, expected: str) -> None:
    roots = (PurePosixPath("/srv/media"), PurePosixPath("/srv/media-link"))
    assert migration.to_relative(stored, roots) == expected
