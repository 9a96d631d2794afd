"""Adverse events: seriousness criteria (ICH E2A), narrative, causality, expectedness, outcome with
its date, dated follow-up, changes with a reason through the audited write path, and the
listing with its filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from infusions import services
from infusions.models import AdverseEvent
from ketatrial.models import Notification
from safety import selectors
from tests.factories import enrolled


def test_a_serious_adverse_event_is_recorded_with_its_criteria_narrative_causality_and_expectedness(
    participant, report, principal_investigator
) -> None:
    event = report(
        participant,
        term="Hypertensive crisis",
        severity="severe",
        seriousness_criteria=["medically_important", "hospitalisation", "hospitalisation"],
        relatedness="probable",
        expectedness="unexpected",
        narrative="BP 210/120 at 20 min; infusion stopped; admitted overnight.",
    )
    event.refresh_from_db()
    assert event.serious
    # In the criteria's own order, each once.
    assert event.seriousness_criteria == ["hospitalisation", "medically_important"]
    assert event.is_susar and not event.is_resolved
    note = Notification.objects.get(recipient=principal_investigator)
    assert note.kind == "sae" and note.topic == f"infusions.adverseevent:{event.pk}"
    assert participant.code in note.subject and "Requires in-patient hospitalisation" in note.body
    assert note.url == reverse("safety:adverse_event", args=[event.pk])


def test_no_criterion_makes_an_event_not_serious_and_notifies_no_one(participant, report) -> None:
    event = report(participant)
    assert not event.serious and event.seriousness_criteria == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"seriousness_criteria": ["hospitalisation"], "narrative": "  "}, "narrative"),
        ({"seriousness_criteria": ["hospitalisation"], "expectedness": ""}, "expectedness"),
        ({"seriousness_criteria": ["no_such_criterion"]}, "seriousness_criteria"),
        ({"outcome": "recovered"}, "outcome_date"),
        ({"outcome": "recovering", "outcome_date": timezone.localdate()}, "outcome_date"),
        ({"outcome": "fatal", "outcome_date": timezone.localdate()}, "outcome"),
        ({"seriousness_criteria": ["death"], "outcome": "recovering"}, "outcome"),
        ({"outcome": "recovered", "outcome_date": timezone.localdate() + timedelta(days=2)}, "outcome_date"),
        ({"onset": timezone.now() + timedelta(hours=1)}, "onset"),
    ],
)
def test_an_inconsistent_report_is_refused_on_its_field(participant, report, values, field) -> None:
    with pytest.raises(ValidationError) as refused:
        report(participant, **values)
    assert field in refused.value.message_dict
    assert not AdverseEvent.objects.exists()


def test_a_change_needs_a_reason_is_audited_and_tells_the_other_principal_investigators(
    participant, report, principal_investigator, make_user
) -> None:
    other_pi = make_user("pi2", "principal_investigator")
    event = report(participant, seriousness_criteria=["hospitalisation"], severity="moderate")
    with pytest.raises(ValidationError, match="reason"):
        services.adverse_event_update(
            event=event,
            changes={"severity": "severe"},
            reason=" ",
            by=principal_investigator,
            now=timezone.now(),
        )
    services.adverse_event_update(
        event=event,
        changes={
            "severity": "severe",
            "relatedness": "conditional",
            "outcome": "recovered",
            "outcome_date": timezone.localdate(),
        },
        reason="Causality reassessed by the PI after the discharge letter",
        by=principal_investigator,
        now=timezone.now(),
    )
    event.refresh_from_db()
    assert (event.severity, event.relatedness, event.outcome) == ("severe", "conditional", "recovered")
    assert event.is_resolved
    latest = event.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == "Causality reassessed by the PI after the discharge letter"
    assert latest.history_user == principal_investigator
    updated = Notification.objects.get(
        recipient=other_pi, subject__startswith="Serious adverse event updated"
    )
    assert "severity" in updated.body and "Causality reassessed" in updated.body
    # The PI who made the change is not told of it.
    assert not Notification.objects.filter(
        recipient=principal_investigator, subject__startswith="Serious adverse event updated"
    ).exists()
    with pytest.raises(ValidationError, match="Nothing was changed"):
        services.adverse_event_update(
            event=event,
            changes={"severity": "severe"},
            reason="again",
            by=principal_investigator,
            now=timezone.now(),
        )


def test_an_event_that_becomes_serious_by_a_change_is_reported_to_the_principal_investigators(
    participant, report, principal_investigator, infusion_physician
) -> None:
    event = report(participant)
    with pytest.raises(ValidationError) as refused:
        services.adverse_event_update(
            event=event,
            changes={"seriousness_criteria": ["life_threatening"]},
            reason="Worsened overnight",
            by=infusion_physician,
            now=timezone.now(),
        )
    assert {"narrative", "expectedness"} <= set(refused.value.message_dict)
    services.adverse_event_update(
        event=event,
        changes={
            "seriousness_criteria": ["life_threatening"],
            "narrative": "Worsened overnight: anaphylaxis treated in the emergency department.",
            "expectedness": "unexpected",
        },
        reason="Worsened overnight",
        by=infusion_physician,
        now=timezone.now(),
    )
    assert AdverseEvent.objects.get(pk=event.pk).serious
    note = Notification.objects.get(recipient=principal_investigator)
    assert note.subject == f"Serious adverse event: {participant.code}"


def test_an_unknown_field_cannot_be_changed(participant, report, infusion_physician) -> None:
    event = report(participant)
    with pytest.raises(ValidationError, match="cannot be changed"):
        services.adverse_event_update(
            event=event, changes={"reported_by": None}, reason="x", by=infusion_physician, now=timezone.now()
        )


def test_follow_up_entries_are_dated_kept_in_order_and_notify_for_a_serious_event(
    participant, report, principal_investigator, infusion_physician
) -> None:
    now = timezone.now()
    event = report(
        participant, seriousness_criteria=["hospitalisation"], onset=now - timedelta(days=3), now=now
    )
    Notification.objects.update(read_at=now)
    today = timezone.localdate()
    services.adverse_event_follow_up_add(
        event=event, on=today, note="Discharged home.", by=infusion_physician, now=now
    )
    services.adverse_event_follow_up_add(
        event=event,
        on=today - timedelta(days=2),
        note="Admitted to internal medicine.",
        by=infusion_physician,
        now=now,
    )
    assert [f.note for f in selectors.adverse_event_follow_ups(event)] == [
        "Admitted to internal medicine.",
        "Discharged home.",
    ]
    assert (
        Notification.objects.filter(
            recipient=principal_investigator,
            read_at=None,
            subject__startswith="Serious adverse event follow-up",
        ).count()
        == 2
    )
    for on, note, field in (
        (today + timedelta(days=1), "x", "on"),
        (today - timedelta(days=5), "x", "on"),
        (today, "  ", "note"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.adverse_event_follow_up_add(
                event=event, on=on, note=note, by=infusion_physician, now=now
            )
        assert field in refused.value.message_dict
    assert event.follow_ups.count() == 2
    assert event.follow_ups.first().history.first().history_change_reason == "follow-up added"


def test_the_listing_filters_by_participant_seriousness_severity_causality_course_and_onset(
    coordinator, report, principal_investigator
) -> None:
    now = timezone.now()
    ana = enrolled(coordinator, name="Ana")
    bea = enrolled(coordinator, name="Bea")
    headache = report(ana, onset=now - timedelta(days=10))
    crisis = report(
        ana,
        term="Crisis",
        severity="severe",
        relatedness="probable",
        seriousness_criteria=["life_threatening"],
        onset=now - timedelta(days=2),
    )
    nausea = report(
        bea,
        term="Nausea",
        severity="moderate",
        relatedness="unlikely",
        outcome="recovered",
        outcome_date=timezone.localdate(),
        onset=now - timedelta(days=1),
    )

    def listed(**filters: object) -> list[int]:
        chosen = selectors.AdverseEventFilters(**filters)  # type: ignore[arg-type]
        return [e.pk for e in selectors.adverse_event_list_for_user(principal_investigator, chosen)]

    assert listed() == [nausea.pk, crisis.pk, headache.pk]
    assert listed(participant=ana.code.lower()) == [crisis.pk, headache.pk]
    assert listed(seriousness="serious") == [crisis.pk]
    assert listed(seriousness="non_serious") == [nausea.pk, headache.pk]
    assert listed(seriousness="life_threatening") == [crisis.pk]
    assert listed(seriousness="hospitalisation") == []
    assert listed(severity="moderate") == [nausea.pk]
    assert listed(relatedness="probable") == [crisis.pk]
    assert listed(state="open") == [crisis.pk, headache.pk]
    assert listed(state="resolved") == [nausea.pk]
    local = timezone.localdate()
    assert listed(onset_from=local - timedelta(days=3)) == [nausea.pk, crisis.pk]
    assert listed(onset_to=local - timedelta(days=3)) == [headache.pk]
    assert listed(onset_from=local - timedelta(days=2), onset_to=local - timedelta(days=2)) == [crisis.pk]


def test_the_listing_page_filters_and_reads_in_as_many_queries_for_40_events_as_for_4(
    coordinator, report, principal_investigator, client_for
) -> None:
    client = client_for(principal_investigator)
    url = reverse("safety:adverse_events")
    counts = []
    people = [enrolled(coordinator, name=f"P{i}") for i in range(4)]
    for target in (4, 40):
        while AdverseEvent.objects.count() < target:
            n = AdverseEvent.objects.count()
            report(
                people[n % 4],
                term=f"Event {n}",
                seriousness_criteria=["medically_important"] if n % 3 == 0 else [],
            )
        client.get(url)  # warm caches (content types, session)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url + "?severity=mild&state=open")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    page = client.get(url + f"?participant={people[1].code}&seriousness=serious").content.decode()
    assert people[1].code in page and people[0].code not in page


def test_a_bad_filter_is_shown_on_its_field(principal_investigator, client_for) -> None:
    response = client_for(principal_investigator).get(
        reverse("safety:adverse_events") + "?onset_from=yesterday", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()


def test_the_physician_changes_an_event_and_adds_follow_up_through_its_page(
    participant, report, infusion_physician, client_for
) -> None:
    event = report(participant)
    client = client_for(infusion_physician)
    url = reverse("safety:adverse_event", args=[event.pk])
    assert client.get(url).status_code == 200
    form = {
        "term": "Headache",
        "category": "Nervous system",
        "onset": timezone.localtime(event.onset).strftime("%Y-%m-%dT%H:%M"),
        "severity": "moderate",
        "relatedness": "possible",
        "expectedness": "expected",
        "action": "treated",
        "outcome": "recovered",
        "outcome_date": timezone.localdate().isoformat(),
        "narrative": "",
        "reason": "",
    }
    refused = client.post(
        reverse("safety:adverse_event_edit", args=[event.pk]), form, HTTP_ACCEPT_LANGUAGE="en"
    )
    # Refused without a reason, with what was typed kept.
    assert refused.status_code == 400
    assert '<option value="moderate" selected>' in refused.content.decode()
    assert AdverseEvent.objects.get(pk=event.pk).severity == "mild"
    ok = client.post(
        reverse("safety:adverse_event_edit", args=[event.pk]), {**form, "reason": "Paracetamol given"}
    )
    assert ok.status_code == 302
    event.refresh_from_db()
    assert (event.severity, event.action, event.outcome) == ("moderate", "treated", "recovered")
    added = client.post(
        reverse("safety:adverse_event_follow_up", args=[event.pk]),
        {"on": timezone.localdate().isoformat(), "note": "No recurrence at the next visit."},
    )
    assert added.status_code == 302 and event.follow_ups.get().note == "No recurrence at the next visit."


def test_readers_who_may_not_write_see_the_event_without_forms_and_raters_not_at_all(
    participant, report, monitor, coordinator, rater, client_for
) -> None:
    event = report(participant)
    url = reverse("safety:adverse_event", args=[event.pk])
    page = client_for(monitor).get(url).content.decode()
    assert "Headache" in page and "Reason for the change" not in page
    assert client_for(coordinator).get(url).status_code == 200
    assert (
        client_for(coordinator)
        .post(reverse("safety:adverse_event_follow_up", args=[event.pk]), {"on": "2026-01-01", "note": "x"})
        .status_code
        == 403
    )
    for path in (url, reverse("safety:adverse_events"), reverse("safety:summary")):
        assert client_for(rater).get(path).status_code in (403, 404), path
    assert client_for(monitor).get(reverse("safety:adverse_event", args=[event.pk + 100])).status_code == 404


def test_an_event_reported_serious_before_criteria_existed_keeps_serious_until_criteria_are_ticked(
    participant, infusion_physician
) -> None:
    from ketatrial.audit import clinical_create

    now = timezone.now()
    legacy = clinical_create(
        AdverseEvent(
            participant=participant,
            term="Syncope",
            category="Cardiovascular",
            onset=now - timedelta(days=30),
            severity="severe",
            serious=True,  # as stored before the criteria: serious, no criterion
            relatedness="possible",
            action="stopped",
            outcome="recovering",
            reported_by=infusion_physician,
            reported_at=now - timedelta(days=30),
        ),
        by=infusion_physician,
    )
    with pytest.raises(ValidationError) as refused:
        services.adverse_event_update(
            event=legacy, changes={"severity": "moderate"}, reason="Re-graded", by=infusion_physician, now=now
        )
    assert "seriousness_criteria" in refused.value.message_dict
    assert AdverseEvent.objects.get(pk=legacy.pk).serious
    services.adverse_event_update(
        event=legacy,
        changes={
            "seriousness_criteria": ["hospitalisation"],
            "narrative": "Fainted after the infusion; admitted overnight.",
            "expectedness": "expected",
        },
        reason="Criteria recorded",
        by=infusion_physician,
        now=now,
    )
    assert AdverseEvent.objects.get(pk=legacy.pk).seriousness_criteria == ["hospitalisation"]
