"""Stadt Fürth's newsroom on a local feed server, polled once (a fixture plugin): the merged feeds that the
static-file and cached-feed tests serve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from syndicate.ingest.refresh import refresh_source
from tests.conftest import make_source


def news_feed(titles: list[str]) -> bytes:
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    items = "".join(
        f"<item><title>{t}</title><link>https://fuerth.example/{i}</link><guid>fuerth-{i}</guid>"
        f"<pubDate>{format_datetime(start + timedelta(hours=i))}</pubDate><description>Text zu {t}</description></item>"
        for i, t in enumerate(titles)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Stadt Fürth</title>{items}</channel></rss>'.encode()


@pytest.fixture
def fuerth(runtime, session, feed_server):
    """One city with one source polled once (two stories); returns a function that publishes a third and polls again."""
    feed_server.add("/rathaus.xml", news_feed(["Neue Radwege", "Stadtrat tagt"]))
    source = make_source(session, feed_server.url("/rathaus.xml"), city="fuerth", name="Stadt Fürth")
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).status == "new"

    def publish_more() -> None:
        feed_server.add("/rathaus.xml", news_feed(["Neue Radwege", "Stadtrat tagt", "Bürgerbüro geschlossen"]))
        assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).new == 1

    return publish_more
