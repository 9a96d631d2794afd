"""Audit trail: reasons required, old and new values kept, audit tables append-only."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from ketatrial.audit import ReasonRequired, audit_entries
from participants import services
from participants.models import Participant
from tests.conftest import on_postgres
from tests.factories import enrolled


def test_a_change_without_a_reason_is_refused(participant, coordinator) -> None:
    with pytest.raises(ReasonRequired):
        services.participant_update(
            participant=participant, by=coordinator, reason="  ", baseline_weight_kg=Decimal("71.0")
        )
    participant.refresh_from_db()
    assert participant.baseline_weight_kg == Decimal("70.0")
    assert participant.history.count() == 1


def test_a_direct_save_of_a_saved_record_without_reason_is_refused(participant) -> None:
    fresh = Participant.objects.get(pk=participant.pk)
    fresh.baseline_weight_kg = Decimal("80.0")
    with pytest.raises(ReasonRequired):
        fresh.save()


def test_a_change_with_a_reason_keeps_old_and_new_values_user_and_time(participant, coordinator) -> None:
    services.participant_update(
        participant=participant, by=coordinator, reason="Re-weighed", baseline_weight_kg=Decimal("68.5")
    )
    entries = audit_entries(participant)
    assert [e.action for e in entries] == ["created", "changed"]
    change = entries[-1]
    assert change.user == "coordinator"
    assert change.reason == "Re-weighed"
    assert change.when is not None and change.when >= entries[0].when
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("baseline weight (kg)", Decimal("70.0"), Decimal("68.5"))
    ]


def test_an_invalid_correction_is_refused_and_nothing_is_written(participant, coordinator) -> None:
    with pytest.raises(ValidationError):
        services.participant_update(
            participant=participant, by=coordinator, reason="typo", baseline_weight_kg=Decimal("5")
        )
    assert participant.history.count() == 1


def test_the_history_page_shows_the_change_to_the_data_manager(
    participant, coordinator, data_manager, client_for
) -> None:
    services.participant_update(
        participant=participant, by=coordinator, reason="Scale recalibrated", height_cm=Decimal("171.5")
    )
    page = client_for(data_manager).get(
        reverse("audit_record", args=["participants.participant", participant.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Scale recalibrated" in html and "170.0" in html and "171.5" in html and "coordinator" in html


def test_the_audit_pages_are_not_open_to_other_roles(participant, coordinator, client_for) -> None:
    url = reverse("audit_record", args=["participants.participant", participant.pk])
    assert client_for(coordinator).get(url).status_code == 403


def test_the_history_of_an_unknown_model_is_not_found(data_manager, client_for) -> None:
    url = reverse("audit_record", args=["auth.user", data_manager.pk])
    assert client_for(data_manager).get(url).status_code == 404


def test_the_edit_form_without_reason_keeps_what_was_typed(participant, coordinator, client_for) -> None:
    url = reverse("participants:edit", args=[participant.pk])
    response = client_for(coordinator).post(
        url, {"baseline_weight_kg": "72.3", "height_cm": "170.0", "reason": ""}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="72.3"' in html
    assert "This field is required" in html
    participant.refresh_from_db()
    assert participant.baseline_weight_kg == Decimal("70.0")


def test_the_edit_form_with_reason_saves_and_audits(participant, coordinator, client_for) -> None:
    url = reverse("participants:edit", args=[participant.pk])
    response = client_for(coordinator).post(
        url, {"baseline_weight_kg": "72.3", "height_cm": "170.0", "reason": "Measured again"}
    )
    assert response.status_code == 302
    assert participant.history.first().history_change_reason == "Measured again"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE participants_historicalparticipant SET history_change_reason = 'rewritten'",
        "DELETE FROM participants_historicalparticipant",
        "UPDATE participants_userrolechange SET reason = 'rewritten'",
        "DELETE FROM participants_userrolechange",
    ],
)
def test_sql_update_or_delete_on_an_audit_table_fails_on_postgresql(statement, make_user) -> None:
    if not on_postgres():
        pytest.skip("the trigger is PostgreSQL's; set DATABASE_URL to a PostgreSQL database")
    enrolled(make_user("coordinator", "coordinator"))
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM participants_historicalparticipant WHERE history_change_reason = 'rewritten'"
        )
        assert cursor.fetchone()[0] == 0


def test_a_reason_covers_one_write_only(participant, coordinator) -> None:
    updated = services.participant_update(
        participant=participant, by=coordinator, reason="Re-weighed", baseline_weight_kg=Decimal("69.0")
    )
    updated.height_cm = Decimal("171.0")
    with pytest.raises(ReasonRequired):
        updated.save()
