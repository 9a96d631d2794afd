"""Notifications: in-app row plus email, sent after the surrounding transaction commits.

The e-mail is an outbox job (ketatrial/jobs.py): written with the notification rows, handed to a
worker after commit, kept through a broker outage, tried again with backoff while the mail server
is down; a request whose data are saved never turns into an error for it.

A notification says what happened and where to look, never more than its recipient may see: the
body is written by the caller for that recipient (an emergency-unblinding notice carries the
principal investigator's request, never the allocation)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ketatrial.models import Notification
from ketatrial.protocol import INFUSION_PHYSICIAN, PRINCIPAL_INVESTIGATOR


def notify(
    *,
    recipients: list[AbstractBaseUser],
    subject: str,
    body: str,
    url: str,
    now: datetime,
    kind: str = Notification.Kind.MESSAGE,
    topic: str = "",
    once_key: str = "",
) -> list[Notification]:
    """Write one notification per recipient and queue one e-mail to those with an address. With
    `once_key`, a recipient who already has a notification with that key gets nothing again (the
    database's unique constraint settles two writers racing). Returns the notifications made."""
    made: list[Notification] = []
    for user in {u.pk: u for u in recipients}.values():
        if once_key and Notification.objects.filter(recipient=user, once_key=once_key).exists():
            continue
        try:
            with transaction.atomic():
                made.append(
                    Notification.objects.create(
                        recipient=user,
                        created_at=now,
                        kind=kind,
                        topic=topic,
                        once_key=once_key,
                        subject=str(subject)[:200],
                        body=str(body),
                        url=url,
                    )
                )
        except IntegrityError:
            if not once_key:
                raise
    emails = [n.recipient.email for n in made if n.recipient.email]
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
    return made


@transaction.atomic
def notification_acknowledge(
    *, notification: Notification, by: AbstractBaseUser, now: datetime
) -> Notification:
    """The recipient acknowledges a notification: when is kept (`read_at`), who is the recipient;
    nobody acknowledges for someone else, and an acknowledgement is never undone."""
    locked = Notification.objects.select_for_update().get(pk=notification.pk)
    if locked.recipient_id != by.pk:
        raise ValidationError(_("Only its recipient can acknowledge a notification."))
    if locked.read_at is not None:
        raise ValidationError(_("This notification was already acknowledged."))
    locked.read_at = now
    locked.save(update_fields=["read_at"])
    return locked


def principal_investigators() -> list[AbstractBaseUser]:
    return list(get_user_model().objects.filter(groups__name=PRINCIPAL_INVESTIGATOR, is_active=True))


def infusion_physicians() -> list[AbstractBaseUser]:
    return list(get_user_model().objects.filter(groups__name=INFUSION_PHYSICIAN, is_active=True))
