"""Back up the database, MEDIA_ROOT and the audit-chain heads into one encrypted archive.

    manage.py backup --out DIR [--keep N]   # DIR/ketatrial-backup-<UTC time>.ktbackup
    manage.py backup --out FILE.ktbackup

Needs BACKUP_ENCRYPTION_KEY; the archive format is described in ketatrial/backup.py and
ketatrial/backup_crypto.py. The keys are not in it: back them up apart with `backup_keys`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ketatrial.backup import BackupError, backup_create
from ketatrial.backup_crypto import BackupCryptoError


class Command(BaseCommand):
    help = "Write one encrypted archive of the database and the media (BACKUP_ENCRYPTION_KEY)."
    # A backup must run even when a check would stop the site (that is when it is needed most).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--out",
            type=Path,
            required=True,
            help="a directory (a new file named by the time) or a file ending in .ktbackup",
        )
        parser.add_argument("--keep", type=int, help="with a directory: keep only the newest N archives")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1")
        try:
            result = backup_create(out=options["out"], now=timezone.now(), keep=options["keep"])
        except (BackupError, BackupCryptoError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{result.path}: {result.size / 1e6:.1f} MB, {result.tables} tables ({result.rows} rows), "
            f"{result.media_files} media files, {result.seconds:.1f} s"
        )
        self.stdout.write(self.style.SUCCESS("backup written"))
