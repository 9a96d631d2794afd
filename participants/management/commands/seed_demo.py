"""Create demo users (one per role) and a small synthetic trial through the real services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from ketatrial.protocol import ROLES
from participants import services
from participants.models import Participant

DEMO_PASSWORD = "Ketamina-demo-2026"  # demo only; printed so a newcomer can sign in
DEMO_PARTICIPANTS = (
    (Decimal("72.5"), Decimal("168.0")),
    (Decimal("58.0"), Decimal("155.5")),
    (Decimal("91.2"), Decimal("178.0")),
    (Decimal("66.4"), Decimal("162.0")),
)


class Command(BaseCommand):
    help = "Create demo users, one per role, and a few synthetic participants (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        user_model = get_user_model()
        users = {}
        for role in ROLES:
            user = user_model.objects.filter(username=role).first()
            if user is None:
                first, _, last = role.replace("_", " ").title().partition(" ")
                user = services.user_create(
                    username=role,
                    password=DEMO_PASSWORD,
                    first_name=first or role,
                    last_name=last or "Demo",
                    email=f"{role}@example.org",
                    roles={role},
                    language="es",
                    by=None,
                    now=now,
                )
            users[role] = user
        if not Participant.objects.exists():
            site = services.site_get_or_create_default()
            for i, (weight, height) in enumerate(DEMO_PARTICIPANTS):
                services.participant_create(
                    site=site,
                    by=users["coordinator"],
                    now=now - timedelta(days=30 - 7 * i),
                    baseline_weight_kg=weight,
                    height_cm=height,
                )
            first = Participant.objects.order_by("number").first()
            assert first is not None
            services.participant_update(
                participant=first,
                by=users["coordinator"],
                reason="Weight re-measured on the calibrated scale",
                baseline_weight_kg=Decimal("71.9"),
            )
        self.stdout.write(f"Demo users (password for all: {DEMO_PASSWORD}):")
        for role in ROLES:
            self.stdout.write(f"  {role:<24} username: {role}")
