"""Shared fixtures: named personas, one per role, plus an outsider with no role; and how the suite
shares out among parallel processes (`make test` runs pytest-xdist: `-n auto --dist loadgroup`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import connection
from django.db.models.signals import post_migrate
from django.test import Client, override_settings
from django.utils import timezone

from ketatrial.protocol import ROLES
from participants import services
from participants.roles import sync_role_groups
from tests.factories import enrolled

PASSWORD = "Correct-horse-42"

# Fixtures shared by the tests of a module: their tests stay together in one xdist worker, so an
# expensive setup (seed_demo's staged trial, the production deployment, the MRS series) is built
# once, not once per worker. (Not "class": pytest-django's own autouse fixture is class-scoped.)
SHARED_SCOPES = {"module", "package"}
# Work units in the order they are handed out: the long ones first, so that no worker is left
# with one at the end while the other waits. Real Celery workers and their redis-servers run one
# test at a time in one xdist worker (they time how long a take-over lasts, and each starts
# processes of its own); the browser journeys likewise share one Chromium and one live server.
GROUPS_FIRST = ("celery_worker", "browser")
# Where each xdist worker writes the group of each test for the scheduler (pytest_configure_node).
GROUPS_INPUT = "ketatrial_test_groups"


def xdist_group_of(item: pytest.Item) -> str | None:
    """The xdist group of a test (None: any worker may take it, on its own): its own
    `xdist_group` marker, else one of GROUPS_FIRST, else its module's if it shares a fixture."""
    named = item.get_closest_marker("xdist_group")
    if named is not None:
        return str(named.args[0] if named.args else named.kwargs.get("name", "default"))
    for marker in GROUPS_FIRST:
        if item.get_closest_marker(marker):
            return marker
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is not None:
        for definitions in fixtureinfo.name2fixturedefs.values():
            if definitions and definitions[-1].scope in SHARED_SCOPES:
                return item.nodeid.split("::", 1)[0]
    return None


def _rank(group: str | None) -> int:
    if group in GROUPS_FIRST:
        return GROUPS_FIRST.index(group)
    return len(GROUPS_FIRST) + (0 if group else 1)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # type: ignore[no-untyped-def]
    """(xdist controller) Tell each worker where to write the groups of its tests."""
    folder = node.config._tmp_path_factory.getbasetemp()  # the workers' basetemps are inside it
    node.workerinput[GROUPS_INPUT] = str(folder / f"groups-{node.gateway.id}.json")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """--dist loadgroup: work units are the groups the workers wrote (xdist_group_of), each test
    not in a group a unit of its own, handed out in the workers' order (long groups first).
    pytest-xdist's own loadgroup reads `xdist_group` markers through a node id suffix that
    pytest 9 no longer lets a plugin set, so it would split the groups."""
    if config.getvalue("dist") != "loadgroup":
        return None
    import json

    from xdist.scheduler import LoadScopeScheduling

    folder = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has collected
                written = sorted(folder.glob("groups-*.json"))
                self.groups = json.loads(written[0].read_text()) if written else {}
            return self.groups.get(nodeid, nodeid)

    config.option.loadscopereorder = False  # the workers' order, not the units' sizes
    return GroupScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """In an xdist worker with --dist loadgroup only (otherwise the usual order stays): after the
    other plugins' order (pytest-django's: transactional tests last), the groups first, the long
    ones (GROUPS_FIRST) before the others, then the tests on their own, which even out the
    workers at the end; the groups written for the scheduler (pytest_xdist_make_scheduler)."""
    yield
    target = getattr(config, "workerinput", {}).get(GROUPS_INPUT)
    if not target:
        return
    import json

    groups = {item.nodeid: xdist_group_of(item) for item in items}
    items.sort(key=lambda item: _rank(groups[item.nodeid]))  # stable: the usual order within a rank
    Path(target).write_text(json.dumps({k: v for k, v in groups.items() if v}))


def _role_groups_after_a_flush(sender: AppConfig, **kwargs: object) -> None:
    """A transactional test ends with a flush, which empties auth_group; the role groups the
    migration made come back with the permissions (post_migrate, sent after the flush), so a test
    finds the migrated database whichever test its worker ran before it."""
    sync_role_groups(Group, Permission)


post_migrate.connect(
    _role_groups_after_a_flush,
    sender=apps.get_app_config("ketatrial"),  # its permissions are made before, by auth's receiver
    dispatch_uid="tests-role-groups-after-a-flush",
)


@pytest.fixture(scope="session", autouse=True)
def _files_of_this_test_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Uploads, exports and audit-chain heads a test writes where the settings say go to a
    directory of this test process (pytest's temporary directory, one per xdist worker): never
    the demo's var/, never another worker's files (a backup reads the whole MEDIA_ROOT). Tests
    that care set their own (`settings.MEDIA_ROOT = tmp_path / ...`)."""
    var: Path = tmp_path_factory.mktemp("var")
    with override_settings(VAR_DIR=var, MEDIA_ROOT=var / "media", AUDIT_CHAIN_HEADS_DIR=var / "audit-heads"):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    """On SQLite the test database is a file of this test process, not the shared in-memory one:
    the browser tests' live server answers from its own threads, and an in-memory database's
    table locks refused the test's own connection now and then ("database table is locked")."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _english_outside_requests() -> object:
    """Service messages asserted in tests are the English source; requests pick their own."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _jobs_run_in_process(settings) -> None:  # type: ignore[no-untyped-def]
    """Outbox jobs (ketatrial/jobs.py) run in the test's process, as in the demo, even where CI
    sets CELERY_BROKER_URL: no worker reads the default queue during a test. The tests of real
    workers and broker outages say otherwise themselves (JOBS_IN_PROCESS = False, their
    own queue and redis-server)."""
    settings.JOBS_IN_PROCESS = True  # never Celery's own CELERY_ settings: Celery reads them once


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """Hashing cost is not under test; the browser tests sign in with the same hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`client.force_login(user)` (and `client_for`) stands for a finished sign-in: the password
    and, where the account needs one, the second factor. The session is verified the way the
    second-factor page verifies it (django_otp.login: the device's id in the session) with a
    confirmed TOTP device of the user. Tests of the second factor itself sign in through the
    forms (tests/ketatrial/test_second_factor.py) or with `Client.login`, which this leaves as
    password only."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password_only = Client.force_login

    def force_login(self: Client, user: AbstractBaseUser, backend: str | None = None) -> None:
        password_only(self, user, backend)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def make_user(db: None) -> Callable[..., AbstractBaseUser]:
    # A transactional test's flush empties auth_group; restore the roles the migration made.
    sync_role_groups(Group, Permission)

    def make(username: str, *roles: str) -> AbstractBaseUser:
        return services.user_create(
            username=username,
            password=PASSWORD,
            first_name=username.title(),
            last_name="Tester",
            email=f"{username}@example.org",
            roles=set(roles),
            language="en",
            by=None,
            now=timezone.now(),
        )

    return make


def _persona(role: str) -> Callable[..., AbstractBaseUser]:
    @pytest.fixture
    def persona(make_user: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
        return make_user(role, role)

    return persona


rater = _persona("rater")
infusion_physician = _persona("infusion_physician")
coordinator = _persona("coordinator")
pharmacist = _persona("pharmacist")
statistician = _persona("statistician")
data_manager = _persona("data_manager")
principal_investigator = _persona("principal_investigator")
monitor = _persona("monitor")


@pytest.fixture
def outsider(make_user: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    """A valid account that holds no role."""
    return make_user("outsider")


@pytest.fixture
def personas(make_user: Callable[..., AbstractBaseUser]) -> dict[str, AbstractBaseUser]:
    return {role: make_user(role, role) for role in ROLES}


@pytest.fixture
def client_for() -> Callable[[AbstractBaseUser], Client]:
    def make(user: AbstractBaseUser) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def participant(coordinator: AbstractBaseUser):  # type: ignore[no-untyped-def]
    return enrolled(coordinator)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
