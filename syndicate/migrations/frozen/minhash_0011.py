"""The article buckets of revision 0011, frozen: a copy of what migration 0011 needs, as it was then.

A migration runs against the schema of its own revision, long after the application has moved
on, so it must not call live code: a later change to the signature, to German folding or to the
HTML text extraction would silently change what an old migration writes. This module copies, from
``syndicate.reader.neardup``, ``syndicate.reader.german``, ``syndicate.reader.normalise`` and
``syndicate.dedupe.rules``, exactly the steps from a stored article to its bucket ids:

    title, html or text ──block text──▶ sentences of folded words ──▶ MinHash (72 values on integers)
        ──▶ 24 band buckets + 1 title bucket

It imports only the standard library, numpy, nh3 and SQLAlchemy. It is never to be edited:
tests/test_migrations.py checks that it still agrees with the live code on the corpus fixtures,
and when the live signature changes the next data migration gets a frozen copy of its own.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
import zlib
from datetime import UTC, datetime

import nh3
import numpy
import sqlalchemy as sa

SHINGLE = 3
BANDS, ROWS = 24, 3

_WORD = re.compile(r"[a-z0-9]+")
_ENDINGS = ("ern", "en", "er", "es", "e", "n", "s")
_STOPWORDS = frozenset(
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
_BLOCK = re.compile(r"<(?:/?(?:p|div|li|ul|ol|h\d|tr|td|th|blockquote|pre|table|dd|dt|figure|figcaption)|br|hr)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?])\s+|\n+")


def fold(text: str) -> str:
    """Case folded, umlauts as ae/oe/ue, ß as ss, no combining marks."""
    if text.isascii():
        return text.lower()
    folded = text.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _stem(word: str) -> str:
    if len(word) >= 5:
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 4:
                return word[: -len(ending)]
    return word


def _content_words(text: str) -> list[str]:
    return [_stem(w) for w in words(text) if len(w) > 1 and w not in _STOPWORDS]


def _block_text(fragment: str) -> str:
    """The fragment's text, entities decoded, with a line break before each block element."""
    if not fragment:
        return ""
    marked = _BLOCK.sub("\n\\g<0>", fragment)
    return html.unescape(nh3.clean(marked, tags=set(), attributes={}, strip_comments=True))


def article_words(html_fragment: str, text: str) -> list[str]:
    """All words of the article's sentences in order: of its HTML when it has any, else of its text."""
    if html_fragment:
        return [w for part in _SENTENCE_END.split(_block_text(html_fragment)) for w in words(part)]
    return words(text)


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def _constants(label: str, count: int) -> numpy.ndarray:
    digest = hashlib.shake_256(label.encode()).digest(8 * count)
    return numpy.frombuffer(digest, dtype="<u8").astype(numpy.uint64) | numpy.uint64(1)


_SHINGLE_MIX = _constants("syndicate.neardup.shingle", SHINGLE)
_FUNCTION_A = _constants("syndicate.neardup.minhash.a", BANDS * ROWS)
_FUNCTION_B = _constants("syndicate.neardup.minhash.b", BANDS * ROWS)
_BAND_MIX = _constants("syndicate.neardup.band", BANDS * ROWS).reshape(BANDS, ROWS)
_BAND_SALT = _constants("syndicate.neardup.band.salt", BANDS)
_HIGH = numpy.uint64(32)


def _minhash(kept: list[str]) -> numpy.ndarray | None:
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


def buckets(title: str, html_fragment: str, text: str) -> list[int]:
    """The distinct bucket ids of one stored article, in the order the live code made them."""
    signature = _minhash(article_words(html_fragment, text))
    found: list[int] = []
    if signature is not None:
        found = ((signature.reshape(BANDS, ROWS) * _BAND_MIX).sum(axis=1) + _BAND_SALT).view(numpy.int64).tolist()
    if key := " ".join(_content_words(title)):
        found.append(_hash64(b"title:" + key.encode("utf-8")))
    return list(dict.fromkeys(found))


def epoch(moment: datetime) -> int:
    """Whole seconds since 1970 of a stored UTC time (SQLite gives it back without a zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


# the two tables as they are at revision 0011
_ARTICLES = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("content_html", sa.Text),
    sa.column("summary_html", sa.Text),
    sa.column("text", sa.Text),
    sa.column("published_at", sa.DateTime(timezone=True)),
)
_BUCKETS = sa.table(
    "article_buckets", sa.column("bucket", sa.BigInteger), sa.column("published", sa.BigInteger), sa.column("article_id", sa.Integer)
)


def reindex_all(connection: sa.Connection, chunk: int = 1000) -> int:
    """Every stored article's buckets computed again from its stored title, HTML and text, in chunks
    of ``chunk`` articles. Returns the number of articles indexed."""
    a = _ARTICLES.c
    last, done = 0, 0
    connection.execute(sa.delete(_BUCKETS))  # all at once: rows are found by bucket, not by article
    query = sa.select(a.id, a.title, a.content_html, a.summary_html, a.text, a.published_at)
    while rows := connection.execute(query.where(a.id > last).order_by(a.id).limit(chunk)).all():
        last, done = rows[-1].id, done + len(rows)
        fresh = [
            {"bucket": bucket, "published": epoch(row.published_at), "article_id": row.id}
            for row in rows
            for bucket in sorted(buckets(row.title, row.content_html or row.summary_html or "", row.text or ""))
        ]
        if fresh:
            connection.execute(sa.insert(_BUCKETS), fresh)
    return done
