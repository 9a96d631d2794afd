"""Add a year's statutory holidays to the study calendar as closed days (the `holidays` library,
the protocol's country); the coordinator can do the same from the closed-days page."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from infusions.services import closed_days_add_statutory


class Command(BaseCommand):
    help = "Add the statutory holidays of one or more years as closed days of the study calendar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("years", nargs="+", type=int, help="e.g. 2027 2028")
        parser.add_argument("--language", default="es", help="language of the holiday names (es or en)")

    def handle(self, *args: Any, **options: Any) -> None:
        for year in options["years"]:
            try:
                added = closed_days_add_statutory(year=year, by=None, language=options["language"])
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            self.stdout.write(f"{year}: {len(added)} statutory holidays added")
            for day in added:
                self.stdout.write(f"  {day.day:%Y-%m-%d} {day.name}")
