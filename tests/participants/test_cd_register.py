"""The controlled-drug register of ketamine: per-transaction lines with a running balance per lot,
against numbers worked by hand (issue 15, item 2)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from infusions import dosing
from participants import allocation
from participants.models import AllocationSlot, Participant, RegisterEntry
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

D = Decimal


@pytest.mark.parametrize(
    ("lines", "balances", "discrepancies"),
    [
        # 10 vials x 500 mg received; 72.3 kg -> 36.2 mg dispensed and 463.8 mg (the rest of the
        # vial) wasted; a count of 9 vials (4500 mg) matches; a broken vial; 2 vials returned; a
        # count of 5 vials finds 1 missing (-500 mg) and leaves the book balance at 3000 mg.
        (
            [
                ("received", D("5000")),
                ("dispensed", D("36.2")),
                ("wasted", D("463.8")),
                ("counted", D("4500")),
                ("wasted", D("500")),
                ("returned", D("1000")),
                ("counted", D("2500")),
            ],
            ["5000.0", "4963.8", "4500.0", "4500.0", "4000.0", "3000.0", "3000.0"],
            [None, None, None, "0.0", None, None, "-500.0"],
        ),
        # A rejected syringe was dispensed once; its destruction leaves the balance.
        (
            [
                ("received", D("500")),
                ("dispensed", D("35.0")),
                ("wasted", D("465.0")),
                ("destroyed", D("35.0")),
            ],
            ["500.0", "465.0", "0.0", "0.0"],
            [None, None, None, None],
        ),
        # Sums that a float would spoil: 0.1 + 0.2 mg.
        (
            [("received", D("0.3")), ("dispensed", D("0.1")), ("dispensed", D("0.2"))],
            ["0.3", "0.2", "0.0"],
            [None] * 3,
        ),
    ],
)
def test_the_running_balance_matches_the_hand_worked_numbers(lines, balances, discrepancies) -> None:
    steps = dosing.register_steps(lines)
    assert [str(s.balance_mg) for s in steps] == balances
    assert [None if s.discrepancy_mg is None else str(s.discrepancy_mg) for s in steps] == discrepancies


def test_register_quantities_round_to_a_tenth_of_a_mg_and_a_hundredth_of_a_ml() -> None:
    assert str(dosing.mg(D("593.800000000000"))) == "593.8"
    assert str(dosing.mg(D("0.05"))) == "0.1"
    assert str(dosing.ml_of(D("463.8"), D("50.00"))) == "9.28"
    assert str(dosing.ml_of(D("36.2"), D("50"))) == "0.72"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("received", D("-1"))], "cannot be negative"),
        ([("lost", D("1"))], "not a kind of register line"),
        ([("received", "5000")], "must be a number"),
    ],
)
def test_the_register_refuses_what_is_not_a_register_line(lines, message) -> None:
    with pytest.raises(dosing.DosingError, match=message):
        dosing.register_steps(lines)


@pytest.fixture
def lot(unblinded):  # type: ignore[no-untyped-def]
    allocation.allocation_list_generate(by=unblinded, now=timezone.now(), n_per_stratum=6, seed=3)
    return allocation.receipt_record(
        lot="KET-1",
        vials=10,
        mg_per_vial=D("500"),
        ml_per_vial=D("10"),
        expiry_date=timezone.localdate(),
        by=unblinded,
        now=timezone.now(),
    )


def _kp(coordinator) -> Participant:  # type: ignore[no-untyped-def]
    while True:
        person = randomized(coordinator)
        if AllocationSlot.objects.get(participant=person).sequence == "KP":
            return Participant.objects.get(pk=person.pk)


def test_each_transaction_is_a_line_with_its_balance_and_the_csv_says_the_same(
    coordinator, unblinded, checker, lot, client_for
) -> None:
    prepared_and_checked(
        participant=_kp(coordinator),
        period=1,
        infusion_number=1,
        receipt=lot,
        pharmacist=unblinded,
        checker=checker,
        now=timezone.now(),
        weight_kg=D("72.3"),
    )
    broken = allocation.vials_waste_record(
        receipt=lot, vials=1, note="vial dropped", by=unblinded, now=timezone.now()
    )
    allocation.vials_return_record(
        receipt=lot, vials=2, note="return note R-77", by=unblinded, now=timezone.now()
    )
    count = allocation.stock_count_record(
        receipt=lot, vials_counted=5, note="", by=unblinded, now=timezone.now()
    )
    assert count.vials_expected == 6 and count.discrepancy == -1
    [register] = allocation.register(unblinded)
    rows = [(r.kind, str(r.quantity_mg), str(r.balance_mg), str(r.balance_ml)) for r in register.rows]
    assert rows == [
        ("received", "5000.0", "5000.0", "100.00"),
        ("dispensed", "36.2", "4963.8", "99.28"),
        ("wasted", "463.8", "4500.0", "90.00"),
        ("wasted", "500.0", "4000.0", "80.00"),
        ("returned", "1000.0", "3000.0", "60.00"),
        ("counted", "2500.0", "3000.0", "60.00"),
    ]
    assert str(register.rows[-1].discrepancy_mg) == "-500.0"
    assert (register.rows[2].witness, register.rows[3].awaiting_witness) == ("pharmacist2", True)
    assert register.rows[3].entry_pk == broken.pk

    response = client_for(unblinded).get(reverse("participants:register_csv"))
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(t["kind"], t["quantity_mg"], t["balance_mg"]) for t in table] == [
        (k, q, b) for k, q, b, _ml in rows
    ]
    assert table[-1]["discrepancy_mg"] == "-500.0" and table[2]["witness"] == "pharmacist2"

    page = client_for(unblinded).get(reverse("participants:accountability")).content.decode()
    assert "4963.8 mg" in page and "99.28 mL" in page and "0000000" not in page
    assert "Lot KET-1: 3000.0 mg on the books (6.00 vials)" in page


def test_waste_needs_a_witness_who_is_another_pharmacist(
    coordinator, unblinded, checker, lot, client_for
) -> None:
    entry = allocation.vials_waste_record(
        receipt=lot, vials=1, note="expired", by=unblinded, now=timezone.now()
    )
    with pytest.raises(ValidationError, match="another pharmacist"):
        allocation.waste_witness(pk=entry.pk, by=unblinded, now=timezone.now())
    own = client_for(unblinded).post(reverse("participants:waste_witness", args=[entry.pk]), follow=True)
    assert "another pharmacist" in own.content.decode()
    client_for(checker).post(reverse("participants:waste_witness", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.witness == checker and entry.witnessed_at is not None
    assert [h.history_user for h in entry.history.order_by("history_id")] == [unblinded, checker]
    with pytest.raises(ValidationError, match="already witnessed"):
        allocation.waste_witness(pk=entry.pk, by=checker, now=timezone.now())


def test_vials_out_beyond_the_balance_or_without_a_note_are_refused_and_the_form_keeps_them(
    unblinded, lot, client_for
) -> None:
    url = reverse("participants:accountability")
    response = client_for(unblinded).post(
        url, {"out-kind": "returned", "out-receipt": lot.pk, "out-vials": "11", "out-note": "R-1"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "has 10 vials on the books; 11 cannot leave it" in page
    assert 'value="11"' in page
    with pytest.raises(ValidationError, match="what happened"):
        allocation.vials_waste_record(receipt=lot, vials=1, note=" ", by=unblinded, now=timezone.now())
    assert not RegisterEntry.objects.exists()


def test_the_register_is_the_unblinded_pharmacists_only(
    coordinator, infusion_physician, pharmacist, settings, client_for
) -> None:
    settings.UNBLINDED_USERNAMES = []  # the pharmacist group alone does not unblind
    for user in (coordinator, infusion_physician, pharmacist):
        assert client_for(user).get(reverse("participants:register_csv")).status_code in (403, 404)
