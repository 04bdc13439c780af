"""Merged feeds from render_feed: one entry per story, newest first, topic and city scopes, filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from syndicate.publish.feeds import FeedQuery, UnknownFeed, render_feed
from tests.conftest import make_source
from tests.support.stories import PHISHING, poll_all

PUBLIC = "http://127.0.0.1:8000"
RADWEGE = "Neue Radwege in der Maxvorstadt"
OSTERN = "Öffnungszeiten des Bürgerbüros an Ostern"
SOLAR = "Förderprogramm für Photovoltaik auf Schuldächern"
NEWEST_FIRST = [SOLAR, OSTERN, RADWEGE, PHISHING]


@pytest.fixture
def stories(runtime, session, topics, server):
    """Three cities polled from fixture feeds; the Phishing warning is one story published three times."""
    return poll_all(runtime, session, server)


def feed(session, fmt="rss", **query):
    body = render_feed(session, FeedQuery(**query), fmt, PUBLIC).body
    if fmt == "json":
        return json.loads(body)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def titles(parsed) -> list[str]:
    if isinstance(parsed, dict):
        return [item["title"] for item in parsed["items"]]
    return [entry.title for entry in parsed.entries]


def body_of(entry) -> str:
    return entry.content[0].value if "content" in entry else entry.description


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_all_feed_has_each_story_once_newest_first(session, stories, fmt):
    parsed = feed(session, fmt)

    assert parsed.version == ("rss20" if fmt == "rss" else "atom10")
    assert titles(parsed) == NEWEST_FIRST
    dates = [datetime(*entry.published_parsed[:6], tzinfo=UTC) for entry in parsed.entries]
    assert dates == sorted(dates, reverse=True)
    shared = parsed.entries[-1]
    # the representative is München's copy, the one seen first (Augsburg claims an earlier date)
    assert shared.link == "https://www.bayern.de/presse/warnung-phishing-2025"
    assert dates[-1] == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    text = body_of(shared)
    assert "Auch veröffentlicht von" in text
    assert "Stadt Augsburg" in text and "Stadt Nürnberg" in text
    assert "Landeshauptstadt München" not in text.split("Auch veröffentlicht von")[1]
    assert "https://www.nuernberg.de/presse/mitteilungen/phishing-warnung.html" in text
    assert all("Auch veröffentlicht von" not in body_of(entry) for entry in parsed.entries[:-1])
    ids = [entry.id for entry in parsed.entries]
    assert len(set(ids)) == 4 and all(i.startswith(f"{PUBLIC}/stories/") for i in ids)
    assert "IT-Sicherheit" in [tag.term for tag in shared.tags]
    if fmt == "atom":
        assert shared.author == "Landeshauptstadt München"


def test_json_feed(session, stories):
    document = feed(session, "json")

    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == f"{PUBLIC}/feeds/all.json"
    assert titles(document) == NEWEST_FIRST
    shared = document["items"][-1]
    assert shared["authors"] == [{"name": "Landeshauptstadt München"}]
    assert shared["date_published"].startswith("2025-03-04T09:00:00")
    assert [p["city"] for p in shared["_syndicate"]["also_published_by"]] == ["nuernberg", "augsburg"]
    assert "Auch veröffentlicht von" in shared["content_html"]
    assert "IT-Sicherheit" in shared["tags"]


@pytest.mark.parametrize(
    "slug, expected",
    [
        ("it-sicherheit", [PHISHING]),
        ("mobilitaet", [RADWEGE]),
        ("klimaschutz", [SOLAR]),
        ("buergerservice", [OSTERN]),
        ("digitalisierung", []),
    ],
)
def test_topic_feed_contains_only_matching_stories(session, stories, slug, expected):
    parsed = feed(session, "atom", kind="topic", slug=slug)
    assert titles(parsed) == expected
    assert parsed.feed.title.startswith("Thema: ")


def test_city_feed_shows_that_citys_copy(session, stories):
    parsed = feed(session, "rss", kind="city", slug="muenchen")

    assert titles(parsed) == [RADWEGE, PHISHING]
    shared = parsed.entries[-1]
    assert shared.link == "https://www.bayern.de/presse/warnung-phishing-2025"  # München's own URL
    assert "Stadt Augsburg" in shared.description and "Stadt Nürnberg" in shared.description
    assert titles(feed(session, "rss", kind="city", slug="augsburg")) == [OSTERN, PHISHING]
    assert titles(feed(session, "rss", kind="city", slug="nuernberg")) == [SOLAR, PHISHING]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"cities": ("augsburg", "nuernberg")}, [SOLAR, OSTERN, PHISHING]),
        ({"cities": ("muenchen",), "topic": "it-sicherheit"}, [PHISHING]),
        ({"topic": "klimaschutz"}, [SOLAR]),
        ({"q": "photovoltaik"}, [SOLAR]),
        ({"q": "PHISHING-MAILS"}, [PHISHING]),
        ({"q": "Zugangsdaten"}, [PHISHING]),  # in the text only
        ({"q": "Öffnungszeiten"}, [OSTERN]),  # capital umlaut, as German nouns are written
        ({"q": "bürgerbüro"}, [OSTERN]),
        ({"q": "Straßenbahn"}, []),
        ({"limit": 2}, [SOLAR, OSTERN]),
        ({"limit": 1, "cities": ("muenchen",)}, [RADWEGE]),
    ],
)
def test_filters(session, stories, query, expected):
    assert titles(feed(session, "rss", **query)) == expected


def test_city_filter_outside_a_city_feed_gives_nothing(session, stories):
    assert titles(feed(session, "rss", kind="city", slug="muenchen", cities=("augsburg",))) == []
    assert titles(feed(session, "rss", kind="city", slug="muenchen", cities=("augsburg", "muenchen"))) == [RADWEGE, PHISHING]


def test_unknown_feeds_raise(session, topics):
    with pytest.raises(UnknownFeed):
        render_feed(session, FeedQuery(kind="topic", slug="raumfahrt"), "rss", PUBLIC)
    with pytest.raises(UnknownFeed):
        render_feed(session, FeedQuery(kind="city", slug="atlantis"), "rss", PUBLIC)
    with pytest.raises(UnknownFeed):
        render_feed(session, FeedQuery(), "pdf", PUBLIC)


def test_empty_feed_is_valid_and_stable(session, topics):
    make_source(session, "https://ru.muenchen.de/rss", city="muenchen", name="Landeshauptstadt München")
    for fmt in ("rss", "atom"):
        first = render_feed(session, FeedQuery(kind="city", slug="muenchen"), fmt, PUBLIC).body
        parsed = feedparser.parse(first)
        assert parsed.bozo == 0 and parsed.entries == []
        assert render_feed(session, FeedQuery(kind="city", slug="muenchen"), fmt, PUBLIC).body == first  # cacheable by ETag
