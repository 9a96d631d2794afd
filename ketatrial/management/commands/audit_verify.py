"""Check the audit trail: every record's chain, every live row against its last audited version,
and the chains against the newest heads file written outside the database. Exit status 1 on any
break, each named by table and id.

    manage.py audit_verify                 # check
    manage.py audit_verify --heads FILE    # against a given heads file
    manage.py audit_verify --write-heads   # also write today's heads (the nightly job does)
    manage.py audit_verify --link-unlinked # once, after upgrading: chain history rows written
                                           # before the chain existed (they are listed first)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ketatrial import audit_chain


class Command(BaseCommand):
    help = "Verify the audit chains, the live rows and the chain heads kept outside the database."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--heads", type=Path, help="a heads file to check against (default: the newest)")
        parser.add_argument(
            "--write-heads", action="store_true", help="write today's heads file after checking"
        )
        parser.add_argument(
            "--link-unlinked", action="store_true", help="chain history rows that have no link yet"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["link_unlinked"]:
            linked = audit_chain.link_unlinked()
            self.stdout.write(f"linked {linked} history rows that had no chain link")
        breaks = audit_chain.verify()
        heads = options["heads"] or audit_chain.latest_heads_file()
        if heads is not None:
            breaks += audit_chain.heads_check(heads)
            self.stdout.write(f"checked against {heads}")
        for item in breaks:
            self.stdout.write(f"BREAK {item}")
        if options["write_heads"] and not breaks:
            self.stdout.write(f"heads written to {audit_chain.heads_write(today=timezone.localdate())}")
        if breaks:
            raise CommandError(f"{len(breaks)} break(s) in the audit trail")
        self.stdout.write(self.style.SUCCESS("audit trail intact"))
