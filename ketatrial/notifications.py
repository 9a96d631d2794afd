"""Notifications: in-app row plus email, sent after the surrounding transaction commits."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction

from ketatrial.models import Notification
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR


def notify(*, recipients: list[AbstractBaseUser], subject: str, body: str, url: str, now: datetime) -> None:
    for user in recipients:
        Notification.objects.create(recipient=user, created_at=now, subject=subject, body=body, url=url)
    emails = [u.email for u in recipients if u.email]
    if emails:
        transaction.on_commit(lambda: send_mail(subject, body, None, emails, fail_silently=False))


def principal_investigators() -> list[AbstractBaseUser]:
    return list(get_user_model().objects.filter(groups__name=PRINCIPAL_INVESTIGATOR, is_active=True))
