"""Fixtures of the pharmacy's tests: the unblinded pharmacist (both keys: listed in
UNBLINDED_USERNAMES and in the group) and a second pharmacist who checks their preparations. A
module that needs another list overrides `unblinded`."""

from __future__ import annotations

import pytest


@pytest.fixture
def unblinded(pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    return pharmacist


@pytest.fixture
def checker(make_user, unblinded):  # type: ignore[no-untyped-def]
    return make_user("pharmacist2", "pharmacist")
