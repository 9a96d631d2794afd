"""Store every scheduled participant's schedule span again (after a bulk load or a protocol change)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone


class Command(BaseCommand):
    help = "Store every scheduled participant's schedule span again (task list and calendar speed)."

    def handle(self, *args: Any, **options: Any) -> None:
        from infusions.services import schedule_spans_refresh

        written = schedule_spans_refresh(now=timezone.now())
        self.stdout.write(f"{written} schedule spans stored")
