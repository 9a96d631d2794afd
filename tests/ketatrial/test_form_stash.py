"""No rating lost to the inactivity sign-out (issue 13): the keep-alive view, and a rating POST
that arrives after the timeout kept for the same rater, shown again (never saved) after they sign
in, and for no one else."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

from django.test import Client
from django.urls import reverse

from clinimetry import selectors
from clinimetry.models import Assessment
from ketatrial import form_stash
from ketatrial.middleware import LAST_SEEN_KEY
from tests.clinimetry.test_assessments import MADRS_BASE, _form
from tests.conftest import PASSWORD
from tests.factories import enrolled


def _sign_in(client: Client, username: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login") + (f"?next={next_url}" if next_url else ""),
        {"username": username, "password": PASSWORD, "next": next_url},
        REMOTE_ADDR="10.0.0.7",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _expire(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.INACTIVITY_TIMEOUT_SECONDS - 1
    session.save()


def _signed_in(username: str, **kwargs) -> Client:  # type: ignore[no-untyped-def]
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **kwargs)
    assert _sign_in(client, username).status_code == 302
    return client


def _post_after_timeout(client: Client, url: str, settings):  # type: ignore[no-untyped-def]
    assert client.get(url).status_code == 200
    _expire(client, settings)
    return client.post(url, _form({**MADRS_BASE, "1": 5}, mode="remote"))


def _next_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    return parse_qs(urlparse(response.url).query)["next"][0]


def test_a_rating_posted_after_the_timeout_is_kept_and_shown_again_after_the_rater_signs_in(
    rater, coordinator, settings
) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = _signed_in("rater")
    response = _post_after_timeout(client, url, settings)
    next_url = _next_of(response)
    assert next_url.startswith(url + "?restore=")
    assert not Assessment.objects.exists()
    login_page = client.get(response.url).content.decode()
    assert "what you entered was kept" in login_page

    signed_in = _sign_in(client, "rater", next_url)
    assert signed_in.status_code == 302 and signed_in.url == next_url
    page = client.get(next_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Not saved yet: what you entered is shown again." in html
    assert 'name="item_1" id="id_item_1_5" value="5" checked' in html
    assert 'name="item_2" id="id_item_2_3" value="3" checked' in html
    assert 'value="remote" checked' in html
    assert f'action="{url}"' in html  # saving leaves the token behind
    assert not Assessment.objects.exists()  # shown, not saved: the rater confirms with Save

    saved = client.post(url, _form({**MADRS_BASE, "1": 5}, mode="remote"))
    assert saved.status_code == 302
    a = Assessment.objects.get(participant=person)
    assert (a.total, a.rater, a.mode) == (32, rater, "remote")


def test_a_kept_entry_is_shown_once_only(rater, coordinator, settings) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = _signed_in("rater")
    next_url = _next_of(_post_after_timeout(client, url, settings))
    _sign_in(client, "rater", next_url)
    assert 'id="id_item_1_5" value="5" checked' in client.get(next_url).content.decode()
    again = client.get(next_url).content.decode()
    assert 'id="id_item_1_5" value="5" checked' not in again
    assert "is no longer available" in again


def test_a_kept_entry_is_never_shown_to_another_user_who_signs_in_on_the_same_browser(
    rater, coordinator, make_user, settings
) -> None:
    make_user("rater2", "rater")
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = _signed_in("rater")
    next_url = _next_of(_post_after_timeout(client, url, settings))

    assert _sign_in(client, "rater2", next_url).status_code == 302
    html = client.get(next_url).content.decode()
    assert 'id="id_item_1_5" value="5" checked' not in html
    assert "is no longer available" in html
    # Another user's first request drops the entry from the session they signed in on.
    assert not client.session.get(form_stash.SESSION_KEY)
    assert not Assessment.objects.exists()


def test_a_kept_entry_is_dropped_after_an_hour(rater, coordinator, settings) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = _signed_in("rater")
    next_url = _next_of(_post_after_timeout(client, url, settings))
    session = client.session
    entries = session[form_stash.SESSION_KEY]
    for entry in entries.values():
        entry["at"] -= form_stash.MAX_AGE_SECONDS + 1
    session[form_stash.SESSION_KEY] = entries
    session.save()
    _sign_in(client, "rater", next_url)
    html = client.get(next_url).content.decode()
    assert 'id="id_item_1_5" value="5" checked' not in html
    assert not client.session.get(form_stash.SESSION_KEY)


def test_the_kept_entry_holds_neither_the_csrf_token_nor_a_confirmation(rater, coordinator, settings) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(rater)
    client.get(url)
    token = client.cookies["csrftoken"].value
    _expire(client, settings)
    data = _form({k: v for k, v in MADRS_BASE.items() if k != "3"}, partial_confirmed="3")
    response = client.post(url, {**data, "csrfmiddlewaretoken": token})
    assert "?restore=" in _next_of(response)
    (entry,) = client.session[form_stash.SESSION_KEY].values()
    assert entry["username"] == "rater" and entry["path"] == url
    assert "csrfmiddlewaretoken" not in entry["fields"] and "partial_confirmed" not in entry["fields"]


def test_a_forged_post_without_a_valid_csrf_token_is_not_kept(rater, coordinator, settings) -> None:
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    client = Client(enforce_csrf_checks=True)
    client.force_login(rater)
    client.get(url)
    _expire(client, settings)
    response = client.post(url, _form(MADRS_BASE))
    assert "restore" not in _next_of(response)
    assert not client.session.get(form_stash.SESSION_KEY)


def test_a_post_to_a_view_that_did_not_opt_in_is_not_kept(rater, coordinator, settings) -> None:
    """The signature form carries a password: it is never kept."""
    client = _signed_in("rater")
    client.get(reverse("clinimetry:tasks"))
    _expire(client, settings)
    response = client.post(reverse("clinimetry:sign", args=[1]), {"password": PASSWORD})
    assert "restore" not in _next_of(response)
    assert not client.session.get(form_stash.SESSION_KEY)


def test_an_entry_the_page_sends_when_time_is_up_is_shown_again_unsaved_if_the_session_still_lives(
    rater, coordinator, client_for
) -> None:
    """Another tab renewed the session: the page's "keep only" POST is still never saved."""
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    response = client_for(rater).post(url, _form(MADRS_BASE, keep_only="1"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not saved yet" in html and 'id="id_item_1_3" value="3" checked' in html
    assert 'data-unsaved="1"' in html
    assert not Assessment.objects.exists()


def test_the_keep_alive_view_renews_the_session_of_a_signed_in_user_only(rater, client_for, settings) -> None:
    url = reverse("session_keep_alive")
    client = client_for(rater)
    client.get(reverse("role_home", args=["rater"]))
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.INACTIVITY_TIMEOUT_SECONDS + 5
    session.save()
    response = client.post(url)
    assert response.status_code == 200
    assert response.json() == {"seconds_left": settings.INACTIVITY_TIMEOUT_SECONDS}
    assert time.time() - client.session[LAST_SEEN_KEY] < 5
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert client.get(url).status_code == 405
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))


def test_the_keep_alive_view_does_not_revive_an_expired_session(rater, client_for, settings) -> None:
    client = client_for(rater)
    client.get(reverse("role_home", args=["rater"]))
    _expire(client, settings)
    response = client.post(reverse("session_keep_alive"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get(reverse("role_home", args=["rater"])).status_code == 302


def test_every_signed_in_page_offers_the_inactivity_warning_in_the_user_language(rater, client_for) -> None:
    html = (
        client_for(rater)
        .get(reverse("role_home", args=["rater"]), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert 'id="inactivity-warning"' in html and "Stay signed in" in html
    assert f'data-keepalive-url="{reverse("session_keep_alive")}"' in html
