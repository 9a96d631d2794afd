"""The unblinded pharmacist's management of the allocation list (issue 14, item 6): every upload
answered with a clear message, replacing an unused list on purpose, the protocol's strata only,
the whole list downloadable, used and free slots by stratum and sequence, kits out of use and
their replacements, and a randomization that checks the list's checksum every time."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
from collections.abc import Callable, Iterator

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from participants import allocation
from participants.models import (
    AllocationKit,
    AllocationList,
    AllocationListReplacement,
    AllocationSlot,
    Participant,
)
from participants.randomization import CSV_COLUMNS, Row, checksum, generate_blocks, rows_to_csv
from tests.conftest import on_postgres
from tests.factories import baseline_rated, enrolled, randomized

HEADER = ",".join(CSV_COLUMNS)
GOOD = f"{HEADER}\n,1,1,2,KP,NEW001\n,2,1,2,PK,NEW002\n,3,2,2,PK,NEW003\n,4,2,2,KP,NEW004\n"


@pytest.fixture
def unblinded(pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    return pharmacist


@pytest.fixture
def generated(unblinded):  # type: ignore[no-untyped-def]
    return allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=6, seed=7)


@pytest.fixture
def strata(monkeypatch) -> Iterator[Callable[[list[str]], None]]:  # type: ignore[no-untyped-def]
    """Put the protocol's strata in force, as an overrides file would."""
    from ketatrial import trial

    def use(names: list[str]) -> None:
        monkeypatch.setattr(trial, "overrides", lambda: {"strata": names})
        trial.protocol.cache_clear()

    yield use
    monkeypatch.undo()
    trial.protocol.cache_clear()


def _upload(client, content: bytes, **data: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("participants:list_upload"),
        {"csv_file": SimpleUploadedFile("list.csv", content, content_type="text/csv"), **data},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _page(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def _stored() -> tuple[list[tuple[int, bool, str]], int, int]:
    return (
        list(AllocationList.objects.order_by("pk").values_list("pk", "active", "checksum")),
        AllocationSlot.objects.count(),
        AllocationListReplacement.objects.count(),
    )


def _stored_kit_codes() -> str:
    """A valid list whose kit codes are those of the list already stored."""
    rows = [
        Row(s.stratum, s.sequence_no, s.block_no, s.block_size, s.sequence, s.kit_code)
        for s in AllocationSlot.objects.all()
    ]
    return rows_to_csv(rows)


REPLACE = {"replace": "on", "replace_reason": "the statistician sent a corrected list"}
FIFTY_MB = 50 * 1024 * 1024

# (case id, needs a stored list first, file content or a callable giving it, form data, message)
FUZZ = [
    ("kit codes already stored", True, lambda: _stored_kit_codes().encode(), REPLACE, "already stored"),
    (
        "kit codes already stored, not replacing",
        True,
        lambda: _stored_kit_codes().encode(),
        {},
        "To replace it, tick",
    ),
    (
        "a second list without ticking replace",
        True,
        GOOD.encode(),
        {},
        "is active (4 slots, nobody randomized yet)",
    ),
    ("replace ticked without a reason", True, GOOD.encode(), {"replace": "on"}, "Give the reason"),
    ("duplicate rows", False, (GOOD + ",4,2,2,KP,NEW004\n").encode(), {}, "kit code NEW004 appears 2 times"),
    ("duplicate sequence number", False, GOOD.replace(",4,2,2,KP", ",3,2,2,KP").encode(), {}, "appears 2"),
    (
        "an unknown stratum",
        False,
        GOOD.replace("\n,", "\nX,").encode(),
        {},
        "unknown stratum 'X' (the protocol's strata: none)",
    ),
    ("a missing column", False, GOOD.replace(",kit_code", "").encode(), {}, "missing column(s): kit_code"),
    (
        "an extra column",
        False,
        GOOD.replace("kit_code\n", "kit_code,note\n").replace("\n,", "\n,").encode(),
        {},
        "unexpected column(s): note",
    ),
    (
        "a repeated column",
        False,
        GOOD.replace("stratum,", "stratum,stratum,").encode(),
        {},
        "repeated column",
    ),
    ("a row with an extra value", False, (GOOD + ",5,3,2,KP,NEW005,x\n").encode(), {}, "7 values for 6"),
    ("a block out of balance", False, GOOD.replace(",2,1,2,PK", ",2,1,2,KP").encode(), {}, "unbalanced KP=2"),
    ("a block size that is not its rows", False, GOOD.replace(",1,1,2,", ",1,1,4,").encode(), {}, "size"),
    ("an empty file", False, b"", {}, "The submitted file is empty"),
    ("a header only", False, f"{HEADER}\n".encode(), {}, "the list is empty"),
    ("blank lines only", False, b"\n\n \n", {}, "the file is empty"),
    ("a non-UTF-8 file", False, GOOD.replace("NEW001", "NÉW001").encode("latin-1"), {}, "not UTF-8"),
    ("a UTF-16 file", False, GOOD.encode("utf-16"), {}, "not UTF-8"),
    ("a binary file", False, bytes(range(256)) * 10, {}, "not UTF-8"),
    ("a 50 MB file", False, lambda: GOOD.encode() + b"x" * FIFTY_MB, {}, "at most 2 MB"),
    ("a kit code longer than its column", False, GOOD.replace("NEW001", "K" * 25).encode(), {}, "1-20"),
    ("a kit code with a NUL", False, GOOD.replace("NEW001", "NEW\x00001").encode(), {}, "kit code"),
    ("a formula as kit code", False, GOOD.replace("NEW001", "=HYPERLINK(1)").encode(), {}, "kit code"),
    ("a quote left open", False, GOOD.replace(",NEW002", ',"NEW002').encode(), {}, "not a readable CSV"),
    ("a field past the csv limit", False, GOOD.replace("NEW002", "N" * 200_000).encode(), {}, "readable CSV"),
    ("a negative number", False, GOOD.replace(",1,1,2,", ",-1,1,2,").encode(), {}, "whole numbers"),
    ("a huge number", False, GOOD.replace(",1,1,2,", ",99999999999,1,2,").encode(), {}, "whole numbers"),
    ("block number 0", False, GOOD.replace(",1,1,2,", ",1,0,2,").encode(), {}, "1 or more"),
    ("an unknown sequence", False, GOOD.replace(",KP,", ",KK,").encode(), {}, "unknown sequence 'KK'"),
    ("semicolons instead of commas", False, GOOD.replace(",", ";").encode(), {}, "missing column"),
    (
        "old Mac line ends, unbalanced",
        False,
        GOOD.replace("\n", "\r").replace(",PK,", ",KP,").encode(),
        {},
        "unbalanced",
    ),
]


@pytest.mark.parametrize(
    ("needs_list", "content", "data", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in FUZZ],
)
def test_every_upload_in_the_fuzz_set_gets_a_clear_message_never_a_500_and_stores_nothing(
    unblinded, client_for, needs_list, content, data, message
) -> None:
    if needs_list:
        allocation.allocation_list_upload(by=unblinded, now=timezone.now(), text=GOOD, filename="first.csv")
    before = _stored()
    response = _upload(client_for(unblinded), content() if callable(content) else content, **data)
    assert response.status_code == 400
    page = _page(response)
    assert message in page
    assert _stored() == before
    assert len(response.content) < 200_000  # the upload is not echoed back


def test_an_upload_reuses_no_kit_code_of_a_replaced_list(unblinded, client_for) -> None:
    allocation.allocation_list_upload(by=unblinded, now=timezone.now(), text=GOOD, filename="a.csv")
    second = GOOD.replace("NEW", "TWO")
    allocation.allocation_list_upload(
        by=unblinded, now=timezone.now(), text=second, filename="b.csv", replace_reason="typo in a.csv"
    )
    before = _stored()
    response = _upload(client_for(unblinded), GOOD.encode(), **REPLACE)
    assert response.status_code == 400
    assert "4 kit code(s) of this list are already stored (NEW001, NEW002, NEW003, NEW004)" in _page(response)
    assert _stored() == before


def test_a_list_with_the_protocols_strata_is_imported_and_one_with_others_is_refused(
    unblinded, client_for, strata
) -> None:
    strata(["A", "B"])
    rows = generate_blocks(n_per_stratum=4, strata=("A", "B"), seed=4)
    client = client_for(unblinded)
    only_a = rows_to_csv([r for r in rows if r.stratum == "A"]).encode()
    response = _upload(client, only_a)
    assert response.status_code == 400 and "stratum 'B' of the protocol has no rows" in _page(response)
    other = rows_to_csv([dataclasses.replace(r, stratum="C") if r.stratum == "B" else r for r in rows])
    response = _upload(client, other.encode())
    assert "unknown stratum 'C' (the protocol's strata: 'A', 'B')" in _page(response)
    unstratified = rows_to_csv(generate_blocks(n_per_stratum=4, seed=4)).encode()
    assert "unknown stratum (none)" in _page(_upload(client, unstratified))
    assert not AllocationList.objects.exists()
    assert _upload(client, rows_to_csv(rows).encode()).status_code == 302
    assert AllocationSlot.objects.count() == len(rows)


def test_a_generated_list_takes_the_protocols_strata_and_others_are_refused(unblinded, strata) -> None:
    strata(["A", "B"])
    with pytest.raises(ValidationError, match="unknown stratum 'C'"):
        allocation.allocation_list_generate(
            by=unblinded, now=timezone.now(), n_per_stratum=4, strata=("A", "C"), seed=1
        )
    made = allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=4, seed=1)
    assert set(made.slots.values_list("stratum", flat=True)) == {"A", "B"}


def test_a_new_list_does_not_silently_replace_the_active_one(generated, unblinded) -> None:
    with pytest.raises(ValidationError, match="To replace it, tick"):
        allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=4, seed=2)
    with pytest.raises(ValidationError, match="To replace it, tick"):
        allocation.allocation_list_upload(by=unblinded, now=timezone.now(), text=GOOD, filename="x.csv")
    assert AllocationList.objects.get(active=True) == generated
    assert AllocationList.objects.count() == 1


def test_an_unused_list_is_replaced_with_a_reason_kept_in_the_audit_trail(
    generated, unblinded, client_for
) -> None:
    response = _upload(client_for(unblinded), GOOD.encode(), **REPLACE)
    assert response.status_code == 302
    new = AllocationList.objects.get(active=True)
    assert new != generated and not AllocationList.objects.get(pk=generated.pk).active
    record = AllocationListReplacement.objects.get()
    assert (record.replaced, record.replacement, record.reason) == (
        generated,
        new,
        "the statistician sent a corrected list",
    )
    history = record.history.get()
    assert history.history_user == unblinded
    assert "the statistician sent a corrected list" in history.history_change_reason
    assert new.parameters["replaces_list"] == generated.pk
    assert "replace_reason" in allocation.allocation_list_parameters_csv(unblinded, new)


def test_a_used_list_is_not_replaced_even_with_a_reason(generated, unblinded, coordinator) -> None:
    randomized(coordinator)
    with pytest.raises(ValidationError, match="in use"):
        allocation.allocation_list_upload(
            by=unblinded, now=timezone.now(), text=GOOD, filename="x.csv", replace_reason="better list"
        )
    assert AllocationList.objects.get(active=True) == generated


def test_a_long_replacement_reason_is_kept_whole_on_the_record(generated, unblinded) -> None:
    reason = "the block sizes were wrong; " * 15
    allocation.allocation_list_upload(
        by=unblinded, now=timezone.now(), text=GOOD, filename="x.csv", replace_reason=reason
    )
    record = AllocationListReplacement.objects.get()
    assert record.reason == reason.strip()
    assert len(record.history.get().history_change_reason) <= 100


def _rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_whole_list_downloads_with_its_checksum_columns_and_who_took_each_slot(
    generated, unblinded, coordinator, client_for
) -> None:
    person = randomized(coordinator)
    response = client_for(unblinded).get(reverse("participants:list_download", args=[generated.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="allocation-list-{generated.pk}.csv"'
    rows = _rows_of(response.content.decode())
    assert len(rows) == generated.slots.count()
    as_stored = [
        Row(
            r["stratum"],
            int(r["sequence_no"]),
            int(r["block_no"]),
            int(r["block_size"]),
            r["sequence"],
            r["kit_code"],
        )
        for r in rows
    ]
    assert checksum(as_stored) == generated.checksum
    taken = [r for r in rows if r["participant"]]
    assert [(r["participant"], r["randomization_number"]) for r in taken] == [(person.code, "R-001")]
    assert {r["current_kit_available"] for r in rows} == {"yes"}


@pytest.mark.parametrize("who", ["coordinator", "data_manager", "principal_investigator", "not_listed"])
def test_nobody_but_the_unblinded_pharmacist_downloads_the_list_or_touches_kits(
    generated, make_user, client_for, settings, who
) -> None:
    user = make_user("other_pharmacist", "pharmacist") if who == "not_listed" else make_user(who, who)
    client = client_for(user)
    slot = generated.slots.first()
    for response in (
        client.get(reverse("participants:list_download", args=[generated.pk])),
        client.post(
            reverse("participants:kit_unavailable"),
            {"unavailable-kit_code": slot.kit_code, "unavailable-reason": "dropped"},
        ),
        client.post(
            reverse("participants:kit_replace"),
            {"replace-kit_code": slot.kit_code, "replace-new_kit_code": "NEWKIT", "replace-reason": "x"},
        ),
    ):
        assert response.status_code in (403, 404)
    assert not AllocationSlot.objects.filter(kit_unavailable_at__isnull=False).exists()
    assert not AllocationKit.objects.exists()


def test_used_and_free_slots_are_counted_by_stratum_and_sequence(
    generated, unblinded, coordinator, client_for
) -> None:
    person = randomized(coordinator)
    taken = AllocationSlot.objects.get(participant=person).sequence
    counts = {c.sequence: c for c in allocation.allocation_list_counts(unblinded, generated)}
    total = {seq: generated.slots.filter(sequence=seq).count() for seq in ("KP", "PK")}
    for seq in ("KP", "PK"):
        used = 1 if seq == taken else 0
        assert (counts[seq].total, counts[seq].used, counts[seq].free) == (
            total[seq],
            used,
            total[seq] - used,
        )
    page = _page(client_for(unblinded).get(reverse("participants:pharmacy"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Slots by stratum and sequence" in page and "Download the full list (CSV)" in page


def _next_free_slot() -> AllocationSlot:
    return AllocationSlot.objects.filter(participant=None).order_by("sequence_no").first()  # type: ignore[return-value]


def test_a_damaged_kit_keeps_its_slot_and_randomization_waits_for_the_replacement(
    generated, unblinded, coordinator, client_for
) -> None:
    slot = _next_free_slot()
    client = client_for(unblinded)
    response = client.post(
        reverse("participants:kit_unavailable"),
        {"unavailable-kit_code": slot.kit_code, "unavailable-reason": "vial cracked in transport"},
    )
    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.kit_unavailable_reason == "vial cracked in transport"
    assert "vial cracked in transport" in slot.history.first().history_change_reason
    assert slot.history.first().history_user == unblinded

    person = enrolled(coordinator)
    baseline_rated(person)
    with pytest.raises(ValidationError, match="out of use .* no replacement yet"):
        allocation.participant_randomize(participant=person, by=coordinator, now=timezone.now())
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()  # no slot was skipped
    counts = allocation.allocation_list_counts(unblinded, generated)
    assert sum(c.free_kit_out_of_use for c in counts) == 1

    response = client.post(
        reverse("participants:kit_replace"),
        {
            "replace-kit_code": slot.kit_code,
            "replace-new_kit_code": "RPL-0001",
            "replace-reason": "new kit from stock",
        },
    )
    assert response.status_code == 302
    kit = AllocationKit.objects.get()
    assert (kit.slot, kit.kit_code, kit.added_by) == (slot, "RPL-0001", unblinded)
    assert "new kit from stock" in kit.history.get().history_change_reason

    result = allocation.participant_randomize(participant=person, by=coordinator, now=timezone.now())
    assert AllocationSlot.objects.get(participant=person) == slot  # the same slot, the same sequence
    assert (result.randomization_number, result.kit_code) == ("R-001", "RPL-0001")
    assert allocation.blinded_allocation(Participant.objects.get(pk=person.pk)).kit_code == "RPL-0001"


def test_a_randomized_participants_lost_kit_is_replaced_and_the_blinded_team_sees_the_new_code(
    generated, unblinded, coordinator
) -> None:
    person = randomized(coordinator)
    slot = AllocationSlot.objects.get(participant=person)
    sequence = slot.sequence
    allocation.kit_mark_unavailable(kit_code=slot.kit_code, reason="lost", by=unblinded, now=timezone.now())
    allocation.kit_replace(
        kit_code=slot.kit_code, new_kit_code="RPL-0002", reason="lost", by=unblinded, now=timezone.now()
    )
    # A replacement kit can itself be lost and replaced: the slot's kit is the newest one.
    allocation.kit_mark_unavailable(kit_code="RPL-0002", reason="dropped", by=unblinded, now=timezone.now())
    kit = allocation.kit_replace(
        kit_code="RPL-0002", new_kit_code="RPL-0003", reason="dropped", by=unblinded, now=timezone.now()
    )
    assert kit.code == "RPL-0003" and kit.available
    assert kit.out_of_use == ((slot.kit_code, "lost"), ("RPL-0002", "dropped"))
    assert allocation.blinded_allocation(person).kit_code == "RPL-0003"
    slot.refresh_from_db()
    assert (slot.participant, slot.sequence) == (person, sequence)
    assert allocation.allocation_list_verify(generated)  # the list as stored is untouched
    row = next(r for r in _rows_of(allocation.allocation_list_csv(unblinded, generated)) if r["participant"])
    assert (row["kit_code"], row["current_kit_code"]) == (slot.kit_code, "RPL-0003")
    assert row["kits_out_of_use"] == f"{slot.kit_code}: lost; RPL-0002: dropped"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("replace an available kit", "still in use: mark it out of use"),
        ("mark twice", "already out of use"),
        ("an unknown kit", "is not a kit of the active allocation list"),
        ("a stored code as replacement", "already stored"),
        ("a replacement code with a space", "The new kit code cannot be used"),
        ("no reason", "This field is required"),
        ("an old kit of a replaced slot", "was already replaced by kit"),
    ],
)
def test_a_kit_action_that_cannot_be_done_says_why_and_changes_nothing(
    generated, unblinded, client_for, step, message
) -> None:
    first, second = AllocationSlot.objects.order_by("sequence_no")[:2]
    if step in ("mark twice", "a stored code as replacement", "a replacement code with a space"):
        allocation.kit_mark_unavailable(kit_code=first.kit_code, reason="r", by=unblinded, now=timezone.now())
    if step == "an old kit of a replaced slot":
        allocation.kit_mark_unavailable(kit_code=first.kit_code, reason="r", by=unblinded, now=timezone.now())
        allocation.kit_replace(
            kit_code=first.kit_code, new_kit_code="RPL-1", reason="r", by=unblinded, now=timezone.now()
        )
    before = (
        list(AllocationSlot.objects.values_list("kit_unavailable_at", flat=True)),
        list(AllocationKit.objects.values_list("kit_code", "unavailable_at")),
    )
    url, data = {
        "replace an available kit": (
            "kit_replace",
            {"kit_code": first.kit_code, "new_kit_code": "N1", "reason": "r"},
        ),
        "mark twice": ("kit_unavailable", {"kit_code": first.kit_code, "reason": "r"}),
        "an unknown kit": ("kit_unavailable", {"kit_code": "NOSUCH", "reason": "r"}),
        "a stored code as replacement": (
            "kit_replace",
            {"kit_code": first.kit_code, "new_kit_code": second.kit_code, "reason": "r"},
        ),
        "a replacement code with a space": (
            "kit_replace",
            {"kit_code": first.kit_code, "new_kit_code": "N 1", "reason": "r"},
        ),
        "no reason": ("kit_unavailable", {"kit_code": first.kit_code, "reason": ""}),
        "an old kit of a replaced slot": ("kit_unavailable", {"kit_code": first.kit_code, "reason": "r"}),
    }[step]
    prefix = "unavailable" if url == "kit_unavailable" else "replace"
    response = client_for(unblinded).post(
        reverse(f"participants:{url}"),
        {f"{prefix}-{k}": v for k, v in data.items()},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert message in _page(response)
    after = (
        list(AllocationSlot.objects.values_list("kit_unavailable_at", flat=True)),
        list(AllocationKit.objects.values_list("kit_code", "unavailable_at")),
    )
    assert after == before


def _raw_sql_on_slot(statement: str, params: list[object]) -> None:
    """Change a slot behind the application's back. On PostgreSQL the slot trigger refuses it, so
    this plays a database superuser who switches triggers off first (what the checksum is for)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(statement, params)
        if on_postgres():
            cursor.execute("SET session_replication_role = DEFAULT")


def test_randomization_is_refused_when_a_slots_sequence_was_changed_behind_the_applications_back(
    generated, coordinator, client_for
) -> None:
    first = randomized(coordinator)
    slot = _next_free_slot()
    flipped = "PK" if slot.sequence == "KP" else "KP"
    _raw_sql_on_slot("UPDATE participants_allocationslot SET sequence = %s WHERE id = %s", [flipped, slot.pk])
    assert not allocation.allocation_list_verify(generated)

    person = enrolled(coordinator)
    baseline_rated(person)
    with pytest.raises(ValidationError, match="no longer matches the checksum"):
        allocation.participant_randomize(participant=person, by=coordinator, now=timezone.now())
    response = client_for(coordinator).post(
        reverse("participants:randomize", args=[person.pk]),
        {"confirm": "on", "participant_code": person.code},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Randomization refused: the allocation list no longer matches the checksum" in _page(response)
    assert list(
        AllocationSlot.objects.filter(participant__isnull=False).values_list("participant", flat=True)
    ) == [first.pk]
    assert Participant.objects.get(pk=person.pk).status == Participant.Status.ENROLLED


def test_randomization_is_refused_when_a_slots_kit_code_was_rewritten_behind_the_applications_back(
    generated, coordinator
) -> None:
    _raw_sql_on_slot(
        "UPDATE participants_allocationslot SET kit_code = %s WHERE id = %s", ["FORGED", _next_free_slot().pk]
    )
    person = enrolled(coordinator)
    baseline_rated(person)
    with pytest.raises(ValidationError, match="no longer matches the checksum"):
        allocation.participant_randomize(participant=person, by=coordinator, now=timezone.now())
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()
