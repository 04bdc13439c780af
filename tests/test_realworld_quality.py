"""Issue-4 quality bar over every real-world document in the corpus: every entry has an absolute
http(s) link, a UTC date, a title, no umlaut mojibake, and sanitised HTML with nothing executable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.reader.errors import SyndicateError
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import parse
from tests.conftest import CORPUS

REAL_WORLD = CORPUS / "real-world"
DOCUMENTS = sorted(p for p in REAL_WORLD.rglob("*") if p.suffix in (".xml", ".json")) if REAL_WORLD.is_dir() else []
MOJIBAKE = re.compile("Ã¤|Ã¼|Ã¶|ÃŸ|Ã„|Ãœ|Ã–|â€")
EXECUTABLE = re.compile(r"<script|<[^>]*\son[a-z]+\s*=|(?:href|src)\s*=\s*[\"']?\s*(?:javascript|vbscript):", re.I)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.slow  # a corpus sweep
@pytest.mark.skipif(not DOCUMENTS, reason="../shared/corpus/real-world is not present")
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_entry_meets_the_bar(path: Path):
    try:
        feed = parse(path.read_bytes())
    except SyndicateError as exc:
        pytest.fail(f"{path.name}: {exc.reason}: {exc}")
    base = feed.link if feed.link and feed.link.startswith("http") else None
    for raw in feed.entries:
        entry = normalise_entry(raw, base=base, now=NOW, future_tolerance=3600)
        assert entry.url and entry.url.lower().startswith(("http://", "https://")), (path.name, raw.link, raw.guid)
        assert entry.published_at.tzinfo is not None and entry.published_at.utcoffset().total_seconds() == 0
        assert entry.published_at.isoformat().endswith("+00:00")
        assert entry.title.strip()
        for field in (entry.title, entry.text, entry.summary_html, entry.content_html):
            assert not MOJIBAKE.search(field), (path.name, field[:120])
        for html in (entry.summary_html, entry.content_html):
            assert not EXECUTABLE.search(html), (path.name, html[:200])
