"""Per-source item key and content hash (near duplicates: ``syndicate.reader.neardup``)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from syndicate.reader.normalise import Entry

WORD_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE = 3


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalised_text(text: str) -> str:
    return " ".join(WORD_RE.findall(text.lower()))


UNUSABLE_GUID_SHARE = 0.05


def _basis(entry: Entry, *, prefer_link: bool) -> str:
    """GUID → link → title and date (text when the date was only estimated)."""
    if entry.guid and not (prefer_link and entry.canonical_url):
        return "guid:" + entry.guid
    if entry.canonical_url:
        return "url:" + entry.canonical_url
    when = "" if entry.date_estimated else entry.published_at.isoformat()
    return "text:" + normalised_text(entry.title) + "|" + (when or normalised_text(entry.text)[:500])


def item_key(entry: Entry) -> str:
    """Stable identity of one item within its source, judged on its own."""
    return _sha(_basis(entry, prefer_link=False))


def item_keys(entries: list[Entry]) -> list[str]:
    """Item keys for a whole document.

    When more than 5 % of the GUIDs are unusable (missing or repeated inside the document)
    the document's GUIDs are not trusted and links are used instead. A basis that still
    repeats is disambiguated by the link, then by its position among the repeats.
    """
    hashes = [content_hash(e) for e in entries]
    variants_of: dict[str, set] = {}
    for e, digest in zip(entries, hashes):
        if e.guid:
            variants_of.setdefault(e.guid, set()).add((e.canonical_url, digest))
    repeated = {g for g, variants in variants_of.items() if len(variants) > 1}  # one GUID, different items
    unusable = sum(1 for e in entries if not e.guid or e.guid in repeated)
    prefer_link = bool(entries) and unusable > UNUSABLE_GUID_SHARE * len(entries)
    bases = [_basis(e, prefer_link=prefer_link) for e in entries]
    distinct: dict[str, set] = {}
    for e, basis, digest in zip(entries, bases, hashes):
        distinct.setdefault(basis, set()).add((e.canonical_url, digest))
    keys: list[str] = []
    seen: dict[str, list[str]] = {}  # basis → content hashes in order of appearance
    for entry, basis, digest in zip(entries, bases, hashes):
        if len(distinct[basis]) > 1 and entry.canonical_url and not basis.startswith("url:"):
            basis += "|url:" + entry.canonical_url
        variants = seen.setdefault(basis, [])
        if digest not in variants:  # the very same item repeated keeps one key
            variants.append(digest)
        position = variants.index(digest) + 1
        keys.append(_sha(basis if position == 1 else f"{basis}#{position}"))
    return keys


def content_hash(entry: Entry) -> str:
    """Same title and same body text (case, punctuation and markup aside) → same hash."""
    return _content_hash(entry.title, entry.text)


@lru_cache(maxsize=1024)  # a document's item keys and its new rows both want each item's hash
def _content_hash(title: str, text: str) -> str:
    return _sha(normalised_text(title) + "\n" + normalised_text(text))
