"""Sign-in protection: lockout after repeated failures, inactivity logout."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from ketatrial.middleware import LAST_SEEN_KEY
from tests.conftest import PASSWORD


def _login(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.5",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_a_good_password_signs_in(rater) -> None:
    response = _login(Client(), "rater", PASSWORD)
    assert response.status_code == 302


def test_five_failed_logins_lock_the_account_even_with_the_right_password(rater) -> None:
    client = Client()
    for _ in range(4):
        assert _login(client, "rater", "wrong-password").status_code == 200
    # django-axes answers 429 Too Many Requests once the account is locked.
    assert _login(client, "rater", "wrong-password").status_code == 429
    locked = _login(client, "rater", PASSWORD)
    assert locked.status_code == 429
    assert "locked" in locked.content.decode().lower()


def test_four_failures_then_success_resets_the_count(rater) -> None:
    client = Client()
    for _ in range(4):
        _login(client, "rater", "wrong-password")
    assert _login(client, "rater", PASSWORD).status_code == 302
    other = Client()
    for _ in range(4):
        assert _login(other, "rater", "wrong-password").status_code == 200


def test_the_data_manager_can_unlock_a_locked_account(rater, data_manager, client_for) -> None:
    for _ in range(5):
        _login(Client(), "rater", "wrong")
    users_page = client_for(data_manager).get(reverse("participants:users")).content.decode()
    assert reverse("participants:user_unlock", args=[rater.pk]) in users_page
    client_for(data_manager).post(reverse("participants:user_unlock", args=[rater.pk]))
    assert _login(Client(), "rater", PASSWORD).status_code == 302


def test_inactivity_signs_the_user_out(rater, client_for, settings) -> None:
    client = client_for(rater)
    home = reverse("role_home", args=["rater"])
    assert client.get(home).status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.INACTIVITY_TIMEOUT_SECONDS - 1
    session.save()
    response = client.get(home)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    again = client.get(home)
    assert again.status_code == 302, "the session must be gone, not just redirected once"


def test_activity_within_the_timeout_keeps_the_session(rater, client_for, settings) -> None:
    client = client_for(rater)
    home = reverse("role_home", args=["rater"])
    client.get(home)
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.INACTIVITY_TIMEOUT_SECONDS + 60
    session.save()
    assert client.get(home).status_code == 200


def test_the_default_inactivity_timeout_is_thirty_minutes(settings) -> None:
    assert settings.INACTIVITY_TIMEOUT_SECONDS == 30 * 60


@pytest.mark.parametrize("password", ["short", "1234567890123", "password1234"])
def test_weak_passwords_are_refused(password, make_user) -> None:
    from django.core.exceptions import ValidationError

    from participants import services

    with pytest.raises(ValidationError):
        services.user_create(
            username="weak",
            password=password,
            first_name="W",
            last_name="K",
            email="w@example.org",
            roles={"monitor"},
            language="en",
            by=None,
            now=__import__("django.utils.timezone").utils.timezone.now(),
        )


def test_the_lockout_is_by_username_and_address_so_another_address_still_signs_in(
    principal_investigator,
) -> None:
    # Five wrong passwords from one address lock that address out of the account...
    for _ in range(5):
        _login(Client(), "principal_investigator", "wrong-password")
    assert _login(Client(), "principal_investigator", PASSWORD).status_code == 429
    # ...but not the PI at their own desk: a stranger cannot lock the PI out.
    at_desk = Client().post(
        reverse("login"),
        {"username": "principal_investigator", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.77",
    )
    assert at_desk.status_code == 302


def test_behind_the_proxy_the_lockout_takes_the_address_the_proxy_saw(rater, settings) -> None:
    settings.USE_X_FORWARDED_FOR = True

    def attempt(forwarded: str, password: str):  # type: ignore[no-untyped-def]
        return Client().post(
            reverse("login"),
            {"username": "rater", "password": password},
            REMOTE_ADDR="172.18.0.2",  # the proxy's, the same for everyone
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for _ in range(5):
        attempt("203.0.113.9", "wrong-password")
    assert attempt("203.0.113.9", PASSWORD).status_code == 429
    # A client's own X-Forwarded-For comes first; the proxy's entry is the last one, and counts.
    assert attempt("10.9.9.9, 203.0.113.9", PASSWORD).status_code == 429
    assert attempt("198.51.100.4", PASSWORD).status_code == 302


def test_the_client_address_is_remote_addr_without_the_proxy(rf, settings) -> None:
    from ketatrial.client_ip import client_ip

    settings.USE_X_FORWARDED_FOR = False
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.5"
    settings.USE_X_FORWARDED_FOR = True
    assert client_ip(request) == "1.2.3.4"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"


def _set_access(user, last_day, by):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from participants import services

    services.user_set_access(
        user=user,
        access_until=last_day,
        reset_second_factor=False,
        reason="contract",
        by=by,
        now=timezone.now(),
    )


def test_an_account_past_its_last_day_cannot_sign_in_and_is_told_why(rater, data_manager) -> None:
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    _set_access(rater, today, data_manager)
    assert _login(Client(), "rater", PASSWORD).status_code == 302, "the last day itself still works"
    _set_access(rater, today - timedelta(days=1), data_manager)
    refused = _login(Client(), "rater", PASSWORD)
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "The access of this account ended on" in text and "Ask the data manager" in text
    # The wrong password says nothing about the account's access.
    wrong = _login(Client(), "rater", "wrong-password").content.decode()
    assert "ended on" not in wrong


def test_a_session_ends_once_the_account_is_past_its_last_day(rater, data_manager, client_for) -> None:
    from datetime import timedelta

    from django.utils import timezone

    client = client_for(rater)
    home = reverse("role_home", args=["rater"])
    assert client.get(home).status_code == 200
    _set_access(rater, timezone.localdate() - timedelta(days=1), data_manager)
    response = client.get(home)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get(home).status_code == 302, "signed out, not only redirected"
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The access of this account ended on" in page


def test_an_expired_account_s_api_token_stops_working(statistician, data_manager, client_for) -> None:
    from datetime import timedelta

    from django.utils import timezone

    token = client_for(statistician).post(reverse("api:token")).json()["token"]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("api:participants")).status_code == 200
    _set_access(statistician, timezone.localdate() - timedelta(days=1), data_manager)
    assert api.get(reverse("api:participants")).status_code == 401


def test_the_data_manager_sets_the_last_day_on_the_user_page_and_it_is_logged(
    rater, data_manager, client_for
) -> None:
    from participants.models import UserRoleChange

    client = client_for(data_manager)
    page = client.get(reverse("participants:user_edit", args=[rater.pk])).content.decode()
    assert 'name="access-access_until"' in page
    missing_reason = client.post(
        reverse("participants:user_edit", args=[rater.pk]),
        {"access-access_until": "2027-01-31", "access-reason": "", "save_access": "1"},
    )
    assert missing_reason.status_code == 200
    saved = client.post(
        reverse("participants:user_edit", args=[rater.pk]),
        {"access-access_until": "2027-01-31", "access-reason": "End of contract", "save_access": "1"},
    )
    assert saved.status_code == 302
    rater.profile.refresh_from_db()
    assert str(rater.profile.access_until) == "2027-01-31"
    change = UserRoleChange.objects.filter(user=rater).first()
    assert str(change.access_until) == "2027-01-31" and change.reason == "End of contract"
    assert change.changed_by == data_manager and change.new_roles == ["rater"]
    listing = client.get(reverse("participants:users")).content.decode()
    assert "2027" in listing
