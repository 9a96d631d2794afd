"""Rating entry, corrections, signatures, safety alerts, relapse, the rater's task list."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinimetry import selectors, services
from clinimetry.models import Assessment, Relapse
from ketatrial.models import Notification
from tests.conftest import PASSWORD
from tests.factories import enrolled
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")

HDRS_BASE = {str(n): 2 for n in range(1, 18) if n != 16} | {"16A": 1}  # 16 items x 2 + 1 = 33
MADRS_BASE = {str(n): 3 for n in range(1, 11)}  # 30


def _form(items: dict[str, int], **extra: str) -> dict[str, str]:
    data = {f"item_{k}": str(v) for k, v in items.items()}
    data.update(
        {
            "rated_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "recall_period": "past_week",
            "interview_guide": "sigh_d",
            "mode": "in_person",
        }
    )
    data.update(extra)
    return data


def _save(person, rater, instrument, code, items, when=None, reason=""):  # type: ignore[no-untyped-def]
    return services.assessment_save(
        participant=person,
        instrument=instrument,
        task_code=code,
        items=items,
        rated_at=when or timezone.now(),
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        reason=reason,
    )


def test_a_baseline_rating_is_scored_and_stored(rater, coordinator, client_for) -> None:
    person = enrolled(coordinator)
    response = client_for(rater).post(selectors.rate_url(person.pk, "hdrs17", "baseline"), _form(HDRS_BASE))
    assert response.status_code == 302
    a = Assessment.objects.get(participant=person, instrument="hdrs17")
    assert (a.total, a.prorated, a.items["16A"]) == (33, False, 1)


@pytest.mark.parametrize(
    ("instrument", "tamper", "field"),
    [
        ("hdrs17", {"item_4": "3"}, "item_4"),
        ("madrs", {"item_2": "7"}, "item_2"),
        ("madrs", {"item_10": "-1"}, "item_10"),
        ("hdrs17", {"item_16B": "2"}, "item_16B"),
        ("hdrs17", {"item_1": "x"}, "item_1"),
    ],
)
def test_out_of_range_or_tampered_posts_are_refused_beside_the_field_and_the_entry_is_kept(
    rater, coordinator, client_for, instrument, tamper, field
) -> None:
    person = enrolled(coordinator)
    base = HDRS_BASE if instrument == "hdrs17" else MADRS_BASE
    data = _form(base, **tamper)
    response = client_for(rater).post(
        selectors.rate_url(person.pk, instrument, "baseline"), data, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    block = html[html.index(f'data-field="{field}"') :]
    block = block[: block.index("</fieldset>")]
    assert "invalid-feedback" in block
    kept = "item_3" if field != "item_3" else "item_5"
    assert f'name="{kept}" id="id_{kept}_{int(data[kept])}" value="{data[kept]}" checked' in html
    assert not Assessment.objects.exists()


def test_a_correction_needs_a_reason_and_voids_the_signature(rater, coordinator) -> None:
    person = enrolled(coordinator)
    a = _save(person, rater, "madrs", "baseline", MADRS_BASE)
    with pytest.raises(ValidationError):
        services.assessment_sign(assessment=a, password="wrong", by=rater, now=timezone.now())
    services.assessment_sign(assessment=a, password=PASSWORD, by=rater, now=timezone.now())
    a.refresh_from_db()
    assert a.signed_by == rater and "confirm" in a.signature_meaning
    with pytest.raises(ValidationError):
        _save(person, rater, "madrs", "baseline", {**MADRS_BASE, "1": 4})
    _save(person, rater, "madrs", "baseline", {**MADRS_BASE, "1": 4}, reason="Item 1 re-scored after review")
    a.refresh_from_db()
    assert a.total == 31 and a.signed_at is None and a.signature_voided_at is not None
    assert a.history.first().history_change_reason.startswith("Item 1 re-scored")


def test_a_corrected_rating_signed_again_is_signed_in_the_export_and_no_lock_blocker(
    rater, coordinator
) -> None:
    """Issue 13: a rating corrected and signed again was exported (and served by the API) as
    signed=False and blocked the lock forever, because the voiding stamp stayed."""
    from outcomes import dataset as ds
    from outcomes import services as outcome_services

    person = enrolled(coordinator)
    a = _save(person, rater, "madrs", "baseline", MADRS_BASE)
    services.assessment_sign(assessment=a, password=PASSWORD, by=rater, now=timezone.now())
    _save(person, rater, "madrs", "baseline", {**MADRS_BASE, "1": 4}, reason="Item 1 re-scored after review")

    def signed_in_export() -> bool:
        long = ds.build(None, ds.NO_SEQUENCE, now=timezone.now()).long
        return bool(long.loc[long["instrument"] == "madrs", "signed"].iloc[0])

    assert not signed_in_export()
    assert [b.pk for b in outcome_services.lock_blockers().unsigned] == [a.pk]
    a.refresh_from_db()
    services.assessment_sign(assessment=a, password=PASSWORD, by=rater, now=timezone.now())
    a.refresh_from_db()
    assert a.signature_voided_at is not None  # the voiding stays in the record's history
    assert signed_in_export()
    assert outcome_services.lock_blockers().unsigned == []


def test_a_suicide_risk_item_alerts_the_principal_investigator_and_prompts_the_rater(
    rater, coordinator, principal_investigator, client_for
) -> None:
    person = enrolled(coordinator)
    response = client_for(rater).post(
        selectors.rate_url(person.pk, "madrs", "baseline"), _form({**MADRS_BASE, "10": 4})
    )
    assert response.status_code == 302 and "/safety/" in response.url
    page = client_for(rater).get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "suicide-risk procedure" in page
    assert Notification.objects.filter(
        recipient=principal_investigator, subject__contains=person.code
    ).exists()


def test_a_worsening_during_treatment_is_no_relapse_and_two_follow_up_ratings_are(
    rater, coordinator, pharmacist, make_user, settings
) -> None:
    """PROTOCOL.md: relapse (after a response) is MADRS >= 22 at two consecutive *follow-up*
    ratings; a worsening during the infusion periods is an outcome to analyse, not a relapse (it
    must not end follow-up nor put an end-of-study visit in the middle of treatment)."""
    from clinimetry.examples import signed_rating
    from ketatrial.audit import clinical_create

    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=checker,
        day1=(now - timedelta(days=20)).date(),
        now=now - timedelta(days=22),
        # Day 1 at midnight (site time): the syringe is good at infusion 1's start that morning.
        prepared_at=timezone.make_aware(datetime.combine((now - timedelta(days=20)).date(), time.min)),
    )
    _give_first_infusion(person, pharmacist)
    tasks = [
        t
        for t in selectors.all_tasks(person)
        if t.code in ("baseline", "p1-4h-inf1", "p1-24h-inf1", "p1-predose-3")
    ]
    assert [t.code for t in tasks] == ["baseline", "p1-4h-inf1", "p1-24h-inf1", "p1-predose-3"]
    # Responds at 4 h (30 -> 12), then worsens past 22 at two consecutive ratings in period 1.
    totals = {"baseline": 30, "p1-4h-inf1": 12, "p1-24h-inf1": 24, "p1-predose-3": 26}
    baseline = Assessment.objects.get(participant=person, instrument="madrs", task_code="baseline")
    assert baseline.total == totals["baseline"]  # rated before randomization (tests.factories)
    for task in tasks[1:]:
        items = {str(n): 0 for n in range(1, 11)}
        remaining = totals[task.code]
        for n in range(1, 11):
            items[str(n)] = min(6, remaining)
            remaining -= items[str(n)]
        _save(person, rater, "madrs", task.code, items, when=min(task.due, now - timedelta(minutes=1)))
    assert not Relapse.objects.filter(participant=person).exists()
    assert "end-of-study" not in [t.code for t in selectors.all_tasks(person)]
    # In follow-up: 23, then 25 -> relapse, dated at the first qualifying rating.
    week1, week2 = now - timedelta(days=3), now - timedelta(hours=2)
    for code, total, when in (("fu-week-1", 23, week1), ("fu-week-2", 25, week2)):
        clinical_create(
            signed_rating(person, rater, "madrs", code, 3, total, when), by=rater, reason="entered"
        )
        services.relapse_evaluate(participant=person, by=rater, now=when)
    relapse = Relapse.objects.get(participant=person)
    assert relapse.relapse_date == week1
    assert "end-of-study" in [t.code for t in selectors.all_tasks(person)]


def test_the_rater_task_list_shows_due_tasks_as_opaque_rating_visits_and_no_infusion_data(
    rater, coordinator, pharmacist, make_user, settings, client_for
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=checker,
        day1=now.date(),
        now=now - timedelta(days=1),
    )
    html = client_for(rater).get(reverse("clinimetry:tasks"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert person.code in html and "Rating visit" in html
    # Opaque tasks: what to rate and by when, never the timepoint (period, infusion, follow-up).
    for word in ("pre-dose", "aseline", "infusion", "Period", "syringe", "mL/h", "etamin", "lacebo", "vital"):
        assert word not in html, word
    assert not re.search(r"\b(KP|PK)\b", html)
    assert "follow-up" not in html.lower()  # future tasks stay hidden


def _participants(n: int, coordinator) -> list:  # type: ignore[no-untyped-def]
    return [enrolled(coordinator, now=timezone.now() - timedelta(days=1)) for _ in range(n)]


def test_the_form_page_and_its_submission_make_the_same_number_of_queries_with_10_or_1000_participants(
    rater, coordinator, client_for
) -> None:
    from participants.models import Participant

    client = client_for(rater)
    counts = []
    for total in (10, 1000):
        existing = Participant.objects.count()
        if total > existing:
            template = Participant.objects.select_related("screening").first()
            if template is None:
                _participants(1, coordinator)
                template = Participant.objects.select_related("screening").first()
            _bulk(template, total - Participant.objects.count())
        target = _participants(1, coordinator)[0]
        url = selectors.rate_url(target.pk, "madrs", "baseline")
        with CaptureQueriesContext(connection) as get_q:
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as post_q:
            assert client.post(url, _form(MADRS_BASE)).status_code == 302
        counts.append((len(get_q), len(post_q)))
    assert counts[0] == counts[1], counts


def _bulk(template, n: int) -> None:  # type: ignore[no-untyped-def]
    """Many participants cheaply (the rows the pages must not scale with)."""
    from participants.models import Participant, ScreeningRecord

    base = ScreeningRecord.objects.count()
    screenings = ScreeningRecord.objects.bulk_create(
        [
            ScreeningRecord(
                site=template.site,
                number=base + i + 1000,
                code=f"S-BULK-{base + i}",
                screened_at=template.enrolled_at,
                protocol_version="1.0",
                outcome="eligible",
            )
            for i in range(n)
        ]
    )
    top = Participant.objects.order_by("-number").first().number
    Participant.objects.bulk_create(
        [
            Participant(
                site=template.site,
                screening=s,
                number=top + i + 1,
                code=f"BULK-{top + i + 1}",
                enrolled_at=template.enrolled_at,
                baseline_weight_kg=70,
                height_cm=170,
            )
            for i, s in enumerate(screenings)
        ]
    )


def test_a_rater_cannot_open_a_task_that_is_not_due_so_guessing_codes_reveals_nothing(
    rater, coordinator, pharmacist, make_user, settings, client_for
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=checker,
        day1=now.date(),
        now=now - timedelta(days=1),
    )
    client = client_for(rater)
    for code in ("p2-predose-5", "p2-predose-3", "fu-week-1", "p2-4h-inf4", "p1-4h-inf1"):
        assert client.get(selectors.rate_url(person.pk, "madrs", code)).status_code == 404, code
    assert client.get(selectors.rate_url(person.pk, "madrs", "p1-predose-1")).status_code == 200
    # The timepoint in the URL, as URLs once carried it, answers like a missing task.
    by_timepoint = f"/ratings/participant/{person.pk}/rate/madrs/p1-predose-1/"
    assert client.get(by_timepoint).status_code == 404


def test_post_infusion_tasks_wait_for_the_recorded_end_of_their_infusion(
    coordinator, pharmacist, make_user, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    checker = make_user("pharmacist2", "pharmacist")
    now = timezone.now()
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=checker,
        day1=now.date(),
        now=now - timedelta(days=1),
    )
    codes = [t.code for t in selectors.all_tasks(person)]
    assert (
        "p1-predose-1" in codes
        and "p1-4h-inf1" not in codes
        and not any(c.startswith("fu-week") for c in codes)
    )


def _give_first_infusion(person, physician_source):  # type: ignore[no-untyped-def]
    """Record infusion 1 of period 1 at its planned start (ratings after it hang on its end)."""
    from decimal import Decimal

    from infusions import services as infusions
    from participants.models import DosePreparation

    physician = type(physician_source).objects.create_user("doc-tmp", password="x" * 12)
    from django.contrib.auth.models import Group

    physician.groups.add(Group.objects.get(name="infusion_physician"))
    plan = infusions.schedule_for(person)
    start = plan.infusion(1, 1).start
    visit = infusions.visit_for(person, 1, 1, by=physician)
    code = DosePreparation.objects.get(participant=person, period=1, infusion_number=1).syringe_code
    checks = {key: True for key, _label in infusions.PRECHECKS}
    infusions.session_start(
        visit=visit,
        prechecks=checks,
        syringe_code=code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=start,
        by=physician,
        now=timezone.now(),
    )
    infusions.session_stop(
        visit=visit,
        ended_at=start + timedelta(minutes=40),
        interruptions="",
        by=physician,
        now=timezone.now(),
    )


def test_the_timepoints_served_are_stored_in_the_schedules_words_whatever_the_language(
    rater, coordinator
) -> None:
    """Exports mixed Spanish and English when the label of the task was stored in the language
    of whoever saved it."""
    from django.utils import translation

    person = enrolled(coordinator)
    with translation.override("es"):
        a = _save(person, rater, "madrs", "baseline", MADRS_BASE)
    assert a.serves == ["baseline"]


def test_an_out_of_window_rating_is_accepted_and_flagged_never_blocked(rater, coordinator) -> None:
    """PROTOCOL.md: 'Out-of-window ratings are accepted and flagged, never blocked.'"""
    person = enrolled(coordinator, now=timezone.now() - timedelta(days=60))
    task = next(t for t in selectors.all_tasks(person) if t.code == "baseline")
    assert task.window_end < timezone.now() - timedelta(hours=1)
    late = _save(person, rater, "madrs", "baseline", MADRS_BASE, when=task.window_end + timedelta(hours=1))
    assert late.pk and late.out_of_window and late.total == 30
