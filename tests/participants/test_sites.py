"""Several sites (issue 15, item 5): a site's staff see only their sites' participants, on every
surface, through the one visibility rule; trial-wide roles see every site; a participant of
another site answers 404 exactly like a missing one."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinimetry.selectors import task_list_participants
from infusions import services as infusion_services
from infusions.selectors import calendar_events
from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN, MONITOR, RATER
from participants import allocation, services
from participants.allocation import visibility
from participants.models import Participant, ScreeningRecord, Site, UserRoleChange
from participants.selectors import participant_list_for_user
from tests.factories import baseline_rated, inclusion_answers, randomized

pytestmark = pytest.mark.django_db


def _fresh(user):  # type: ignore[no-untyped-def]
    """The user as a new request sees it (nothing cached on the object)."""
    return type(user).objects.get(pk=user.pk)


def _randomized_at(site: Site, coordinator, *, now):  # type: ignore[no-untyped-def]
    """Screened, consented, enrolled, rated at baseline and randomized at `site`."""
    from ketatrial.trial import protocol

    p = protocol()
    record = services.screening_start(site=site, by=coordinator, now=now - timedelta(hours=2))
    services.consent_record(
        screening=record,
        version=p.consent_version,
        consented_at=now - timedelta(hours=1),
        by=coordinator,
        now=now,
    )
    services.screening_assess(
        screening=record,
        inclusion_met=inclusion_answers(24),
        exclusion_present=[False] * len(p.exclusion_criteria),
        hdrs17_total=24,
        by=coordinator,
        now=now,
    )
    record.refresh_from_db()
    person = services.participant_enroll(
        screening=record,
        by=coordinator,
        now=now,
        baseline_weight_kg=Decimal("68.0"),
        height_cm=Decimal("165.0"),
        full_name="Elena Vázquez",
        date_of_birth=date(1984, 6, 2),
        phone="55 0000 0000",
        address="Tlalpan, CDMX",
        baseline_date=timezone.localdate(now),
    )
    baseline_rated(person, at=now)
    allocation.participant_randomize(participant=person, by=coordinator, now=now)
    return Participant.objects.get(pk=person.pk)


@pytest.fixture(autouse=True)
def _unblinded_pharmacist(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]


@pytest.fixture
def trial(coordinator, pharmacist, data_manager, make_user):  # type: ignore[no-untyped-def]
    """Site A (the protocol's) with one scheduled participant; site B with its own coordinator,
    rater, infusion physician and monitor, and one scheduled participant."""
    now = timezone.now() - timedelta(days=2)
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=10, seed=3)
    site_a = services.site_get_or_create_default()
    site_b = services.site_create(code="HSUR", name="Hospital del Sur")
    staff_b = {}
    for username, role in (
        ("coordinator_b", COORDINATOR),
        ("rater_b", RATER),
        ("physician_b", INFUSION_PHYSICIAN),
        ("monitor_b", MONITOR),
    ):
        user = make_user(username, role)
        services.user_set_sites(user=user, sites=[site_b], reason="site B staff", by=data_manager, now=now)
        staff_b[username] = _fresh(user)
    day1 = timezone.localdate()
    person_a = randomized(coordinator, now=now)
    infusion_services.schedule_set(participant=person_a, day1=day1, by=coordinator, now=now)
    person_b = _randomized_at(site_b, staff_b["coordinator_b"], now=now)
    infusion_services.schedule_set(participant=person_b, day1=day1, by=staff_b["coordinator_b"], now=now)
    return {"a": person_a, "b": person_b, "site_a": site_a, "site_b": site_b, **staff_b}


# --- the rule ----------------------------------------------------------------------------------


def test_site_staff_with_no_site_listed_work_at_the_protocols_site(trial, coordinator):  # type: ignore[no-untyped-def]
    assert visibility.sites_for(_fresh(coordinator)) == {trial["site_a"].pk}


def test_trial_wide_roles_with_no_site_listed_see_every_site(  # type: ignore[no-untyped-def]
    trial, data_manager, statistician, monitor, principal_investigator
):
    for user in (data_manager, statistician, monitor, principal_investigator):
        assert visibility.sites_for(_fresh(user)) is None


def test_a_monitor_with_sites_listed_sees_only_those(trial):  # type: ignore[no-untyped-def]
    assert visibility.sites_for(trial["monitor_b"]) == {trial["site_b"].pk}


# --- participant list and detail ---------------------------------------------------------------


def test_the_participant_list_of_a_site_b_coordinator_holds_only_site_b(trial, client_for):  # type: ignore[no-untyped-def]
    assert list(participant_list_for_user(trial["coordinator_b"])) == [trial["b"]]
    page = client_for(trial["coordinator_b"]).get(reverse("participants:list")).content.decode()
    assert trial["b"].code in page
    assert trial["a"].code not in page


def test_trial_wide_roles_list_both_sites(trial, data_manager, monitor, principal_investigator, client_for):  # type: ignore[no-untyped-def]
    for user in (data_manager, monitor, principal_investigator):
        page = client_for(user).get(reverse("participants:list")).content.decode()
        assert trial["a"].code in page and trial["b"].code in page, user


def test_another_sites_participant_answers_like_a_missing_one(trial, client_for):  # type: ignore[no-untyped-def]
    client = client_for(trial["coordinator_b"])
    missing = Participant.objects.order_by("-pk").first().pk + 100
    other = client.get(reverse("participants:detail", args=[trial["a"].pk]))
    absent = client.get(reverse("participants:detail", args=[missing]))
    assert other.status_code == absent.status_code == 404
    assert client.get(reverse("participants:detail", args=[trial["b"].pk])).status_code == 200
    assert client.get(reverse("participants:identity", args=[trial["a"].pk])).status_code == 404
    assert client.get(reverse("participants:identity", args=[trial["b"].pk])).status_code == 200


# --- rating task list, calendar --------------------------------------------------------------


def test_the_rating_task_list_of_a_site_b_rater_holds_only_site_b(trial, rater, client_for):  # type: ignore[no-untyped-def]
    now = timezone.now()
    assert {p.pk for p in task_list_participants(now=now, user=trial["rater_b"])} == {trial["b"].pk}
    assert {p.pk for p in task_list_participants(now=now, user=_fresh(rater))} == {trial["a"].pk}
    page = client_for(trial["rater_b"]).get(reverse("clinimetry:tasks")).content.decode()
    assert trial["a"].code not in page


def test_the_calendar_of_site_b_staff_holds_only_site_b(trial, data_manager, client_for):  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    for user in (trial["coordinator_b"], trial["physician_b"]):
        events = calendar_events(today, today + timedelta(days=7), now=timezone.now(), user=user)
        assert events and {e.participant.pk for e in events} == {trial["b"].pk}
    everyone = calendar_events(
        today, today + timedelta(days=7), now=timezone.now(), user=_fresh(data_manager)
    )
    assert {e.participant.pk for e in everyone} == {trial["a"].pk, trial["b"].pk}


# --- audit trail, queries ----------------------------------------------------------------------


def test_the_audit_trail_of_a_site_b_monitor_holds_nothing_of_site_a(trial, data_manager, client_for):  # type: ignore[no-untyped-def]
    url = reverse("audit_index")
    limited = client_for(trial["monitor_b"]).get(url, {"form": "participants.participant"}).content.decode()
    assert trial["b"].code in limited and trial["a"].code not in limited
    whole = client_for(data_manager).get(url, {"form": "participants.participant"}).content.decode()
    assert trial["a"].code in whole and trial["b"].code in whole
    record_a = reverse("audit_record", args=["participants.participant", trial["a"].pk])
    assert client_for(trial["monitor_b"]).get(record_a).status_code == 404
    assert client_for(data_manager).get(record_a).status_code == 200


def test_queries_on_site_a_are_not_in_a_site_b_worklist(trial, data_manager, client_for):  # type: ignore[no-untyped-def]
    from review.services import query_raise

    query = query_raise(
        by=data_manager,
        label="participants.participant",
        record_id=str(trial["a"].pk),
        field="height_cm",
        text="Height on the source?",
        now=timezone.now(),
    )
    limited = client_for(trial["monitor_b"])
    assert "Height on the source?" not in limited.get(reverse("review:queries")).content.decode()
    assert limited.get(reverse("review:query", args=[query.pk])).status_code == 404
    assert limited.get(reverse("review:casebook", args=[trial["a"].pk])).status_code == 404
    whole = client_for(data_manager)
    assert "Height on the source?" in whole.get(reverse("review:queries")).content.decode()
    assert whole.get(reverse("review:query", args=[query.pk])).status_code == 200


# --- screening ----------------------------------------------------------------------------------


def test_a_single_site_coordinator_screens_at_their_site_and_sees_only_its_log(trial, client_for):  # type: ignore[no-untyped-def]
    client = client_for(trial["coordinator_b"])
    page = client.get(reverse("participants:screening_list")).content.decode()
    assert trial["b"].screening.code in page and trial["a"].screening.code not in page
    response = client.post(reverse("participants:screening_list"), {"site": trial["site_b"].pk})
    assert response.status_code == 302
    assert ScreeningRecord.objects.order_by("-pk").first().site == trial["site_b"]
    other = client.get(reverse("participants:screening", args=[trial["a"].screening.pk]))
    assert other.status_code == 404


def test_a_screening_at_a_site_the_coordinator_does_not_work_at_is_refused(trial, client_for):  # type: ignore[no-untyped-def]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.screening_start(site=trial["site_a"], by=trial["coordinator_b"], now=timezone.now())
    response = client_for(trial["coordinator_b"]).post(
        reverse("participants:screening_list"), {"site": trial["site_a"].pk}
    )
    assert response.status_code == 400


# --- randomization stratum ---------------------------------------------------------------------


@pytest.fixture
def by_site(monkeypatch):  # type: ignore[no-untyped-def]
    from ketatrial import trial as trial_module

    monkeypatch.setattr(trial_module, "overrides", lambda: {"stratify_by_site": True})
    trial_module.protocol.cache_clear()
    yield
    monkeypatch.undo()
    trial_module.protocol.cache_clear()


def test_with_stratify_by_site_the_list_has_a_stratum_per_site_and_each_site_draws_from_its_own(  # type: ignore[no-untyped-def]
    by_site, coordinator, pharmacist, data_manager, make_user
):
    now = timezone.now()
    services.site_get_or_create_default()
    site_b = services.site_create(code="HSUR", name="Hospital del Sur")
    coordinator_b = make_user("coordinator_b", COORDINATOR)
    services.user_set_sites(user=coordinator_b, sites=[site_b], reason="site B", by=data_manager, now=now)
    made = allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=9)
    assert made.parameters["strata"] == ["HSUR", "INNN"]
    person_b = _randomized_at(site_b, _fresh(coordinator_b), now=now)
    person_a = randomized(coordinator, now=now)
    numbers = allocation.blinded_allocations([person_a, person_b])
    assert numbers[person_b.pk].randomization_number == "R-HSUR-001"
    assert numbers[person_a.pk].randomization_number == "R-INNN-001"


# --- the data manager's pages --------------------------------------------------------------------


def test_the_data_manager_adds_a_site_and_a_bad_code_keeps_what_was_typed(data_manager, client_for):  # type: ignore[no-untyped-def]
    client = client_for(data_manager)
    bad = client.post(reverse("participants:sites"), {"code": "x!", "name": "Hospital Norte"})
    assert bad.status_code == 400
    assert "2-8 capital letters or digits" in bad.content.decode()
    assert 'value="Hospital Norte"' in bad.content.decode()
    good = client.post(reverse("participants:sites"), {"code": "HNOR", "name": "Hospital Norte"})
    assert good.status_code == 302
    assert Site.objects.get(code="HNOR").name == "Hospital Norte"


def test_the_sites_pages_are_the_data_managers_only(coordinator, monitor, client_for):  # type: ignore[no-untyped-def]
    for user in (coordinator, monitor):
        assert client_for(user).get(reverse("participants:sites")).status_code in (403, 404)


def test_setting_an_accounts_sites_needs_a_reason_and_is_logged(trial, coordinator, data_manager, client_for):  # type: ignore[no-untyped-def]
    client = client_for(data_manager)
    url = reverse("participants:user_edit", args=[coordinator.pk])
    refused = client.post(url, {"sites-sites": [trial["site_b"].pk], "sites-reason": "", "save_sites": "1"})
    assert refused.status_code == 200
    assert visibility.sites_for(_fresh(coordinator)) == {trial["site_a"].pk}
    client.post(
        url, {"sites-sites": [trial["site_b"].pk], "sites-reason": "moved to site B", "save_sites": "1"}
    )
    assert visibility.sites_for(_fresh(coordinator)) == {trial["site_b"].pk}
    change = UserRoleChange.objects.filter(user=coordinator).first()
    assert change.sites == ["HSUR"] and change.reason == "moved to site B"
    assert [p.pk for p in participant_list_for_user(_fresh(coordinator))] == [trial["b"].pk]
