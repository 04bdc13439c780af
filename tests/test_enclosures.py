"""Images and media of an item reach every merged-feed format."""

from __future__ import annotations

import feedparser

from syndicate.ingest.refresh import refresh_source
from syndicate.publish.feeds import FeedQuery, render_feed
from tests.conftest import make_source
from tests.test_feed_formats import check_atom, check_json, check_rss

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Fürth</title><link>https://www.fuerth.de/</link>
<item><title>Neuer Stadtpark eröffnet</title><link>https://www.fuerth.de/pm/1</link><guid>pm-1</guid>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate><description>Der Park ist ab heute offen.</description>
<enclosure url="/bilder/park.jpg" length="48213" type="image/jpeg"/></item>
<item><title>Ratssitzung ohne Bild</title><link>https://www.fuerth.de/pm/2</link><guid>pm-2</guid>
<pubDate>Sun, 22 Nov 2026 09:00:00 +0100</pubDate><description>Tagesordnung folgt.</description></item>
</channel></rss>"""


def test_enclosure_is_stored_and_republished_in_every_format(runtime, session, feed_server):
    feed_server.add("/fuerth.xml", FEED, headers={"Content-Type": "application/rss+xml"})
    source = make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    assert (outcome.status, outcome.new) == ("new", 2)
    image = "https://www.fuerth.de/bilder/park.jpg"  # made absolute against the feed's link

    query = FeedQuery(kind="all")
    rss = feedparser.parse(render_feed(session, query, "rss", "http://127.0.0.1:8000").body)
    atom = feedparser.parse(render_feed(session, query, "atom", "http://127.0.0.1:8000").body)
    check_rss(render_feed(session, query, "rss", "http://127.0.0.1:8000").body)  # RSS 2.0 / RFC 4287 rules, JSON Feed schema
    check_atom(render_feed(session, query, "atom", "http://127.0.0.1:8000").body)
    document = check_json(render_feed(session, query, "json", "http://127.0.0.1:8000").body)
    assert rss.bozo == 0 and atom.bozo == 0
    for parsed in (rss, atom):
        park, council = parsed.entries
        assert [(e.href, e.type, e.length) for e in park.enclosures] == [(image, "image/jpeg", "48213")]
        assert council.enclosures == []
    park_item, council_item = document["items"]
    assert park_item["image"] == image
    assert park_item["attachments"] == [{"url": image, "mime_type": "image/jpeg", "size_in_bytes": 48213}]
    assert "image" not in council_item and "attachments" not in council_item
