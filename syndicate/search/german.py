"""German words for the search index: folding, stems, stopwords, and the query a user's words become.

One pipeline for documents and queries, so that they meet: lower case; the umlaut spellings folded
(ae → ä, oe → ö, ue → ü except after q: "Buergerbuero" is "Bürgerbüro"); the Snowball German stemmer
("Schulen" and "Schule" are "schul"); umlauts and ß dropped from the stem as Snowball does.

A query word matches its stem (every inflection), and the compounds it begins: a compound is one
word in German, and its first part comes first. A compound begins with a word when a stored stem
starts with the word as typed ("Digitalisierung" → "Digitalisierungsstrategie"), or, for a word that
is its stem plus an inflectional ending, with the stem plus a linking element ("Schule", "Schulen" →
"Schul-e-ingang", "Schul-s-port"; "Hilfe" → "Hilf-s-angebot"; "Kind" → "Kind-er-garten"). The bare
stem is never a prefix: "schul" also begins "Schulden" and "Schulter", and no rule without a
dictionary of words tells "Schul|weg" from "Schul|d|en". So every inflection of a word finds the
same compounds, and the word's near misses stay out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no type information

WORD = re.compile(r"[^\W_]+")
_UE = re.compile(r"(^|[^q])ue")
_STRIP = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
MAX_WORDS = 8  # words of a query that count; the rest is ignored (a pasted paragraph is not a search)
MAX_WORD = 40  # characters of a word that count
MIN_PREFIX = 4  # shorter words match whole stems only: "Bus*" would match every "Busch…"
# What a noun adds to its stem in the plural or the genitive ("Schul-en", "Markt-e", "Amt-s"); a word
# that is its stem plus one of these is a plain form of the word, so its compound forms are stem + link.
INFLECTIONS = ("", "e", "en", "n", "s", "es")
# The linking elements (Fugenelemente) between a compound's first part and the next: "e" also covers
# "-en-", "-es-" and "-ens-" as a prefix; "s" is the Fugen-s, "er" the plural link ("Kind-er-garten").
LINKS = ("e", "s", "er")

# The same folding as the PostgreSQL column (migration 0016), in SQL.
FOLD_SQL = (
    "regexp_replace(regexp_replace(regexp_replace(lower(translate({0}, 'ÄÖÜ', 'äöü')),"
    " '(^|[^q])ue', '\\1ü', 'g'), 'ae', 'ä', 'g'), 'oe', 'ö', 'g')"
)

STOPWORDS = frozenset(
    [
        "aber",
        "alle",
        "allem",
        "allen",
        "aller",
        "alles",
        "als",
        "also",
        "am",
        "an",
        "ander",
        "andere",
        "auch",
        "auf",
        "aus",
        "bei",
        "bin",
        "bis",
        "bist",
        "da",
        "damit",
        "dann",
        "das",
        "dass",
        "dem",
        "den",
        "denn",
        "der",
        "des",
        "dessen",
        "die",
        "dies",
        "diese",
        "diesem",
        "diesen",
        "dieser",
        "dieses",
        "doch",
        "dort",
        "du",
        "durch",
        "ein",
        "eine",
        "einem",
        "einen",
        "einer",
        "eines",
        "er",
        "es",
        "etwas",
        "für",
        "hat",
        "hatte",
        "hier",
        "ich",
        "ihr",
        "im",
        "in",
        "ist",
        "ja",
        "jede",
        "jedem",
        "jeden",
        "jeder",
        "jedes",
        "kann",
        "kein",
        "keine",
        "mit",
        "nach",
        "nicht",
        "noch",
        "nun",
        "nur",
        "ob",
        "oder",
        "sich",
        "sie",
        "sind",
        "so",
        "soll",
        "über",
        "um",
        "und",
        "uns",
        "unter",
        "vom",
        "von",
        "vor",
        "war",
        "waren",
        "was",
        "weil",
        "wenn",
        "wer",
        "wie",
        "wir",
        "wird",
        "wo",
        "zu",
        "zum",
        "zur",
    ]
)

_stemmer = Stemmer.Stemmer("german")
_stemmer.maxCacheSize = 50_000  # a news corpus repeats its words; stems are looked up, not computed again


def fold(word: str) -> str:
    """Lower case with the umlaut spellings folded (ae/oe/ue → ä/ö/ü, not the ue after q)."""
    word = _UE.sub(r"\1ü", word.lower())
    return word.replace("ae", "ä").replace("oe", "ö")


def words(text: str) -> list[str]:
    """The folded words of a text, stopwords left out."""
    # folding the whole text at once gives the same words as folding each (the pairs never span a word
    # boundary) at a fraction of the calls
    return [w for w in WORD.findall(fold(text)) if w not in STOPWORDS and len(w) <= 100]


def stems(words_: list[str]) -> list[str]:
    return [s.translate(_STRIP) for s in _stemmer.stemWords(words_)]


def terms(text: str) -> str:
    """A text as the space-separated stems the SQLite index stores."""
    return " ".join(_stemmer.stemWords(words(text))).translate(_STRIP)


@dataclass(frozen=True)
class Term:
    """One query word: its folded form (for PostgreSQL's own stemmer), its stem, and the beginnings of
    the compounds it begins (stored stems that start with one of them match)."""

    word: str
    stem: str
    prefixes: tuple[str, ...] = ()

    def stem_is_prefixed(self) -> bool:
        """Does a prefix already match the stem itself (then the stem needs no term of its own)?"""
        return any(self.stem.startswith(p) for p in self.prefixes)


def compound_prefixes(word: str, stem: str) -> tuple[str, ...]:
    """The beginnings of the compounds a (folded) word begins, shortest first, none covering another."""
    surface = word.translate(_STRIP)
    found = {surface} if len(surface) >= MIN_PREFIX else set()
    if len(stem) >= MIN_PREFIX and surface.startswith(stem) and surface[len(stem) :] in INFLECTIONS:
        found |= {stem + link for link in LINKS if not (link == "s" and stem.endswith("s"))}
    return tuple(sorted(p for p in found if not any(p != q and p.startswith(q) for q in found)))


def parse(query: str) -> list[Term]:
    """The words of a user's query as terms. Everything that is not a letter or digit is a separator,
    so quotes, operators, ``*``, NEAR and parentheses are plain text and never query syntax."""
    found = list(dict.fromkeys(w[:MAX_WORD] for w in words(query[:2000])))[:MAX_WORDS]
    return [Term(word, stem, compound_prefixes(word, stem)) for word, stem in zip(found, stems(found))]


def fts5_expression(terms_: list[Term]) -> str:
    """FTS5 MATCH text: every term must match, by its stem or as the beginning of a stem. Terms hold
    letters and digits only, and are quoted, so no FTS5 keyword or operator can come from a user."""
    parts = []
    for t in terms_:
        options = ([] if t.stem_is_prefixed() else [f'"{t.stem}"']) + [f'"{p}"*' for p in t.prefixes]
        parts.append(options[0] if len(options) == 1 else f"({' OR '.join(options)})")
    return " AND ".join(parts)


def highlights(terms_: list[Term]):
    """A predicate on a folded word: does a query term match it (the same rule as the index)?"""
    wanted = {t.stem for t in terms_}
    prefixes = tuple(p for t in terms_ for p in t.prefixes)

    def matches(word: str) -> bool:
        if word in STOPWORDS:
            return False
        stem = stems([word])[0]
        return stem in wanted or (bool(prefixes) and stem.startswith(prefixes))

    return matches
