"""normalise: canonical URLs, sanitised HTML, plain text, titles, German dates, whole entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from syndicate.reader.normalise import (
    SUMMARY_CHARS,
    Enclosure,
    absolute_url,
    canonical_url,
    clean_title,
    html_to_text,
    normalise_entry,
    parse_date_text,
    sanitize_html,
    shorten,
)
from syndicate.reader.parse import RawEntry, parse

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASE = "https://www.muenchen.de/news/"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- canonical_url


@pytest.mark.parametrize(
    "url, base, expected",
    [
        ("HTTPS://WWW.Muenchen.DE/News", None, "https://www.muenchen.de/News"),
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com:443/a", None, "http://example.com:443/a"),
        ("https://example.com/a#abschnitt-2", None, "https://example.com/a"),
        ("https://example.com", None, "https://example.com/"),
        ("https://example.com/a?b=2&a=1", None, "https://example.com/a?a=1&b=2"),
        ("https://e.de/a?utm_source=rss&utm_medium=feed&UTM_Campaign=x&id=7", None, "https://e.de/a?id=7"),
        ("https://e.de/a?fbclid=abc&gclid=def&mc_cid=1&mc_eid=2", None, "https://e.de/a"),
        ("https://e.de/a?wt_mc=rss.ho.beitrag.rdf&seite=2", None, "https://e.de/a?seite=2"),
        ("https://e.de/a?WT_MC=x", None, "https://e.de/a"),
        ("https://e.de/a?q=", None, "https://e.de/a?q="),
        ("  https://e.de/a  ", None, "https://e.de/a"),
        ("ftp://e.de/a", None, None),
        ("mailto:presse@muenchen.de", None, None),
        ("javascript:alert(1)", None, None),
        ("file:///etc/passwd", None, None),
        ("", None, None),
        (None, None, None),
        ("https://e.de:99999/a", None, None),
        ("/presse/1.html?utm_source=x", "https://www.augsburg.de/news/", "https://www.augsburg.de/presse/1.html"),
        ("1.html", "https://www.augsburg.de/news/", "https://www.augsburg.de/news/1.html"),
        ("//cdn.augsburg.de/x", "https://www.augsburg.de/news/", "https://cdn.augsburg.de/x"),
        ("https://other.de/y", "https://www.augsburg.de/news/", "https://other.de/y"),
        ("http://[::1]:8080/a", None, "http://[::1]:8080/a"),
    ],
    ids=[
        "case",
        "http-default-port",
        "https-default-port",
        "other-port",
        "443-on-http-kept",
        "fragment",
        "empty-path",
        "sorted-query",
        "utm",
        "click-ids",
        "wt_mc",
        "tracking-case",
        "blank-value-kept",
        "whitespace",
        "ftp",
        "mailto",
        "javascript",
        "file",
        "empty",
        "none",
        "bad-port",
        "relative-root",
        "relative-path",
        "scheme-relative",
        "absolute-with-base",
        "ipv6",
    ],
)
def test_canonical_url(url, base, expected):
    assert canonical_url(url, base) == expected


def test_canonical_url_variants_agree():
    variants = [
        "https://www.augsburg.de/aktuelles/1.html",
        "HTTPS://www.augsburg.de:443/aktuelles/1.html#top",
        "https://www.augsburg.de/aktuelles/1.html?utm_source=newsletter&utm_medium=email",
        "https://WWW.AUGSBURG.DE/aktuelles/1.html?fbclid=IwAR0",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


# ---------------------------------------------------------------- sanitize_html


@pytest.mark.parametrize(
    "fragment, expected",
    [
        ("<p>Hallo<script>alert(1)</script></p>", "<p>Hallo</p>"),
        ("<style>p{color:red}</style><p>x</p>", "<p>x</p>"),
        # form controls go, their text stays
        ('<form action="https://evil.example/"><input name="pw"><button>Los</button></form><p>y</p>', "Los<p>y</p>"),
        ('<iframe src="https://www.youtube.com/embed/x"></iframe><p>z</p>', "<p>z</p>"),
        ('<object data="x.swf"></object><embed src="y.swf"><p>o</p>', "<p>o</p>"),
        ('<p onclick="steal()" style="color:red" class="c">c</p>', "<p>c</p>"),
        ('<img src="https://e.de/i.jpg" onerror="steal()" alt="Bild">', '<img src="https://e.de/i.jpg" alt="Bild">'),
        ('<a href="javascript:alert(1)">j</a>', '<a rel="noopener noreferrer">j</a>'),
        ('<a href="JaVaScRiPt:alert(1)">j</a>', '<a rel="noopener noreferrer">j</a>'),
        ('<a href="  javascript:alert(1)">j</a>', '<a rel="noopener noreferrer">j</a>'),
        ('<a href="vbscript:msgbox(1)">v</a>', '<a rel="noopener noreferrer">v</a>'),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">d</a>', '<a rel="noopener noreferrer">d</a>'),
        ('<img src="data:text/html,<script>x</script>">', "<img>"),
        ('<img src="data:image/png;base64,iVBORw0K" alt="p">', '<img src="data:image/png;base64,iVBORw0K" alt="p">'),
        ('<a href="/presse/1.html">r</a>', '<a href="https://www.muenchen.de/presse/1.html" rel="noopener noreferrer">r</a>'),
        ('<a href="2.html">r</a>', '<a href="https://www.muenchen.de/news/2.html" rel="noopener noreferrer">r</a>'),
        ('<img src="bild.jpg" alt="b">', '<img src="https://www.muenchen.de/news/bild.jpg" alt="b">'),
        ('<a href="https://x.de/" target="_blank" rel="nofollow">x</a>', '<a href="https://x.de/" rel="noopener noreferrer">x</a>'),
        ('<p>a</p><img src="https://t.example/p.gif" width="1" height="1"><p>b</p>', "<p>a</p><p>b</p>"),
        ("<img height=1 width=1 src=/pixel.gif />", ""),
        ('<IMG SRC="https://t.example/p.gif" WIDTH="1" HEIGHT="1">', ""),
        ('<img src="https://e.de/banner.jpg" width="100" height="1">', '<img src="https://e.de/banner.jpg" width="100" height="1">'),
        ('<img src="https://e.de/a.jpg" width="10" height="10">', '<img src="https://e.de/a.jpg" width="10" height="10">'),
        ('<a href="mailto:presse@muenchen.de">Presse</a>', '<a href="mailto:presse@muenchen.de" rel="noopener noreferrer">Presse</a>'),
        ('<img src="mailto:presse@muenchen.de">', "<img>"),
        ("<p>x<!-- Kommentar --></p>", "<p>x</p>"),
        ("<svg><script>alert(1)</script></svg><p>s</p>", "<p>s</p>"),
        ("", ""),
    ],
    ids=[
        "script",
        "style",
        "form",
        "iframe",
        "object-embed",
        "event-handler-style-class",
        "img-onerror",
        "javascript-href",
        "javascript-mixed-case",
        "javascript-leading-space",
        "vbscript",
        "data-href",
        "data-non-image-src",
        "data-image-kept",
        "relative-href-root",
        "relative-href-path",
        "relative-img",
        "rel-replaced",
        "pixel",
        "pixel-unquoted",
        "pixel-uppercase",
        "not-a-pixel-wide",
        "not-a-pixel-10",
        "mailto-link",
        "mailto-img",
        "comment",
        "svg-script",
        "empty",
    ],
)
def test_sanitize_html(fragment, expected):
    assert sanitize_html(fragment, BASE) == expected


def test_sanitize_without_base_drops_relative_links():
    assert sanitize_html('<a href="/x">x</a>') == '<a rel="noopener noreferrer">x</a>'


# ---------------------------------------------------------------- html_to_text, clean_title


@pytest.mark.parametrize(
    "fragment, expected",
    [
        ("<p>Eins</p><p>Zwei</p>", "Eins Zwei"),
        ("Zeile<br>Zeile", "Zeile Zeile"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("<h2>Titel</h2>Text", "Titel Text"),
        ("<p>1 &lt; 2 &amp; 3 &gt; 2</p>", "1 < 2 & 3 > 2"),
        ("Stra&szlig;e&nbsp;frei", "Straße frei"),
        ("<script>bad()</script>gut", "gut"),
        ("  viel \n\t Platz  ", "viel Platz"),
        ("<b>fett</b>und<i>kursiv</i>", "fettundkursiv"),
        ("", ""),
    ],
    ids=["paragraphs", "br", "list", "heading", "entities", "named-entities", "script", "whitespace", "inline", "empty"],
)
def test_html_to_text(fragment, expected):
    assert html_to_text(fragment) == expected


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Caf&eacute; &amp; Bar", "Café & Bar"),
        ("&lt;b&gt;Wichtig:&lt;/b&gt; Sperrung", "Wichtig: Sperrung"),
        ("<em>Neu</em>   im\n Rathaus", "Neu im Rathaus"),
        ("A &amp;amp; B", "A & B"),
        ("Preis: 5 &lt; 6", "Preis: 5 < 6"),
        ("AT&T", "AT&T"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;Titel", "Titel"),
        ("  Normaler Titel ", "Normaler Titel"),
    ],
    ids=["entities", "escaped-tags", "tags-and-space", "double-escaped", "escaped-lt", "bare-ampersand", "amp", "escaped-script", "plain"],
)
def test_clean_title(title, expected):
    assert clean_title(title) == expected


def test_shorten():
    text = "wort " * 100
    short = shorten(text.strip())
    assert len(short) <= SUMMARY_CHARS + 2 and short.endswith(" …")
    assert shorten("kurz") == "kurz"


# ---------------------------------------------------------------- German dates (Europe/Berlin → UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("24. November 2026", utc(2026, 11, 23, 23, 0)),  # CET, +01:00
        ("24.11.2026 10:00", utc(2026, 11, 24, 9, 0)),
        ("3. März 2026", utc(2026, 3, 2, 23, 0)),
        ("3. Maerz 2026", utc(2026, 3, 2, 23, 0)),
        ("1. Juli 2026, 14:30 Uhr", utc(2026, 7, 1, 12, 30)),  # CEST, +02:00
        ("01.07.2026, 14:30 Uhr", utc(2026, 7, 1, 12, 30)),
        ("Stand: 5. Okt. 2026", utc(2026, 10, 4, 22, 0)),
        ("24. NOVEMBER 2026", utc(2026, 11, 23, 23, 0)),
        ("1.1.2026 00:30", utc(2025, 12, 31, 23, 30)),
        ("Mo, 03 Mär 2025 10:00:00", utc(2025, 3, 3, 9, 0)),
        ("24.11.2026 10.15", utc(2026, 11, 24, 9, 15)),
        ("24.11.2026 10:00 Uhr", utc(2026, 11, 24, 9, 0)),
        ("Di, 24 Nov 2026 10:00:00 +0000", utc(2026, 11, 24, 10, 0)),
        ("Mo, 03 Mär 2025 10:00:00 GMT", utc(2025, 3, 3, 10, 0)),
        ("03 Mrz 2025 10:00:00 +0200", utc(2025, 3, 3, 8, 0)),
        ("24.11.2026 10:00 -05:30", utc(2026, 11, 24, 15, 30)),
        ("1. Juli 2026 14:30 MESZ", utc(2026, 7, 1, 12, 30)),
        ("1. Juli 2026 14:30 MEZ", utc(2026, 7, 1, 13, 30)),
        ("24.11.2026 10:00 +2400", None),
        ("31.02.2026", None),
        ("24. Foo 2026", None),
        ("irgendwann", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "word-month",
        "numeric-time",
        "maerz-umlaut",
        "maerz-ae",
        "summer-time",
        "numeric-summer",
        "abbrev",
        "uppercase",
        "new-year-utc-previous-day",
        "weekday-abbrev",
        "dot-time",
        "uhr",
        "rfc822-german-utc",
        "rfc822-german-gmt",
        "rfc822-german-offset",
        "numeric-negative-offset",
        "mesz",
        "mez",
        "impossible-offset",
        "impossible-day",
        "unknown-month",
        "no-date",
        "empty",
        "none",
    ],
)
def test_parse_date_text(text, expected):
    result = parse_date_text(text)
    assert result == expected
    if result is not None:
        assert result.utcoffset() == timedelta(0)


# ---------------------------------------------------------------- normalise_entry


def norm(raw: RawEntry, base: str | None = BASE, tolerance: int = 3600):
    return normalise_entry(raw, base=base, now=NOW, future_tolerance=tolerance)


def test_entry_without_date_is_now_and_estimated():
    entry = norm(RawEntry(title="Ohne Datum", link="/a"))
    assert entry.published_at == NOW
    assert entry.date_estimated is True


def test_entry_with_german_date_text():
    entry = norm(RawEntry(title="t", link="/a", date_text="24.11.2026 10:00"))
    assert entry.published_at == utc(2026, 11, 24, 9, 0)
    assert entry.date_estimated is False


def test_updated_used_when_no_published():
    entry = norm(RawEntry(title="t", link="/a", updated=utc(2026, 11, 1)))
    assert entry.published_at == utc(2026, 11, 1) and entry.updated_at == utc(2026, 11, 1)


@pytest.mark.parametrize(
    "published, expected",
    [
        (NOW + timedelta(days=30), NOW),
        (NOW + timedelta(minutes=30), NOW + timedelta(minutes=30)),
        (NOW - timedelta(days=2), NOW - timedelta(days=2)),
    ],
    ids=["far-future-clamped", "within-tolerance-kept", "past-kept"],
)
def test_future_dates(published, expected):
    entry = norm(RawEntry(title="t", link="/a", published=published, updated=published))
    assert entry.published_at == expected
    assert entry.updated_at == (published if published <= NOW + timedelta(hours=1) else None)


def test_summary_made_from_content_when_missing():
    body = "<p>" + ("Der Stadtrat hat beschlossen. " * 30) + "</p>"
    entry = norm(RawEntry(title="t", link="/a", content=body))
    assert entry.content_html.startswith("<p>Der Stadtrat")
    assert entry.summary_html.startswith("<p>Der Stadtrat hat beschlossen.")
    assert entry.summary_html.endswith(" …</p>")
    assert len(entry.summary_html) < len(entry.content_html)
    assert entry.text.startswith("Der Stadtrat hat beschlossen. Der Stadtrat")


def test_summary_escapes_text():
    entry = norm(RawEntry(title="t", link="/a", content="<p>1 &lt; 2 &amp; &lt;script&gt;</p>"))
    assert entry.summary_html == "<p>1 &lt; 2 &amp; &lt;script&gt;</p>"


def test_identical_summary_and_content_kept_once():
    entry = norm(RawEntry(title="t", link="/a", summary="<p>gleich</p>", content="<p>gleich</p>"))
    assert entry.summary_html == "<p>gleich</p>" and entry.content_html == ""


def test_entry_urls_titles_and_lists():
    raw = RawEntry(
        guid="  g-1  ",
        link="/presse/1.html?utm_source=rss#oben",
        title="&lt;b&gt;Neu&lt;/b&gt; im Rathaus",
        summary='<p onclick="x()">Text <a href="2.html">mehr</a></p>',
        author="<b>Presseamt</b>",
        categories=["Digitalisierung", " ", "Digitalisierung", "IT &amp; Sicherheit"],
        enclosures=[{"href": "/media/a.mp3", "type": "audio/mpeg"}, {"href": "javascript:x"}],
    )
    entry = norm(raw)
    assert entry.url == "https://www.muenchen.de/presse/1.html?utm_source=rss#oben"
    assert entry.canonical_url == "https://www.muenchen.de/presse/1.html"
    assert entry.guid == "g-1"
    assert entry.title == "Neu im Rathaus"
    assert entry.summary_html == ('<p>Text <a href="https://www.muenchen.de/presse/2.html" rel="noopener noreferrer">mehr</a></p>')
    assert entry.author == "Presseamt"
    assert entry.categories == ["Digitalisierung", "IT & Sicherheit"]
    assert entry.enclosures == [Enclosure("https://www.muenchen.de/media/a.mp3", "audio/mpeg", None)]


@pytest.mark.parametrize(
    "raw, expected_url",
    [
        (RawEntry(title="t", guid="https://e.de/from-guid"), "https://e.de/from-guid"),
        (RawEntry(title="t", guid="tag:e.de,2026:1"), None),
        (RawEntry(title="t", link="javascript:alert(1)"), None),
        (RawEntry(title="t", link="ftp://e.de/x"), None),
    ],
    ids=["guid-as-url", "guid-not-url", "javascript-link", "ftp-link"],
)
def test_entry_url_choice(raw, expected_url):
    entry = norm(raw, base=None)
    assert entry.url == expected_url
    assert entry.canonical_url == (canonical_url(expected_url) if expected_url else None)


@pytest.mark.parametrize(
    "raw, title",
    [
        (RawEntry(summary="<p>Kurzer Text ohne Titel</p>"), "Kurzer Text ohne Titel"),
        (RawEntry(link="https://e.de/x"), "(ohne Titel)"),
    ],
    ids=["from-text", "placeholder"],
)
def test_missing_title(raw, title):
    assert norm(raw).title == title


@pytest.mark.parametrize(
    "url",
    [
        "https://www.muenchen.de/aktuelles/2025/meldung-1",
        "http://stadt.example",
        "https://a.example:8443/x/y.html",
        "https://a.example/a/../b/./c",
        "https://user@a.example/x",
        "https://a.example/x?",
        "https://a.example/x#",
        "https://a.example/x?id=5&utm_source=y",
        "https://a.example/x;p=1",
        "https://[::1]/x",
        "https://a.example/ä",
        "https://a.example/x y",
        "HTTPS://A.EXAMPLE/X",
        "http:///x",
        "https://a.example//x",
        "https:a.example/x",
        "/relative/path",
        "relative",
        "//a.example/x",
        "mailto:rathaus@a.example",
        "javascript:alert(1)",
        "ftp://a.example/x",
    ],
)
@pytest.mark.parametrize("base", ["https://www.augsburg.de/presse/", "http://nuernberg.example/", None])
def test_absolute_url_shortcut_answers_as_urljoin(url, base):
    from urllib.parse import urljoin, urlsplit

    resolved = urljoin(base, url) if base else url
    expected = resolved if urlsplit(resolved).scheme.lower() in ("http", "https") else None
    assert absolute_url(url, base) == expected
    assert absolute_url(f"  {url}\n", base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://www.muenchen.de/aktuelles/2025/meldung-1",
        "http://stadt.example",
        "https://stadt.example/",
        "http://a.example:80/x",
        "https://a.example/a/../b/./c",
        "https://user@a.example/x",
        "https://a.example/x?",
        "https://a.example/x#",
        "https://a.example/x?id=5&utm_source=y",
        "https://a.example/x;p=1",
        "https://[::1]/x",
        "https://a.example/ä",
        "https://a.example/x y",
        "HTTPS://A.EXAMPLE/X",
        "https://WWW.a.example/x",
        "http:///x",
        "https://a.example//x",
        "https:a.example/x",
        "/relative/path",
        "relative",
        "//a.example/x",
        "mailto:rathaus@a.example",
        "ftp://a.example/x",
        "https://a.example/%7Ex/%zz",
        "https://a..example/x",
        "https://a.example/x:y@z!$&'()*+,=-._~",
    ],
)
@pytest.mark.parametrize("base", ["https://www.augsburg.de/presse/", "http://nuernberg.example/", None])
def test_canonical_url_shortcut_answers_as_the_full_canonicalisation(url, base):
    from syndicate.reader import normalise

    def full(url, base):  # the long way only (the shortcut's pattern matches nothing)
        saved, normalise._PLAIN_CANONICAL = normalise._PLAIN_CANONICAL, re.compile(r"(?!)")
        try:
            return canonical_url(url, base)
        finally:
            normalise._PLAIN_CANONICAL = saved

    assert canonical_url(url, base) == full(url, base)
    assert canonical_url(f" {url}\t", base) == full(url, base)


HOSTILE_FRAGMENTS = [
    '<p title="a > b">Text</p><p>zwei</p>',
    "<p title='sagt \"nein\"'>x</p>",
    '<img alt="a<b" src="https://a.example/i.png">nach',
    "<p>a &lt;b&gt; c &amp;amp; d</p>",
    "<script>alert(1)</script><p>sichtbar</p>",
    "<!-- versteckt --><p>da</p>",
    "<p>eins<br>zwei<br/>drei</p><ul><li>vier</li><li>fünf</li></ul>",
    "<table><tr><td>A</td>Text<td>B</td></tr></table>",
    "<p>&nbsp;&#8222;Zitat&#8220;&nbsp;</p>",
    "<a href=\"javascript:x\">Link</a> <a href='https://a.example/?a=1&b=2'>ok</a>",
    "<pre>  vor\n  formatiert </pre>",
    "<p>unclosed <b>bold <i>it</p>",
    "a < b > c",
    "<style>p{}</style>Text",
    "<svg><text>svg</text></svg>",
    "<math><mi>x</mi></math>",
    '<p data-x="1" onclick="x()">attrs</p>',
]


def _corpus_fragments():
    from syndicate.reader.errors import SyndicateError
    from syndicate.reader.normalise import repair_text
    from tests.conftest import CORPUS, FIXTURES

    files = sorted((FIXTURES / "feeds").iterdir())
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*") if p.is_file())
    for path in files:
        try:
            feed = parse(path.read_bytes(), url="https://example.org/feed")
        except SyndicateError:
            continue
        for raw in feed.entries:
            for fragment in (raw.content, raw.summary):
                if fragment:
                    yield path.name, repair_text(fragment)


@pytest.mark.slow  # a corpus sweep
def test_sanitized_block_text_cuts_tags_as_the_parser_does():
    """``block_text(..., sanitized=True)`` (a regular expression) agrees with the HTML parser on the
    sanitiser's output of every entry of the corpus and of the fixture feeds, and on hostile fragments:
    the same text and the same sentences. (The parser drops a line break right after <pre>; a break is
    put before every block element anyway, so runs of whitespace may differ, never where they are.)"""
    from syndicate.reader.neardup import passages
    from syndicate.reader.normalise import block_text

    checked = 0
    for name, fragment in [("hostile", f) for f in HOSTILE_FRAGMENTS] + list(_corpus_fragments()):
        clean = sanitize_html(fragment, "https://example.org/")
        cut, parsed = block_text(clean, sanitized=True), block_text(clean)
        assert re.sub(r"\s+", " ", cut) == re.sub(r"\s+", " ", parsed), (name, clean)
        assert passages(clean, cut) == passages(clean, parsed), (name, clean)
        checked += 1
    assert checked >= len(HOSTILE_FRAGMENTS) + 20, checked


# ---------------------------------------------------------------- the sanitiser's shortcut

_PIECES = [
    "<p>",
    "</p>",
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<em>",
    "</em>",
    "<strong>",
    "</strong>",
    "<br>",
    "</br>",
    "<br/>",
    "<P>",
    "<span>",
    "</span>",
    '<a href="x">',
    "</a>",
    "<!-- c -->",
    "&amp;",
    "&",
    "<",
    ">",
    '"',
    "'",
    " ",
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x0c",
    "\x7f",
    "\x85",
    "\xa0",
    "\ufeff",
    "\ufffe",
    "\U0001f600",
    "ä",
    "ß",
    "€",
    "—",
    "Text",
]


def _check_shortcut(fragment: str) -> bool:
    """When ``already_clean`` takes a fragment, the sanitiser proper hands it back unchanged."""
    from syndicate.reader.normalise import already_clean, clean

    if not already_clean(fragment):
        return False
    assert clean(fragment, BASE) == fragment.strip(), fragment
    return True


@pytest.mark.slow  # a corpus sweep
def test_already_clean_fragments_pass_the_sanitiser_unchanged():
    """Every fragment of the corpus and of the fixture feeds, and hostile ones: the shortcut is taken
    only where the sanitiser would return the same string (and it is taken for the plain ones)."""
    taken = sum(_check_shortcut(f) for _name, f in [("hostile", f) for f in HOSTILE_FRAGMENTS] + list(_corpus_fragments()))
    assert taken >= 20, taken
    for plain in [
        "<p>Der Stadtrat tagt.</p>",
        "Text <b>fett</b> und <i>kursiv</i><br>neu",
        "<p>a</p>\n<p><em>b</em> <strong>c</strong></p>",
    ]:
        assert _check_shortcut(plain), plain
    for not_plain in ["<p>a &amp; b</p>", "<p>offen", "<b><p>x</p></b>", "<p><p>x</p></p>", "<br/>", "a\xa0b", "a\rb", "<b><b>x</b></b>"]:
        assert not _check_shortcut(not_plain), not_plain


@pytest.mark.slow  # thousands of generated fragments
@pytest.mark.parametrize("seed", range(3))
def test_already_clean_generated_fragments(seed):
    """Random sequences of tags, entities and odd characters (hypothesis): the shortcut never changes
    what the sanitiser returns."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None, derandomize=True, database=None)
    @given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=14).map("".join))
    def check(fragment):
        _check_shortcut(fragment)

    check()

    # balanced ones, which the shortcut takes
    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(
        st.lists(st.sampled_from(["b", "i", "em", "strong"]), max_size=3, unique=True),
        st.text(alphabet=st.characters(blacklist_characters="<>&\r\x00\xa0", blacklist_categories=("Cs",)), max_size=12),
        st.booleans(),
        st.integers(0, 3),
    )
    def balanced(inline, text, paragraph, breaks):
        inner = "".join(f"<{t}>" for t in inline) + text + "<br>" * breaks + "".join(f"</{t}>" for t in reversed(inline))
        fragment = f"<p>{inner}</p>" if paragraph else inner
        _check_shortcut(fragment)

    balanced()
