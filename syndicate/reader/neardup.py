"""Near-duplicate evidence for one item: passages, word shingles, a MinHash signature and its LSH bands.

    html ──passages──▶ sentences (folded words) ──minus boilerplate──▶ 3-word shingles
         ──MinHash (72 values)──▶ 24 bands of 3 values ──▶ 24 bucket ids (+ 1 for the title)

The signature is computed on integers, in numpy: each word is hashed once (CRC-32), a shingle is
a fixed combination of its three word hashes, and the 72 hash functions are multiply-add-shift
functions of that value with constants derived from SHAKE-256 (stable across releases: bucket ids
are stored). Shingle sets for verification are sets of word triples (the same sets as of the
joined strings: words hold no spaces).

Passages are hashed so that a store can count, per source, which sentences recur (headers,
footers, press contacts: boilerplate) and leave them out before comparing. Two items whose
shingle sets have Jaccard similarity s share at least one band with probability
1 − (1 − s³)²⁴: 0.49 at s = 0.3, 0.80 at 0.4, 0.95 at 0.5, 0.99 at 0.6, 0.024 at 0.1, 0.003
at 0.05. Candidates are then verified on the exact shingle sets; see ``syndicate.dedupe.rules`` for
the thresholds.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property

import numpy

from syndicate.reader.german import content_words, fold, words
from syndicate.reader.normalise import block_text

SHINGLE = 3
BANDS, ROWS = 24, 3
_SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?])\s+|\n+")
_NUMBER = re.compile(r"\d+")


def _hash64(data: bytes) -> int:
    """A signed 64-bit hash, so that it fits a BIGINT column."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def passages(html: str, blocks: str | None = None) -> list[list[str]]:
    """The item's sentences (block elements split first) as lists of folded words; empty ones dropped.
    ``blocks``: the html's ``block_text`` when the caller has it already."""
    text = block_text(html) if blocks is None else blocks
    return [found for part in _SENTENCE_END.split(text) if (found := words(part))]


def passage_hash(passage: list[str]) -> int:
    return _hash64(" ".join(passage).encode("utf-8"))


def shingles(kept: list[str]) -> frozenset[tuple[str, ...]]:
    """Word 3-shingles of a run of words (the words themselves, as one shingle, when there are fewer)."""
    if len(kept) < SHINGLE:
        return frozenset([tuple(kept)]) if kept else frozenset()
    return frozenset(zip(kept, kept[1:], kept[2:]))


def _constants(label: str, count: int) -> numpy.ndarray:
    """``count`` odd 64-bit constants, fixed for ever (bucket ids computed from them are stored)."""
    digest = hashlib.shake_256(label.encode()).digest(8 * count)
    return numpy.frombuffer(digest, dtype="<u8").astype(numpy.uint64) | numpy.uint64(1)


_SHINGLE_MIX = _constants("syndicate.neardup.shingle", SHINGLE)  # word hashes → one shingle value
_FUNCTION_A = _constants("syndicate.neardup.minhash.a", BANDS * ROWS)  # the 72 hash functions
_FUNCTION_B = _constants("syndicate.neardup.minhash.b", BANDS * ROWS)
_BAND_MIX = _constants("syndicate.neardup.band", BANDS * ROWS).reshape(BANDS, ROWS)  # a band's values → its bucket
_BAND_SALT = _constants("syndicate.neardup.band.salt", BANDS)
_HIGH = numpy.uint64(32)


def minhash(kept: list[str]) -> numpy.ndarray | None:
    """72 minimum hash values (uint64, each below 2**32) of the 3-shingles of a run of words.

    A shingle's value is the high half of a mix of its word hashes; hash function j maps it to
    the high half of A_j·v + B_j (mod 2**64). Duplicate shingles change no minimum."""
    if not kept:
        return None
    hashed = numpy.fromiter(map(zlib.crc32, map(str.encode, kept)), dtype=numpy.uint64, count=len(kept))
    if len(kept) < SHINGLE:
        mixed = (hashed * _SHINGLE_MIX[: len(kept)]).sum(keepdims=True)
    else:
        n = len(kept) - SHINGLE + 1
        mixed = hashed[:n] * _SHINGLE_MIX[0] + hashed[1 : n + 1] * _SHINGLE_MIX[1] + hashed[2:] * _SHINGLE_MIX[2]
    values = mixed >> _HIGH
    return ((values[:, None] * _FUNCTION_A + _FUNCTION_B) >> _HIGH).min(axis=0)


def minhashes(runs: list[list[str]]) -> list[numpy.ndarray | None]:
    """``minhash`` of each run of words, computed together: one array operation for all the
    shingles of a document's items instead of a dozen small ones per item (the same values)."""
    found: list[numpy.ndarray | None] = [None] * len(runs)
    long = [n for n, run in enumerate(runs) if len(run) >= SHINGLE]
    for n, run in enumerate(runs):
        if 0 < len(run) < SHINGLE:
            found[n] = minhash(run)
    if not long:
        return found
    words = [w for n in long for w in runs[n]]
    hashed = numpy.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=numpy.uint64, count=len(words))
    lengths = numpy.fromiter((len(runs[n]) for n in long), dtype=numpy.int64, count=len(long))
    ends = numpy.cumsum(lengths)
    starts = ends - lengths
    mixed = hashed[:-2] * _SHINGLE_MIX[0] + hashed[1:-1] * _SHINGLE_MIX[1] + hashed[2:] * _SHINGLE_MIX[2]
    # a run's shingles start at its first word and end two words before its end: the others span two runs
    keep = numpy.ones(len(mixed), dtype=bool)
    for cut in (ends - 2, ends - 1):
        keep[cut[cut < len(mixed)]] = False
    values = mixed[keep] >> _HIGH
    offsets = starts - 2 * numpy.arange(len(long))  # each run before this one left two positions out
    signatures = numpy.minimum.reduceat((values[:, None] * _FUNCTION_A + _FUNCTION_B) >> _HIGH, offsets, axis=0)
    for n, signature in zip(long, signatures):
        found[n] = signature
    return found


def bucket_lists(signatures: list[numpy.ndarray | None], titles: list[str]) -> list[list[int]]:
    """``buckets`` of each (signature, title) pair, the bands of all signatures computed together."""
    present = [n for n, signature in enumerate(signatures) if signature is not None]
    bands: list[list[int]] = [[] for _ in signatures]
    if present:
        stacked = numpy.stack([signature for signature in signatures if signature is not None]).reshape(len(present), BANDS, ROWS)
        for n, row in zip(present, ((stacked * _BAND_MIX).sum(axis=2) + _BAND_SALT).view(numpy.int64).tolist()):
            bands[n] = row
    found = []
    for band, title in zip(bands, titles):
        if (hashed := title_hash(title)) is not None:
            band.append(hashed)
        found.append(list(dict.fromkeys(band)))
    return found


def title_key(title: str) -> str:
    return " ".join(content_words(title))


def title_hash(title: str) -> int | None:
    """A title's content words as a hash, counted like a sentence: a title that recurs in a source
    ("Veranstaltungstipps für das Wochenende") says nothing about the story."""
    key = title_key(title)
    return _hash64(b"title:" + key.encode("utf-8")) if key else None


def buckets(signature: numpy.ndarray | None, title: str) -> list[int]:
    """The distinct bucket ids: one per band of the signature (each band's own salt makes its ids its
    own), plus one for the title's content words."""
    return bucket_lists([signature], [title])[0]


def jaccard(a: AbstractSet, b: AbstractSet) -> float:
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
    def of(cls, title: str, html: str, text: str, blocks: str | None = None) -> Evidence:
        """``blocks``: the html's ``block_text`` when the caller has it (a new item, from normalising)."""
        found = passages(html, blocks) if html else [w for w in [words(text)] if w]
        return cls(title=title, passages=tuple(tuple(p) for p in found))

    @cached_property
    def _hashed(self) -> tuple[tuple[int, tuple[str, ...]], ...]:
        return tuple((passage_hash(list(p)), p) for p in self.passages)

    @cached_property
    def passage_hashes(self) -> frozenset[int]:
        return frozenset(h for h, _p in self._hashed)

    @cached_property
    def _shingles_without(self) -> dict[frozenset[int], frozenset[tuple[str, ...]]]:
        return {}

    @cached_property
    def words(self) -> list[str]:
        """All words of all passages, in order (what the MinHash signature is taken of)."""
        return [w for p in self.passages for w in p]

    @cached_property
    def title_hash(self) -> int | None:
        return title_hash(self.title)

    def shingles(self, boilerplate: AbstractSet[int] = frozenset()) -> frozenset[tuple[str, ...]]:
        """Shingles of the passages not in ``boilerplate``; one item is compared with many
        others, so each distinct set of its own passages left out is computed once."""
        dropped = self.passage_hashes & boilerplate
        found = self._shingles_without.get(dropped)
        if found is None:
            kept = [w for h, p in self._hashed if h not in dropped for w in p]
            found = self._shingles_without[dropped] = shingles(kept)
        return found
