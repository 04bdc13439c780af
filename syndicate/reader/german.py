"""German text folding for comparisons: case folding, umlauts as ae/oe/ue, ß as ss, no accents.

``fold("Straßenbahn-Ausbau für Bürger")`` → ``"strassenbahn-ausbau fuer buerger"``. A text that
already spells umlauts out ("Buergerbuero") folds to the same string as the one that does not.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache, lru_cache

WORD_RE = re.compile(r"[a-z0-9]+")
# endings that inflect a German noun or adjective, or link the parts of a compound
ENDINGS = ("ern", "en", "er", "es", "e", "n", "s")
STOPWORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einen",
        "einem",
        "einer",
        "eines",
        "und",
        "oder",
        "aber",
        "im",
        "in",
        "am",
        "an",
        "auf",
        "aus",
        "bei",
        "bis",
        "fuer",
        "mit",
        "nach",
        "von",
        "vom",
        "vor",
        "zum",
        "zur",
        "zu",
        "ueber",
        "unter",
        "um",
        "als",
        "auch",
        "ist",
        "sind",
        "wird",
        "werden",
        "wurde",
        "nicht",
        "noch",
        "nur",
        "so",
        "wie",
        "es",
        "sich",
        "sie",
        "er",
        "wir",
        "ihr",
        "ab",
        "seit",
        "ohne",
        "gegen",
        "durch",
        "hier",
        "jetzt",
        "neue",
        "neuer",
        "neues",
        "neuen",
    ]
)


@cache
def _marks() -> re.Pattern:
    """Every combining mark, as one character class (built once, on the first text that needs it)."""
    ranges, start = [], None
    for c in range(sys.maxunicode + 2):
        marked = c <= sys.maxunicode and unicodedata.combining(chr(c)) != 0
        if marked and start is None:
            start = c
        elif not marked and start is not None:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(c - 1))}" if c - 1 > start else re.escape(chr(start)))
            start = None
    return re.compile(f"[{''.join(ranges)}]+")


def fold(text: str) -> str:
    if text.isascii():  # most words, titles and texts: case folding is all there is to do
        return text.lower()
    return _fold_short(text) if len(text) <= _SHORT else _fold(text)


def _fold(text: str) -> str:
    # casefold() already turns ß and ẞ into "ss" and capital umlauts into small ones
    folded = text.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    if folded.isascii():
        return folded
    folded = unicodedata.normalize("NFKD", folded)
    # the few distinct characters looked at first: most non-ASCII text left here is dashes and
    # quotation marks ("„Stadtrat — Haushalt“"), which carry no mark to take off
    return _marks().sub("", folded) if any(map(unicodedata.combining, set(folded))) else folded


_SHORT = 300  # titles and words are folded again and again while a document is stored: remembered
_fold_short = lru_cache(maxsize=8192)(_fold)


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
