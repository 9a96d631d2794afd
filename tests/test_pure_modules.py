"""Pure domain modules import no Django (checked in a fresh interpreter)."""

import subprocess
import sys

import pytest

PURE_MODULES = [
    "ketatrial.protocol",
    "participants.randomization",
    "participants.eligibility",
    "infusions.dosing",
    "infusions.schedule",
    "infusions.vitals",
    "infusions.dissociation",
    "clinimetry.scoring",
    "clinimetry.scales",
    "clinimetry.items",
    "spectroscopy.io",
    "spectroscopy.intake",
    "spectroscopy.processing",
    "spectroscopy.fitting",
    "spectroscopy.synthetic",
    "spectroscopy.pipeline",
    "outcomes.blinding_indices",
    "outcomes.timepoints",
    "outcomes.sap.common",
    "outcomes.sap.sets",
    "outcomes.sap.primary",
    "outcomes.sap.longitudinal",
    "outcomes.sap.crossover",
    "outcomes.sap.survival",
    "outcomes.sap.mrs",
    "ketatrial.backup_crypto",
    "review.soft_ranges",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_django(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    # Import the module file directly, not through its package (whose __init__ wires Celery).
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['ketatrial'] = type(sys)('ketatrial'); "
            "sys.modules['ketatrial'].__path__ = ['ketatrial']; " + code,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
