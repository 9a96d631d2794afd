"""Content-Security-Policy: every page says only the site's own files may run or style it, and no
template or generated markup holds what that policy refuses (inline script, event handler,
<style> block, style attribute). The PDF templates are rendered by WeasyPrint, never served."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
APPS = ("ketatrial", "participants", "infusions", "clinimetry", "spectroscopy", "outcomes")
PDF_TEMPLATES = {
    "outcomes/templates/outcomes/analysis_report.html",
    "outcomes/templates/outcomes/status_report.html",
    "participants/templates/participants/label.html",
    "spectroscopy/templates/spectroscopy/report.html",
}
REFUSED = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "style block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
}


def _templates() -> list[Path]:
    found = list((ROOT / "templates").rglob("*.html"))
    for app in APPS:
        found += (ROOT / app / "templates").rglob("*.html")
    return [p for p in found if str(p.relative_to(ROOT)) not in PDF_TEMPLATES]


def test_no_served_template_holds_what_the_policy_refuses() -> None:
    templates = _templates()
    assert len(templates) > 40
    problems = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in templates
        for what, pattern in REFUSED.items()
        if pattern.search(path.read_text())
    ]
    assert not problems, problems


def test_no_python_module_writes_a_style_attribute_into_markup() -> None:
    """Charts and figures are inline SVG in pages: sized by attributes and classes."""
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and re.search(r"""\sstyle=['"{]""", path.read_text())
    ]
    assert not offenders, offenders


def test_the_charts_are_sized_without_a_style_attribute() -> None:
    from datetime import UTC, datetime, timedelta

    from clinimetry.charts import totals_svg

    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    svg = totals_svg({"hdrs17": [(start, 24), (start + timedelta(days=7), 12)]})
    assert svg.startswith("<svg") and 'class="img-fluid"' in svg
    assert not REFUSED["style attribute"].search(svg)


def test_every_page_carries_a_policy_without_unsafe_inline(db: None) -> None:
    response = Client().get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
