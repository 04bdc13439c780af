"""German folding: the fast paths of ``fold`` give what the plain definition gives."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.reader.german import fold


def reference(text: str) -> str:
    """casefold, umlauts spelt out, compatibility decomposition, every combining mark dropped."""
    folded = text.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


@pytest.mark.parametrize(
    "text",
    [
        "Straßenbahn-Ausbau für Bürger",
        "„Stadtrat — Haushalt“ – 12/2025",
        "Café Résumé",
        "Cafe\u0301 (decomposed)",
        "ÄÖÜ ẞ",
        "ﬁnanzen ① ²",
        "Ελληνικά",
        "plain ascii",
        "",
        "x" * 400 + " Müller – é",
    ],
)
def test_fold_examples(text):
    assert fold(text) == reference(text)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.lists(st.sampled_from(["ä", "é", "e\u0301", "—", "„", "“", "ß", "Ö", "a", " ", "1", "ﬁ", "\u0308"]), max_size=30).map("".join)
)
def test_fold_matches_the_definition(text):
    assert fold(text) == reference(text)
