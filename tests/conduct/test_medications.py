"""Prior treatments and concomitant medication: audited, corrected with a reason, a new
antidepressant after randomization recorded once on the relapse path, and seen only by the roles
the visibility rule lets see medications."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinimetry.models import RelapseEvent
from conduct import services
from conduct.models import ConcomitantMedication, PriorTreatment
from participants import allocation
from tests.factories import enrolled, randomized

MX = ZoneInfo("America/Mexico_City")
RANDOMIZED = datetime(2026, 3, 2, 10, 0, tzinfo=MX)
LATER = RANDOMIZED + timedelta(days=20)


def _values(**changes: object) -> dict[str, object]:
    return {
        "name": "Sertraline",
        "drug_class": "antidepressant",
        "dose": Decimal("50"),
        "unit": "mg",
        "route": "oral",
        "started_on": date(2026, 3, 10),
        "stopped_on": None,
        "indication": "depression",
        **changes,
    }


@pytest.fixture
def person(coordinator, pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    allocation.allocation_list_generate(by=pharmacist, now=RANDOMIZED, n_per_stratum=4, seed=3)
    return randomized(coordinator, now=RANDOMIZED)


def test_a_new_antidepressant_after_randomization_is_a_relapse_event_on_its_start_day(
    person, coordinator
) -> None:
    med = services.medication_add(participant=person, values=_values(), by=coordinator, now=LATER)
    event = RelapseEvent.objects.get(participant=person)
    assert event.kind == RelapseEvent.Kind.NEW_TREATMENT
    assert event.occurred_at == datetime(2026, 3, 10, tzinfo=MX)
    assert "Sertraline" in event.note
    assert ConcomitantMedication.objects.get(pk=med.pk).relapse_event == event
    # A later correction keeps the one event.
    services.medication_update(
        medication=med, values=_values(dose=Decimal("100")), reason="dose titrated", by=coordinator, now=LATER
    )
    assert RelapseEvent.objects.filter(participant=person).count() == 1


def test_an_antidepressant_from_before_randomization_or_another_class_is_no_relapse_event(
    person, coordinator
) -> None:
    services.medication_add(
        participant=person, values=_values(started_on=date(2026, 1, 5)), by=coordinator, now=LATER
    )
    services.medication_add(
        participant=person, values=_values(started_on=date(2026, 3, 2)), by=coordinator, now=LATER
    )
    other = services.medication_add(
        participant=person,
        values=_values(name="Zolpidem", drug_class="anxiolytic_hypnotic"),
        by=coordinator,
        now=LATER,
    )
    assert not RelapseEvent.objects.filter(participant=person).exists()
    # Corrected to an antidepressant, it becomes one.
    services.medication_update(
        medication=other,
        values=_values(name="Trazodone"),
        reason="class entered wrongly",
        by=coordinator,
        now=LATER,
    )
    assert RelapseEvent.objects.get(participant=person).medication == other


def test_no_relapse_event_for_a_participant_not_yet_randomized(coordinator) -> None:
    person = enrolled(coordinator, now=RANDOMIZED)
    services.medication_add(participant=person, values=_values(), by=coordinator, now=LATER)
    assert not RelapseEvent.objects.exists()


def test_it_refuses_a_stop_before_the_start_and_a_start_in_the_future(person, coordinator) -> None:
    with pytest.raises(ValidationError) as stop:
        services.medication_add(
            participant=person, values=_values(stopped_on=date(2026, 3, 1)), by=coordinator, now=LATER
        )
    assert "stopped_on" in stop.value.message_dict
    with pytest.raises(ValidationError) as start:
        services.medication_add(
            participant=person, values=_values(started_on=date(2026, 4, 1)), by=coordinator, now=LATER
        )
    assert "started_on" in start.value.message_dict


def test_an_adequate_trial_without_response_counts_toward_treatment_resistance(person, coordinator) -> None:
    base = {
        "treatment": "Escitalopram",
        "dose": "20 mg/day",
        "started_on": date(2025, 6, 1),
        "stopped_on": date(2025, 9, 1),
        "adequate": True,
        "duration_weeks": 12,
        "dose_adequate": True,
        "response": "none",
    }
    failed = services.prior_treatment_add(participant=person, values=base, by=coordinator, now=LATER)
    partial_dose = services.prior_treatment_add(
        participant=person, values={**base, "dose_adequate": False}, by=coordinator, now=LATER
    )
    assert failed.counts_as_failed and not partial_dose.counts_as_failed
    with pytest.raises(ValidationError) as missing:
        services.prior_treatment_add(
            participant=person, values={**base, "duration_weeks": None}, by=coordinator, now=LATER
        )
    assert "duration_weeks" in missing.value.message_dict


def test_the_page_adds_and_corrects_with_a_reason_kept_in_the_audit_trail(
    person, coordinator, client_for
) -> None:
    client = client_for(coordinator)
    page = reverse("conduct:medications", args=[person.pk])
    assert client.get(page).status_code == 200
    post = {
        "name": "Lorazepam",
        "drug_class": "anxiolytic_hypnotic",
        "dose": "1",
        "unit": "mg",
        "route": "oral",
        "started_on": "2026-03-05",
        "stopped_on": "",
        "indication": "insomnia",
    }
    assert client.post(reverse("conduct:medication_add", args=[person.pk]), post).status_code == 302
    med = ConcomitantMedication.objects.get(participant=person)
    edit = reverse("conduct:medication_edit", args=[med.pk])
    refused = client.post(edit, {**post, "dose": "2", "reason": ""})
    assert refused.status_code == 400
    assert 'value="2"' in refused.content.decode()  # what was typed is kept
    assert client.post(edit, {**post, "dose": "2", "reason": "dose doubled"}).status_code == 302
    med.refresh_from_db()
    assert med.dose == Decimal("2")
    assert med.history.first().history_change_reason == "dose doubled"
    assert "Lorazepam" in client.get(page).content.decode()


def test_only_the_roles_that_see_medications_reach_them(person, coordinator, client_for, make_user) -> None:
    med = services.medication_add(
        participant=person, values=_values(drug_class="analgesic"), by=coordinator, now=LATER
    )
    treatment = services.prior_treatment_add(
        participant=person,
        values={
            "treatment": "Venlafaxine",
            "dose": "",
            "started_on": date(2025, 1, 1),
            "stopped_on": None,
            "adequate": False,
            "duration_weeks": None,
            "dose_adequate": False,
            "response": "unknown",
        },
        by=coordinator,
        now=LATER,
    )
    pages = [
        reverse("conduct:medications", args=[person.pk]),
        reverse("conduct:medication_edit", args=[med.pk]),
        reverse("conduct:prior_treatment_edit", args=[treatment.pk]),
    ]
    expected = {"rater": 403, "statistician": 403, "pharmacist": 404, "monitor": 200, "data_manager": 200}
    for role, status in expected.items():
        client = client_for(make_user(f"{role}_x", role))
        assert client.get(pages[0]).status_code == status, role
    monitor = client_for(make_user("monitor_y", "monitor"))
    assert monitor.get(pages[1]).status_code == 403  # reads, never writes
    missing = reverse("conduct:medication_edit", args=[med.pk + 100])
    assert client_for(coordinator).get(missing).status_code == 404
    assert PriorTreatment.objects.count() == 1
