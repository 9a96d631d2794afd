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
