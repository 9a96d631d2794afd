"""Blinding: every page a blinded role can reach renders the same whatever the allocation.

Two worlds are built through the real services with the same inputs and the same clock; the
only difference is the allocation list: in world 1 participant A is KP and B is PK, in world 2
the other way round (same kit codes). Every GET route is rendered for every persona in both
worlds; after masking what legitimately differs (CSRF tokens, the real time at which audit rows
were written) a blinded persona's pages must be identical. The unblinded pharmacist's pages
must differ, which shows the comparison can see a difference.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management.color import no_style
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from pypdf import PdfReader

from clinimetry.selectors import task_ref
from infusions import services as infusion_services
from infusions.models import CalendarToken
from ketatrial.audit import audited_models
from ketatrial.protocol import ROLES
from participants import allocation, services
from participants.models import Participant
from participants.randomization import Row, rows_to_csv
from participants.roles import sync_role_groups
from tests.conftest import PASSWORD
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PK_RANGE = range(1, 4)
BLINDED = [r for r in ROLES if r != "pharmacist"] + ["pharmacist_one_key"]

_MASKS = [
    (re.compile(r"/ical/[A-Za-z0-9_-]+\.ics"), "/ical/<token>.ics"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), 'name="csrfmiddlewaretoken" value="#"'),
    # The blinded statistician's data carry the coded sequence by design (issue 7): the letters
    # group participants, their key stays sealed until release. Only the letters (and the data
    # hash that covers them) are masked; everything else must be the same in both worlds.
    (re.compile(r'"sequence_code":\s*"[AB]"'), '"sequence_code": "<code>"'),
    (re.compile(r'"data_hash":\s*"[0-9a-f]{64}"'), '"data_hash": "<hash>"'),
    # audit rows carry the real time they were written (simple-history stamps them itself)
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?"), "<datetime>"),
    (
        re.compile(
            r"\b(Jan|Feb|March|April|May|June|July|Aug|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}(, [\d:]+ ?(a\.m\.|p\.m\.)|, (noon|midnight))?"
        ),
        "<date>",
    ),
]


def normalize(body: str) -> str:
    for pattern, replacement in _MASKS:
        body = pattern.sub(replacement, body)
    return body


def _routes() -> list[str]:
    """Every GET-able URL with its parameters filled from small ranges."""
    urls: list[str] = []

    def walk(patterns: list, prefix: str) -> None:  # type: ignore[type-arg]
        for p in patterns:
            if isinstance(p, URLResolver):
                if getattr(p, "app_name", None) != "admin":
                    walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("accounts/") or route == "language/":
                    continue
                params = re.findall(r"<(\w+):(\w+)>", route)
                choices = []
                for kind, name in params:
                    if name == "period":
                        choices.append(["1", "2"])
                    elif name == "number":
                        # Up to 5: period 2 has 4 infusions after KP and 8 after PK.
                        choices.append([str(i) for i in range(1, 6)])
                    elif kind == "int":
                        choices.append([str(i) for i in PK_RANGE])
                    elif kind == "slug":
                        choices.append(list(ROLES))
                    else:
                        choices.append([m._meta.label_lower for m in audited_models()])
                for combo in itertools.product(*choices):
                    url = route
                    for value in combo:
                        url = re.sub(r"<\w+:\w+>", value, url, count=1)
                    urls.append("/" + url)

    walk(get_resolver().url_patterns, "")
    return urls


def _flush() -> None:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    )
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # restores permissions and the audit triggers
    sync_role_groups(Group, Permission)


def build_world(first: str, settings, monkeypatch) -> dict[str, Client]:  # type: ignore[no-untyped-def]
    """A and B randomized, consented, with period-1 infusion-1 preparations; A gets `first`."""
    _flush()
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    users = {}
    for role in ROLES:
        users[role] = services.user_create(
            username=role,
            password=PASSWORD,
            first_name=role,
            last_name="T",
            email=f"{role}@example.org",
            roles={role},
            language="en",
            by=None,
            now=NOW,
        )
    checker = services.user_create(
        username="pharmacist2",
        password=PASSWORD,
        first_name="p2",
        last_name="T",
        email="p2@example.org",
        roles={"pharmacist"},
        language="en",
        by=None,
        now=NOW,
    )
    one_key = services.user_create(
        username="pharmacist_one_key",
        password=PASSWORD,
        first_name="p3",
        last_name="T",
        email="p3@example.org",
        roles={"pharmacist"},
        language="en",
        by=None,
        now=NOW,
    )
    other = "PK" if first == "KP" else "KP"
    rows = [
        Row("", 1, 1, 2, first, "KIT001"),
        Row("", 2, 1, 2, other, "KIT002"),
        Row("", 3, 2, 2, "KP", "KIT003"),
        Row("", 4, 2, 2, "PK", "KIT004"),
    ]
    allocation.allocation_list_upload(
        by=users["pharmacist"], now=NOW, text=rows_to_csv(rows), filename="list.csv"
    )
    counter = itertools.count(1)
    monkeypatch.setattr(allocation.pharmacy, "_syringe_code", lambda: f"S-{next(counter):08d}")
    receipt = allocation.receipt_record(
        lot="L1",
        vials=20,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=NOW.date(),
        by=users["pharmacist"],
        now=NOW,
    )
    for name in ("Ana", "Bea"):
        person = randomized(users["coordinator"], now=NOW, name=name)
        infusion_services.schedule_set(
            participant=Participant.objects.get(pk=person.pk),
            day1=NOW.date(),
            by=users["coordinator"],
            now=NOW,
        )
        prepared_and_checked(
            participant=person,
            period=1,
            infusion_number=1,
            weight_kg=Decimal("70.0"),
            receipt=receipt,
            checker=checker,
            pharmacist=users["pharmacist"],
            now=NOW,
        )
    clients = {}
    for username, user in {**users, "pharmacist_one_key": one_key}.items():
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        clients[username] = client
    return clients


def capture(client: Client, urls: list[str]) -> dict[str, tuple[int, str]]:
    pages = {}
    for url in urls:
        response = client.get(url)
        content_type = response.get("Content-Type", "")
        # Streamed downloads (the audit trail's CSV) are compared like any page.
        payload = b"".join(response.streaming_content) if response.streaming else response.content
        if content_type.startswith("application/pdf"):
            body = "".join(page.extract_text() for page in PdfReader(io.BytesIO(payload)).pages)
            body += response.get("Content-Disposition", "")
        else:
            body = payload.decode("utf-8", "replace") + response.get("Content-Disposition", "")
        pages[url] = (response.status_code, normalize(body))
    # The feed page (visited in the crawl) made the user's token; read the feed it points to.
    token = CalendarToken.objects.filter(user_id=client.session.get("_auth_user_id")).first()
    if token is not None:
        feed = client.get(f"/infusions/ical/{token.token}.ics")
        pages["ical feed"] = (feed.status_code, normalize(feed.content.decode()))
    return pages


def _declared_for(persona: str, url: str) -> bool:
    """Whether the view behind `url` is declared open to the persona's role (or to anyone)."""
    from django.urls import Resolver404, resolve

    from participants.access import AUTHENTICATED, PUBLIC, view_declaration

    try:
        match = resolve(url)
    except Resolver404:
        return True
    declaration = view_declaration(match.func)
    role = "pharmacist" if persona.startswith("pharmacist") else persona
    return declaration in (None, AUTHENTICATED, PUBLIC) or role in declaration


def differences(world1: dict[str, tuple[int, str]], world2: dict[str, tuple[int, str]]) -> list[str]:
    return [url for url in world1 if world1[url] != world2.get(url)]


@pytest.fixture
def two_worlds(settings, monkeypatch) -> Callable[..., tuple[dict, dict]]:  # type: ignore[no-untyped-def]
    def run(roles: list[str] | None = None) -> tuple[dict, dict]:
        # Rating codes a rater could guess, beyond what the task list shows.
        # The timepoint itself (the old URLs) and the opaque name of each task.
        guessed = [
            f"/ratings/participant/{pk}/rate/madrs/{name}/"
            for pk in (1, 2)
            for code in ("p2-predose-5", "p2-4h-inf4", "p2-4h-inf8", "fu-week-1", "p1-predose-1")
            for name in (code, task_ref(pk, code))
        ]
        urls = _routes() + guessed
        personas = roles or [*BLINDED, "pharmacist"]
        # A URL whose view the role's declaration refuses answers 403 before any data is read
        # (participants.access, the middleware): the same in both worlds, so it is not fetched.
        reachable = {role: [u for u in urls if _declared_for(role, u)] for role in personas}
        worlds = []
        for first in ("KP", "PK"):
            clients = build_world(first, settings, monkeypatch)
            worlds.append({role: capture(clients[role], reachable[role]) for role in personas})
        return worlds[0], worlds[1]

    return run


def test_blinded_roles_see_the_same_pages_whatever_the_allocation(two_worlds) -> None:
    world1, world2 = two_worlds()
    for role in BLINDED:
        assert differences(world1[role], world2[role]) == [], role
        reached = [url for url, (status, _) in world1[role].items() if status == 200]
        assert reached, f"{role} reached no page: the comparison would be empty"
    # The comparison does see allocation differences: the unblinded pharmacist's pages differ.
    assert differences(world1["pharmacist"], world2["pharmacist"])


def test_the_blinding_comparison_catches_a_deliberate_leak(two_worlds, settings, tmp_path) -> None:
    leaky = tmp_path / "participants"
    leaky.mkdir()
    # A template that reaches through the participant to its allocation slot: the kind of leak the
    # rule "templates get display values, never the allocation object" exists to prevent.
    leaky.joinpath("detail.html").write_text(
        '{% extends "base.html" %}{% block content %}{{ participant.code }} '
        "{{ participant.allocation_slot.sequence }}{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    world1, world2 = two_worlds(["coordinator"])
    leaked = differences(world1["coordinator"], world2["coordinator"])
    assert "/participants/1/" in leaked and "/participants/2/" in leaked
