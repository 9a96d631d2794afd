"""The suite runs in parallel processes (pytest-xdist, `make test`): what keeps them apart."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import xdist_group_of
from tests.workers import PORT_BASE, PORT_BLOCK, free_port, xdist_worker_index

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shared_by_the_module() -> str:
    return "built once"


def test_free_ports_come_from_this_workers_own_block_below_the_ephemeral_range() -> None:
    first, second = free_port(), free_port()
    start = PORT_BASE + xdist_worker_index() * PORT_BLOCK
    assert first != second
    assert all(start <= port < start + PORT_BLOCK < 32768 for port in (first, second))
    with socket.socket() as s:
        s.bind(("127.0.0.1", first))  # free indeed


def test_files_written_where_the_settings_say_stay_in_this_process_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.getbasetemp().resolve()
    for folder in (settings.VAR_DIR, settings.MEDIA_ROOT, settings.AUDIT_CHAIN_HEADS_DIR):
        assert Path(folder).resolve().is_relative_to(base), folder
        assert not Path(folder).resolve().is_relative_to(ROOT), folder


def test_a_test_sharing_a_module_fixture_is_grouped_with_its_module(
    request: pytest.FixtureRequest, shared_by_the_module: str
) -> None:
    assert xdist_group_of(request.node) == "tests/test_parallel_runs.py"


def test_a_test_of_its_own_has_no_group(request: pytest.FixtureRequest) -> None:
    assert xdist_group_of(request.node) is None
