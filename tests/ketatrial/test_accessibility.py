"""Accessibility (WCAG 2.2 AA) of the shared page shell, form errors and the CONSORT page; axe-core
itself runs on every page of the browser journeys (tests/browser/conftest.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import enrolled, screened

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    """Every start tag's attributes by id, and the text of each table row."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.rows: list[list[str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if "id" in attributes:
            self.by_id[attributes["id"]] = {"tag": tag, **attributes}
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Elements:
    elements = Elements()
    elements.feed(html)
    return elements


def test_an_invalid_form_lists_its_errors_at_the_top_linked_to_fields_that_name_their_message(
    coordinator, client_for
) -> None:
    response = client_for(coordinator).post(
        reverse("password_change"),
        {"old_password": "not-the-password", "new_password1": "x", "new_password2": "y"},
    )
    html = response.content.decode()
    page = parse(html)
    summary = re.search(r"<div[^>]*data-error-summary[^>]*>(.*?)</div>", html, re.S)
    assert summary is not None and 'tabindex="-1"' in summary.group(0)
    linked = re.findall(r'href="#([^"]+)"', summary.group(1))
    assert "id_old_password" in linked and "id_new_password2" in linked
    assert html.index("data-error-summary") < html.index('id="id_old_password"')
    for field_id in linked:
        field = page.by_id[field_id]
        assert field["aria-invalid"] == "true"
        described = field["aria-describedby"].split()
        assert f"{field_id}_error" in described
        assert page.by_id[f"{field_id}_error"]["tag"] == "div"


def test_a_valid_page_has_no_error_summary(coordinator, client_for) -> None:
    html = client_for(coordinator).get(reverse("password_change")).content.decode()
    assert "data-error-summary" not in html
    assert 'aria-invalid="true"' not in html


def test_the_language_menu_changes_nothing_until_its_button_is_pressed(coordinator, client_for) -> None:
    html = client_for(coordinator).get(reverse("protocol")).content.decode()
    action = re.escape(reverse("set_language"))
    form = re.search(rf'<form[^>]*action="{action}".*?</form>', html, re.S)
    assert form is not None
    assert "submit-on-change" not in form.group(0)
    assert re.search(r'<button[^>]*type="submit"', form.group(0))
    assert 'for="lang-select"' in form.group(0)
    assert "submit-on-change" not in (Path(settings.BASE_DIR) / "static/js/ketatrial.js").read_text()


def test_the_consort_page_gives_its_counts_as_text_in_tables(coordinator, data_manager, client_for) -> None:
    enrolled(coordinator)
    enrolled(coordinator)
    screened(coordinator, eligible=False)
    html = client_for(data_manager).get(reverse("outcomes:consort")).content.decode()
    rows = {row[0]: row[1:] for row in parse(html).rows if row}
    assert rows["Assessed for eligibility"] == ["3"]
    assert rows["Enrolled"] == ["2"]
    assert rows["Screen failure"] == ["1"]
    assert rows["Awaiting randomization"] == ["2"]
    assert rows["Randomized"] == ["0"]
    assert rows["Allocated"] == ["0"]
    assert "<caption" in html and 'scope="row"' in html


def test_the_consort_labels_follow_the_readers_language(coordinator, data_manager, client_for) -> None:
    from django.utils import translation

    from outcomes import consort

    with translation.override("es"):
        expected = str(consort.STAGES[0][1])
        diagram_label = translation.gettext("CONSORT flow diagram")
    client = client_for(data_manager)
    client.post(reverse("set_language"), {"language": "es", "next": reverse("home")})
    html = client.get(reverse("outcomes:consort")).content.decode()
    rows = {row[0] for row in parse(html).rows if row}
    assert expected in rows
    assert f'aria-label="{diagram_label}"' in html


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_focus_rings_reach_three_to_one_against_the_backgrounds_they_sit_on() -> None:
    css = (Path(settings.BASE_DIR) / "static/css/ketatrial.css").read_text()
    light_ring = re.search(r":root \{ --kt-focus-ring: (#[0-9a-f]{6}); \}", css)
    dark_ring = re.search(r"\.navbar-dark[^{]*\{ --kt-focus-ring: (#[0-9a-f]{6}); \}", css)
    assert light_ring and dark_ring
    assert "outline: 3px solid var(--kt-focus-ring) !important" in css
    for background in ("#ffffff", "#f8f9fa", "#f8d7da", "#fff3cd"):  # page, light, danger, warning
        assert contrast(light_ring.group(1), background) >= 3
    assert contrast(dark_ring.group(1), "#212529") >= 3  # Bootstrap's dark navbar
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0  # the formula, on known pairs
    assert round(contrast("#767676", "#ffffff"), 1) == 4.5
