"""The widget /einbetten/{feed path}: the latest stories of a merged feed as a small German page for an
iframe, from a seeded database (three cities' fixture feeds, one story published by all three): its
content and count, lenient parameters, the headers that let it be framed and cached (CSP
frame-ancestors from SYNDICATE_EMBED_ORIGINS, ETag/304), the German 404, and the snippet on /abonnieren."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from syndicate.clock import utcnow
from syndicate.dedupe.store import store_documents
from syndicate.settings import Settings
from syndicate.web.app import create_app
from tests.conftest import make_source
from tests.support.stories import PHISHING, poll_all
from tests.test_publish import RADWEGE
from tests.test_search import DAY, entry

CITY_NAMES = ["Landeshauptstadt München", "Stadt Nürnberg", "Stadt Augsburg"]


@pytest.fixture
def client(settings, runtime, topics):
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def stories(runtime, session, topics, server):
    return poll_all(runtime, session, server)


class Widget(HTMLParser):
    """What the tests read from a widget page: lang, headings, the list's entries (link, target, text), style, scripts."""

    def __init__(self, text: str):
        super().__init__()
        self.lang, self.headings, self.entries, self.tags, self.style, self.text = None, [], [], [], "", []
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag in ("h1", "h2", "style"):
            self._in = tag
            if tag != "style":
                self.headings.append((tag, ""))
        elif tag == "a" and attrs.get("class") == "title":
            self._in = "a"
            self.entries.append({"href": attrs["href"], "target": attrs.get("target"), "title": "", "meta": ""})
        elif tag == "p" and attrs.get("class") == "meta":
            self._in = "meta"

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "style", "a", "p"):
            self._in = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in in ("h1", "h2"):
            self.headings[-1] = (self.headings[-1][0], self.headings[-1][1] + data)
        elif self._in == "style":
            self.style += data
        elif self._in == "a":
            self.entries[-1]["title"] += data
        elif self._in == "meta":
            self.entries[-1]["meta"] += data


def widget(client, path: str, status: int = 200, **headers) -> Widget:
    response = client.get(path, headers=headers)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    parsed = Widget(response.text)
    assert parsed.lang == "de" and [h[0] for h in parsed.headings] == ["h1"], path
    assert "script" not in parsed.tags and "img" not in parsed.tags and "link" not in parsed.tags, path
    assert "set-cookie" not in response.headers and "x-frame-options" not in response.headers, path
    return parsed


def titles(parsed: Widget) -> list[str]:
    return [e["title"] for e in parsed.entries]


def add_stories(session, count: int) -> list[str]:
    """``count`` stories of one more source, a day apart, the newest first in the returned titles."""
    source = make_source(session, "https://stadt.example/rss", city="fuerth", name="Stadt Fürth")
    made = [f"Meldung Nummer {n} aus Fürth" for n in range(count)]
    documents = [entry(title, f"Text der Meldung {n}.", DAY + timedelta(days=n), key=f"w{n}") for n, title in enumerate(made)]
    store_documents(session, [(source, documents)], [], utcnow())
    session.commit()
    return made[::-1]


def test_widget_shows_the_latest_stories_of_the_merged_feed(client, stories, settings):
    base = settings.public_url.rstrip("/")
    feed = client.get("/feeds/all.json").json()["items"]
    page = widget(client, "/einbetten/all")
    assert page.headings == [("h1", "Alle Meldungen")]
    assert titles(page) == [item["title"] for item in feed[:5]]
    assert len(feed) > 2 and len(page.entries) == min(5, len(feed))
    for item, shown in zip(feed, page.entries):
        story = item["id"].rsplit("/", 1)[1]
        assert shown["href"] == f"{base}/meldungen/{story}" and shown["target"] == "_top"
        assert client.get(f"/meldungen/{story}").status_code == 200  # the link leads to the story's page
    phishing = next(e for e in page.entries if e["title"] == PHISHING)
    assert phishing["meta"].startswith("4. März 2025 · ")  # the date as Germans write it, then every publisher
    assert all(name in phishing["meta"] for name in CITY_NAMES)
    assert "<ol>" in client.get("/einbetten/all").text  # a list, in the order of the feed


@pytest.mark.parametrize(
    "path, heading, expected",
    [
        ("/einbetten/topics/it-sicherheit", "Thema: IT-Sicherheit", [PHISHING]),
        ("/einbetten/cities/muenchen", "Landeshauptstadt München", [RADWEGE, PHISHING]),
        ("/einbetten/all?topic=it-sicherheit&city=augsburg", "Alle Meldungen (IT-Sicherheit, Stadt Augsburg)", [PHISHING]),
        ("/einbetten/cities/muenchen?q=Radwege", "Landeshauptstadt München („radwege“)", [RADWEGE]),
        ("/einbetten/search?q=Phishing", "Suche: phishing", [PHISHING]),
        ("/einbetten/search", "Suche: ", []),
        ("/einbetten/topics/klimaschutz?city=muenchen", "Thema: Klimaschutz (Landeshauptstadt München)", []),
    ],
)
def test_every_merged_feed_and_its_filters_make_a_widget(client, stories, path, heading, expected):
    page = widget(client, path)
    assert page.headings == [("h1", heading)] and titles(page) == expected
    if not expected:
        assert "Noch keine Meldungen" in " ".join(page.text)


def test_anzahl_sets_the_number_of_stories_within_1_to_20(client, session, stories):
    newest = add_stories(session, 25)
    assert titles(widget(client, "/einbetten/all?anzahl=3")) == newest[:3]
    assert titles(widget(client, "/einbetten/all?anzahl=20")) == newest[:20]
    assert titles(widget(client, "/einbetten/all?anzahl=21")) == newest[:20]  # at most 20
    assert titles(widget(client, "/einbetten/all?anzahl=1000000000000")) == newest[:20]
    assert titles(widget(client, "/einbetten/all?anzahl=0")) == newest[:1]  # at least one
    assert titles(widget(client, "/einbetten/all")) == newest[:5]  # five by default
    assert len(client.get("/einbetten/all?anzahl=20", headers={"Accept-Encoding": "identity"}).content) < 8000  # light to embed


@pytest.mark.parametrize("value", ["", "abc", "-3", "2.5", "1e3", "²", "٣", " 7 ", "%00", "9" * 5000, "0" * 5000 + "3"])
def test_odd_anzahl_values_give_the_default_never_an_error(client, session, stories, value):
    add_stories(session, 21)
    response = client.get("/einbetten/all", params={"anzahl": value})
    assert response.status_code == 200
    assert len(Widget(response.text).entries) == {" 7 ": 7, "9" * 5000: 20, "0" * 5000 + "3": 3}.get(value, 5)


@pytest.mark.parametrize("params", [{"city": "x," * 3000}, {"topic": "y" * 5000}, {"q": "Phishing " * 1000}, {"stil": "<b>"}])
def test_odd_filters_never_break_the_widget(client, stories, params):
    assert client.get("/einbetten/all", params=params).status_code == 200


def style_hash(page: Widget) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode() + "'"


def test_headers_allow_framing_by_anyone_by_default_and_only_the_inline_style(client, stories):
    response = client.get("/einbetten/topics/it-sicherheit")
    csp = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert csp["frame-ancestors"] == "*"
    assert csp["default-src"] == "'none'" and csp["base-uri"] == "'none'" and csp["form-action"] == "'none'"
    assert csp["style-src"] == style_hash(Widget(response.text))  # exactly the page's own style, as it is written
    assert "x-frame-options" not in response.headers and "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["referrer-policy"] == "no-referrer"
    # the portal's own pages keep whatever they had: the policy is the widget's
    assert "frame-ancestors" not in client.get("/abonnieren").headers.get("content-security-policy", "")


def test_embed_origins_limit_who_may_frame_the_widget(settings, runtime, topics, stories):
    configured = settings.model_copy(update={"embed_origins": "https://www.augsburg.de, https://*.muenchen.de http://127.0.0.1:8080/"})
    with TestClient(create_app(configured)) as client:
        for path in ("/einbetten/all", "/einbetten/topics/gibt-es-nicht"):
            csp = client.get(path).headers["content-security-policy"]
            assert csp.endswith("frame-ancestors https://www.augsburg.de https://*.muenchen.de http://127.0.0.1:8080"), csp
    for value, expected in [("*", "*"), ("self", "'self'"), ("none", "'none'"), ("", "'none'"), ("https://a.de *", "*")]:
        assert Settings(embed_origins=value).frame_ancestors == expected
    for bad in ["https://a.de; script-src *", "javascript:alert(1)", "https://a.de\r\nSet-Cookie: x=1", "'unsafe-inline'", "a.de"]:
        with pytest.raises(ValidationError):
            Settings(embed_origins=bad)


def test_unchanged_widget_is_a_304_and_a_new_story_renews_it(client, session, stories):
    first = client.get("/einbetten/all?anzahl=3")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/einbetten/all?anzahl=3", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert "frame-ancestors" in again.headers["content-security-policy"]
    assert client.get("/einbetten/all?anzahl=3", headers={"If-Modified-Since": modified}).status_code == 304
    # another count or style is another page with another ETag
    assert client.get("/einbetten/all?anzahl=4").headers["etag"] != etag
    dark = client.get("/einbetten/all?anzahl=3&stil=dunkel")
    assert dark.headers["etag"] != etag and "color-scheme:dark" in dark.text and "prefers-color-scheme" not in dark.text
    assert "prefers-color-scheme:dark" in first.text  # the default follows the reader's setting
    assert "color-scheme:light" in client.get("/einbetten/all?stil=hell").text
    head = client.head("/einbetten/all?anzahl=3")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    newest = add_stories(session, 1)
    renewed = client.get("/einbetten/all?anzahl=3", headers={"If-None-Match": etag})
    assert renewed.status_code == 200 and titles(Widget(renewed.text))[0] == newest[0] and renewed.headers["etag"] != etag


@pytest.mark.parametrize(
    "path",
    [
        "/einbetten/topics/gibt-es-nicht",
        "/einbetten/cities/atlantis",
        "/einbetten/quatsch",
        "/einbetten/",
        "/einbetten/topics/IT-Sicherheit",
        "/einbetten/topics/it-sicherheit/mehr",
        "/einbetten/all.atom",
        "/einbetten/topics/" + "a" * 65,
    ],
)
def test_unknown_feeds_get_a_german_404_in_the_widgets_look(client, stories, path):
    page = widget(client, path, 404)
    assert page.headings == [("h1", "Feed nicht gefunden")] and page.entries == []
    assert "Diesen Feed gibt es nicht." in " ".join(page.text)
    response = client.get(path)
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert style_hash(page) in response.headers["content-security-policy"]


def snippet(text: str) -> tuple[str, dict[str, str]]:
    """The iframe code a page shows as text, and that iframe's attributes."""
    code = html.unescape(re.search(r'<pre class="snippet"><code>(.*?)</code></pre>', text, re.S)[1])
    assert code.startswith("<iframe ") and code.endswith("></iframe>"), code
    return code, {name: html.unescape(value) for name, value in re.findall(r'(\w+)="([^"]*)"', code)}


@pytest.mark.parametrize(
    "query, src, title, expected",
    [
        ("thema=it-sicherheit", "/einbetten/topics/it-sicherheit?anzahl=5", "Thema: IT-Sicherheit", [PHISHING]),
        ("kommune=muenchen", "/einbetten/cities/muenchen?anzahl=5", "Landeshauptstadt München", [RADWEGE, PHISHING]),
        (
            "kommune=muenchen&kommune=augsburg&thema=it-sicherheit",
            "/einbetten/all?city=augsburg%2Cmuenchen&topic=it-sicherheit&anzahl=5",
            "Alle Meldungen (IT-Sicherheit, Stadt Augsburg, Landeshauptstadt München)",
            [PHISHING],
        ),
        ("q=Radwege", "/einbetten/search?q=Radwege&anzahl=5", "Suche: radwege", [RADWEGE]),
    ],
)
def test_feed_builder_shows_the_widget_code_to_copy(client, stories, settings, query, src, title, expected):
    base = settings.public_url.rstrip("/")
    response = client.get(f"/abonnieren?{query}")
    assert response.status_code == 200 and "Als Widget auf Ihrer Website" in response.text
    code, attributes = snippet(response.text)
    assert attributes["src"] == f"{base}{src}"
    assert attributes["title"] == f"{title} – Kommunaler Feed-Verbund Bayern"  # for screen readers
    assert attributes["loading"] == "lazy" and "border:0" in attributes["style"]
    copied = re.search(r'data-url="([^"]*)" aria-label="Widget-Code kopieren"', response.text)[1]
    assert html.unescape(copied) == code  # the copy button copies exactly the code shown
    shown = widget(client, src)  # the snippet's address is a working widget with that feed's stories
    assert titles(shown) == expected and shown.headings == [("h1", title)]


def test_subscribe_page_mentions_the_widget_without_a_choice(client, stories, settings):
    text = client.get("/abonnieren").text
    assert html.escape(f'<iframe src="{settings.public_url.rstrip("/")}/einbetten/all?anzahl=5"').replace("&quot;", "&#34;") in text
    assert '<pre class="snippet">' not in text  # the builder's own code only once something is chosen


def test_a_fresh_cached_widget_is_served_without_rendering_again(settings, runtime, topics, stories):
    with TestClient(create_app(settings.model_copy(update={"feed_cache_seconds": 60}))) as client:
        first = client.get("/einbetten/cities/muenchen?anzahl=2")
        cache = client.app.state.feed_cache
        misses, hits = cache.misses, cache.hits
        again = client.get("/einbetten/cities/muenchen?anzahl=2")
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
        assert (cache.misses, cache.hits) == (misses, hits + 1)
        # the other style and the feed itself are other entries, never the widget's bytes
        dark = client.get("/einbetten/cities/muenchen?anzahl=2&stil=dunkel")
        assert "color-scheme:dark" in dark.text and dark.headers["etag"] != first.headers["etag"]
        assert client.get("/feeds/cities/muenchen.atom?limit=2").headers["content-type"].startswith("application/atom+xml")
        assert cache.misses == misses + 2
