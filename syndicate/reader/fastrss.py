"""A fast path for the common case: a well-formed, plain RSS 2.0 document in UTF-8.

feedparser reads any feed, well-formed or not, through a SAX handler in Python; that is most of
the cost of ingesting a plain RSS 2.0 feed. Such a document is read here with lxml (libxml2, in C)
into the same ``ParsedFeed`` that ``syndicate.reader.parse`` builds from feedparser's result.
Anything this module is not sure to read exactly as feedparser does is handed back (``None``),
and feedparser reads it: another version or format, another encoding, a DOCTYPE, ``xml:base``,
an element it does not know, markup inside a text element, a relative link, a date in another
form. ``tests/test_fastrss.py`` checks, on every document of the corpus this path accepts, that
both paths give the same normalised entries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from syndicate.reader.parse import ParsedFeed, RawEntry, whole_minutes

CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
ITEM_TEXT = {"title", "link", "guid", "description", "pubDate", "category", "comments", f"{CONTENT}encoded", f"{DC}creator", f"{DC}date"}
ITEM_IGNORED = {"enclosure", "source"}  # enclosure is read from its attributes
# namespaces whose elements feedparser keeps under their own keys, never in the fields read here
HARMLESS = (
    "{http://search.yahoo.com/mrss/}",
    "{http://purl.org/rss/1.0/modules/slash/}",
    "{http://wellformedweb.org/CommentAPI/}",
    "{http://www.georss.org/georss}",
)
CHANNEL_READ = {"title", "link", "language", "ttl"}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=False,
    remove_pis=False,
    strip_cdata=True,
    recover=False,
)
_DECLARED = re.compile(rb'^\s*<\?xml[^>]*encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']')
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.I)
_RELATIVE = re.compile(
    r"""\b(?:href|src|cite|poster|background|longdesc|usemap|action|codebase|data|profile)\s*=\s*(?!["']?\s*(?:https?:|mailto:|data:))""",
    re.I,
)
_RFC822 = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(\d{1,2})\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{4})\s+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?\s+(GMT|UTC|UT|Z|[+-]\d{4})$"
)
_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
_W3C = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


class NotPlain(Exception):
    """The document needs feedparser."""


def parse(content: bytes, *, url: str | None = None, content_type: str | None = None) -> ParsedFeed | None:
    """The document as ``ParsedFeed``, or None when feedparser must read it."""
    try:
        return _parse(content, url, content_type)
    except (NotPlain, etree.XMLSyntaxError, ValueError):
        return None


def _parse(content: bytes, url: str | None, content_type: str | None) -> ParsedFeed:
    head = content[:1024]
    if not url or b"<rss" not in head or b"<!DOCTYPE" in head or b"<!ENTITY" in content or b"xml:base" in content or b"xml:lang" in content:
        raise NotPlain
    declared = _DECLARED.match(head)
    charset = _CHARSET.search(content_type or "")
    if declared and declared[1].lower() not in (b"utf-8", b"utf8"):
        raise NotPlain
    if charset and charset[1].lower() not in ("utf-8", "utf8") or not (content_type or "").strip():
        raise NotPlain
    if content.startswith(b"\xef\xbb\xbf"):
        raise NotPlain
    content.decode("utf-8")  # ValueError when not UTF-8: feedparser's encoding fallbacks decide
    root = etree.fromstring(content, _PARSER)
    if root.tag != "rss" or root.get("version") != "2.0" or root.nsmap.get(None):
        raise NotPlain
    channels = [child for child in root if child.tag == "channel"]
    if len(channels) != 1 or len(root) != 1:
        raise NotPlain
    channel = channels[0]
    fields: dict[str, str] = {}
    entries = []
    for child in channel:
        tag = child.tag
        if tag == "item":
            entry = _item(child, url)
            if entry.guid or entry.link or entry.title or entry.summary or entry.content:
                entries.append(entry)
        elif tag in CHANNEL_READ:
            fields[tag] = _text(child)
        elif not isinstance(tag, str) or tag.startswith("{http://www.w3.org/2005/Atom}") or tag.startswith(DC) or "itunes" in tag:
            raise NotPlain  # an Atom link, Dublin Core or iTunes element may change what feedparser reports
    ttl = fields.get("ttl", "")
    if fields.get("link") and not fields["link"].startswith(("http://", "https://")):
        raise NotPlain  # feedparser resolves a relative channel link against the document
    return ParsedFeed(
        format="rss20",
        title=fields.get("title", ""),
        link=fields.get("link") or None,
        language=fields.get("language") or None,
        ttl_minutes=whole_minutes(ttl),
        entries=entries,
    )


def _text(element) -> str:
    if len(element) or element.attrib and element.tag not in ("guid", "category"):
        raise NotPlain  # markup inside a text element, or attributes feedparser may read
    return (element.text or "").strip()


def _item(item, url: str) -> RawEntry:
    values: dict[str, str] = {}
    categories: list[str] = []
    enclosures: list[dict] = []
    permalink = True
    for child in item:
        tag = child.tag
        if tag in ITEM_TEXT:
            text = _text(child)
            if tag == "category":
                if text:
                    categories.append(text)
                continue
            if tag in values:
                raise NotPlain  # repeated element: feedparser keeps one of them by its own rules
            values[tag] = text
            if tag == "guid":
                permalink = child.get("isPermaLink", "true").strip().lower() != "false"
        elif tag == "enclosure":
            if len(child) or not child.get("url"):
                raise NotPlain
            enclosures.append({k: v for k in ("href", "type", "length") if (v := child.get("url" if k == "href" else k))})
        elif tag in ITEM_IGNORED or isinstance(tag, str) and tag.startswith(HARMLESS):
            continue
        else:
            raise NotPlain
    for name in ("description", f"{CONTENT}encoded"):
        if _RELATIVE.search(values.get(name, "")):
            raise NotPlain  # feedparser resolves relative links against the document, not the item
    if (link := values.get("link")) and not link.startswith(("http://", "https://")):
        raise NotPlain
    guid = values.get("guid") or None
    if guid and permalink and not guid.startswith(("http://", "https://")):
        if any(c.isspace() for c in guid):
            raise NotPlain
        guid = resolve(url, guid) or None  # as feedparser: a permalink GUID is a URI, resolved
    published = _date(values["pubDate"], _rfc822) if values.get("pubDate") else None
    return RawEntry(
        guid=guid,
        link=values.get("link") or (guid if guid and permalink else None),
        title=values.get("title", ""),
        summary=values.get("description", values.get(f"{CONTENT}encoded", "")),  # feedparser's summary falls back to the content
        content=values.get(f"{CONTENT}encoded", ""),
        published=published,
        # feedparser's ``updated_parsed`` falls back to the publication date
        updated=_date(values[f"{DC}date"], _w3c) if values.get(f"{DC}date") else published,
        published_text=values.get("pubDate") or None,
        updated_text=values.get(f"{DC}date") or values.get("pubDate") or None,
        author=values.get(f"{DC}creator") or None,
        categories=categories,
        enclosures=enclosures,
    )


# a GUID such as "meldung-4711": a relative reference of one plain segment, no dot segment
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*\Z")
# a document URL without query, fragment, parameters, dot or empty segments: urljoin only replaces its last segment
_PLAIN_BASE = re.compile(r"https?://[A-Za-z0-9.:@_~%!$&'()*+,=-]+(?:/(?!\.)[A-Za-z0-9.:@_~%!$&'()*+,=-]+)*/?\Z")


def resolve(url: str, guid: str) -> str:
    """feedparser's ``make_safe_absolute_uri(url, guid)``; a plain name in a plain document URL
    without ``urljoin`` (every item of a feed with such GUIDs takes this way)."""
    if _PLAIN_NAME.match(guid) and _PLAIN_BASE.match(url):
        cut = url.rfind("/")
        return (url[: cut + 1] if cut > url.index("//") + 1 else url + "/") + guid
    return make_safe_absolute_uri(url, guid)


def _date(text: str, reader) -> datetime:
    when = reader(text)
    if when is None:
        raise NotPlain  # feedparser's own date parsers decide
    return when


def _rfc822(text: str) -> datetime | None:
    match = _RFC822.match(text)
    if not match:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    if zone in ("GMT", "UTC", "UT", "Z"):
        offset = timedelta(0)
    else:
        offset = (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    try:
        local = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    return local - offset


def _w3c(text: str) -> datetime | None:
    match = _W3C.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = timedelta(0) if zone == "Z" else (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    return local - offset
