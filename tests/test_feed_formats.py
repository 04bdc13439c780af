"""Each format against its specification: RSS 2.0 required elements, RFC 4287 (Atom) rules, and the
JSON Feed 1.1 schema (tests/fixtures/jsonfeed-1.1.schema.json), for every scope, a filtered feed and
an empty one. feedparser must read RSS and Atom without complaint (bozo == 0)."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import feedparser
import jsonschema
import pytest
from lxml import etree

from syndicate.publish.feeds import FeedQuery, render_feed
from tests.conftest import FIXTURES, make_source
from tests.support.stories import poll_all

PUBLIC = "http://127.0.0.1:8000"
ATOM = "{http://www.w3.org/2005/Atom}"
SCOPES = {
    "all": FeedQuery(),
    "topic": FeedQuery("topic", "it-sicherheit"),
    "city": FeedQuery("city", "muenchen"),
    "filtered": FeedQuery(cities=("augsburg", "nuernberg"), q="a", limit=2),
}


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


def _uri(value) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme in ("http", "https") and parts.netloc)


def _date_time(value) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


CHECKER = jsonschema.FormatChecker(formats=())
CHECKER.checks("uri")(_uri)
CHECKER.checks("date-time")(_date_time)
SCHEMA = json.loads((FIXTURES / "jsonfeed-1.1.schema.json").read_text())


def parsed_ok(body: bytes):
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def check_rss(body: bytes) -> etree._Element:
    """RSS 2.0 (rssboard.org/rss-specification): rss@version 2.0 with one channel that has title, link and
    description; every item has a title or a description; dates are RFC 822; guid isPermaLink is a boolean."""
    root = etree.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channels = root.findall("channel")
    assert len(channels) == 1
    channel = channels[0]
    for name in ("title", "link", "description"):
        assert len(channel.findall(name)) == 1 and channel.findtext(name).strip(), name
    assert _uri(channel.findtext("link"))
    for date in channel.findall("lastBuildDate") + channel.findall("pubDate"):
        parsedate_to_datetime(date.text)
    self_links = [link for link in channel.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert len(self_links) == 1 and _uri(self_links[0].get("href"))
    for item in channel.findall("item"):
        assert (item.findtext("title") or "").strip() or (item.findtext("description") or "").strip()
        guid = item.find("guid")
        assert guid is not None and guid.text and guid.get("isPermaLink", "true") in ("true", "false")
        if item.find("pubDate") is not None:
            assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        if item.find("link") is not None:
            assert _uri(item.findtext("link"))
        source = item.find("source")
        if source is not None:
            assert _uri(source.get("url")) and source.text  # <source> needs its url attribute
        for enclosure in item.findall("enclosure"):
            assert {"url", "length", "type"} <= set(enclosure.attrib)
    return channel


def _rfc3339(text: str) -> None:
    assert "T" in text and datetime.fromisoformat(text).tzinfo is not None, text


def check_atom(body: bytes) -> etree._Element:
    """RFC 4287: atom:feed has exactly one id, title and updated, an author unless every entry has one,
    at most one alternate link per type and hreflang; each entry exactly one id, title, updated, and
    content or an alternate link; a summary when content is not inline text."""
    feed = etree.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1, name
    _rfc3339(feed.findtext(f"{ATOM}updated"))
    entries = feed.findall(f"{ATOM}entry")
    if not feed.findall(f"{ATOM}author"):
        assert all(entry.findall(f"{ATOM}author") for entry in entries), "atom:author on the feed or on every entry"
    links = feed.findall(f"{ATOM}link")
    alternates = [(link.get("type"), link.get("hreflang")) for link in links if link.get("rel", "alternate") == "alternate"]
    assert len(alternates) == len(set(alternates))
    assert all(link.get("href") for link in links)
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        _rfc3339(entry.findtext(f"{ATOM}updated"))
        for published in entry.findall(f"{ATOM}published"):
            _rfc3339(published.text)
        for author in entry.findall(f"{ATOM}author"):
            assert len(author.findall(f"{ATOM}name")) == 1
        content = entry.findall(f"{ATOM}content")
        alternate = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        assert len(content) <= 1 and (content or alternate)
        if content and content[0].get("src"):
            assert entry.findall(f"{ATOM}summary")
        for link in entry.findall(f"{ATOM}link"):
            assert link.get("href")
    return feed


def check_json(body: bytes) -> dict:
    document = json.loads(body)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator, format_checker=CHECKER)
    return document


@pytest.mark.parametrize("scope", SCOPES)
def test_rss_satisfies_rss_2_0(session, stories, scope):
    body = render_feed(session, SCOPES[scope], "rss", PUBLIC).body
    parsed = parsed_ok(body)
    channel = check_rss(body)
    items = channel.findall("item")
    assert len(items) == len(parsed.entries) and (scope == "filtered" or items)
    rels = {link.get("rel"): link.get("href") for link in channel.findall(f"{ATOM}link")}
    assert rels["hub"] == f"{PUBLIC}/websub" and rels["self"].startswith(f"{PUBLIC}/feeds/")
    for item in items:
        assert item.findtext("link").startswith("https://")  # the original article
        assert item.find("source").text  # the publishing city
        assert item.findall("category")


@pytest.mark.parametrize("scope", SCOPES)
def test_atom_satisfies_rfc_4287(session, stories, scope):
    body = render_feed(session, SCOPES[scope], "atom", PUBLIC).body
    parsed = parsed_ok(body)
    feed = check_atom(body)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(parsed.entries) and (scope == "filtered" or entries)
    rels = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert rels["hub"] == f"{PUBLIC}/websub" and rels["self"].startswith(f"{PUBLIC}/feeds/")
    for entry in entries:
        assert entry.findtext(f"{ATOM}author/{ATOM}name")
        assert entry.findall(f"{ATOM}category")


@pytest.mark.parametrize("scope", SCOPES)
def test_json_feed_validates_against_the_1_1_schema(session, stories, scope):
    document = check_json(render_feed(session, SCOPES[scope], "json", PUBLIC).body)
    assert document["hubs"] == [{"type": "WebSub", "url": f"{PUBLIC}/websub"}]
    assert scope == "filtered" or document["items"]
    for item in document["items"]:
        assert item["authors"][0]["name"] and item["tags"] and item["url"].startswith("https://")


def test_the_schema_rejects_what_the_spec_forbids():
    """The schema is not vacuous: a missing item id, a wrong version or a bad date fail."""
    good = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "content_text": "x"}]}
    check = lambda doc: jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft7Validator, format_checker=CHECKER)  # noqa: E731
    check(good)
    for broken in (
        {**good, "version": "https://jsonfeed.org/version/1"},
        {**good, "items": [{"content_text": "x"}]},
        {**good, "items": [{"id": "1"}]},
        {**good, "items": [{"id": "1", "content_text": "x", "date_published": "4. März 2025"}]},
        {**good, "hubs": [{"url": "https://hub.example/"}]},
        {"title": "t", "items": []},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check(broken)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_empty_feed_is_valid_in_every_format(session, topics, fmt):
    make_source(session, "https://ru.muenchen.de/rss", city="muenchen", name="Landeshauptstadt München")
    body = render_feed(session, FeedQuery("city", "muenchen"), fmt, PUBLIC).body
    if fmt == "json":
        assert check_json(body)["items"] == []
    else:
        parsed_ok(body)
        (check_rss if fmt == "rss" else check_atom)(body)
