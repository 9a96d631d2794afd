"""The conduct pages hold nothing the Content-Security-Policy refuses (tests/ketatrial/test_csp.py
scans the other apps); the two PDF templates, rendered by WeasyPrint and never served, keep their
<style>. No template names the sequence."""

from __future__ import annotations

from pathlib import Path

from tests.ketatrial.test_csp import REFUSED

TEMPLATES = Path(__file__).resolve().parents[2] / "conduct" / "templates" / "conduct"
PDF = {"code_break_pdf.html", "paper_form_pdf.html"}


def test_served_templates_hold_no_inline_script_style_or_handler() -> None:
    served = [p for p in TEMPLATES.glob("*.html") if p.name not in PDF]
    assert len(served) >= 5
    problems = [
        f"{path.name}: {what}"
        for path in served
        for what, rx in REFUSED.items()
        if rx.search(path.read_text())
    ]
    assert problems == []


def test_no_template_names_the_sequence() -> None:
    assert [p.name for p in TEMPLATES.glob("*.html") if "sequence" in p.read_text().lower()] == []
