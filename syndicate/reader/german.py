"""German text folding for comparisons: case folding, umlauts as ae/oe/ue, ß as ss, no accents.

``fold("Straßenbahn-Ausbau für Bürger")`` → ``"strassenbahn-ausbau fuer buerger"``. A text that
already spells umlauts out ("Buergerbuero") folds to the same string as the one that does not.
"""

from __future__ import annotations

import re
import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
WORD_RE = re.compile(r"[a-z0-9]+")
# endings that inflect a German noun or adjective, or link the parts of a compound
ENDINGS = ("ern", "en", "er", "es", "e", "n", "s")
STOPWORDS = frozenset(
    "der die das den dem des ein eine einen einem einer eines und oder aber im in am an auf aus bei bis "
    "fuer mit nach von vom vor zum zur zu ueber unter um als auch ist sind wird werden wurde nicht noch "
    "nur so wie es sich sie er wir ihr ab seit ohne gegen durch hier jetzt neue neuer neues neuen".split()
)


def fold(text: str) -> str:
    folded = text.casefold().translate(_UMLAUTS)
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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


def content_words(text: str) -> list[str]:
    """Stemmed words without function words and single letters."""
    return [stem(w) for w in words(text) if len(w) > 1 and w not in STOPWORDS]
