"""Per-role access: each persona reaches its own home and is refused the others'."""

import pytest
from django.core.checks import run_checks
from django.urls import reverse

from ketatrial.protocol import ROLES


@pytest.mark.parametrize("role", ROLES)
def test_each_persona_reaches_its_home_and_is_refused_the_others(role, personas, client_for) -> None:
    client = client_for(personas[role])
    assert client.get(reverse("role_home", args=[role])).status_code == 200
    for other in ROLES:
        if other != role:
            assert client.get(reverse("role_home", args=[other])).status_code in (403, 404), other


@pytest.mark.parametrize("role", ROLES)
def test_home_sends_a_single_role_user_to_their_role_home(role, personas, client_for) -> None:
    response = client_for(personas[role]).get("/")
    assert response.status_code == 302
    assert response.url == reverse("role_home", args=[role])


def test_a_person_with_two_roles_chooses_between_them(make_user, client_for) -> None:
    user = make_user("dual", "coordinator", "monitor")
    page = client_for(user).get("/").content.decode()
    assert reverse("role_home", args=["coordinator"]) in page
    assert reverse("role_home", args=["monitor"]) in page


def test_an_outsider_without_role_reaches_no_role_page(outsider, client_for) -> None:
    client = client_for(outsider)
    for role in ROLES:
        assert client.get(reverse("role_home", args=[role])).status_code == 403
    assert client.get(reverse("participants:list")).status_code == 403
    assert client.get(reverse("audit_index")).status_code == 403


def test_an_unknown_role_home_is_not_found(rater, client_for) -> None:
    assert client_for(rater).get("/home/wizard/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/home/rater/", "/protocol/", "/participants/", "/audit/", "/status/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_the_login_page_is_served(client) -> None:
    assert client.get(reverse("login")).status_code == 200


def test_every_routed_view_declares_its_access() -> None:
    errors = [e for e in run_checks(tags=["urls"]) if e.id == "ketatrial.E002"]
    assert errors == []


def test_an_undeclared_view_is_refused_by_default(rater, client_for, settings) -> None:
    settings.ROOT_URLCONF = "tests.ketatrial.undeclared_urls"
    assert client_for(rater).get("/undeclared/").status_code == 403


def test_the_access_check_reports_an_undeclared_view(settings) -> None:
    settings.ROOT_URLCONF = "tests.ketatrial.undeclared_urls"
    errors = [e for e in run_checks(tags=["urls"]) if e.id == "ketatrial.E002"]
    assert len(errors) == 1 and "undeclared" in errors[0].msg


@pytest.mark.parametrize(
    ("url_name", "allowed"),
    [
        (
            "participants:list",
            {
                "coordinator",
                "infusion_physician",
                "pharmacist",
                "data_manager",
                "principal_investigator",
                "monitor",
            },
        ),
        ("participants:screening_list", {"coordinator"}),
        ("participants:pharmacy", set()),  # the pharmacist group alone is one key of two
        ("participants:unblinding_list", {"principal_investigator"}),
        ("participants:users", {"data_manager"}),
        ("audit_index", {"data_manager", "principal_investigator", "monitor"}),
        ("system_status", {"data_manager"}),
    ],
)
def test_role_pages_answer_only_their_roles(url_name, allowed, personas, client_for) -> None:
    for role, user in personas.items():
        status = client_for(user).get(reverse(url_name)).status_code
        assert (status == 200) == (role in allowed), (role, status)


def test_the_rater_sees_no_participant_record(rater, participant, client_for) -> None:
    client = client_for(rater)
    assert client.get(reverse("participants:detail", args=[participant.pk])).status_code == 403


def test_a_missing_participant_and_a_forbidden_one_answer_alike(monitor, participant, client_for) -> None:
    client = client_for(monitor)
    assert client.get(reverse("participants:detail", args=[participant.pk])).status_code == 200
    assert client.get(reverse("participants:detail", args=[participant.pk + 999])).status_code == 404


def test_the_admin_is_for_the_system_administrator_only(data_manager, client_for) -> None:
    assert client_for(data_manager).get("/admin/").status_code == 403
