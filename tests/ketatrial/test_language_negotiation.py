"""The page's language: the user's saved choice, else the browser's (Accept-Language, among the
languages offered), else the default (settings.LANGUAGE_CODE). Issue 15: the UI opened in Spanish
for a browser that asked for English."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from participants import services
from participants.models import UserProfile
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ENGLISH_BROWSER = "en-US,en;q=0.9"
SPANISH_BROWSER = "es-MX,es;q=0.9,en;q=0.5"


def _page_language(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, "the page names its language"
    return match.group(1)


def _user(make_user, language: str) -> AbstractBaseUser:  # type: ignore[no-untyped-def]
    user = make_user(f"rater_{language or 'none'}", "rater")
    UserProfile.objects.filter(user=user).update(language=language)
    return user


def _home(user: AbstractBaseUser, browser: str):  # type: ignore[no-untyped-def]
    client = Client(HTTP_ACCEPT_LANGUAGE=browser)
    client.force_login(user)
    return client.get(reverse("home"), follow=True)


@pytest.mark.parametrize(("browser", "expected"), [(ENGLISH_BROWSER, "en"), (SPANISH_BROWSER, "es")])
def test_the_sign_in_page_follows_the_browser(browser: str, expected: str) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE=browser).get(reverse("login"))
    assert _page_language(response) == expected
    assert response["Content-Language"] == expected
    assert ("Sign in" if expected == "en" else "Iniciar sesión") in response.content.decode()


def test_a_browser_asking_for_a_language_not_offered_gets_the_default(settings) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get(reverse("login"))
    assert _page_language(response) == settings.LANGUAGE_CODE


def test_a_user_without_a_saved_choice_and_an_english_browser_gets_english(make_user) -> None:
    user = _user(make_user, "")
    response = _home(user, ENGLISH_BROWSER)
    assert response.status_code == 200
    assert _page_language(response) == "en"
    assert _page_language(_home(user, SPANISH_BROWSER)) == "es"


def test_a_saved_spanish_choice_wins_over_an_english_browser(make_user) -> None:
    response = _home(_user(make_user, "es"), ENGLISH_BROWSER)
    assert _page_language(response) == "es"
    assert response["Content-Language"] == "es"


def test_a_saved_english_choice_wins_over_a_spanish_browser(make_user) -> None:
    assert _page_language(_home(_user(make_user, "en"), SPANISH_BROWSER)) == "en"


def test_choosing_a_language_on_the_page_saves_it_over_the_browser(make_user) -> None:
    user = _user(make_user, "")
    client = Client(HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "es", "next": reverse("home")})
    assert UserProfile.objects.get(user=user).language == "es"
    assert _page_language(client.get(reverse("home"), follow=True)) == "es"


def test_a_new_account_without_a_language_follows_the_browser(make_user) -> None:
    """Accounts made with no language (the demo's, and the user form's default) have no saved
    choice: the browser decides, not the default Spanish."""
    user = services.user_create(
        username="nueva",
        password=PASSWORD,
        first_name="Nueva",
        last_name="Cuenta",
        email="nueva@example.org",
        roles={"monitor"},
        language="",
        by=None,
        now=timezone.now(),
    )
    assert _page_language(_home(user, ENGLISH_BROWSER)) == "en"


def test_the_user_form_leaves_the_language_to_the_browser_unless_one_is_chosen(
    data_manager, client_for
) -> None:
    response = client_for(data_manager).post(
        reverse("participants:user_create"),
        {
            "username": "dr.smith",
            "first_name": "Jane",
            "last_name": "Smith",
            "email": "jane@example.org",
            "password": "Ketamina-segura-77",
            "roles": ["rater"],
            "language": "",
        },
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user__username="dr.smith")
    assert profile.language == ""
    assert _page_language(_home(profile.user, ENGLISH_BROWSER)) == "en"
