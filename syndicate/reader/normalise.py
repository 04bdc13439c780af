"""RawEntry → Entry: canonical URLs, sanitised HTML, plain text, UTC dates, clean titles.

This is the boundary for values from feeds: every number, date, URL and length a publisher wrote is
parsed and bounded here, once, into a typed value (``Enclosure``, ``datetime``, a checked URL or
None). Storage and rendering take those values as they are and never parse a publisher's string.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import nh3
from ftfy import TextFixerConfig, fix_text

from syndicate.reader.parse import RawEntry

BERLIN = ZoneInfo("Europe/Berlin")
SUMMARY_CHARS = 300
MAX_URL_CHARS = 2000  # the size of the URL columns (articles.url, sources.site_url)
MAX_GUID_CHARS = 2000  # articles.guid
MAX_AUTHOR_CHARS = 300  # articles.author
MAX_MEDIA_TYPE_CHARS = 100
MAX_LENGTH = 2**53  # the largest byte count a JSON Feed reader (a JavaScript number) still holds exactly
MAX_ENCLOSURES = 10
# the earliest date taken from a feed: older ones are mistakes (a year 1 or 0001), and would not fit a paging cursor
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)

TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "wt_mc",
    "wt.mc_id",
    "_hsenc",
    "_hsmi",
    "igshid",
    "yclid",
    "ref_src",
}
DEFAULT_PORTS = {"http": 80, "https": 443}

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
    "audio",
    "video",
    "source",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "poster", "width", "height"},
    "source": {"src", "type"},
}
URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
PIXEL_RE = re.compile(r"<img\b(?=[^>]*\bwidth\s*=\s*[\"']?1[\"'\s/>])(?=[^>]*\bheight\s*=\s*[\"']?1[\"'\s/>])[^>]*>", re.I)
BLOCK_RE = re.compile(r"<(?:/?(?:p|div|li|ul|ol|h\d|tr|td|th|blockquote|pre|table|dd|dt|figure|figcaption)|br|hr)\b", re.I)
SPACE_RE = re.compile(r"\s+")

GERMAN_MONTHS = {
    "januar": 1,
    "jan": 1,
    "jänner": 1,
    "februar": 2,
    "feb": 2,
    "märz": 3,
    "maerz": 3,
    "mär": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
# a zone after the time ("+0000", "GMT", "MESZ") is honoured; without one the time is Berlin time
_TIME = r"(?:,?\s+(\d{1,2})[:.](\d{2})(?::(\d{2}))?(?:\s*([+-]\d{2}:?\d{2}|Z|GMT|UTC|UT|MESZ|MEZ|CEST|CET)\b)?)?"
NUMERIC_DATE_RE = re.compile(r"(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})" + _TIME)
WORD_DATE_RE = re.compile(r"(\d{1,2})\.?\s+([A-Za-zÄÖÜäöü]+)\.?\s+(\d{4})" + _TIME)
ZONE_HOURS = {"Z": 0, "GMT": 0, "UTC": 0, "UT": 0, "MEZ": 1, "CET": 1, "MESZ": 2, "CEST": 2}


# ftfy repairs mojibake (UTF-8 read as Latin-1/cp1252, also twice) and C1 control characters
# (windows-1252 bytes decoded as ISO-8859-1); everything else it could change stays as it is.
REPAIR = TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    normalization=None,
    explain=False,
)
SUSPICIOUS_RE = re.compile("[\x80-\x9f\xc2\xc3\xe2\ufffd]")
CATEGORY_SPLIT_RE = re.compile(r"\s*[/>|»]\s*")


def repair_text(value: str) -> str:
    """Undo encoding damage; only strings that show a sign of it are handed to ftfy."""
    return fix_text(value, REPAIR) if value and SUSPICIOUS_RE.search(value) else value


def split_categories(categories: list[str]) -> list[str]:
    """Raw labels kept; hierarchical ones ("IT/Digitalisierung", "Themen > Klima") add their parts."""
    result: list[str] = []
    for raw in categories:
        label = clean_title(repair_text(raw))
        if not label:
            continue
        result.append(label)
        parts = [p for p in CATEGORY_SPLIT_RE.split(label) if p]
        if len(parts) > 1:
            result.extend(parts)
    return list(dict.fromkeys(result))


@dataclass(frozen=True, slots=True)
class Enclosure:
    """An image or media file of an item: a checked http(s) URL, a MIME type (or ""), its size in bytes when known."""

    url: str
    type: str = ""
    length: int | None = None

    def stored(self) -> dict:
        return {"href": self.url, "type": self.type, "length": self.length}

    @classmethod
    def from_stored(cls, value: object) -> Enclosure | None:
        """A stored enclosure as the typed value. Values not already of their type (rows written before
        migration 0015, or by hand) are left out rather than parsed: a bad row costs its length, not the feed."""
        if not isinstance(value, dict):
            return None
        href, kind, length = value.get("href"), value.get("type"), value.get("length")
        if not (isinstance(href, str) and href.startswith(("http://", "https://")) and len(href) <= MAX_URL_CHARS):
            return None
        return cls(
            href,
            kind if isinstance(kind, str) and len(kind) <= MAX_MEDIA_TYPE_CHARS else "",
            length if type(length) is int and 0 <= length <= MAX_LENGTH else None,
        )


@dataclass
class Entry:
    title: str
    url: str | None
    canonical_url: str | None
    guid: str | None
    summary_html: str
    content_html: str
    text: str
    published_at: datetime
    updated_at: datetime | None
    author: str | None
    categories: list[str] = field(default_factory=list)
    enclosures: list[Enclosure] = field(default_factory=list)
    date_estimated: bool = False
    block_text: str = field(default="", repr=False)  # the text of ``content_html or summary_html`` by blocks (not stored)


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """A comparison form: http(s) only, lower-case scheme and host, no default port,
    no fragment, no tracking parameters, query parameters sorted."""
    if not url:
        return None
    url = url.strip()
    if _PLAIN_CANONICAL.match(url):  # already in the comparison form (but perhaps for its root's slash)
        return url if url.find("/", url.find("//") + 2) > 0 else url + "/"
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    )
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~") or "/"  # spaces and the like percent-encoded
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


# an absolute http(s) URL with a lower-case host name, no port, user, query, fragment or parameters and
# only characters that need no quoting: ``canonical_url`` would hand it back unchanged (with "/" for no path)
_PLAIN_CANONICAL = re.compile(r"https?://[a-z0-9.-]+(?:/[A-Za-z0-9.:@_~%!$&'()*+,=/-]*)?\Z")
# an absolute http(s) URL without query, fragment, parameters, IPv6 brackets or odd characters:
# urljoin would hand it back unchanged, whatever the base (the common case of a feed's item links)
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.:@_~%!$&'()*+,=-]+(?:/[A-Za-z0-9.:@_~%!$&'()*+,=/-]*)?\Z")


def absolute_url(url: str | None, base: str | None) -> str | None:
    """Resolve ``url`` against ``base``; only http(s) results survive."""
    if not url:
        return None
    url = url.strip()
    if _PLAIN_ABSOLUTE.match(url):
        return url
    try:  # urlsplit refuses some hosts ("http://[x") with ValueError: such a URL is no URL
        resolved = urljoin(base, url) if base else url
        return resolved if urlsplit(resolved).scheme.lower() in DEFAULT_PORTS else None
    except ValueError:
        return None


_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def http_url(url: object, base: str | None = None) -> str | None:
    """A URL from a feed as stored and republished: absolute http(s), at most ``MAX_URL_CHARS``, no
    control characters (XML cannot carry them); anything else is None."""
    if not isinstance(url, str):
        return None
    resolved = absolute_url(url, base)
    if resolved is None or len(resolved) > MAX_URL_CHARS or _URL_CONTROL.search(resolved):
        return None
    return resolved


# ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses or reads as another number
_DIGITS = re.compile(r"[0-9]{1,16}\Z")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*\Z")


def byte_length(value: object) -> int | None:
    """An enclosure's declared size: a whole number in 0..``MAX_LENGTH``, else None (unknown)."""
    if isinstance(value, str):
        value = value.strip()
        return int(value) if _DIGITS.match(value) and int(value) <= MAX_LENGTH else None
    if type(value) is int:
        return value if 0 <= value <= MAX_LENGTH else None
    return None


def media_type(value: object) -> str:
    """A MIME type such as ``image/jpeg`` (parameters dropped, lower case), or "" when there is none."""
    if not isinstance(value, str):
        return ""
    kind = value.split(";", 1)[0].strip().lower()
    return kind if len(kind) <= MAX_MEDIA_TYPE_CHARS and _MEDIA_TYPE.match(kind) else ""


def typed_enclosures(raw: list[Any], base: str | None) -> list[Enclosure]:
    """The first ``MAX_ENCLOSURES`` usable enclosures of an item, typed; one without a usable URL is left out."""
    kept: list[Enclosure] = []
    for item in raw:
        url = http_url(item.get("href"), base) if isinstance(item, dict) else None
        if url is not None:
            kept.append(Enclosure(url, media_type(item.get("type")), byte_length(item.get("length"))))
            if len(kept) == MAX_ENCLOSURES:
                break
    return kept


def feed_date(value: datetime | None, latest: datetime) -> datetime | None:
    """A date from a feed within ``EARLIEST_DATE``..``latest``, else None."""
    return value if value is not None and EARLIEST_DATE <= value <= latest else None


# the tags of a plain fragment (paragraphs, line breaks, simple emphasis, no attributes) and any
# character the sanitiser would write differently: "<", ">" and "&" not in such a tag, CR, NUL,
# NBSP (written &nbsp;), the control characters, a byte order mark (dropped) and non-characters
_PLAIN_TOKEN = re.compile(r"<(/?)(p|b|i|em|strong|br)>|[<>&\x00-\x08\x0b-\x1f\x7f-\xa0\ufeff\ufdd0-\ufdef\ufffe\uffff]")


def already_clean(fragment: str) -> bool:
    """Text in paragraphs, line breaks and emphasis written as the sanitiser writes them (no attributes,
    every element closed and properly nested, paragraphs not inside others, nothing escaped): the
    sanitiser would hand it back unchanged, so it is not parsed again (most feeds' summaries).
    tests/test_normalise.py checks that on the corpus and on generated fragments."""
    open_: list[str] = []
    for token in _PLAIN_TOKEN.finditer(fragment):
        closing, name = token.group(1, 2)
        if name is None:
            return False
        if name == "br":
            if closing:
                return False
        elif closing:
            if not open_ or open_.pop() != name:
                return False
        elif name in open_ or (name == "p" and open_):
            return False
        else:
            open_.append(name)
    return not open_


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """One sanitiser with an explicit allow-list; links absolute and ``rel="noopener noreferrer"``."""
    if not fragment:
        return ""
    fragment = PIXEL_RE.sub("", fragment)
    return fragment.strip() if already_clean(fragment) else clean(fragment, base)


def clean(fragment: str, base: str | None = None) -> str:
    """The sanitiser proper (``sanitize_html`` without its shortcut for fragments already clean)."""

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            if value.strip().lower().startswith("data:"):
                return value if tag == "img" and value.strip().lower().startswith("data:image/") else None
            if attribute == "href" and value.strip().lower().startswith("mailto:"):
                return value.strip()  # allowed by url_schemes below; absolute_url keeps only http(s)
            return absolute_url(value, base)
        return value

    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=rewrite,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


# in what ``sanitize_html`` returns, every attribute value is in double quotes (a quote inside it
# written &quot;), every "<" of the text is escaped and there are no comments: a tag is "<", then
# anything but quotes and angle brackets or a quoted value, then ">"
_SANITIZED_TAG = re.compile(r'<[^"<>]*(?:"[^"]*"[^"<>]*)*>')


def block_text(fragment: str, sanitized: bool = False) -> str:
    """The fragment's text, entities decoded, with a line break before each block element (the
    near-duplicate evidence ends sentences there; ``html_to_text`` collapses the breaks).
    ``sanitized``: the fragment is ``sanitize_html``'s output, so its tags are cut out as they are
    rather than parsed again (tests/test_normalise.py checks both ways agree on every corpus entry)."""
    if not fragment:
        return ""
    marked = BLOCK_RE.sub("\n\\g<0>", fragment)
    if sanitized:
        return html.unescape(_SANITIZED_TAG.sub("", marked))
    return html.unescape(nh3.clean(marked, tags=set(), attributes={}, strip_comments=True))


def html_to_text(fragment: str, blocks: str | None = None) -> str:
    """Plain text on one line; ``blocks``: the fragment's ``block_text`` when it is at hand."""
    return SPACE_RE.sub(" ", block_text(fragment) if blocks is None else blocks).strip()


TITLE_PASSES = 6  # escaped more often than this, what is left is shown as text (still escaped on output)
# what decoding and stripping could change: a tag, comment or declaration, or an entity ("A & B" and "5 < 6" are text)
_MARKUP = re.compile(r"<[A-Za-z/!?]|&[#A-Za-z0-9]")


def clean_title(title: str) -> str:
    """A title as plain text. Publishers escape titles once, twice or more, so entities are decoded and
    tags stripped again until nothing changes: a title escaped twice must not come out as literal markup."""
    text = title
    for _ in range(TITLE_PASSES):
        if not _MARKUP.search(text):
            break
        cleaned = html_to_text(html.unescape(text))
        if cleaned == text:
            break
        text = cleaned
    return SPACE_RE.sub(" ", text).strip()


def feed_title(value: str) -> str:
    """A feed's own title as plain text: repaired, entities decoded, markup (and scripts) gone."""
    return clean_title(repair_text(value or ""))


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:–-")
    return cut + " …"


def parse_date_text(value: str | None) -> datetime | None:
    """German and numeric dates; no zone means Europe/Berlin. Returns UTC or None."""
    if not value:
        return None
    value = value.strip()
    match = NUMERIC_DATE_RE.search(value)
    month: int | None
    if match:
        day, month, year = int(match[1]), int(match[2]), int(match[3])
    else:
        match = WORD_DATE_RE.search(value)
        month = GERMAN_MONTHS.get(match[2].lower()) if match else None
        if not match or month is None:
            return None
        day, year = int(match[1]), int(match[3])
    hour, minute, second = (int(match[i]) if match[i] else 0 for i in (4, 5, 6))
    zone = match[7]
    tz: tzinfo
    try:
        if zone is None:
            tz = BERLIN
        elif zone in ZONE_HOURS:
            tz = timezone(timedelta(hours=ZONE_HOURS[zone]))
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or one that leaves the calendar in UTC
        return None


# a string that ends in a time and a zone: "…10:00:00 +0100", "…T10:00Z", "…10:00 GMT", "…+01:00 (MEZ)"
_ZONED = re.compile(
    r"(?:[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?|T[0-9]{4}(?:[0-9]{2}(?:[.,][0-9]+)?)?)"
    r"(?:\s*(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?|\(?[A-Za-z]{1,5}\)?))+\s*\Z"
)


def publisher_time(value: datetime | None, text: str | None) -> datetime | None:
    """A parsed date whose string named no zone is read again as Berlin time, as ``parse_date_text``
    reads the German forms: feedparser and ``fromisoformat`` take "2026-11-24T10:00:00" for UTC,
    but German publishers mean their own wall-clock time (winter +1 h, summer +2 h)."""
    if value is None or text is None or value < EARLIEST_DATE or _ZONED.search(text):
        return value  # (a date before EARLIEST_DATE is dropped later; in Berlin time it may not exist in UTC)
    return value.replace(tzinfo=BERLIN).astimezone(UTC)


def normalise_entry(raw: RawEntry, *, base: str | None, now: datetime, future_tolerance: int) -> Entry:
    url = http_url(raw.link, base) or (http_url(raw.guid, base) if raw.guid and raw.guid.startswith("http") else None)
    content_html = sanitize_html(repair_text(raw.content), url or base)
    summary_html = sanitize_html(repair_text(raw.summary), url or base)
    if summary_html == content_html:
        content_html = ""
    blocks = block_text(content_html or summary_html, sanitized=True)
    text = html_to_text("", blocks)
    if not summary_html and text:
        summary_html = f"<p>{html.escape(shorten(text))}</p>"
    title = clean_title(repair_text(raw.title)) or shorten(text, 80) or "(ohne Titel)"
    raw_updated = publisher_time(raw.updated, raw.updated_text)
    published = publisher_time(raw.published, raw.published_text) or raw_updated or parse_date_text(raw.date_text)
    if published is not None and published < EARLIEST_DATE:
        published = None
    estimated = published is None
    limit = now + timedelta(seconds=future_tolerance)
    if published is None or published > limit:
        published = now  # no date: first seen; a date too far ahead is clamped
    updated = feed_date(raw_updated, limit)
    guid = raw.guid.strip()[:MAX_GUID_CHARS] if raw.guid and raw.guid.strip() else None
    return Entry(
        title=title,
        url=url,
        canonical_url=canonical_url(url),
        guid=guid,
        summary_html=summary_html,
        content_html=content_html,
        text=text,
        published_at=published,
        updated_at=updated,
        author=clean_title(repair_text(raw.author))[:MAX_AUTHOR_CHARS] or None if raw.author else None,
        categories=split_categories(raw.categories),
        enclosures=typed_enclosures(raw.enclosures, base) if raw.enclosures else [],
        date_estimated=estimated,
        block_text=blocks,
    )


LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.I)


def language_tag(value: str | None) -> str | None:
    """A feed's language as a language tag (``de``, ``de-DE``), or None for anything else.

    At most 20 characters, the size of ``articles.language``; ``de_DE`` (a locale name, as some
    publishers write it) becomes ``de-DE``."""
    tag = (value or "").strip().replace("_", "-")
    return tag if len(tag) <= 20 and LANGUAGE_TAG.fullmatch(tag) else None
