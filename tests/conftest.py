"""Shared fixtures: named personas, one per role, plus an outsider with no role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import connection
from django.test import Client
from django.utils import timezone

from ketatrial.protocol import ROLES
from participants import services
from participants.roles import sync_role_groups
from tests.factories import enrolled

PASSWORD = "Correct-horse-42"


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
