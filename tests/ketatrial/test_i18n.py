"""Spanish and English: every interface string has its Spanish translation, compiled."""

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (enough of the format for our own catalogue)."""
    entries: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""\n"Project' not in block:
            entries[f"FUZZY:{block[:60]}"] = ""
        m = re.search(r'^msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', block, re.M)
        if m:

            def join(s: str) -> str:
                return "".join(re.findall(r'"(.*)"', s))

            context = re.search(r'^msgctxt "(.*)"$', block, re.M)
            # A message with a context is looked up with it (gettext keys it "context\x04msgid").
            key = f"{context.group(1)}\x04{join(m.group(1))}" if context else join(m.group(1))
            entries[key] = join(m.group(2))
    entries.pop("", None)
    return entries


def test_every_string_has_a_spanish_translation() -> None:
    entries = _po_entries(LOCALE / "es/LC_MESSAGES/django.po")
    assert entries, "the Spanish catalogue is empty"
    missing = [k for k, v in entries.items() if not v]
    assert missing == []


def test_the_compiled_catalogue_matches_the_source() -> None:
    entries = _po_entries(LOCALE / "es/LC_MESSAGES/django.po")
    with (LOCALE / "es/LC_MESSAGES/django.mo").open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    stale = [
        k
        for k, v in entries.items()
        if catalog.gettext(k.replace("\\n", "\n").replace('\\"', '"'))
        != v.replace("\\n", "\n").replace('\\"', '"')
    ]
    assert stale == [], "run `make messages` to recompile"


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "expected"), [("es", "Iniciar sesión"), ("en", "Sign in")])
def test_the_login_page_speaks_the_browser_language(accept: str, expected: str) -> None:
    html = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert expected in html
