"""Restore an archive of `backup` into an empty database and media folder, then verify it.

    manage.py restore ARCHIVE [--media-root DIR] [--force]
    manage.py restore ARCHIVE --check        # read and authenticate the whole archive, touch nothing

The target is the database of DATABASE_URL (connect as the role that owns the tables, the one
migrations run as) and MEDIA_ROOT (or --media-root). Refused before anything is written when
BACKUP_ENCRYPTION_KEY does not open the archive, when the archive was altered, when this
environment's IDENTITY_ENCRYPTION_KEYS or AUDIT_CHAIN_KEY differ from the backup's fingerprints,
or when the database or the folder is not empty (--force restores over them). After the restore
every table's row count and content digest, every file's SHA-256 and the audit chains
(`audit_verify`) are checked against the archive; exit status 1 on any difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ketatrial.backup import BackupError, RestoreReport, archive_check, restore


class Command(BaseCommand):
    help = "Restore a backup archive into an empty database and media folder and verify it."
    # The target database is empty (or about to be replaced): nothing for the checks to read.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--media-root", type=Path, help="where the media go (default: MEDIA_ROOT)")
        parser.add_argument(
            "--force", action="store_true", help="restore over a database and a folder that are not empty"
        )
        parser.add_argument(
            "--check", action="store_true", help="only read and verify the archive; restore nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        archive: Path = options["archive"]
        if not archive.is_file():
            raise CommandError(f"{archive}: no such file")
        try:
            if options["check"]:
                report = archive_check(archive=archive)
            else:
                media_root = options["media_root"] or Path(settings.MEDIA_ROOT)
                report = restore(archive=archive, media_root=media_root, force=options["force"])
        except BackupError as exc:
            raise CommandError(f"restore refused: {exc}") from exc
        self._print(report)
        if report.problems:
            raise CommandError(f"{len(report.problems)} difference(s) between the archive and the result")
        self.stdout.write(self.style.SUCCESS("archive verified" if options["check"] else "restore verified"))

    def _print(self, report: RestoreReport) -> None:
        for line in report.lines:
            self.stdout.write(line)
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"DIFFERENCE {problem}"))
