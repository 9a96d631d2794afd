"""E-mail goes through a Celery task: a worker tries again with backoff, in-process it only logs."""

from __future__ import annotations

import smtplib

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from ketatrial.tasks import email_send


class MailServerDown(BaseEmailBackend):
    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_the_task_sends_the_e_mail(settings) -> None:
    assert email_send.apply(args=["Subject", "Body", ["pi@example.org"]]).get() == 1
    assert [(m.subject, m.to) for m in mail.outbox] == [("Subject", ["pi@example.org"])]


def test_in_process_a_mail_server_fault_is_logged_not_raised(settings, caplog) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    assert email_send.apply(args=["Subject", "Body", ["pi@example.org"]]).get() == 0
    assert "not sent" in caplog.text


def test_in_a_worker_a_mail_server_fault_is_tried_again_with_backoff(settings, monkeypatch) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    asked: list[dict[str, object]] = []

    def retry(**kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs)
        raise Retry("again", when=kwargs.get("countdown"))

    monkeypatch.setattr(email_send, "retry", retry)
    email_send.push_request(id="task-1", retries=2, is_eager=False)
    try:
        with pytest.raises(Retry):
            email_send.run("Subject", "Body", ["pi@example.org"])
    finally:
        email_send.pop_request()
    assert isinstance(asked[0]["exc"], smtplib.SMTPServerDisconnected)
    # Backoff: the third attempt waits up to 4 minutes (jitter picks a time below it).
    assert 0 <= asked[0]["countdown"] <= 240
    assert email_send.max_retries >= 5 and email_send.retry_backoff_max >= 600
