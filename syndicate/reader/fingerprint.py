"""Per-source item key, content hash and a near-duplicate signature (SimHash)."""

from __future__ import annotations

import hashlib
import re

from syndicate.reader.normalise import Entry

WORD_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE = 3


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalised_text(text: str) -> str:
    return " ".join(WORD_RE.findall(text.lower()))


def item_key(entry: Entry) -> str:
    """Stable identity of an item within its source: GUID, else canonical URL, else title + date."""
    if entry.guid:
        basis = "guid:" + entry.guid
    elif entry.canonical_url:
        basis = "url:" + entry.canonical_url
    else:
        basis = "text:" + normalised_text(entry.title) + "|" + normalised_text(entry.text)[:500]
    return _sha(basis)


def content_hash(entry: Entry) -> str:
    """Same title and same body text (case, punctuation and markup aside) → same hash."""
    return _sha(normalised_text(entry.title) + "\n" + normalised_text(entry.text))


def simhash(text: str, bits: int = 64) -> int:
    """64-bit SimHash over word 3-shingles, as a signed integer so that it fits a BIGINT."""
    words = WORD_RE.findall(text.lower())
    shingles = [" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))]
    weights = [0] * bits
    for shingle in shingles:
        digest = int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(bits):
            weights[bit] += 1 if digest >> bit & 1 else -1
    value = sum(1 << bit for bit in range(bits) if weights[bit] > 0)
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def hamming(a: int, b: int) -> int:
    return bin((a ^ b) & ((1 << 64) - 1)).count("1")
