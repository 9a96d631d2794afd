"""Blinding through the whole crossover, in one database: seed_demo builds a pair of participants
per stage, one KP and one PK with identical records (period 1 mid; period 2 after infusion 3;
KP's period 2 over while PK's continues; both in follow-up; relapse; withdrawn; emergency-
unblinded). Every participant page, direct URL, rating form, audit page and the rater's task-
list rows are rendered for both of a pair as every blinded persona and compared, with each
one's identity masked. Strictly blinded roles may see no difference at any stage; exposed roles
only at the stages where the protocol's design tells (the documented residual inference); with
period2_equal_length on, no role sees any difference."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from pypdf import PdfReader

from clinimetry import selectors as rating_selectors
from ketatrial import trial
from ketatrial.protocol import ROLES
from participants.allocation import visibility
from participants.models import AllocationSlot, DosePreparation, Participant, ScreeningRecord
from tests.participants.test_blinding import _flush

STRICT = ["rater", "statistician"]
EXPOSED = ["coordinator", "infusion_physician", "principal_investigator", "data_manager", "monitor"]
# Where the protocol's design (4 vs 8 period-2 infusions) lets a role tell the pair apart
# (visibility.residual_inference): for the rater, in the visits they make once KP's period 2 is
# over; for exposed roles, from the booking week before KP's 4th period-2 infusion (the
# in-scanner scan and the next chair must be booked), then period 2 over and follow-up.
TELLING = {"kp-over-pk-continuing", "both-in-follow-up", "relapse"}
TELLING_EXPOSED = TELLING | {"period2-after-3"}


def _pairs() -> dict[str, tuple[Participant, Participant]]:
    from participants.services import identity_read

    people = Participant.objects.filter(identity__isnull=False).select_related("screening").order_by("number")
    by_stage: dict[str, list[Participant]] = {}
    for person in people:
        match = re.match(r"Etapa (\S+) [AB]$", identity_read(person).get("full_name", ""))
        if match:
            by_stage.setdefault(match.group(1), []).append(person)
    return {stage: (pair[0], pair[1]) for stage, pair in by_stage.items()}


def _urls(person: Participant) -> list[str]:
    pk = person.pk
    urls = [
        reverse(name, args=[pk])
        for name in (
            "participants:detail",
            "participants:edit",
            "participants:disposition",
            "participants:unblinding_request",
            "clinimetry:participant",
            "clinimetry:blinding_guess",
            "infusions:timeline",
            "infusions:adverse_events",
            "spectroscopy:participant",
            "spectroscopy:tissue",
        )
    ]
    urls += [reverse("infusions:session", args=[pk, period, n]) for period in (1, 2) for n in range(1, 9)]
    urls.append(reverse("audit_record", args=["participants.participant", pk]))
    # Every rating task in order of due time, by its opaque name, and names a rater could try.
    tasks = sorted(rating_selectors.all_tasks(person), key=lambda t: (t.due, t.code))
    urls += [rating_selectors.rate_url(pk, "madrs", t.code) for t in tasks]
    urls += [rating_selectors.rate_url(pk, "madrs", c) for c in ("p2-predose-5", "p2-4h-inf4", "fu-week-1")]
    return urls


def _masks(person: Participant) -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile(rf"\b{re.escape(person.code)}\b"), "<code>"),
        (re.compile(rf"\b{re.escape(person.screening.code)}\b"), "<screening>"),
        (re.compile(r"Etapa (\S+) [AB]\b"), r"Etapa \1 <name>"),
        (re.compile(rf"/(participant|participants|participants\.participant)/{person.pk}/"), r"/\1/<pk>/"),
        (re.compile(r"/[a-z2-7]{16}/"), "/<task>/"),
        (re.compile(r"/(assessment|result|preparation|screening|adverse-event)/\d+/"), r"/\1/<id>/"),
        # The participant's own number and screening record id, as audit rows show them.
        (
            re.compile(rf'(class="(?:new|old)-value">)({person.number}|{person.screening_id})<'),
            r"\1<own-id><",
        ),
        (re.compile(r"\bKIT\d+\b"), "<kit>"),
        (re.compile(r"\bS-[0-9A-Z]{6,}\b"), "<syringe>"),
        (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), "<csrf>"),
        (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?"), "<datetime>"),
        # Django's default English rendering of a datetime (the pair is built seconds apart, so a
        # minute can turn between them: wall-clock creation time, not a property of the record).
        (
            re.compile(
                r"\b(Jan|Feb|March|April|May|June|July|Aug|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}, "
                r"(\d{1,2}(:\d\d)? [ap]\.m\.|noon|midnight)"
            ),
            "<datetime>",
        ),
        (re.compile(r"value=\"\d+\" selected>[^<]*INNN-\d+"), "<self>"),
    ]


def _mask(text: str, person: Participant) -> str:
    for pattern, replacement in _masks(person):
        text = pattern.sub(replacement, text)
    return text


def _render(client: Client, url: str, person: Participant) -> tuple[int, str]:
    response = client.get(url)
    if response.get("Content-Type", "").startswith("application/pdf"):
        body = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    else:
        body = response.content.decode("utf-8", "replace")
    # The randomization number is per participant (A and B take consecutive slots).
    rand = re.search(r"R-\d+", body)
    if rand:
        body = body.replace(rand.group(0), "<rand>")
    for pattern, replacement in _masks(person):
        body = pattern.sub(replacement, body)
    return response.status_code, body


def _page(client: Client, url: str, pages: dict | None) -> str:
    """A list page (a role's home, the rater's task list) names every participant at once: a
    crawl that compares many pairs reads it once per role (`pages`, the crawl's own memo)."""
    if pages is None:
        return client.get(url).content.decode()
    key = (id(client), url)
    if key not in pages:
        pages[key] = client.get(url).content.decode()
    return pages[key]


def _task_rows(client: Client, person: Participant, pages: dict | None = None) -> list[str]:
    html = _page(client, reverse("clinimetry:tasks"), pages)
    rows = [row for row in re.findall(r"<tr.*?</tr>", html, flags=re.S) if person.code in row]
    out = []
    for row in rows:
        for pattern, replacement in _masks(person):
            row = pattern.sub(replacement, row)
        out.append(row)
    return out


def _home_rows(html: str, person: Participant) -> list[str]:
    """The rows and list items of a role's home page (its worklist) that name the participant."""
    rows = [
        row for row in re.findall(r"<tr[ >].*?</tr>|<li[ >].*?</li>", html, flags=re.S) if person.code in row
    ]
    return [_mask(row, person) for row in rows]


def _differences(
    clients: dict[str, Client], role: str, a: Participant, b: Participant, pages: dict | None = None
) -> list[str]:
    client = clients[role]
    differ = []
    # The role's home page, its worklist for today, lists every participant at once: the rows
    # of one of the pair must read like the other's.
    home = _page(client, reverse("role_home", args=[role]), pages)
    if _home_rows(home, a) != _home_rows(home, b):
        differ.append("home rows")
    for url_a, url_b in itertools.zip_longest(_urls(a), _urls(b)):
        # One has more rating tasks than the other: the other's answer is that of a task that
        # does not exist (what anyone probing a URL would get).
        url_a = url_a or rating_selectors.rate_url(a.pk, "madrs", "no-such-task")
        url_b = url_b or rating_selectors.rate_url(b.pk, "madrs", "no-such-task")
        # The URL is part of what a user sees: masked like the page, it must read the same.
        seen_a = (_mask(url_a, a), *_render(client, url_a, a))
        seen_b = (_mask(url_b, b), *_render(client, url_b, b))
        if seen_a != seen_b:
            differ.append(url_a)
            if os.environ.get("BLINDING_DIFF"):
                import difflib

                print(role, url_a, seen_a[1], seen_b[1])
                print(
                    "\n".join(
                        list(
                            difflib.unified_diff(seen_a[2].splitlines(), seen_b[2].splitlines(), lineterm="")
                        )[:30]
                    )
                )
    if _task_rows(client, a, pages) != _task_rows(client, b, pages):
        differ.append("task list rows")
    return differ


def _clients() -> dict[str, Client]:
    from django.contrib.auth import get_user_model

    clients = {}
    for user in get_user_model().objects.filter(username__in=STRICT + EXPOSED):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        clients[user.get_username()] = client
    return clients


@pytest.fixture(scope="module")
def staged(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """seed_demo's stage pairs (parameter off), then the same stages again with
    period2_equal_length on (in the same database)."""
    overrides: Path = tmp_path_factory.mktemp("protocol") / "overrides.json"
    with django_db_blocker.unblock(), override_settings(UNBLINDED_USERNAMES=["pharmacist", "pharmacist2"]):
        _flush()
        call_command("seed_demo", stdout=io.StringIO())
        off = _pairs()
        overrides.write_text(json.dumps({"period2_equal_length": True}))
        with override_settings(PROTOCOL_OVERRIDES_FILE=str(overrides)):
            trial.overrides.cache_clear()
            trial.protocol.cache_clear()
            try:
                from django.contrib.auth import get_user_model
                from django.utils import timezone

                from participants.management.commands.seed_demo import STAGES, Command
                from participants.models import KetamineReceipt

                users = {u.get_username(): u for u in get_user_model().objects.all()}
                command = Command()
                for stage, days, ending in STAGES:
                    if stage in ("kp-over-pk-continuing", "both-in-follow-up"):
                        command._stage_pair(
                            f"{stage}-equal",
                            days,
                            ending,
                            users,
                            KetamineReceipt.objects.first(),
                            now=timezone.now(),
                        )
                on = {k: v for k, v in _pairs().items() if k.endswith("-equal")}
            finally:
                trial.overrides.cache_clear()
                trial.protocol.cache_clear()
        assert not trial.protocol().period2_equal_length
        off = {k: v for k, v in off.items() if not k.endswith("-equal")}
        yield {"off": off, "on": on, "overrides": str(overrides)}
        _flush()


@pytest.mark.django_db
def test_strictly_blinded_roles_see_no_difference_beyond_the_raters_own_visits(staged) -> None:
    """The statistician sees no difference at any stage. The rater sees none either, except, once
    KP's period 2 is over, in the ratings the rater made in person (after KP's last infusion the
    rater rates at 4 h, 24 h, 72 h and weekly; for PK before each infusion): the visit rhythm,
    stated as the rater's residual inference; nothing else on any page."""
    with override_settings(UNBLINDED_USERNAMES=["pharmacist", "pharmacist2"]):
        clients, pages = _clients(), {}
        assert len(staged["off"]) == 7
        for stage, (a, b) in staged["off"].items():
            assert _differences(clients, "statistician", a, b, pages) == [], stage
            # The statistician's home names no participant at any stage.
            home = _page(clients["statistician"], reverse("role_home", args=["statistician"]), pages)
            assert a.code not in home and b.code not in home, stage
            differ = _differences(clients, "rater", a, b, pages)
            if stage not in TELLING:
                assert differ == [], (stage, differ)
            else:
                # The rater's home lists the task list's rows: the same residual inference.
                assert all(
                    d in ("task list rows", "home rows") or d.startswith("/ratings/") for d in differ
                ), (
                    stage,
                    differ,
                )


@pytest.mark.django_db
def test_exposed_roles_see_differences_only_where_the_design_tells(staged) -> None:
    told = {
        str(label)
        for label, cells in visibility.residual_inference(False)
        for _r, t in cells
        if "inferred" in str(t)
    }
    assert told  # the stated residual inference names stages
    with override_settings(UNBLINDED_USERNAMES=["pharmacist", "pharmacist2"]):
        clients, pages = _clients(), {}
        seen = set()
        for stage, (a, b) in staged["off"].items():
            for role in EXPOSED:
                differ = _differences(clients, role, a, b, pages)
                if stage not in TELLING_EXPOSED:
                    assert differ == [], (stage, role, differ)
                elif differ:
                    seen.add(stage)
        assert seen  # the comparison does see the design's difference where it exists


@pytest.mark.django_db
def test_with_period2_equal_length_on_no_role_sees_a_difference(staged) -> None:
    with override_settings(
        UNBLINDED_USERNAMES=["pharmacist", "pharmacist2"], PROTOCOL_OVERRIDES_FILE=staged["overrides"]
    ):
        trial.overrides.cache_clear()
        trial.protocol.cache_clear()
        try:
            assert trial.protocol().period2_equal_length
            clients, pages = _clients(), {}
            assert len(staged["on"]) == 2
            for stage, (a, b) in staged["on"].items():
                for role in STRICT + EXPOSED:
                    assert _differences(clients, role, a, b, pages) == [], (stage, role)
        finally:
            trial.overrides.cache_clear()
            trial.protocol.cache_clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("surface", "role"),
    [
        ("rater task label", "rater"),
        ("rater URL", "rater"),
        ("schedule label on a direct URL", "coordinator"),
    ],
)
def test_a_planted_leak_is_caught_by_name(staged, monkeypatch, surface, role) -> None:
    """The comparison is not blind itself: a label that carries period 2's length (read through
    the blinding module, as a careless change might) shows up at a stage where the pair must look
    the same, on the surface where it was planted."""
    from clinimetry.selectors import RatingTask
    from infusions import selectors as infusion_selectors
    from participants import allocation

    def length(person: Participant) -> int:
        try:
            return len(allocation.period_day_patterns(person)[1])
        except Exception:  # noqa: BLE001 (not randomized: no pattern)
            return 0

    if surface == "rater task label":
        monkeypatch.setattr(
            RatingTask, "rater_label", property(lambda t: f"Rating visit {length(t.participant)}")
        )
    elif surface == "rater URL":
        from clinimetry import selectors as rating_module

        original_ref = rating_module.task_ref

        def leaky_ref(participant_id: int, code: str) -> str:
            # One letter more for PK: a careless name that carries the sequence in its shape.
            person = Participant.objects.get(pk=participant_id)
            return original_ref(participant_id, code) + ("x" if length(person) == 8 else "")

        monkeypatch.setattr(rating_module, "task_ref", leaky_ref)
    else:
        original = infusion_selectors.participant_events

        def leaky(participant, **kwargs):  # type: ignore[no-untyped-def]
            return [
                dataclasses.replace(e, label=f"{e.label} /{length(participant)}")
                for e in original(participant, **kwargs)
            ]

        monkeypatch.setattr(infusion_selectors, "participant_events", leaky)
    with override_settings(UNBLINDED_USERNAMES=["pharmacist", "pharmacist2"]):
        a, b = staged["off"]["period2-after-3" if role == "rater" else "period1-mid"]
        differ = _differences(_clients(), role, a, b)
    if surface == "schedule label on a direct URL":
        assert reverse("infusions:timeline", args=[a.pk]) in differ, differ
    elif surface == "rater task label":
        assert "task list rows" in differ, differ
    else:  # the opaque name's length now tells the sequence: every rating URL differs
        assert any("/rate/" in d for d in differ), differ


@pytest.mark.django_db
def test_seed_demo_makes_one_user_per_role_and_a_small_trial(staged, capsys, settings) -> None:
    """Built once by the module's fixture (with the period2_equal_length pairs added after it)."""
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    call_command("seed_demo")  # idempotent: a second run adds nothing
    out = capsys.readouterr().out
    users = get_user_model().objects.filter(username__in=ROLES)
    assert users.count() == len(ROLES)
    for role in ROLES:
        assert role in out
        assert users.get(username=role).groups.filter(name=role).exists()
    from participants.management.commands.seed_demo import STAGES

    pairs = 2 * len(STAGES) + 2 * len(staged["on"])  # one KP and one PK participant per stage
    outcomes = list(ScreeningRecord.objects.values_list("outcome", flat=True))
    # + 1: the second site's person, enrolled there by its own coordinator (not randomized).
    assert len(outcomes) == 8 + pairs + 1
    assert outcomes.count("declined") == 1 and outcomes.count("screen_failure") == 2
    assert Participant.objects.count() == 5 + pairs + 1
    assert Participant.objects.filter(site__code="HSUR").count() == 1
    slots = list(AllocationSlot.objects.filter(participant__isnull=False).order_by("sequence_no"))
    assert len(slots) == 4 + pairs
    # Each stage pair took the two slots of one block: one of each sequence.
    for k in range(4, 4 + pairs, 2):
        assert {slots[k].sequence, slots[k + 1].sequence} == {"KP", "PK"}
    from infusions.models import InfusionVisit

    done = InfusionVisit.objects.filter(status="done")
    assert DosePreparation.objects.count() == done.count() > 20
    assert InfusionVisit.objects.filter(status="missed").count() == 1
    assert done.filter(period=2).exists(), "someone is in period 2"
    assert Participant.objects.filter(status="randomized", infusion_visits__isnull=True).exists(), (
        "someone about to start"
    )
    from clinimetry.models import Assessment, Relapse

    # Every randomized demo person (four, rated at baseline before randomization, the one about
    # to start included) and every stage pair, two scales each.
    assert Assessment.objects.filter(task_code="baseline").count() == 2 * (4 + pairs)
    assert Relapse.objects.count() == 3, "a demo responder and the relapse pair relapse in follow-up"
    assert Participant.objects.filter(status="withdrawn").count() == 2
    assert Assessment.objects.filter(instrument="madrs", total__lte=15).exclude(task_code="baseline").exists()
    first = Participant.objects.order_by("number").first()
    assert first.history.first().history_change_reason == "Weight re-measured on the calibrated scale"


def _task_order(client: Client) -> list[str]:
    """The opaque names of the rater's task list, in the order shown (each task once)."""
    html = client.get(reverse("clinimetry:tasks")).content.decode()
    return list(dict.fromkeys(re.findall(r"/rate/[a-z0-9]+/([a-z2-7]{16})/", html)))


def _order_problems(client: Client) -> list[str]:
    """Where the rater's list is not in order of due time, then opaque name: the only order that
    nothing of the allocation can move (the dues are computed here from each participant's tasks,
    not read from the page)."""
    due = {t.ref: t.due for person in Participant.objects.all() for t in rating_selectors.all_tasks(person)}
    shown = _task_order(client)
    expected = sorted(shown, key=lambda ref: (due[ref], ref))
    return [] if shown == expected else [f"task list order: {shown[:6]} != {expected[:6]}"]


@pytest.mark.django_db
@pytest.mark.parametrize("planted", [False, True])
def test_the_raters_list_order_depends_on_nothing_but_due_time_and_opaque_name(
    staged, monkeypatch, planted
) -> None:
    """List order is a surface: a list that put one sequence's tasks first (at equal due days
    the pair would still look alike row by row) is caught by name."""
    from participants import allocation

    if planted:
        original = rating_selectors.due_tasks

        def by_arm(participants, **kwargs):  # type: ignore[no-untyped-def]
            def length(person: Participant) -> int:
                try:
                    return len(allocation.period_day_patterns(person)[1])
                except Exception:  # noqa: BLE001 (not randomized: no pattern)
                    return 0

            return sorted(
                original(participants, **kwargs), key=lambda t: (length(t.participant), t.due, t.ref)
            )

        monkeypatch.setattr(rating_selectors, "due_tasks", by_arm)
    client = _clients()["rater"]
    assert len(_task_order(client)) >= 4
    problems = _order_problems(client)
    assert bool(problems) is planted, problems
