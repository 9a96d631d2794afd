"""The second factor (TOTP): who must pass it, that nothing opens before it, enrolment and
verification with real codes, API tokens only for sessions that passed it."""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from participants.access import BEFORE_SECOND_FACTOR, PUBLIC, view_declaration
from participants.checks import check_second_factor_setting
from participants.sign_in import second_factor_required
from tests.conftest import PASSWORD

SECOND_FACTOR = reverse("second_factor")


def code_for(key: bytes, *, step_offset: int = 0) -> str:
    """What the authenticator app shows now (or `step_offset` steps of 30 s from now)."""
    totp = TOTP(key)
    totp.time = time.time() + 30 * step_offset
    return f"{totp.token():06d}"


def password_only(username: str, *, address: str = "10.1.1.1") -> Client:
    """A client signed in through the sign-in form with the password alone."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def secret_on(page: str) -> bytes:
    text = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")  # type: ignore[union-attr]
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _sample(converter: Any) -> Any:
    name = type(converter).__name__
    return {"IntConverter": 1, "UUIDConverter": uuid.uuid4()}.get(name, "x")


def every_route() -> list[tuple[str, Any]]:
    """Every named route of the site with sample arguments, and its view."""
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern) and p.name:
                kwargs = {k: _sample(c) for k, c in p.pattern.converters.items()}
                try:
                    found.append((reverse(f"{namespace}{p.name}", kwargs=kwargs), p.callback))
                except NoReverseMatch:
                    continue

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture
def unblinded_pharmacist(settings, personas):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    return personas["pharmacist"]


def test_the_default_list_is_the_unblinded_pharmacist_the_pi_the_data_manager_and_administrators(
    settings,
) -> None:
    assert settings.OTP_REQUIRED_FOR == [
        "unblinded_pharmacist",
        "principal_investigator",
        "data_manager",
        "administrator",
    ]


def test_it_requires_the_second_factor_of_the_listed_kinds_only(
    personas, unblinded_pharmacist, make_user, settings
) -> None:
    assert second_factor_required(personas["principal_investigator"])
    assert second_factor_required(personas["data_manager"])
    assert second_factor_required(unblinded_pharmacist)
    blinded_pharmacist = make_user("pharmacist2", "pharmacist")  # not in UNBLINDED_USERNAMES
    assert not second_factor_required(blinded_pharmacist)
    for role in ("rater", "coordinator", "infusion_physician", "statistician", "monitor"):
        assert not second_factor_required(personas[role]), role
    admin = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    assert second_factor_required(admin)
    settings.OTP_REQUIRED_FOR = ["rater"]
    assert second_factor_required(personas["rater"])
    assert not second_factor_required(personas["principal_investigator"])
    assert not second_factor_required(admin)


def test_a_misspelt_kind_of_account_stops_the_start(settings) -> None:
    settings.OTP_REQUIRED_FOR = ["principal_investigator", "data_manger"]
    errors = check_second_factor_setting()
    assert [e.id for e in errors] == ["participants.E010"] and "data_manger" in errors[0].msg


@pytest.mark.parametrize("who", ["principal_investigator", "data_manager", "pharmacist", "root"])
def test_without_the_second_factor_every_page_sends_a_listed_user_to_it(
    who, personas, unblinded_pharmacist, settings
) -> None:
    if who == "root":
        get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    client = password_only(who)
    checked = 0
    for url, view in every_route():
        declaration = view_declaration(view)
        if declaration in (PUBLIC, BEFORE_SECOND_FACTOR):
            continue
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert response.url.startswith(f"{SECOND_FACTOR}?next="), (url, response.url)
        checked += 1
    assert checked > 100
    # A form sent anyway is refused the same way, before the view runs.
    refused = client.post(reverse("participants:user_create"), {"username": "x"})
    assert refused.status_code == 302 and refused.url.startswith(SECOND_FACTOR)
    assert not get_user_model().objects.filter(username="x").exists()
    # Its session reads no study data through the API either (the API views authenticate themselves).
    assert client.get(reverse("api:participants")).status_code in (401, 403)
    # The second-factor page and signing out are open.
    assert client.get(SECOND_FACTOR).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(SECOND_FACTOR).status_code == 302  # signed out: the sign-in page


@pytest.mark.parametrize("role", ["rater", "coordinator", "statistician", "monitor"])
def test_roles_not_listed_sign_in_with_the_password_alone(role, personas) -> None:
    client = password_only(role)
    assert client.get(reverse("role_home", args=[role])).status_code == 200


def test_the_first_sign_in_sets_up_the_app_from_a_qr_code_and_a_code_confirms_it(
    principal_investigator,
) -> None:
    client = password_only("principal_investigator")
    home = client.get("/")
    assert home.status_code == 302 and home.url == f"{SECOND_FACTOR}?next=%2F"
    page = client.get(home.url).content.decode()
    assert 'src="data:image/svg+xml' in page and "otpauth://totp/KetaTrial" in page
    key = secret_on(page)
    assert secret_on(client.get(home.url).content.decode()) == key, "reloading keeps the same secret"
    assert not TOTPDevice.objects.filter(user=principal_investigator, confirmed=True).exists()

    wrong = client.post(
        SECOND_FACTOR, {"token": "000000" if code_for(key) != "000000" else "111111", "next": "/"}
    )
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    time.sleep(1.1)  # django-otp's back-off after a wrong code: 1 s, then 2, 4, ...
    confirmed = client.post(SECOND_FACTOR, {"token": code_for(key), "next": "/"})
    assert confirmed.status_code == 302 and confirmed.url == "/"
    assert TOTPDevice.objects.get(user=principal_investigator).confirmed
    assert client.get(reverse("role_home", args=["principal_investigator"])).status_code == 200


def test_later_sign_ins_ask_for_the_code_and_a_code_works_once(principal_investigator) -> None:
    device = TOTPDevice.objects.create(user=principal_investigator, name="phone", confirmed=True)
    first = password_only("principal_investigator")
    page = first.get(SECOND_FACTOR).content.decode()
    assert "totp-secret" not in page and "data:image/svg+xml" not in page, "no secret once set up"
    code = code_for(device.bin_key)
    assert first.post(SECOND_FACTOR, {"token": code, "next": "/outcomes/"}).url == "/outcomes/"
    # The same code again, in another session: refused (a code seen over a shoulder is spent).
    second = password_only("principal_investigator", address="10.1.1.2")
    replay = second.post(SECOND_FACTOR, {"token": code})
    assert replay.status_code == 200 and "That code is not right" in replay.content.decode()
    assert second.get("/").status_code == 302


def test_the_page_sends_only_to_this_site_afterwards(principal_investigator) -> None:
    device = TOTPDevice.objects.create(user=principal_investigator, name="phone", confirmed=True)
    client = password_only("principal_investigator")
    response = client.post(
        SECOND_FACTOR, {"token": code_for(device.bin_key), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response.url == reverse("home")


def test_passing_the_second_factor_gives_the_session_a_new_key(principal_investigator) -> None:
    device = TOTPDevice.objects.create(user=principal_investigator, name="phone", confirmed=True)
    client = password_only("principal_investigator")
    before = client.session.session_key
    client.post(SECOND_FACTOR, {"token": code_for(device.bin_key)})
    assert client.session.session_key != before


def test_a_reset_second_factor_is_set_up_again_at_the_next_sign_in(
    principal_investigator, data_manager, client_for
) -> None:
    TOTPDevice.objects.create(user=principal_investigator, name="lost phone", confirmed=True)
    response = client_for(data_manager).post(
        reverse("participants:user_edit", args=[principal_investigator.pk]),
        {
            "access-access_until": "",
            "access-reset_second_factor": "on",
            "access-reason": "Phone lost",
            "save_access": "1",
        },
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=principal_investigator).exists()
    page = password_only("principal_investigator").get(SECOND_FACTOR).content.decode()
    assert "totp-secret" in page


def test_an_api_token_is_issued_only_to_a_session_that_passed_the_second_factor(statistician) -> None:
    from rest_framework.authtoken.models import Token

    client = password_only("statistician")  # not a listed role: its pages open without the code
    assert client.get(reverse("outcomes:exports")).status_code == 200
    page = client.post(reverse("outcomes:api_token"))
    assert page.status_code == 302 and page.url.startswith(f"{SECOND_FACTOR}?next=")
    assert client.post(reverse("api:token")).status_code == 403
    assert not Token.objects.filter(user=statistician).exists()

    enrol = client.get(page.url).content.decode()
    client.post(SECOND_FACTOR, {"token": code_for(secret_on(enrol))})
    issued = client.post(reverse("outcomes:api_token")).content.decode()
    token = Token.objects.get(user=statistician).key
    assert token in issued
    # A token cannot get itself a new token: it carries no second factor.
    by_token = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert by_token.get(reverse("api:participants")).status_code == 200
    assert by_token.post(reverse("api:token")).status_code == 403
    assert Token.objects.get(user=statistician).key == token


def test_the_api_token_service_refuses_without_a_device_of_the_user(statistician, data_manager) -> None:
    from django.core.exceptions import PermissionDenied

    from outcomes import services

    others = TOTPDevice.objects.create(user=data_manager, name="phone", confirmed=True)
    with pytest.raises(PermissionDenied):
        services.api_token_renew(user=statistician, verified_by=None)
    with pytest.raises(PermissionDenied):
        services.api_token_renew(user=statistician, verified_by=others)
