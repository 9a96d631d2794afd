"""Audit trail: reasons required, old and new values kept, audit tables append-only."""

import re
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


def test_a_record_the_reader_may_not_see_answers_like_one_that_does_not_exist(
    participant, coordinator, data_manager, client_for
) -> None:
    """The allocation's records (slots, preparations) are no one's audit page: the answer for an
    existing slot is the answer for a participant id that was never used, byte for byte."""
    from participants.models import AllocationList, AllocationSlot

    alloc = AllocationList.objects.create(
        method="generated",
        parameters={},
        checksum="x",
        created_at=participant.enrolled_at,
        created_by=coordinator,
    )
    slot = AllocationSlot.objects.create(
        allocation_list=alloc, sequence_no=1, block_no=1, block_size=4, sequence="KP", kit_code="K1"
    )
    client = client_for(data_manager)
    urls = [
        reverse("audit_record", args=["participants.allocationslot", slot.pk]),
        reverse("audit_record", args=["participants.participant", 987654]),
    ]
    hidden, missing = (client.get(url) for url in urls)
    assert hidden.status_code == missing.status_code == 404

    def page(response, url):  # type: ignore[no-untyped-def]  # the asked URL and CSRF token aside
        html = response.content.decode().replace(url, "URL")
        return re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", html)

    assert page(hidden, urls[0]) == page(missing, urls[1])


def test_the_monitor_and_the_pi_read_the_history_of_what_they_may_see(
    participant, coordinator, monitor, principal_investigator, rater, statistician, client_for
) -> None:
    services.participant_update(
        participant=participant, by=coordinator, reason="Scale recalibrated", height_cm=Decimal("171.5")
    )
    url = reverse("audit_record", args=["participants.participant", participant.pk])
    for reader in (monitor, principal_investigator):
        page = client_for(reader).get(url)
        assert page.status_code == 200 and "Scale recalibrated" in page.content.decode(), reader
    assert client_for(rater).get(url).status_code == 403
    assert client_for(statistician).get(url).status_code == 403


def test_a_history_shows_only_the_fields_the_reader_may_see_of_the_live_record(monkeypatch) -> None:
    from django.contrib.auth.models import AnonymousUser

    """Field by field: a field of another kind than its record's (planted here on the participant
    record as allocation data) disappears from every history entry, old and new values alike."""
    from participants.allocation import visibility

    names = ["site", "status", "height_cm"]
    assert visibility.visible_fields(AnonymousUser(), "participants.participant", names) == names
    monkeypatch.setitem(visibility.FIELD_KINDS, "participants.participant", {"status": visibility.ALLOCATION})
    assert visibility.visible_fields(AnonymousUser(), "participants.participant", names) == [
        "site",
        "height_cm",
    ]
    assert "stored_path" not in visibility.visible_fields(
        None, "spectroscopy.mrsupload", ["participant", "stored_path", "sha256"]
    )


@pytest.mark.django_db
def test_a_planted_hidden_field_leaves_the_history_page(
    participant, coordinator, data_manager, client_for, monkeypatch
) -> None:
    from participants.allocation import visibility

    services.participant_update(
        participant=participant, by=coordinator, reason="Scale recalibrated", height_cm=Decimal("171.5")
    )
    url = reverse("audit_record", args=["participants.participant", participant.pk])
    assert "171.5" in client_for(data_manager).get(url).content.decode()
    monkeypatch.setitem(
        visibility.FIELD_KINDS, "participants.participant", {"height_cm": visibility.ALLOCATION}
    )
    html = client_for(data_manager).get(url).content.decode()
    assert "171.5" not in html and "170.0" not in html and "Scale recalibrated" in html


def test_a_reason_longer_than_100_characters_is_kept_whole(participant, coordinator) -> None:
    """django-simple-history's reason column held 100 characters (PostgreSQL refused a longer
    reason, and the correction with it); the reason is a text column now."""
    reason = "Scale recalibrated after the annual service; " * 8
    services.participant_update(
        participant=participant, by=coordinator, reason=reason, height_cm=Decimal("171.5")
    )
    assert participant.history.order_by("-history_id").first().history_change_reason == reason.strip()
