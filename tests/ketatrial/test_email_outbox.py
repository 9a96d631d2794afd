"""E-mail is an outbox job: sent by a worker, tried again with backoff while the mail server is
down, never lost to a broker outage, never an error for the request that saved its data."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from ketatrial import jobs
from ketatrial.models import Job

pytestmark = pytest.mark.django_db


class MailServerDown(BaseEmailBackend):
    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def _email(key: str = "email:1") -> Job:
    return jobs.job_enqueue(
        "email", key, {"subject": "S", "body": "B", "to": ["pi@example.org"]}, dispatch=False
    )


def test_the_job_sends_the_e_mail_once() -> None:
    job = _email()
    assert jobs.job_run(job.pk) == "done" and jobs.job_run(job.pk) == "done"
    assert [(m.subject, m.to) for m in mail.outbox] == [("S", ["pi@example.org"])]


def test_a_mail_server_that_is_down_makes_the_e_mail_wait_with_backoff_then_fail_for_good(settings) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    job = _email()
    before = timezone.now()
    assert jobs.job_run(job.pk) == "pending"
    job.refresh_from_db()
    assert "mail server" in job.error and job.not_before >= before + timedelta(minutes=2)
    assert jobs.jobs_sweep(now=before) == []  # not before its time
    waits = []
    for _ in range(jobs.MAX_ATTEMPTS - 1):
        Job.objects.filter(pk=job.pk).update(not_before=None)
        started = timezone.now()
        jobs.job_run(job.pk)
        job.refresh_from_db()
        if job.not_before is not None:
            waits.append(round((job.not_before - started).total_seconds() / 60))  # whole minutes
    job.refresh_from_db()
    assert job.state == "failed" and job.attempts == jobs.MAX_ATTEMPTS
    assert waits == sorted(waits) and waits[0] >= 4 and waits[-1] <= 60  # backoff, capped at an hour
    assert mail.outbox == []
