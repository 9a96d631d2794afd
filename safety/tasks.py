"""Safety tasks run by Celery beat."""

from __future__ import annotations

from django.utils import timezone

from ketatrial.celery import app


@app.task(acks_late=True)
def escalate_vital_alerts() -> int:
    """Every minute: vital-sign alerts still without their action after the protocol's minutes
    are notified to the principal investigators and the infusion physicians, once per alert
    (safety.services.vital_alerts_escalate)."""
    from safety.services import vital_alerts_escalate

    return vital_alerts_escalate(now=timezone.now())
