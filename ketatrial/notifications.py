"""Notifications: in-app row plus email, sent after the surrounding transaction commits.

The e-mail goes through a Celery task that tries again with backoff (ketatrial.tasks.email_send):
a mail server that is down never turns a request whose data are saved into an error."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ketatrial.models import Notification
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR


def notify(*, recipients: list[AbstractBaseUser], subject: str, body: str, url: str, now: datetime) -> None:
    for user in recipients:
        Notification.objects.create(recipient=user, created_at=now, subject=subject, body=body, url=url)
    emails = [u.email for u in recipients if u.email]
    if emails:
        from ketatrial.tasks import email_send  # Celery is loaded only when there is mail to send

        # robust: a broker that refuses the task is logged, never raised into the saved request.
        transaction.on_commit(lambda: email_send.delay(str(subject), str(body), emails), robust=True)


def principal_investigators() -> list[AbstractBaseUser]:
    return list(get_user_model().objects.filter(groups__name=PRINCIPAL_INVESTIGATOR, is_active=True))
