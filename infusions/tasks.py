"""Day-before reminders, sent by Celery beat."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone, translation

from infusions.selectors import calendar_events
from ketatrial.celery import app
from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN


def reminders_for(day: date) -> dict[str, list[str]]:
    """Email address -> lines for the events of `day`, in each recipient's language."""
    users = (
        get_user_model()
        .objects.filter(groups__name__in=[COORDINATOR, INFUSION_PHYSICIAN], is_active=True)
        .exclude(email="")
        .select_related("profile")
        .distinct()
    )
    reminders: dict[str, list[str]] = {}
    for user in users:
        language = getattr(getattr(user, "profile", None), "language", None) or "es"
        with translation.override(language):
            events = calendar_events(day, day, now=timezone.now(), user=user)
            lines = [f"{timezone.localtime(e.start):%H:%M} {e.participant.code}: {e.label}" for e in events]
        if lines:
            reminders[user.email] = lines
    return reminders


@app.task(acks_late=True)
def send_day_before_reminders(day: str | None = None) -> int:
    """Email tomorrow's infusions, ratings and scans to coordinators and infusion physicians.

    One outbox e-mail per person and day (the key): a mail server fault is tried again for that
    e-mail alone, and a second delivery of the beat message sends nothing twice."""
    from django.db import transaction

    from ketatrial.jobs import job_enqueue

    target = date.fromisoformat(day) if day else timezone.localdate() + timedelta(days=1)
    sent = 0
    with transaction.atomic():
        for email, lines in reminders_for(target).items():
            job_enqueue(
                "email",
                f"reminder:{target.isoformat()}:{email}",
                {"subject": f"KetaTrial — {target:%Y-%m-%d}", "body": "\n".join(lines), "to": [email]},
            )
            sent += 1
    return sent


@app.task(acks_late=True)
def refresh_schedule_spans() -> int:
    """Nightly: every schedule span again (infusions.models.ScheduleSpan), so one that a bulk
    load or a new protocol left stale costs the task list and the calendar time for a day at most."""
    from infusions.services import schedule_spans_refresh

    return schedule_spans_refresh(now=timezone.now())
