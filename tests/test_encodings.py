"""Encodings as German municipal CMSs send them: every case ends in clean UTF-8 text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicate.reader.normalise import normalise_entry, repair_text
from syndicate.reader.parse import parse

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def rss(title: bytes, declared: str = "utf-8", bom: bytes = b"") -> bytes:
    return (
        bom + b'<?xml version="1.0" encoding="' + declared.encode() + b'"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>"
        + title
        + b"</title><link>https://www.augsburg.de/pm/1</link><description>"
        + title
        + b"</description></item></channel></rss>"
    )


CASES = [
    pytest.param(
        rss("„Bürgerfest“ – 5 € Eintritt".encode("cp1252"), "iso-8859-1"),
        None,
        "„Bürgerfest“ – 5 € Eintritt",
        id="windows-1252-labelled-iso-8859-1",
    ),
    pytest.param(
        rss("Müllabfuhr in der Maximilianstraße".encode().decode("latin-1").encode("utf-8")),
        None,
        "Müllabfuhr in der Maximilianstraße",
        id="double-encoded-utf-8",
    ),
    pytest.param(rss("Grünflächen".encode(), "iso-8859-1", b"\xef\xbb\xbf"), None, "Grünflächen", id="utf-8-bom-beats-declaration"),
    pytest.param(
        rss("Grünflächen".encode("latin-1"), "iso-8859-1"),
        "application/rss+xml; charset=utf-8",
        "Grünflächen",
        id="http-charset-conflicts-with-body",
    ),
]


@pytest.mark.parametrize("body, content_type, expected", CASES)
def test_document_encodings_end_as_clean_text(body, content_type, expected):
    feed = parse(body, content_type=content_type)
    entry = normalise_entry(feed.entries[0], base=None, now=NOW, future_tolerance=3600)
    assert entry.title == expected
    assert entry.text == expected


def test_undecodable_bytes_are_not_fatal():
    feed = parse(rss(b"Stadtrat \xff\xfe tagt M\xc3\xbcnchen"))
    entry = normalise_entry(feed.entries[0], base=None, now=NOW, future_tolerance=3600)
    assert "Stadtrat" in entry.title and "tagt" in entry.title and "München" in entry.title


@pytest.mark.parametrize(
    "damaged, repaired",
    [
        ("MÃ¼nchen", "München"),
        ("StraÃŸe", "Straße"),
        ("Ã¤rger Ã¶de", "ärger öde"),
        ("â€žZitatâ€œ", "„Zitat“"),
        ("\x84Hallo\x93", "„Hallo“"),
        ("5 \x80", "5 €"),
        ("MÃƒÂ¼nchen", "München"),  # encoded twice
        ("München", "München"),
        ("Fête à Paris", "Fête à Paris"),
        ("„Anführung“ bleibt", "„Anführung“ bleibt"),
    ],
)
def test_repair_text(damaged, repaired):
    assert repair_text(damaged) == repaired
