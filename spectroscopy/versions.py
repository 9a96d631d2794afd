"""Pipeline versions, importable without the numerical libraries (pages and services name them)."""

PIPELINE_VERSION = "2.0.0"  # MEGA-PRESS (pipeline.py)
LCM_VERSION = "1.0.0"  # short-TE PRESS linear combination (lcm.py)
PRESS_PIPELINE_VERSION = f"lcm-{LCM_VERSION}"
