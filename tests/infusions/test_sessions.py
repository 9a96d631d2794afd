"""Schedules and infusion sessions through the services and pages."""

from __future__ import annotations

import re
import smtplib
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from infusions import selectors, services
from infusions.models import InfusionVisit
from infusions.tasks import send_day_before_reminders
from ketatrial.models import Notification
from participants.models import DosePreparation
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
# The feed and reminders look around the real today, so the trial starts tomorrow.
NOW = datetime.now(MX).replace(hour=10, minute=0, second=0, microsecond=0)
DAY1 = NOW.date() + timedelta(days=1)
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


@pytest.fixture
def team(coordinator, pharmacist, make_user, infusion_physician, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    return {
        "coordinator": coordinator,
        "pharmacist": pharmacist,
        "checker": make_user("pharmacist2", "pharmacist"),
        "physician": infusion_physician,
    }


@pytest.fixture
def person(team):  # type: ignore[no-untyped-def]
    return scheduled(
        coordinator=team["coordinator"],
        pharmacist=team["pharmacist"],
        checker=team["checker"],
        day1=DAY1,
        now=NOW,
    )


def _start(person, team, *, code=None, at=None):  # type: ignore[no-untyped-def]
    visit = services.visit_for(person, 1, 1, by=team["physician"])
    code = code or DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    at = at or datetime.combine(DAY1, datetime.min.time(), tzinfo=MX) + timedelta(hours=9)
    return services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=at,
        by=team["physician"],
        now=at + timedelta(minutes=1),  # recorded as it happens, on day 1
    )


def test_a_wrong_syringe_stops_the_session(person, team) -> None:
    with pytest.raises(ValidationError, match="STOP"):
        _start(person, team, code="S-WRONG123")
    assert InfusionVisit.objects.get(participant=person, period=1, number=1).status == "planned"


def test_an_unprepared_infusion_cannot_start(person, team) -> None:
    visit = services.visit_for(person, 1, 2, by=team["physician"])
    with pytest.raises(ValidationError, match="not prepared"):
        services.session_start(
            visit=visit,
            prechecks=CHECKS,
            syringe_code="S-X",
            pump_rate_ml_h=Decimal("75.0"),
            started_at=NOW + timedelta(days=4),
            by=team["physician"],
            now=NOW + timedelta(days=4, minutes=1),
        )


def test_missing_prechecks_refuse_the_start(person, team) -> None:
    visit = services.visit_for(person, 1, 1, by=team["physician"])
    with pytest.raises(ValidationError, match="checks not done"):
        services.session_start(
            visit=visit,
            prechecks={**CHECKS, "iv_access": False},
            syringe_code="S-X",
            pump_rate_ml_h=Decimal("75.0"),
            started_at=NOW,
            by=team["physician"],
            now=NOW,
        )


def test_a_full_session_with_an_alert_an_action_and_the_recorded_end_anchoring_ratings(person, team) -> None:
    visit = _start(person, team)
    start = visit.started_at
    services.vitals_record(
        visit=visit,
        minute=0,
        systolic=130,
        diastolic=80,
        heart_rate=72,
        spo2=98,
        measured_at=start,
        by=team["physician"],
        now=start + timedelta(minutes=1),
    )
    high = services.vitals_record(
        visit=visit,
        minute=20,
        systolic=186,
        diastolic=100,
        heart_rate=90,
        spo2=97,
        measured_at=start + timedelta(minutes=20),
        by=team["physician"],
        now=start + timedelta(minutes=21),
    )
    assert high.alerts == ["systolic > 180 mmHg"]
    with pytest.raises(ValidationError, match="waiting for its action"):
        services.session_stop(
            visit=visit,
            ended_at=start + timedelta(minutes=45),
            interruptions="",
            by=team["physician"],
            now=start + timedelta(minutes=46),
        )
    with pytest.raises(ValidationError):
        services.vitals_act(vitals=high, action="continue", reason="", by=team["physician"], now=start)
    services.vitals_act(
        vitals=high, action="pause", reason="paused 5 min, BP 165/95 after", by=team["physician"], now=start
    )
    services.session_stop(
        visit=visit,
        ended_at=start + timedelta(minutes=55),
        interruptions="Paused 5 min at 20 min",
        by=team["physician"],
        now=start + timedelta(minutes=56),
    )
    with pytest.raises(ValidationError, match="at least 60 min"):
        services.session_discharge(
            visit=visit,
            discharged_at=start + timedelta(minutes=100),
            by=team["physician"],
            now=start + timedelta(minutes=116),
        )
    services.session_discharge(
        visit=visit,
        discharged_at=start + timedelta(minutes=115),
        by=team["physician"],
        now=start + timedelta(minutes=116),
    )
    plan = services.schedule_for(person)
    four_hours = next(t for t in plan.ratings if t.code == "p1-4h-inf1")
    assert four_hours.due == start + timedelta(minutes=55, hours=4) and four_hours.anchor_recorded


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"systolic": 80, "diastolic": 90}, "diastolic"),
        ({"systolic": 400}, "systolic"),
        ({"spo2": 101}, "spo2"),
        ({"heart_rate": None}, "heart_rate"),
    ],
)
def test_bad_vitals_are_refused_with_a_message_and_the_entry_is_kept(
    person, team, client_for, values, field
) -> None:
    _start(person, team)
    data = {
        "minute": "10",
        "measured_at": "2026-03-02T09:10",
        "systolic": "120",
        "diastolic": "80",
        "heart_rate": "70",
        "spo2": "97",
    }
    data.update({k: "" if v is None else str(v) for k, v in values.items()})
    url = reverse("infusions:session_vitals", args=[person.pk, 1, 1])
    response = client_for(team["physician"]).post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 400
    for value in data.values():
        if value and value != "10":
            assert f'value="{value}"' in html, value
    assert person.infusion_visits.get(period=1, number=1).vitals.count() == 0


def test_a_serious_adverse_event_notifies_the_principal_investigator(
    person, team, principal_investigator
) -> None:
    visit = _start(person, team)
    services.adverse_event_record(
        participant=person,
        visit=visit,
        by=team["physician"],
        now=visit.started_at + timedelta(minutes=30),
        term="Hypertensive crisis",
        category="Cardiovascular",
        onset=visit.started_at + timedelta(minutes=20),
        severity="severe",
        seriousness_criteria=["life_threatening"],
        relatedness="probable",
        expectedness="expected",
        action="stopped",
        outcome="recovering",
        narrative="BP 220/125 at 20 min; infusion stopped; labetalol given.",
    )
    note = Notification.objects.get(recipient=principal_investigator)
    assert person.code in note.subject
    from django.db import connection

    if connection.in_atomic_block:  # pytest's per-test transaction: run the on-commit callback ourselves
        for _sid, callback, _robust in connection.run_on_commit:
            callback()
    assert any(principal_investigator.email in m.to for m in mail.outbox)


class _MailServerDown(BaseEmailBackend):
    """An SMTP server that drops every connection."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def _serious_adverse_event_form() -> dict[str, object]:
    onset = timezone.localtime() - timedelta(minutes=5)
    return {
        "term": "Hypertensive crisis",
        "category": "Cardiovascular",
        "onset": onset.strftime("%Y-%m-%dT%H:%M"),
        "severity": "severe",
        "seriousness_criteria": ["life_threatening"],
        "relatedness": "probable",
        "expectedness": "expected",
        "action": "stopped",
        "outcome": "recovering",
        "narrative": "BP 220/125 at 20 min; infusion stopped; labetalol given.",
    }


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_is_down_does_not_fail_the_serious_adverse_event_report(
    person, team, principal_investigator, client_for, settings, caplog
) -> None:
    # A real commit (transactional test): the e-mail is handed over inside the request, as in
    # production, where an SMTP fault used to turn the saved report into a 500.
    settings.EMAIL_BACKEND = f"{__name__}._MailServerDown"
    _start(person, team)
    url = reverse("infusions:session_adverse_event", args=[person.pk, 1, 1])
    response = client_for(team["physician"]).post(url, _serious_adverse_event_form())
    assert response.status_code == 302
    event = person.adverse_events.get()
    assert event.serious and event.term == "Hypertensive crisis"
    assert Notification.objects.filter(
        recipient=principal_investigator, subject__contains=person.code
    ).exists()
    assert mail.outbox == []
    # The e-mail waits in the outbox to be tried again with backoff; nothing is lost.
    from ketatrial.models import Job

    job = Job.objects.get(kind="email")
    assert job.state == "pending" and job.not_before and "mail server" in job.error
    assert caplog is not None


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_refuses_the_e_mail_does_not_fail_the_serious_adverse_event_report(
    person, team, principal_investigator, client_for, monkeypatch
) -> None:
    from django.conf import settings

    from ketatrial.models import Job

    _start(person, team)
    # Redis is down: nothing answers on the broker's port.
    monkeypatch.setattr(settings, "JOBS_IN_PROCESS", False)
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    url = reverse("infusions:session_adverse_event", args=[person.pk, 1, 1])
    response = client_for(team["physician"]).post(url, _serious_adverse_event_form())
    assert response.status_code == 302
    assert person.adverse_events.get().serious
    assert Notification.objects.filter(recipient=principal_investigator).exists()
    job = Job.objects.get(kind="email")  # kept for the sweep to hand over when Redis is back
    assert job.state == "pending" and job.dispatched_at is None and job.dispatch_error


def test_a_move_outside_the_window_needs_a_reason_and_48_hours_are_kept(person, team) -> None:
    coordinator = team["coordinator"]
    with pytest.raises(ValidationError, match="outside the window"):
        services.infusion_reschedule(
            participant=person,
            period=1,
            number=3,
            new_date=DAY1 + timedelta(days=9),
            reason="",
            by=coordinator,
            now=NOW,
        )
    services.infusion_reschedule(
        participant=person,
        period=1,
        number=3,
        new_date=DAY1 + timedelta(days=9),
        reason="Participant travelling",
        by=coordinator,
        now=NOW,
    )
    with pytest.raises(ValidationError, match="48 h"):
        services.infusion_reschedule(
            participant=person,
            period=1,
            number=2,
            new_date=DAY1 + timedelta(days=1),
            reason="earlier please",
            by=coordinator,
            now=NOW,
        )


def test_a_missed_infusion_is_not_made_up(person, team) -> None:
    services.infusion_mark_missed(
        participant=person, period=1, number=2, reason="Fever", by=team["coordinator"]
    )
    plan = services.schedule_for(person)
    assert plan.infusion(1, 2).status == "missed"
    assert plan.infusion(1, 3).date == DAY1 + timedelta(days=7)
    assert not any(t.code.startswith("p1-predose-2") for t in plan.ratings)


def test_the_ical_feed_parses_and_holds_no_allocation(person, team, client_for) -> None:
    client = client_for(team["coordinator"])
    page = client.get(reverse("infusions:feed_settings")).content.decode()
    token = services.calendar_token_for(team["coordinator"], now=NOW).token
    assert token in page
    anonymous = client_for(team["coordinator"]).__class__()
    response = anonymous.get(reverse("infusions:ical", args=[token]))
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    summaries = [str(c.get("summary")) for c in cal.walk("VEVENT")]
    assert any("Period 1, infusion 1" in s for s in summaries)
    text = response.content.decode()
    for leak in ("etamin", "lacebo", " mg"):
        assert leak not in text
    assert not re.search(r"\b(KP|PK)\b", text)
    assert anonymous.get(reverse("infusions:ical", args=["not-a-token"])).status_code == 404


def test_the_period_two_calendar_shows_one_infusion_ahead(person, team) -> None:
    events = selectors.participant_events(person, now=NOW)
    period2 = [e for e in events if e.kind == "infusion" and e.period == 2]
    assert [e.number for e in period2] == [1]
    assert not any("last infusion" in e.label and e.period == 2 for e in events)


def test_raters_reach_no_infusion_page(person, rater, client_for) -> None:
    client = client_for(rater)
    for url in (
        reverse("infusions:calendar"),
        reverse("infusions:timeline", args=[person.pk]),
        reverse("infusions:session", args=[person.pk, 1, 1]),
        reverse("infusions:adverse_events", args=[person.pk]),
        reverse("infusions:feed_settings"),
    ):
        assert client.get(url).status_code == 403, url


def test_the_calendar_flags_a_day_over_capacity(team, person, client_for, settings, monkeypatch) -> None:
    from ketatrial import trial
    from ketatrial.protocol import protocol_with_overrides

    p = protocol_with_overrides({"infusion_chairs_per_day": 0})
    monkeypatch.setattr("infusions.views.protocol", lambda: p)
    html = (
        client_for(team["coordinator"])
        .get(reverse("infusions:calendar") + f"?start={DAY1.isoformat()}", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "over capacity" in html and person.code in html
    assert trial is not None


def test_day_before_reminders_go_to_coordinators_and_physicians(
    person, team, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        sent = send_day_before_reminders(DAY1.isoformat())
    assert sent == 2
    assert any("Period 1, infusion 1" in m.body for m in mail.outbox)
    # Beat delivering the same message again sends nothing twice (one outbox job per person and day).
    with django_capture_on_commit_callbacks(execute=True):
        send_day_before_reminders(DAY1.isoformat())
    assert len(mail.outbox) == 2


def test_cadss_and_bprs_are_recorded_from_the_session_page(person, team, client_for) -> None:
    _start(person, team)
    data = {"dis-minute": "40", **{f"dis-cadss_{n}": "1" for n in range(1, 24)}}
    data.update(
        {
            f"dis-bprs_{name}": "2"
            for name in (
                "suspiciousness",
                "hallucinatory_behaviour",
                "unusual_thought_content",
                "conceptual_disorganization",
            )
        }
    )
    client = client_for(team["physician"])
    url = reverse("infusions:session_dissociation", args=[person.pk, 1, 1])
    assert client.post(url, {**data, "dis-cadss_5": "5"}).status_code == 400
    assert client.post(url, data).status_code == 302
    rating = person.infusion_visits.get(period=1, number=1).dissociation.get()
    assert (rating.minute, rating.cadss_total, rating.bprs_total) == (40, 23, 8)
    page = client.get(reverse("infusions:session", args=[person.pk, 1, 1])).content.decode()
    assert page.count('id="id_minute"') == 1 and 'id="id_dis-minute"' in page


def test_moving_or_missing_an_infusion_beyond_the_horizon_answers_like_a_missing_one(
    person, team, client_for
) -> None:
    client = client_for(team["coordinator"])
    for name, data in (
        ("infusions:reschedule", {"period": "2", "number": "6", "new_date": "2030-01-01", "reason": "x"}),
        ("infusions:missed", {"period": "2", "number": "3", "reason": "x"}),
    ):
        assert client.post(reverse(name, args=[person.pk]), data).status_code == 404, name
    assert not person.infusion_visits.filter(period=2).exists()


def test_the_scan_during_the_last_period_two_infusion_stays_hidden_until_the_period_ends(
    person, team
) -> None:
    events = selectors.participant_events(person, now=NOW)
    assert not any(e.kind == "mrs" and e.period == 2 and "during" in e.label.lower() for e in events)


def test_opening_the_session_page_writes_nothing_and_the_first_post_opens_the_visit(
    person, team, client_for
) -> None:
    client = client_for(team["physician"])
    url = reverse("infusions:session", args=[person.pk, 1, 1])
    before = (InfusionVisit.objects.count(), InfusionVisit.history.count())

    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert (InfusionVisit.objects.count(), InfusionVisit.history.count()) == before

    client.post(url + "dissociation/", {"minute": "40", "kind": "cadss"})  # any POST opens it
    assert InfusionVisit.objects.filter(participant=person, period=1, number=1).exists()


def test_a_session_outside_the_schedule_answers_404_on_get_and_post(person, team, client_for) -> None:
    client = client_for(team["physician"])
    url = reverse("infusions:session", args=[person.pk, 1, 9])
    assert client.get(url).status_code == 404
    assert client.post(url + "start/", {}).status_code == 404


def test_an_unusual_vital_is_saved_only_once_confirmed_with_a_reason_and_the_form_shows_the_ranges(
    person, team
) -> None:
    """Edit check (issue 14): a possible but unusual value (often a typing error: 52 for 152) is
    refused beside its field until it is confirmed with a reason; the reason is kept with it."""
    from infusions.forms import VitalsForm

    visit = _start(person, team)
    start = visit.started_at
    values = {
        "visit": visit,
        "minute": 0,
        "systolic": 52,
        "diastolic": 40,
        "heart_rate": 72,
        "spo2": 98,
        "measured_at": start,
        "by": team["physician"],
        "now": start + timedelta(minutes=1),
    }
    with pytest.raises(ValidationError) as refused:
        services.vitals_record(**values)
    assert (
        set(refused.value.message_dict) == {"systolic"}
        and "unusual" in refused.value.message_dict["systolic"][0]
    )
    saved = services.vitals_record(**values, confirm_reason="measured again on the other arm: 54/40")
    assert saved.confirmations == {"systolic": "measured again on the other arm: 54/40"}
    assert "unusual values confirmed" in saved.history.first().history_change_reason
    form = VitalsForm(minutes=[0, 10])
    assert "usual 80-220" in str(form.fields["systolic"].help_text)
