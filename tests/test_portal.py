"""The public portal: each page's content from a seeded database (three cities' fixture feeds, one
story published by all three), the /stories redirect, German 404 pages, the search page and feed,
and bad search input that must never become a 500."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from syndicate.clock import utcnow
from syndicate.dedupe.store import store_documents
from syndicate.models import Article, Cluster
from syndicate.web.app import create_app
from tests.conftest import make_source
from tests.support.stories import PHISHING, poll_all
from tests.test_publish import OSTERN, RADWEGE, SOLAR
from tests.test_search import DAY, entry

TOPIC_TITLES = ["IT-Sicherheit", "Digitalisierung", "Klimaschutz", "Mobilität", "Bürgerservice"]
CITY_NAMES = ["Landeshauptstadt München", "Stadt Nürnberg", "Stadt Augsburg"]


@pytest.fixture
def client(settings, runtime, topics):
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


def story_id(session, title: str) -> int:
    return session.scalar(select(Article.cluster_id).where(Article.title == title).limit(1))


class Page(HTMLParser):
    """The parts of a page the tests look at: lang, h1s, alternates, links, landmarks, text."""

    def __init__(self, html: str):
        super().__init__()
        self.lang, self.h1, self.alternates, self.links, self.tags, self._in_h1, self.text = None, [], [], [], set(), False, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        elif tag == "link" and attrs.get("rel") == "alternate":
            self.alternates.append(attrs)
        elif tag == "a":
            self.links.append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data
        self.text.append(data)


def page(client, path: str, status: int = 200) -> Page:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    parsed = Page(response.text)
    assert parsed.lang == "de" and len(parsed.h1) == 1, path
    assert {"header", "nav", "main", "footer"} <= parsed.tags, path
    assert parsed.links[0] == "#inhalt"  # the skip link comes first
    return parsed


def test_front_page_shows_latest_stories_topic_blocks_and_places(client, stories, session, settings):
    front = page(client, "/")
    text = " ".join(front.text)
    for title in (PHISHING, RADWEGE, OSTERN, SOLAR):
        assert title in text
    assert text.count(PHISHING) >= 1 and f"/meldungen/{story_id(session, PHISHING)}" in front.links
    for topic in TOPIC_TITLES:
        assert topic in text
    for slug in ("it-sicherheit", "digitalisierung", "klimaschutz", "mobilitaet", "buergerservice"):
        assert f"/themen/{slug}" in front.links
    for name in CITY_NAMES:
        assert name in text
    for slug in ("muenchen", "nuernberg", "augsburg"):
        assert f"/kommunen/{slug}" in front.links
    assert "/abonnieren" in front.links
    base = settings.public_url.rstrip("/")
    assert {(a["href"], a["type"]) for a in front.alternates} >= {
        (f"{base}/feeds/all.atom", "application/atom+xml"),
        (f"{base}/feeds/all.rss", "application/rss+xml"),
        (f"{base}/feeds/all.json", "application/feed+json"),
    }
    assert "Diese Seite abonnieren" in text  # how to subscribe, on every page with feeds


def test_topic_page_is_the_topics_stream_with_its_feeds(client, stories, settings):
    topic = page(client, "/themen/it-sicherheit")
    text = " ".join(topic.text)
    assert topic.h1 == ["Thema: IT-Sicherheit"]
    assert PHISHING in text and RADWEGE not in text and SOLAR not in text
    base = settings.public_url.rstrip("/")
    assert f"{base}/feeds/topics/it-sicherheit.atom" in {a["href"] for a in topic.alternates}


def test_city_page_pages_by_cursor(client, stories):
    first = client.get("/kommunen/muenchen")
    assert first.status_code == 200
    parsed = Page(first.text)
    assert parsed.h1 == ["Landeshauptstadt München"]
    titles = [t for t in (RADWEGE, PHISHING) if t in first.text]
    assert titles == [RADWEGE, PHISHING]
    # München has two stories: with one per page the second is behind the "Ältere Meldungen" link
    from syndicate.publish import stories as portal_stories

    with client.app.state.runtime.sessions() as session:
        one = portal_stories.stream(session, "city", "muenchen", None, limit=1)
        assert [i.article.title for i in one.items] == [RADWEGE] and one.next_before
        older = client.get(f"/kommunen/muenchen?vor={one.next_before}")
    assert older.status_code == 200 and PHISHING in older.text and RADWEGE not in older.text
    assert client.get("/kommunen/muenchen?vor=kaputt").status_code == 400


def test_story_page_names_every_publisher_and_topic(client, stories, session):
    sid = story_id(session, PHISHING)
    story = page(client, f"/meldungen/{sid}")
    text = " ".join(story.text)
    assert story.h1 == [PHISHING]
    assert "4. März 2025" in text
    assert "Auch veröffentlicht von …" in text
    cluster = session.get(Cluster, sid)
    originals = session.scalars(select(Article.url).where(Article.cluster_id == cluster.id)).all()
    assert len(originals) == 3 and all(url in story.links for url in originals)
    for name in CITY_NAMES:
        assert name in text
    assert "/themen/it-sicherheit" in story.links


def test_stories_ids_redirect_to_the_story_page(client, stories, session):
    sid = story_id(session, PHISHING)
    response = client.get(f"/stories/{sid}")
    assert response.status_code == 301 and response.headers["location"] == f"/meldungen/{sid}"
    # the feeds keep their entry ids: readers would show every story again otherwise
    atom = feedparser.parse(client.get("/feeds/all.atom").content)
    assert f"http://127.0.0.1:8000/stories/{sid}" in {e.id for e in atom.entries}


@pytest.mark.parametrize(
    "path",
    ["/themen/gibt-es-nicht", "/kommunen/atlantis", "/meldungen/999999", "/meldungen/abc", "/meldungen/99999999999999999999"],
)
def test_unknown_slugs_and_ids_get_a_german_404_page(client, stories, path):
    missing = page(client, path, 404)
    assert missing.h1 == ["Seite nicht gefunden"]


def test_subscribe_page_lists_every_feed(client, stories, settings):
    subscribe = page(client, "/abonnieren")
    text = " ".join(subscribe.text)
    assert "Feedreader" in text and "Thunderbird" in text
    for path in ["/feeds/all", "/feeds/topics/klimaschutz", "/feeds/cities/augsburg"]:
        for fmt in ("rss", "atom", "json"):
            assert f"{path}.{fmt}" in subscribe.links
    assert "/feeds/opml" in subscribe.links


def test_static_stylesheet_is_served(client):
    response = client.get("/static/portal.css")
    assert response.status_code == 200 and ":focus-visible" in response.text


# ---------------------------------------------------------------- search


def hit_titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="story-title"><a href="/meldungen/\d+">([^<]+)</a>', html)


@pytest.mark.parametrize(
    "q, expected",
    [
        ("Phishing", [PHISHING]),
        ("Zugangsdaten", [PHISHING]),  # in the text only
        ("Oeffnungszeiten", [OSTERN]),  # umlaut spelled out
        ("Buergerbuero", [OSTERN]),
        ("Bürgerbüro", [OSTERN]),
        ("Radweg", [RADWEGE]),  # inflection: the page says "Radwege"
        ("Straßenbahn", []),
    ],
)
def test_search_page_finds_german_word_forms(client, stories, q, expected):
    response = client.get("/suche", params={"q": q})
    assert response.status_code == 200
    assert hit_titles(response.text) == [e.replace("&", "&amp;") for e in expected]


def test_search_marks_hits_and_filters(client, stories):
    response = client.get("/suche", params={"q": "Zugangsdaten"})
    assert "<mark>Zugangsdaten</mark>" in response.text
    assert hit_titles(client.get("/suche", params={"q": "Phishing", "kommune": "augsburg"}).text) == [PHISHING]
    assert hit_titles(client.get("/suche", params={"q": "Radwege", "kommune": "augsburg"}).text) == []
    assert hit_titles(client.get("/suche", params={"q": "Phishing", "thema": "klimaschutz"}).text) == []
    assert hit_titles(client.get("/suche", params={"q": "Phishing", "von": "2025-03-05"}).text) == []
    assert hit_titles(client.get("/suche", params={"q": "Phishing", "bis": "2025-03-04"}).text) == [PHISHING]


def test_search_feed_has_the_same_hits(client, stories):
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/feeds/search.{fmt}", params={"q": "Buergerbuero"}).content)
        assert [e.title for e in parsed.entries] == [OSTERN]
    assert client.get("/feeds/search.json", params={"q": "Radweg"}).json()["items"][0]["title"] == RADWEGE
    assert client.get("/feeds/search.json").json()["items"] == []  # no words: nothing, not everything


@pytest.mark.parametrize(
    "q",
    [
        '"Phishing',
        "Phishing*",
        "NEAR(Phishing Mails)",
        "((Phishing",
        "Phishing OR",
        "AND",
        "-Phishing",
        "^",
        "'; DROP TABLE articles; --",
        "x" * 2000,
        "Phishing " * 300,
        "ü" * 2000,
        ":*",
        "!!",
        "\x00",
    ],
)
def test_search_syntax_from_users_is_never_query_syntax(client, stories, q):
    """Quotes, operators, NEAR, unbalanced parentheses, very long input: a normal page (perhaps without hits)."""
    response = client.get("/suche", params={"q": q})
    assert response.status_code == 200
    assert "<h1>Meldungen durchsuchen</h1>" in response.text
    assert client.get("/feeds/search.atom", params={"q": q[:200]}).status_code == 200


def test_feeds_name_their_stylesheet_and_keep_their_type_for_readers(client, stories):
    reader = client.get("/feeds/all.rss", headers={"Accept": "application/rss+xml, */*"})
    assert reader.headers["content-type"].startswith("application/rss+xml")
    assert b'<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>' in reader.content[:200]
    assert feedparser.parse(reader.content).bozo == 0
    browser = client.get("/feeds/all.atom", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("application/xml") and "Accept" in browser.headers["vary"]
    assert browser.content == client.get("/feeds/all.atom").content
    xsl = client.get("/static/feed.xsl")
    assert xsl.status_code == 200 and b"Dies ist ein Feed" in xsl.content


def test_feed_summaries_end_at_a_word_boundary(client, session, topics):

    source = make_source(session, "https://stadt.example/rss")
    words = "Die Stadt erneuert im Sommer die Beleuchtung der Fußgängerzone mit sparsamen Leuchten " * 8

    store_documents(session, [(source, [entry("Neue Beleuchtung", words, DAY)])], [], utcnow())[0]
    session.commit()
    summary = client.get("/feeds/all.json").json()["items"][0]["summary"]
    assert summary.endswith(" …") and len(summary) <= 302
    assert " ".join(words.split()).startswith(summary.removesuffix(" …"))
    assert words.split()[len(summary.removesuffix(" …").split()) - 1] == summary.removesuffix(" …").split()[-1]  # a whole word
    atom = feedparser.parse(client.get("/feeds/all.atom").content)
    assert atom.entries[0].summary == summary


def test_feed_builder_gives_addresses_and_a_preview(client, stories, settings):
    base = settings.public_url.rstrip("/")
    chosen = page(client, "/abonnieren?kommune=muenchen&kommune=augsburg&thema=it-sicherheit&q=")
    text = " ".join(chosen.text)
    assert "Ihr Feed" in text and PHISHING in text and RADWEGE not in text
    for fmt in ("rss", "atom", "json"):
        href = f"/feeds/all.{fmt}?city=augsburg%2Cmuenchen&topic=it-sicherheit"
        assert href in chosen.links and f"{base}{href}" in text
    assert feedparser.parse(client.get("/feeds/all.atom?city=augsburg%2Cmuenchen&topic=it-sicherheit").content).entries[0].title == PHISHING
    # one city alone is that city's own feed; search words make a search feed
    assert "/feeds/cities/nuernberg.rss" in page(client, "/abonnieren?kommune=nuernberg").links
    searched = page(client, "/abonnieren?q=Radwege")
    assert "/feeds/search.atom?q=Radwege" in searched.links and RADWEGE in " ".join(searched.text)
    # unknown choices are dropped, never an error
    assert "/feeds/all.atom" in page(client, "/abonnieren?kommune=atlantis&thema=gibt-es-nicht").links


@pytest.mark.parametrize(
    "params",
    [
        {"seite": "0"},
        {"seite": "-1"},
        {"seite": "99999999999"},
        {"seite": "x"},
        {"von": "gestern"},
        {"bis": "2025-13-45"},
        {"kommune": "x" * 5000},
        {"thema": "y" * 500},
        {"q": "Phishing " * 1000},
    ],
)
def test_search_page_reads_odd_parameters_leniently(client, stories, params):
    response = client.get("/suche", params={"q": "Phishing", **params})
    assert response.status_code == 200 and "<h1>Meldungen durchsuchen</h1>" in response.text


def test_feed_builder_offers_the_chosen_feed_alone_as_opml(client, stories, settings):
    """The builder's OPML holds exactly the chosen feed (not every feed), with the builder's filters in its address."""
    base = settings.public_url.rstrip("/")
    chosen = page(client, "/abonnieren?kommune=muenchen&kommune=augsburg&thema=it-sicherheit&q=")
    opml_href = "/abonnieren/opml?kommune=augsburg&kommune=muenchen&thema=it-sicherheit"
    assert opml_href in chosen.links and "/feeds/opml" in chosen.links

    cases = [
        (opml_href, f"{base}/feeds/all.atom?city=augsburg%2Cmuenchen&topic=it-sicherheit"),
        (opml_href + "&format=rss", f"{base}/feeds/all.rss?city=augsburg%2Cmuenchen&topic=it-sicherheit"),
        ("/abonnieren/opml?kommune=nuernberg", f"{base}/feeds/cities/nuernberg.atom"),
        ("/abonnieren/opml?q=Radwege&thema=mobilitaet&format=json", f"{base}/feeds/search.json?q=Radwege&topic=mobilitaet"),
        ("/abonnieren/opml?kommune=atlantis", f"{base}/feeds/all.atom"),  # unknown choices are dropped, as on the page
    ]
    for href, xml_url in cases:
        response = client.get(href)
        assert response.status_code == 200, (href, response.text[:300])
        assert response.headers["content-type"].startswith("text/x-opml")
        assert "attachment" in response.headers["content-disposition"]
        root = ET.fromstring(response.content)
        assert root.tag == "opml" and root.get("version") == "2.0"
        assert root.find("head/title").text.startswith("Kommunaler Feed-Verbund Bayern")
        outlines = root.findall("body/outline")
        assert [o.get("xmlUrl") for o in outlines] == [xml_url], href
        assert outlines[0].get("type") == "rss" and outlines[0].get("text")
        # the address in the file is a working feed of that format
        assert client.get(xml_url.removeprefix(base)).status_code == 200, xml_url

    titled = ET.fromstring(client.get(opml_href).content).find("body/outline").get("title")
    assert titled == "Landeshauptstadt München, Stadt Augsburg · Thema: IT-Sicherheit"
    assert client.get("/abonnieren/opml?format=xml").status_code == 422
