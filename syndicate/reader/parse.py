"""Bytes → ParsedFeed. XML formats go through feedparser (plain RSS 2.0 in UTF-8 through the faster
``syndicate.reader.fastrss``, with the same result), JSON Feed through ``json``.

The body is always handed to feedparser as a stream: given bytes, feedparser
would try them as a file name first, and a hostile body must never open a file.
feedparser's own sanitiser stays off; ``normalise`` sanitises once, with nh3.
"""

from __future__ import annotations

import calendar
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import feedparser

from syndicate.reader.errors import EmptyDocument, MalformedFeed, NotAFeed


@dataclass
class RawEntry:
    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    date_text: str | None = None  # the publisher's date string when no parser understood it
    # the publisher's strings behind ``published`` and ``updated``: normalise reads a time without a zone
    # as Berlin time, where the parsers here (feedparser, fromisoformat) read it as UTC
    published_text: str | None = None
    updated_text: str | None = None
    author: str | None = None
    categories: list[str] = field(default_factory=list)
    enclosures: list[dict] = field(default_factory=list)


@dataclass
class ParsedFeed:
    format: str
    title: str = ""
    link: str | None = None
    language: str | None = None
    ttl_minutes: int | None = None
    entries: list[RawEntry] = field(default_factory=list)
    bozo: str | None = None  # why the document is not well-formed, when it is not


def parse(content: bytes, *, url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    """Detect the format and hand off to the parser for it."""
    if not content or not content.strip():
        raise EmptyDocument("the document is empty")
    if detect_format(content) == "json":
        return parse_json_feed(content)
    return parse_xml_feed(content, url=url, content_type=content_type)


def detect_format(content: bytes) -> str:
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"{", b"[") else "xml"


def _struct_to_datetime(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _is_empty(entry: RawEntry) -> bool:
    """A stray ``<item/>`` (or ``{}`` item) with nothing in it is no entry."""
    return not (entry.guid or entry.link or entry.title.strip() or entry.summary.strip() or entry.content.strip())


def _entry_from_feedparser(item) -> RawEntry:
    contents = item.get("content") or []
    content = max((c.get("value", "") for c in contents), key=len, default="")
    published = _struct_to_datetime(item.get("published_parsed"))
    updated = _struct_to_datetime(item.get("updated_parsed"))
    date_text = None
    if published is None and updated is None:
        date_text = item.get("published") or item.get("updated") or item.get("dc_date")
    categories = [t.get("term") or t.get("label") for t in item.get("tags", [])]
    return RawEntry(
        guid=item.get("id") or None,
        link=item.get("link") or None,
        title=item.get("title", "") or "",
        summary=item.get("summary", "") or "",
        content=content or "",
        published=published,
        updated=updated,
        date_text=date_text if isinstance(date_text, str) else None,
        published_text=_str(item.get("published")) or None if published else None,
        updated_text=_str(item.get("updated")) or None if updated else None,
        author=item.get("author") or None,
        categories=[c for c in categories if isinstance(c, str) and c.strip()],
        enclosures=[dict(e) for e in item.get("enclosures", []) if e.get("href")],
    )


def parse_xml_feed(content: bytes, *, url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    """A plain RSS 2.0 document in UTF-8 through the fast path (same result, a fraction of the time), any other through feedparser."""
    from syndicate.reader import fastrss  # it builds on this module's types

    fast = fastrss.parse(content, url=url, content_type=content_type)
    return fast if fast is not None else parse_feedparser(content, url=url, content_type=content_type)


def parse_feedparser(content: bytes, *, url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    headers = {}
    if url:
        headers["content-location"] = url
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(io.BytesIO(content), response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
    except Exception as exc:  # feedparser should not raise; a crash in it is still only a malformed feed
        raise MalformedFeed(f"feedparser failed: {exc.__class__.__name__}: {exc}") from exc
    version = parsed.get("version") or ""
    feed = parsed.get("feed", {})
    if not version and not parsed.entries:
        head = content[:2048].lower()
        if b"<html" in head or b"<!doctype html" in head:
            raise NotAFeed("the document is an HTML page, not a feed")
        if parsed.get("bozo"):
            raise MalformedFeed(f"not a readable feed: {parsed.get('bozo_exception')}")
        raise NotAFeed("no RSS, Atom or RDF feed found in the document")
    ttl = feed.get("ttl")
    return ParsedFeed(
        format=version or "unknown",
        title=feed.get("title", "") or "",
        link=feed.get("link") or None,
        language=feed.get("language") or None,
        ttl_minutes=whole_minutes(ttl),
        entries=[e for e in (_entry_from_feedparser(item) for item in parsed.entries) if not _is_empty(e)],
        bozo=str(parsed.get("bozo_exception")) if parsed.get("bozo") else None,
    )


_MINUTES = re.compile(r"[0-9]{1,9}\Z")


def whole_minutes(value: object) -> int | None:
    """``<ttl>``: ASCII digits only (``str.isdigit()`` also takes "²", which int() refuses), at most nine of them."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return int(value) if _MINUTES.match(value) else None


def _json_date(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a date, or one that leaves the calendar in UTC (year 1 east of it)
        return None


def _json_author(item: dict) -> str | None:
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    if not isinstance(authors, list):
        return None
    names = [name for a in authors if isinstance(a, dict) and isinstance(name := a.get("name"), str)]
    return ", ".join(names) or None


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def _list(value) -> list:
    return value if isinstance(value, list) else []


def parse_json_feed(content: bytes) -> ParsedFeed:
    try:
        document = json.loads(content.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise MalformedFeed(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict) or not _str(document.get("version")).startswith("https://jsonfeed.org/version/"):
        raise NotAFeed("JSON document is not a JSON Feed (no jsonfeed.org version)")
    version = "json" + document["version"].rsplit("/", 1)[-1].replace(".", "")
    entries = []
    for item in _list(document.get("items")):
        if not isinstance(item, dict):
            continue
        guid = item.get("id")
        html = _str(item.get("content_html"))
        text = _str(item.get("content_text"))
        raw = RawEntry(
            guid=str(guid) if guid is not None else None,
            link=_str(item.get("url")) or _str(item.get("external_url")) or None,
            title=_str(item.get("title")),
            summary=_str(item.get("summary")),
            content=html or (f"<p>{_escape(text)}</p>" if text else ""),
            published=_json_date(item.get("date_published")),
            updated=_json_date(item.get("date_modified")),
            published_text=_str(item.get("date_published")) or None,
            updated_text=_str(item.get("date_modified")) or None,
            author=_json_author(item),
            categories=[t for t in _list(item.get("tags")) if isinstance(t, str)],
            enclosures=[
                {"href": a["url"], "type": _str(a.get("mime_type")), **({"length": a["size_in_bytes"]} if "size_in_bytes" in a else {})}
                for a in _list(item.get("attachments"))
                if isinstance(a, dict) and isinstance(a.get("url"), str)
            ],
        )
        if not _is_empty(raw):
            entries.append(raw)
    return ParsedFeed(
        format=version,
        title=_str(document.get("title")),
        link=_str(document.get("home_page_url")) or None,
        language=_str(document.get("language")) or None,
        entries=entries,
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
