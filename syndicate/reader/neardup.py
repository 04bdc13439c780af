"""Near-duplicate evidence for one item: passages, word shingles, a MinHash signature and its LSH bands.

    html ──passages──▶ sentences (folded words) ──minus boilerplate──▶ 3-word shingles
         ──MinHash (72 values)──▶ 24 bands of 3 values ──▶ 24 bucket ids (+ 1 for the title)

Passages are hashed so that a store can count, per source, which sentences recur (headers,
footers, press contacts: boilerplate) and leave them out before comparing. Two items whose
shingle sets have Jaccard similarity s share at least one band with probability
1 − (1 − s³)²⁴: 0.49 at s = 0.3, 0.80 at 0.4, 0.95 at 0.5, 0.99 at 0.6, 0.024 at 0.1, 0.003
at 0.05. Candidates are then verified on the exact shingle sets; see ``syndicate.dedupe`` for
the thresholds.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
import struct
from dataclasses import dataclass
from functools import cached_property

import nh3
import numpy

from syndicate.reader.german import content_words, fold, words
from syndicate.reader.normalise import BLOCK_RE

SHINGLE = 3
BANDS, ROWS = 24, 3
TITLE_BAND = BANDS  # the band number of the title bucket
_VALUES = struct.Struct(f"<{BANDS * ROWS}I")
_BAND = struct.Struct(f"<B{ROWS}I")  # a band's number and its values, hashed to the bucket id
_SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?])\s+|\n+")
_NUMBER = re.compile(r"\d+")


def _hash64(data: bytes) -> int:
    """A signed 64-bit hash, so that it fits a BIGINT column."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def passages(html: str) -> list[list[str]]:
    """The item's sentences (block elements split first) as lists of folded words; empty ones dropped."""
    marked = BLOCK_RE.sub("\n\\g<0>", html or "")
    text = html_lib.unescape(nh3.clean(marked, tags=set(), attributes={}, strip_comments=True))
    return [found for part in _SENTENCE_END.split(text) if (found := words(part))]


def passage_hash(passage: list[str]) -> int:
    return _hash64(" ".join(passage).encode("utf-8"))


def shingles(kept: list[str]) -> set[str]:
    """Word 3-shingles of a run of words (the words themselves, joined, when there are fewer)."""
    if len(kept) < SHINGLE:
        return {" ".join(kept)} if kept else set()
    return {" ".join(kept[i : i + SHINGLE]) for i in range(len(kept) - SHINGLE + 1)}


def minhash(shingle_set: set[str]) -> tuple[int, ...]:
    """72 minimum hash values; one SHAKE-128 digest per shingle gives all 72 hash functions
    (72 little-endian 32-bit values side by side; the column minima are taken by numpy)."""
    if not shingle_set:
        return ()
    size = _VALUES.size
    digests = b"".join(hashlib.shake_128(s.encode("utf-8")).digest(size) for s in shingle_set)
    return tuple(numpy.frombuffer(digests, dtype="<u4").reshape(-1, BANDS * ROWS).min(axis=0).tolist())


def title_key(title: str) -> str:
    return " ".join(content_words(title))


def title_hash(title: str) -> int | None:
    """A title's content words as a hash, counted like a sentence: a title that recurs in a source
    ("Veranstaltungstipps für das Wochenende") says nothing about the story."""
    key = title_key(title)
    return _hash64(b"title:" + key.encode("utf-8")) if key else None


def buckets(signature: tuple[int, ...], title: str) -> list[tuple[int, int]]:
    """(band, bucket id) pairs: one per band of the signature, plus one for the title's content words."""
    found = []
    if signature:
        for band in range(BANDS):
            values = signature[band * ROWS : (band + 1) * ROWS]
            found.append((band, _hash64(_BAND.pack(band, *values))))
    if key := title_key(title):
        found.append((TITLE_BAND, _hash64(b"title:" + key.encode("utf-8"))))
    return found


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def title_similarity(a: str, b: str) -> float:
    """Share of the shorter title's content words (stemmed, folded) found in the other title."""
    left, right = set(content_words(a)), set(content_words(b))
    return len(left & right) / min(len(left), len(right)) if left and right else 0.0


def numbers_conflict(a: str, b: str) -> bool:
    """Both titles carry numbers and neither set contains the other: "Rathaus Umschau 12/2025" ≠ "13/2025"."""
    left, right = set(_NUMBER.findall(fold(a))), set(_NUMBER.findall(fold(b)))
    return bool(left and right) and not (left <= right or right <= left)


@dataclass(frozen=True)
class Evidence:
    """What the store needs to compare one item with others."""

    title: str
    passages: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, title: str, html: str, text: str) -> Evidence:
        found = passages(html) if html else [w for w in [words(text)] if w]
        return cls(title=title, passages=tuple(tuple(p) for p in found))

    @cached_property
    def _hashed(self) -> tuple[tuple[int, tuple[str, ...]], ...]:
        return tuple((passage_hash(list(p)), p) for p in self.passages)

    @cached_property
    def passage_hashes(self) -> frozenset[int]:
        return frozenset(h for h, _p in self._hashed)

    @cached_property
    def _shingles_without(self) -> dict[frozenset[int], frozenset[str]]:
        return {}

    @cached_property
    def title_hash(self) -> int | None:
        return title_hash(self.title)

    def shingles(self, boilerplate: set[int] = frozenset()) -> frozenset[str]:
        """Shingles of the passages not in ``boilerplate``; one item is compared with many
        others, so each distinct set of its own passages left out is computed once."""
        dropped = self.passage_hashes & boilerplate
        found = self._shingles_without.get(dropped)
        if found is None:
            kept = [w for h, p in self._hashed if h not in dropped for w in p]
            found = self._shingles_without[dropped] = frozenset(shingles(kept))
        return found
