"""Close-out: every participant's casebook as a PDF in one zip with a manifest of SHA-256s.

manage.py casebooks_archive --as principal_investigator --out var/casebooks.zip
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from participants.access import has_capability
from review.casebook_pdf import archive_write


class Command(BaseCommand):
    help = "Write every casebook as a PDF into one archive, read as the given reviewer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--as", dest="username", required=True, help="a principal investigator (or reviewer)"
        )
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None or not (has_capability(user, "sign_off") or has_capability(user, "manage_queries")):
            raise CommandError("the archive is written as the principal investigator or the data manager")
        manifest = archive_write(user, options["out"], now=timezone.now())
        signed = sum(1 for c in manifest["casebooks"] if c["signed_at"])
        self.stdout.write(
            f"{len(manifest['casebooks'])} casebooks ({signed} signed) written to {options['out']}"
        )
