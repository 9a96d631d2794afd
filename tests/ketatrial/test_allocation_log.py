"""The log of every view of the allocation (issue 14, item 8): each unblinded page a person opens
writes who, when, what, which participant and from where; the log cannot be rewritten; the data
manager and the principal investigator read it, and it shows nothing of the allocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from ketatrial.allocation_log import client_ip, log_allocation_view
from ketatrial.models import AllocationView
from participants import allocation
from tests.conftest import on_postgres
from tests.factories import randomized


@pytest.fixture
def randomized_one(settings, coordinator, pharmacist):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    now = timezone.now() - timedelta(hours=1)
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=4, seed=11)
    return randomized(coordinator, now=now)


def _views() -> list[tuple[str, str, str | None, str | None]]:
    return [
        (v.user.username, v.what, v.participant.code if v.participant else None, v.ip)
        for v in AllocationView.objects.select_related("user", "participant").order_by("id")
    ]


def test_each_unblinded_pharmacy_page_a_person_opens_is_logged(
    randomized_one, pharmacist, client_for
) -> None:
    client = client_for(pharmacist)
    person = randomized_one
    active = allocation.allocation_list_active()
    pages = [
        (reverse("participants:pharmacy"), "pharmacy", None),
        (reverse("participants:preparations", args=[person.pk]), "preparations", person.code),
        (reverse("participants:accountability"), "accountability", None),
        (reverse("participants:list_parameters", args=[active.pk]), "list_parameters", None),
        (reverse("participants:list_download", args=[active.pk]), "list_download", None),
    ]
    for url, _what, _code in pages:
        assert client.get(url, REMOTE_ADDR="10.1.2.3").status_code == 200, url
    assert _views() == [("pharmacist", what, code, "10.1.2.3") for _url, what, code in pages]
    first = AllocationView.objects.order_by("id").first()
    assert first.path == pages[0][0] and abs(first.at - timezone.now()) < timedelta(minutes=1)


def test_an_emergency_unblinding_is_logged_at_execution_and_each_time_the_pi_reads_it(
    randomized_one, pharmacist, principal_investigator, client_for
) -> None:
    person = randomized_one
    request = allocation.unblinding_request(
        participant=person, reason="Serious adverse event", by=principal_investigator, now=timezone.now()
    )
    pi = client_for(principal_investigator)
    assert pi.get(reverse("participants:unblinding_list")).status_code == 200
    assert _views() == []  # requested, not executed: nothing seen yet
    url = reverse("participants:unblinding_execute", args=[request.pk])
    assert client_for(pharmacist).get(url).status_code == 200
    allocation.unblinding_execute(
        request=request, people_informed="Dr. Ruiz", by=pharmacist, now=timezone.now()
    )
    pi.get(reverse("participants:unblinding_list"))
    pi.get(reverse("participants:unblinding_list"))
    assert [(who, what, code) for who, what, code, _ip in _views()] == [
        ("pharmacist", "unblinding_execute", person.code),
        ("principal_investigator", "unblinding_result", person.code),
        ("principal_investigator", "unblinding_result", person.code),
    ]


def test_a_refused_page_logs_nothing(randomized_one, make_user, client_for) -> None:
    one_key = make_user("pharmacist_one_key", "pharmacist")  # in the group, not in the settings list
    assert client_for(one_key).get(reverse("participants:pharmacy")).status_code == 403
    assert AllocationView.objects.count() == 0


def test_the_log_refuses_a_change_or_a_deletion(randomized_one, pharmacist, rf) -> None:
    request = rf.get("/participants/pharmacy/")
    request.user = pharmacist
    row = log_allocation_view(request, "pharmacy")
    row.what = "accountability"
    with pytest.raises(ValidationError):
        row.save()
    with pytest.raises(ValidationError):
        row.delete()
    assert AllocationView.objects.get().what == "pharmacy"
    with pytest.raises(ValueError):
        log_allocation_view(request, "something new")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    ["UPDATE ketatrial_allocationview SET what = 'rewritten'", "DELETE FROM ketatrial_allocationview"],
)
def test_sql_cannot_rewrite_or_delete_the_log_on_postgresql(statement, make_user, rf) -> None:
    if not on_postgres():
        pytest.skip("the trigger is PostgreSQL's; set DATABASE_URL to a PostgreSQL database")
    request = rf.get("/participants/pharmacy/")
    request.user = make_user("pharmacist", "pharmacist")
    log_allocation_view(request, "pharmacy")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AllocationView.objects.get().what == "pharmacy"


def test_the_address_is_the_proxy_s_forwarded_one_only_behind_the_proxy(rf, settings) -> None:
    request = rf.get("/", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9")
    settings.SECURE_PROXY_SSL_HEADER = None
    assert client_ip(request) == "172.18.0.5"  # a client could forge the header: not trusted
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client_ip(request) == "203.0.113.9"


def test_the_data_manager_and_the_pi_read_the_log_and_it_shows_no_allocation(
    randomized_one, pharmacist, data_manager, principal_investigator, monitor, client_for
) -> None:
    person = randomized_one
    client_for(pharmacist).get(reverse("participants:preparations", args=[person.pk]), REMOTE_ADDR="10.1.2.3")
    sequence = allocation.sequence_for(pharmacist, person)
    url = reverse("allocation_views")
    for reader in (data_manager, principal_investigator):
        page = client_for(reader).get(url)
        html = page.content.decode()
        assert page.status_code == 200
        assert "pharmacist (Pharmacist Tester)" in html and person.code in html and "10.1.2.3" in html
        assert "preparations, with the product" in html
        text = re.sub(r"<[^>]+>", " ", html)  # what the page says (tokens in attributes are random)
        assert not re.search(rf"\b{sequence}\b", text)  # the sequence itself appears nowhere
        assert "ketamine" not in text.lower() and "placebo" not in text.lower()
    assert client_for(monitor).get(url).status_code == 403
    assert client_for(pharmacist).get(url).status_code == 403
