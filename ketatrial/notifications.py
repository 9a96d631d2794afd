"""Notifications: in-app row plus email, sent after the surrounding transaction commits.

The e-mail is an outbox job (ketatrial/jobs.py): written with the notification rows, handed to a
worker after commit, kept through a broker outage, tried again with backoff while the mail server
is down; a request whose data are saved never turns into an error for it."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from ketatrial.models import Notification
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR


def notify(*, recipients: list[AbstractBaseUser], subject: str, body: str, url: str, now: datetime) -> None:
    for user in recipients:
        Notification.objects.create(recipient=user, created_at=now, subject=subject, body=body, url=url)
    emails = [u.email for u in recipients if u.email]
    if emails:
        import uuid

        from ketatrial.jobs import job_enqueue

        # In the outbox with the notification rows: handed to a worker after commit, kept through
        # a broker outage, tried again with backoff while the mail server is down (jobs.email_job).
        job_enqueue(
            "email",
            f"email:{uuid.uuid4().hex}",
            {"subject": str(subject), "body": str(body), "to": emails},
            now=now,
        )


def principal_investigators() -> list[AbstractBaseUser]:
    return list(get_user_model().objects.filter(groups__name=PRINCIPAL_INVESTIGATOR, is_active=True))
