"""The lock lives in ketatrial: the base of every clinical record asks ketatrial.lock, and neither
it nor the lock reaches "up" into an app built on them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("participants", "infusions", "clinimetry", "spectroscopy", "outcomes")


@pytest.mark.parametrize("module", ["ketatrial/audit.py", "ketatrial/lock.py", "ketatrial/models.py"])
def test_the_audit_base_and_the_lock_import_no_app_built_on_them(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    imported = {
        (node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not imported & set(APPS)


def test_every_caller_of_the_lock_check_uses_ketatrial_lock() -> None:
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or path.parts[len(ROOT.parts)] in ("tests", "benchmarks"):
            continue
        text = path.read_text()
        assert "from outcomes.services import database_locked" not in text, path
        assert "pg_advisory_xact_lock" not in text or path == ROOT / "ketatrial" / "lock.py", path
