"""The fast RSS 2.0 path reads exactly what feedparser reads, or hands the document back.

Every document of the shared corpus and of this suite's fixtures that the fast path accepts
is also read through feedparser; both must give the same feed fields and the same normalised
entries. Documents the fast path must not accept (DOCTYPE, xml:base, other encodings, relative
links, unknown elements, dates it does not read) are handed back, so feedparser reads them.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from syndicate.reader import fastrss
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import parse_feedparser
from tests.conftest import CORPUS, FIXTURES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/feeds/feed.xml"
DOCUMENTS = sorted(
    p
    for root in (CORPUS, FIXTURES)
    if root.is_dir()
    for p in root.rglob("*")
    if p.is_file() and p.suffix.lower() in {".xml", ".rss", ".rdf", ".atom", ""} and p.stat().st_size < 2_000_000
)
CONTENT_TYPES = ["application/rss+xml", "text/xml; charset=utf-8", "application/xml"]


def normalised(feed) -> dict:
    head = {k: getattr(feed, k) for k in ("title", "link", "language", "ttl_minutes")}
    base = feed.link if feed.link and feed.link.startswith("http") else URL
    entries = [asdict(normalise_entry(raw, base=base, now=NOW, future_tolerance=3600)) for raw in feed.entries]
    for entry in entries:
        entry["enclosures"] = [{k: e.get(k) for k in ("href", "type", "length")} for e in entry["enclosures"]]
    return {"feed": head, "entries": entries}


def test_the_corpus_has_plain_rss_that_the_fast_path_reads():
    accepted = [p for p in DOCUMENTS if fastrss.parse(p.read_bytes(), url=URL, content_type="application/rss+xml")]
    assert len(accepted) >= 5, accepted  # the path is used, not only declined


@pytest.mark.slow  # a corpus sweep
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_fast_path_equals_feedparser(path):
    content = path.read_bytes()
    for content_type in CONTENT_TYPES:
        fast = fastrss.parse(content, url=URL, content_type=content_type)
        if fast is None:
            continue
        slow = parse_feedparser(content, url=URL, content_type=content_type)
        assert fast.format == slow.format
        assert normalised(fast) == normalised(slow)


RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{ns}><channel><title>Stadt</title><link>https://stadt.example/</link>{channel}
<item><title>Meldung</title><link>https://stadt.example/1</link><guid>https://stadt.example/1</guid>
<pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate><description>{description}</description>{item}</item></channel></rss>"""


def rss(ns="", channel="", description="Text", item="") -> bytes:
    return RSS.format(ns=ns, channel=channel, description=description, item=item).encode()


def test_a_plain_document_is_read():
    feed = fastrss.parse(rss(), url=URL, content_type="application/rss+xml")
    assert feed is not None and feed.title == "Stadt" and len(feed.entries) == 1
    entry = feed.entries[0]
    assert (entry.title, entry.link, entry.summary) == ("Meldung", "https://stadt.example/1", "Text")
    assert entry.published == datetime(2025, 6, 10, 4, 0, tzinfo=UTC)
    assert normalised(feed) == normalised(parse_feedparser(rss(), url=URL, content_type="application/rss+xml"))


@pytest.mark.parametrize(
    "document, content_type",
    [
        (rss().replace(b'encoding="utf-8"', b'encoding="iso-8859-1"'), "application/rss+xml"),
        (rss(), "application/rss+xml; charset=windows-1252"),
        (rss(), ""),
        (b"\xef\xbb\xbf" + rss(), "application/rss+xml"),
        (rss().replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss'), "application/rss+xml"),
        (rss(channel='<x xml:base="https://other.example/"/>'), "application/rss+xml"),
        (rss(description='&lt;a href="/relativ"&gt;x&lt;/a&gt;'), "application/rss+xml"),
        (rss(description='&lt;img src="bild.png"&gt;'), "application/rss+xml"),
        (rss(item="<author>presse@stadt.example (Presseamt)</author>"), "application/rss+xml"),
        (rss(ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"', item="<dc:subject>Klima</dc:subject>"), "application/rss+xml"),
        (rss(item="<pubDate>gestern</pubDate>"), "application/rss+xml"),
        (rss().replace(b"Tue, 10 Jun 2025 04:00:00 GMT", b"Tue, 10 Jun 2025 04:00:00 EST"), "application/rss+xml"),
        (rss(description="<b>nicht escaped</b>"), "application/rss+xml"),
        (rss(description="&nbsp;"), "application/rss+xml"),  # an undefined entity: not well-formed
        (rss().replace(b'version="2.0"', b'version="0.91"'), "application/rss+xml"),
        (rss(item="<!-- Kommentar -->"), "application/rss+xml"),
        (rss().replace(b"<link>https://stadt.example/1</link>", b"<link>/1</link>"), "application/rss+xml"),
        (rss()[:-20], "application/rss+xml"),  # truncated
    ],
)
def test_documents_feedparser_must_read_are_handed_back(document, content_type):
    assert fastrss.parse(document, url=URL, content_type=content_type) is None
