"""A web process starts light: loading every URL and view imports none of the heavy libraries
(they load in the workers, exports and analyses that use them), and Celery is loaded only to queue
a job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "pandas",
    "pyarrow",
    "scipy",
    "nibabel",
    "pydicom",
    "statsmodels",
    "weasyprint",
    "matplotlib",
    "celery",
    # The statistician's API (Django REST framework, drf-spectacular) loads at its first request.
    "rest_framework.views",
    "drf_spectacular.views",
)
PROBE = """
import json, sys, django
django.setup()
import ketatrial.urls
from django.urls import get_resolver
get_resolver().url_patterns
from django.core import checks
checks.run_checks()
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def test_loading_every_view_and_running_the_checks_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=repr(HEAVY))],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ketatrial.settings", "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
