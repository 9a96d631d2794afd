"""Every item name and guidance line has its Spanish in the catalogue; every score has a line."""

from django.utils import translation

from clinimetry.items import HDRS17_ITEMS, MADRS_ITEMS_TEXT
from clinimetry.scoring import HDRS17_MAX, MADRS_ITEMS, MADRS_MAX_ITEM


def test_every_valid_score_has_one_line_of_guidance() -> None:
    for code, maximum in HDRS17_MAX.items():
        codes = ("16A", "16B") if code == "16" else (code,)
        for c in codes:
            expected = set(range(maximum + 1)) | ({3} if code == "16" else set())
            assert set(HDRS17_ITEMS[c][2]) == expected, c
    for code in MADRS_ITEMS:
        assert set(MADRS_ITEMS_TEXT[code][2]) == set(range(MADRS_MAX_ITEM + 1))


def test_the_spanish_catalogue_holds_every_item_text() -> None:
    variants: dict[str, set[str]] = {}
    for table in (HDRS17_ITEMS, MADRS_ITEMS_TEXT):
        for en, es, guide in table.values():
            variants.setdefault(en, set()).add(es)
            for g_en, g_es in guide.values():
                variants.setdefault(g_en, set()).add(g_es)
    with translation.override("es"):
        missing = [en for en, spanish in variants.items() if translation.gettext(en) not in spanish]
    assert missing == []
