"""Notifications: written for SAEs, suicide-risk items, vital-sign alerts left without action
and the steps of an emergency unblinding; listed per user, acknowledged by their recipient only,
kept for ever; never carrying the allocation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from infusions import services as infusion_services
from ketatrial.models import Job, Notification
from ketatrial.notifications import notification_acknowledge, notify
from participants import allocation
from participants.models import AllocationSlot, DosePreparation
from safety.tasks import escalate_vital_alerts
from tests.factories import randomized
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
NOW = datetime.now(MX).replace(hour=10, minute=0, second=0, microsecond=0)
DAY1 = NOW.date() + timedelta(days=1)
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


def test_notifications_are_listed_for_their_recipient_and_acknowledged_by_them_only(
    principal_investigator, monitor, client_for
) -> None:
    now = timezone.now()
    (note,) = notify(
        recipients=[principal_investigator],
        subject="Serious adverse event: INNN-001",
        body="Syncope",
        url="/safety/",
        now=now,
        kind=Notification.Kind.SERIOUS_ADVERSE_EVENT,
        topic="infusions.adverseevent:1",
    )
    assert Job.objects.filter(kind="email").count() == 1  # and by e-mail, through the outbox
    client = client_for(principal_investigator)
    page = client.get(reverse("safety:notifications"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Serious adverse event: INNN-001" in page and 'data-unread="1"' in page
    other = client_for(monitor)
    assert "INNN-001" not in other.get(reverse("safety:notifications")).content.decode()
    ack = reverse("safety:notification_acknowledge", args=[note.pk])
    assert other.post(ack).status_code == 404  # someone else's answers like a missing one
    with pytest.raises(ValidationError, match="Only its recipient"):
        notification_acknowledge(notification=note, by=monitor, now=now)
    response = client.post(ack, {"next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("safety:notifications")
    note.refresh_from_db()
    assert note.read_at is not None
    with pytest.raises(ValidationError, match="already acknowledged"):
        notification_acknowledge(notification=note, by=principal_investigator, now=now)
    page = client.get(reverse("safety:notifications"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "INNN-001" not in page and "data-unread" not in page  # nothing waiting, nothing counted
    everything = client.get(reverse("safety:notifications") + "?show=all").content.decode()
    assert "INNN-001" in everything  # acknowledged, and kept


def test_an_acknowledged_notification_is_never_deleted(principal_investigator) -> None:
    (note,) = notify(recipients=[principal_investigator], subject="s", body="b", url="", now=timezone.now())
    with pytest.raises(ValidationError, match="kept"):
        note.delete()
    assert Notification.objects.filter(pk=note.pk).exists()


def test_a_once_key_reaches_each_recipient_once(principal_investigator, infusion_physician) -> None:
    for _ in range(2):
        notify(
            recipients=[principal_investigator, infusion_physician],
            subject="s",
            body="b",
            url="",
            now=timezone.now(),
            once_key="vitals-alert:1",
        )
    assert Notification.objects.count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        Notification.objects.create(
            recipient=principal_investigator,
            created_at=timezone.now(),
            subject="s",
            body="b",
            once_key="vitals-alert:1",
        )


@pytest.fixture
def session(coordinator, pharmacist, make_user, infusion_physician, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=make_user("pharmacist2", "pharmacist"),
        day1=DAY1,
        now=NOW,
    )
    visit = infusion_services.visit_for(person, 1, 1, by=infusion_physician)
    start = datetime.combine(DAY1, datetime.min.time(), tzinfo=MX) + timedelta(hours=9)
    return infusion_services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=DosePreparation.objects.get(
            participant=person, period=1, infusion_number=1
        ).syringe_code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=start,
        by=infusion_physician,
        now=start + timedelta(minutes=1),
    )


def test_a_vital_sign_alert_left_without_action_is_notified_once_by_the_beat_task(
    session, infusion_physician, principal_investigator, make_user, monkeypatch
) -> None:
    start = session.started_at
    second_physician = make_user("physician2", "infusion_physician")
    high = infusion_services.vitals_record(
        visit=session,
        minute=20,
        systolic=190,
        diastolic=100,
        heart_rate=88,
        spo2=97,
        measured_at=start + timedelta(minutes=20),
        by=infusion_physician,
        now=start + timedelta(minutes=21),
    )
    infusion_services.vitals_record(
        visit=session,
        minute=10,
        systolic=120,
        diastolic=80,
        heart_rate=70,
        spo2=98,
        measured_at=start + timedelta(minutes=10),
        by=infusion_physician,
        now=start + timedelta(minutes=11),
    )
    from safety import services

    # Nine minutes after the measurement: not yet (the protocol's default is 10).
    assert services.vital_alerts_escalate(now=start + timedelta(minutes=29)) == 0
    clock = {"now": start + timedelta(minutes=31)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    assert escalate_vital_alerts() == 3  # the beat task: two physicians and the PI
    clock["now"] += timedelta(minutes=1)
    assert escalate_vital_alerts() == 0  # once only, however often beat runs
    notes = Notification.objects.filter(kind="vitals_alert")
    assert {n.recipient for n in notes} == {infusion_physician, second_physician, principal_investigator}
    physician_note = notes.get(recipient=infusion_physician)
    assert "systolic > 180 mmHg" in physician_note.body and session.participant.code in physician_note.subject
    assert physician_note.url == reverse("infusions:session", args=[session.participant_id, 1, 1])
    assert physician_note.topic == f"infusions.vitalsigns:{high.pk}"
    # An alert with its action is not notified.
    infusion_services.vitals_act(
        vitals=high, action="pause", reason="repeat in 5 min", by=infusion_physician, now=clock["now"]
    )
    low = infusion_services.vitals_record(
        visit=session,
        minute=30,
        systolic=120,
        diastolic=80,
        heart_rate=45,
        spo2=97,
        measured_at=start + timedelta(minutes=30),
        by=infusion_physician,
        now=start + timedelta(minutes=31),
    )
    infusion_services.vitals_act(
        vitals=low, action="continue", reason="athlete", by=infusion_physician, now=start
    )
    clock["now"] += timedelta(hours=1)
    assert escalate_vital_alerts() == 0


@pytest.fixture
def requested(coordinator, pharmacist, principal_investigator, make_user, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    make_user("pharmacist2", "pharmacist")
    make_user("pharmacist_one_key", "pharmacist")  # in the group, not in settings: not unblinded
    allocation.allocation_list_generate(by=pharmacist, now=timezone.now(), n_per_stratum=4, seed=3)
    person = randomized(coordinator)
    request = allocation.unblinding_request(
        participant=person,
        reason="Anaphylaxis in the emergency room: the treating team asks for the product",
        by=principal_investigator,
        now=timezone.now(),
    )
    return person, request


def _no_allocation(text: str, person) -> None:  # type: ignore[no-untyped-def]
    slot = AllocationSlot.objects.get(participant=person)
    assert not re.search(r"\b(KP|PK)\b|ketamin|placebo", text, re.IGNORECASE), text
    assert slot.kit_code not in text


def test_the_unblinded_pharmacists_are_notified_of_an_emergency_unblinding_request_without_the_allocation(
    requested, principal_investigator, client_for
) -> None:
    person, request = requested
    notes = Notification.objects.filter(kind="unblinding")
    assert sorted(n.recipient.username for n in notes) == ["pharmacist", "pharmacist2"]
    note = notes.get(recipient__username="pharmacist")
    assert person.code in note.subject
    assert "Anaphylaxis in the emergency room" in note.body  # the PI's own words
    assert note.url == reverse("participants:unblinding_execute", args=[request.pk])
    email = Job.objects.get(kind="email", payload__subject=note.subject)
    for text in (note.subject, note.body, note.url, str(email.payload)):
        _no_allocation(text, person)
    assert not Notification.objects.filter(recipient=principal_investigator).exists()


def test_the_requester_is_notified_when_the_pharmacist_executes_the_unblinding(
    requested, principal_investigator, pharmacist, make_user
) -> None:
    person, request = requested
    other_pi = make_user("pi2", "principal_investigator")
    allocation.unblinding_execute(
        request=request, people_informed="Dr. PI by phone", by=pharmacist, now=timezone.now()
    )
    note = Notification.objects.get(recipient=principal_investigator)
    assert note.kind == "unblinding" and person.code in note.subject
    assert note.url == reverse("participants:unblinding_list")
    _no_allocation(note.subject + note.body, person)
    assert not Notification.objects.filter(recipient=other_pi).exists()


def test_the_principal_investigators_and_pharmacists_home_pages_link_safety_and_notifications(
    principal_investigator, pharmacist, client_for, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    pi_home = client_for(principal_investigator).get(reverse("role_home", args=["principal_investigator"]))
    assert reverse("safety:summary") in pi_home.content.decode()
    assert reverse("safety:notifications") in pi_home.content.decode()
    pharmacy_home = client_for(pharmacist).get(reverse("role_home", args=["pharmacist"])).content.decode()
    assert reverse("safety:notifications") in pharmacy_home
    assert client_for(pharmacist).get(reverse("safety:notifications")).status_code == 200
