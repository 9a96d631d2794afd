"""Back up the key material apart from the data, sealed under a passphrase.

    manage.py backup_keys --out FILE          # write; prints the fingerprints
    manage.py backup_keys --read FILE         # check a key backup: prints its fingerprints
    manage.py backup_keys --read FILE --show  # ... and the keys, as lines for .env

What it holds: IDENTITY_ENCRYPTION_KEYS (every key, in order), AUDIT_CHAIN_KEY,
EXPORT_PSEUDONYM_KEY and BACKUP_ENCRYPTION_KEY; SECRET_KEY is not needed to restore. The passphrase comes from
BACKUP_KEYS_PASSPHRASE or is asked for; it must differ from BACKUP_ENCRYPTION_KEY, and the file is
kept apart from the data backups (whoever holds both holds the trial's identities).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ketatrial.backup import key_fingerprints, key_material
from ketatrial.backup_crypto import BackupCryptoError, fingerprint, keys_open, keys_seal

FORMAT = "ketatrial-keys 1"


class Command(BaseCommand):
    help = "Write (or read) the key material, sealed under a passphrase, apart from the data backups."

    def add_arguments(self, parser: Any) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--out", type=Path, help="write the key backup to this file")
        action.add_argument("--read", type=Path, help="open a key backup and print its fingerprints")
        parser.add_argument("--show", action="store_true", help="with --read: print the keys as .env lines")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["out"]:
                self._write(options["out"])
            else:
                self._read(options["read"], show=options["show"])
        except BackupCryptoError as exc:
            raise CommandError(str(exc)) from exc

    def _passphrase(self, *, confirm: bool) -> str:
        passphrase = os.environ.get("BACKUP_KEYS_PASSPHRASE", "")
        if passphrase:
            return passphrase
        if not sys.stdin.isatty():
            raise CommandError("set BACKUP_KEYS_PASSPHRASE (or run this in a terminal to be asked for it)")
        passphrase = getpass.getpass("Key-backup passphrase: ")
        if confirm and getpass.getpass("The same again: ") != passphrase:
            raise CommandError("the two passphrases differ")
        return passphrase

    def _write(self, target: Path) -> None:
        material = key_material()
        if not material["IDENTITY_ENCRYPTION_KEYS"]:
            raise CommandError("IDENTITY_ENCRYPTION_KEYS is not set: there is nothing to back up")
        if target.exists():
            raise CommandError(f"{target} already exists: choose another name")
        passphrase = self._passphrase(confirm=True)
        if passphrase == material["BACKUP_ENCRYPTION_KEY"]:
            raise CommandError(
                "the passphrase must differ from BACKUP_ENCRYPTION_KEY: the two are kept apart"
            )
        text = keys_seal(
            {"format": FORMAT, "created": timezone.now().isoformat(timespec="seconds"), **material},
            passphrase,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        self.stdout.write(f"{target}: key backup written")
        self._fingerprints(material)
        self.stdout.write("Keep it apart from the data backups, and the passphrase apart from both.")

    def _read(self, source: Path, *, show: bool) -> None:
        if not source.is_file():
            raise CommandError(f"{source}: no such file")
        material = keys_open(source.read_text(), self._passphrase(confirm=False))
        if material.get("format") != FORMAT:
            raise CommandError(f"{source}: not a KetaTrial key backup ({material.get('format')!r})")
        self.stdout.write(f"{source}: key backup made {material['created']}")
        self._fingerprints(material)
        here = key_fingerprints()
        kept = key_fingerprints(material)
        same = (
            kept["AUDIT_CHAIN_KEY"] == here["AUDIT_CHAIN_KEY"]
            and kept.get("EXPORT_PSEUDONYM_KEY", "")
            in (
                "",
                here["EXPORT_PSEUDONYM_KEY"],
            )
            and set(kept["IDENTITY_ENCRYPTION_KEYS"]) <= set(here["IDENTITY_ENCRYPTION_KEYS"])
        )
        self.stdout.write(
            "this environment holds these keys" if same else "this environment's keys differ from these"
        )
        if show:
            self.stderr.write("The keys follow: put them in .env, and clear this terminal afterwards.")
            self.stdout.write(f"IDENTITY_ENCRYPTION_KEYS={','.join(material['IDENTITY_ENCRYPTION_KEYS'])}")
            self.stdout.write(f"AUDIT_CHAIN_KEY={material['AUDIT_CHAIN_KEY']}")
            self.stdout.write(f"EXPORT_PSEUDONYM_KEY={material.get('EXPORT_PSEUDONYM_KEY', '')}")
            self.stdout.write(f"BACKUP_ENCRYPTION_KEY={material['BACKUP_ENCRYPTION_KEY']}")

    def _fingerprints(self, material: dict[str, Any]) -> None:
        prints = key_fingerprints(material)
        for number, print_ in enumerate(prints["IDENTITY_ENCRYPTION_KEYS"], start=1):
            self.stdout.write(f"  IDENTITY_ENCRYPTION_KEYS key {number}: {print_}")
        self.stdout.write(f"  AUDIT_CHAIN_KEY: {prints['AUDIT_CHAIN_KEY'] or '(not set)'}")
        self.stdout.write(f"  EXPORT_PSEUDONYM_KEY: {prints['EXPORT_PSEUDONYM_KEY'] or '(not set)'}")
        backup_key = material.get("BACKUP_ENCRYPTION_KEY", "")
        self.stdout.write(
            f"  BACKUP_ENCRYPTION_KEY: {fingerprint(backup_key) if backup_key else '(not set)'}"
        )
