"""German text folding for comparisons: case folding, umlauts as ae/oe/ue, ß as ss, no accents.

``fold("Straßenbahn-Ausbau für Bürger")`` → ``"strassenbahn-ausbau fuer buerger"``. A text that
already spells umlauts out ("Buergerbuero") folds to the same string as the one that does not.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache, lru_cache

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
WORD_RE = re.compile(r"[a-z0-9]+")
# endings that inflect a German noun or adjective, or link the parts of a compound
ENDINGS = ("ern", "en", "er", "es", "e", "n", "s")
STOPWORDS = frozenset(
    "der die das den dem des ein eine einen einem einer eines und oder aber im in am an auf aus bei bis "
    "fuer mit nach von vom vor zum zur zu ueber unter um als auch ist sind wird werden wurde nicht noch "
    "nur so wie es sich sie er wir ihr ab seit ohne gegen durch hier jetzt neue neuer neues neuen".split()
)


@cache
def _no_marks() -> dict[int, None]:
    """A translation table that deletes every combining mark (built once, on the first non-ASCII text)."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c))}


def fold(text: str) -> str:
    folded = text.casefold().translate(_UMLAUTS)
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFKD", folded).translate(_no_marks())


def words(text: str) -> list[str]:
    """Folded words: letters and digits; punctuation, hyphens and symbols separate words."""
    return WORD_RE.findall(fold(text))


def stem(word: str) -> str:
    """A crude stem for comparing titles: one inflection ending off words of five letters or more."""
    if len(word) >= 5:
        for ending in ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 4:
                return word[: -len(ending)]
    return word


@lru_cache(maxsize=8192)  # titles are compared again and again while a document is stored
def _content_words(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text) if len(w) > 1 and w not in STOPWORDS)


def content_words(text: str) -> list[str]:
    """Stemmed words without function words and single letters."""
    return list(_content_words(text))
