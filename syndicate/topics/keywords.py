"""Keyword and phrase rules for German text, as written in feeds/topics.toml.

Text and keywords are folded first (case, ä→ae, ö→oe, ü→ue, ß→ss), so "Straßenbahn",
"STRASSENBAHN" and "Strassenbahn" are one word. What a keyword matches depends on its form:

| keyword                          | matches                                                        | not               |
|----------------------------------|----------------------------------------------------------------|-------------------|
| acronym ("BSI", "CO2", "ÖPNV")   | the token itself, also in hyphen compounds ("BSI-Warnung")     | "BSIS", "CERTifikat" |
| short word (< 5 letters: "Tram") | the word, plural -s                                            | "Trampolin"       |
| word (≥ 5 letters)               | the word inflected and as a part of compounds, with or without | "Fahr|radweg"-style parts under 3 letters |
|                                  | hyphens: "Cyberangriff" → "Cyber-Angriffe", "Cyberangriffswelle", | before it     |
|                                  | "Phishing" → "Anti-Phishing-Schulung", "Phishingmails"          |                   |
| "E-Akte", "IT-Sicherheit"        | compounds that start with it ("IT-Sicherheitsgesetz")          | "Ablageakte"      |
| word* (any length)               | the word with any ending                                       |                   |
| phrase ("digitale Verwaltung")   | the words in order, inflected ("digitalen Verwaltung"), the     | "opendata"        |
|                                  | last one also as the start of a compound ("Open-Data-Portal")  |                   |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from syndicate.reader.german import fold, stem

_SPLIT = re.compile(r"[^a-z0-9-]+")
_TOKEN = re.compile(r"[a-z0-9]+")
_ENDING = r"(?:ern|en|er|es|e|n|s)?"
LONG = 5  # letters from which a word also matches inside compounds
MIN_PART = 3  # letters a compound needs in front of a keyword that is not its first part


def folded_forms(text: str) -> tuple[str, str]:
    """(tokens split at every non-letter, compounds with their hyphens removed), both space-separated."""
    folded = fold(text)
    plain = " ".join(_TOKEN.findall(folded))
    compounds = " ".join(filter(None, _SPLIT.split(folded.replace("-", ""))))  # hyphens out, then split
    return plain, compounds


@dataclass(frozen=True)
class Keyword:
    text: str  # as written in topics.toml
    pattern: re.Pattern
    on_compounds: bool  # searched in the compound form, else in the plain token form

    def search(self, plain: str, compounds: str) -> bool:
        return self.pattern.search(compounds if self.on_compounds else plain) is not None


def compile_keyword(raw: str) -> Keyword | None:
    written = raw.strip()
    star = written.endswith("*")
    body = written.rstrip("*").strip()
    phrase = [w for w in (part.replace("-", "") for part in _SPLIT.split(fold(body))) if w]
    if not phrase:
        return None
    if len(phrase) > 1 or " " in body:
        return _phrase(written, phrase, star)
    word = phrase[0]
    acronym = sum(c.isupper() for c in body) >= 2 and not any(c.islower() for c in body) or any(c.isdigit() for c in word)
    if acronym or (len(word) < LONG and not star):
        ending = "" if acronym else "s?"
        pattern = rf"(?<![a-z0-9]){re.escape(word)}{ending}(?![a-z0-9])"
        return Keyword(written, re.compile(pattern), on_compounds=False)
    first_part = fold(body).split("-")[0]
    lead = "" if len(first_part) < 4 and "-" in body or len(word) < LONG else rf"(?:[a-z0-9]{{{MIN_PART},}})?"
    return Keyword(written, re.compile(rf"(?<![a-z0-9]){lead}{re.escape(word)}"), on_compounds=True)


def _phrase(written: str, words: list[str], star: bool) -> Keyword:
    parts = [re.escape(stem(w)) + _ENDING for w in words[:-1]]
    last = words[-1]
    parts.append(re.escape(last) + (r"[a-z0-9]*" if star or len(last) >= LONG else r"s?(?![a-z0-9])"))
    pattern = r"(?<![a-z0-9])" + r" ".join(parts)
    return Keyword(written, re.compile(pattern), on_compounds=False)


class Matcher:
    """A topic's keywords; ``find`` names the first one that occurs."""

    def __init__(self, keywords: list[str]):
        self.keywords = [k for k in map(compile_keyword, keywords) if k is not None]

    def __bool__(self) -> bool:
        return bool(self.keywords)

    def find(self, *texts: str) -> str | None:
        for text in texts:
            forms = folded_forms(text)
            for keyword in self.keywords:
                if keyword.search(*forms):
                    return keyword.text
        return None

    def find_in(self, forms: list[tuple[str, str]]) -> str | None:
        """Like ``find`` on texts already turned into ``folded_forms`` (once per article, for all topics)."""
        for plain, compounds in forms:
            for keyword in self.keywords:
                if keyword.search(plain, compounds):
                    return keyword.text
        return None

    def search(self, text: str) -> str | None:
        return self.find(text)
