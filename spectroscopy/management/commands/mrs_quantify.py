"""python manage.py mrs_quantify METAB_FILE [--water WATER_FILE] [--format json]"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from django.core.management.base import BaseCommand

from ketatrial.trial import protocol
from spectroscopy.io import MRSFormatError, read_nifti_mrs
from spectroscopy.pipeline import limits_from_protocol, quantify

KEYS = (
    "gaba_plus_cr",
    "glx_cr",
    "gaba_plus_iu",
    "glx_iu",
    "gaba_plus_fit_error_pct",
    "glx_fit_error_pct",
    "cr_fwhm_hz",
    "water_fwhm_hz",
    "naa_snr",
    "gaba_plus_snr",
    "freq_drift_hz_sd",
    "freq_drift_hz_range",
    "n_transients",
    "n_rejected",
    "qc_pass",
    "qc_flags",
    "pipeline_version",
    "elapsed_s",
)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class Command(BaseCommand):
    help = "Quantify GABA+ and Glx of one MEGA-PRESS NIfTI-MRS file; prints one JSON object."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("metab")
        parser.add_argument("--water")
        parser.add_argument("--format", choices=["json"], default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        p = protocol()
        limits = limits_from_protocol(p)
        try:
            metab = read_nifti_mrs(options["metab"], require_edit=True)
            water = read_nifti_mrs(options["water"]) if options.get("water") else None
            result = quantify(metab, water, limits=limits)
        except (MRSFormatError, ValueError, OSError) as exc:
            message = " ".join(str(exc).split())  # one line, whatever the library wrote
            sys.stderr.write(f"mrs_quantify: {options['metab']}: {message}\n")
            sys.exit(2)
        self.stdout.write(json.dumps({k: _clean(result.values.get(k)) for k in KEYS}))
