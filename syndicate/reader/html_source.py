"""HTML newsroom page + selectors → ParsedFeed, so normalise and store treat it like a feed.

A selector is CSS (lxml + cssselect) or, with the prefix ``xpath:``, XPath; a trailing
``@name`` takes that attribute instead of the element (``a.more@href``). Without selectors
for a field the usual places are tried: the first heading for the title, its (or the first)
link, ``<time datetime>`` or a German date in the text for the date.

Values in, values out: the caller fetches list pages and article pages (through the same
fetcher, limits and politeness as feeds) and hands their bytes here.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import lxml.html
from lxml import etree

from syndicate.reader import selectors as rules
from syndicate.reader.discover import FeedLink, find_feed_links
from syndicate.reader.errors import EmptyDocument, SelectorsMatchedNothing
from syndicate.reader.normalise import BERLIN, NUMERIC_DATE_RE, WORD_DATE_RE, parse_date_text
from syndicate.reader.parse import ParsedFeed, RawEntry

SESSION_ID = re.compile(r";jsessionid=[^?#]*", re.I)
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
CATEGORY_HINTS = ("tag", "categor", "kategor", "topic", "thema", "schlagw", "label")


@dataclass(frozen=True)
class Selectors:
    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    summary: str | None = None
    image: str | None = None
    categories: str | None = None
    next: str | None = None  # the list page's "next page" link
    max_pages: int = 5  # list pages followed on the first import
    article_pages: bool = False  # fetch each new article once for its date, categories and text

    @classmethod
    def from_dict(cls, values: dict | None) -> Selectors | None:
        if not values or not values.get("item"):
            return None
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Detection:
    """What a page offers when no selectors are given: advertised feeds, else repeated article blocks."""

    url: str
    feeds: list[FeedLink] = field(default_factory=list)
    is_feed: bool = False  # the URL itself is a feed (then ``feeds`` names only it)
    selectors: Selectors | None = None
    items: list[RawEntry] = field(default_factory=list)


# ---------------------------------------------------------------- documents and selectors


def document(content: bytes, url: str):
    if not content or not content.strip():
        raise EmptyDocument("the page is empty")
    try:
        doc = lxml.html.document_fromstring(content, base_url=url)
    except (etree.ParserError, ValueError) as exc:
        raise EmptyDocument(f"not a readable HTML page: {exc}") from exc
    doc.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    return doc


def select(node, selector: str, meter: rules.Meter | None = None) -> list:
    """Elements (or attribute strings) matched by a CSS or ``xpath:`` selector, in document order;
    checked and metered by ``syndicate.reader.selectors`` (a fresh budget when no meter is given)."""
    return rules.evaluate(node, selector, meter or rules.Meter())


def _text(value) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    return " ".join(value.text_content().split())


def _first(node, selector: str | None, meter: rules.Meter | None = None):
    found = select(node, selector, meter) if selector else []
    return found[0] if found else None


def _href(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if value.get("href"):
        return value.get("href").strip()
    inner = value.xpath(".//a[@href]")
    return inner[0].get("href").strip() if inner else None


def parse_date(value: str | None) -> datetime | None:
    """ISO 8601 (``<time datetime>``, JSON-LD, Open Graph) or German text; UTC."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parse_date_text(text)
    if parsed.tzinfo is None:  # a local date or time: Europe/Berlin, as parse_date_text assumes
        return parsed.replace(tzinfo=BERLIN).astimezone(UTC)
    return parsed.astimezone(UTC)


def _date_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.get("datetime") or value.get("content") or _text(value)


def _has_date(text: str) -> bool:
    return bool(NUMERIC_DATE_RE.search(text) or WORD_DATE_RE.search(text))


# ---------------------------------------------------------------- extraction


def extract(content: bytes, url: str, selectors: Selectors | None, budget: rules.SelectorBudget | None = None) -> ParsedFeed:
    """The list page's items as RawEntry values; no selectors: the detected article blocks.
    All selectors on the page share one ``budget``; over it raises SelectorTooExpensive."""
    doc = document(content, url)
    meter = rules.Meter(budget or rules.SelectorBudget())
    meter.admit(doc)
    if selectors is None:
        selectors = detect_blocks(doc)
        if selectors is None:
            raise SelectorsMatchedNothing(f"{url}: no repeated article blocks with a link and a date found")
    items = select(doc, selectors.item, meter)
    entries = [entry for item in items if not isinstance(item, str) and (entry := _entry(item, selectors, meter)).link]
    if not entries:
        raise SelectorsMatchedNothing(f"{url}: the item selector {selectors.item!r} matched no article with a link")
    title = _text(doc.find(".//title")) if doc.find(".//title") is not None else ""
    language = doc.get("lang") or None
    return ParsedFeed(format="html", title=title, link=url, language=language, entries=entries)


def _entry(item, selectors: Selectors, meter: rules.Meter) -> RawEntry:
    title_el = _first(item, selectors.title, meter) if selectors.title else _default_title(item)
    link = _href(_first(item, selectors.link, meter)) if selectors.link else (_href(title_el) or _href(item))
    link = SESSION_ID.sub("", link) if link else None  # GSB/Java sites: a new session id on every visit
    date_el = _first(item, selectors.date, meter) if selectors.date else _default_date(item)
    date_text = _date_value(date_el)
    published = parse_date(date_text)
    summary_el = _first(item, selectors.summary, meter)
    summary = "" if summary_el is None else (summary_el if isinstance(summary_el, str) else _inner_html(summary_el))
    image = _first(item, selectors.image, meter)
    image_url = image if isinstance(image, str) else (image.get("src") or image.get("data-src")) if image is not None else None
    categories = [_text(c) for c in select(item, selectors.categories, meter)] if selectors.categories else []
    return RawEntry(
        guid=None,
        link=link,
        title=_text(title_el) if title_el is not None else "",
        summary=summary,
        published=published,
        date_text=None if published else date_text,
        categories=[c for c in dict.fromkeys(categories) if c],
        enclosures=[{"href": image_url, "type": mimetypes.guess_type(image_url)[0] or "image/jpeg"}] if image_url else [],
    )


def _default_title(item):
    for tag in HEADINGS:
        if (found := item.find(f".//{tag}")) is not None:
            return found
    links = item.xpath(".//a[@href]") or ([item] if item.tag == "a" else [])
    return max(links, key=lambda a: len(_text(a)), default=None)


def _default_date(item):
    times = item.xpath(".//time")
    if times:
        return times[0]
    for el in item.iter():
        if isinstance(el.tag, str) and el.text and _has_date(el.text):
            return el.text
    return None


def _inner_html(el) -> str:
    parts = [el.text or ""] + [lxml.html.tostring(child, encoding="unicode") for child in el]
    return "".join(parts).strip()


def next_page(content: bytes, url: str, selectors: Selectors | None, budget: rules.SelectorBudget | None = None) -> str | None:
    """The absolute URL of the list's next page, if the page names one."""
    doc = document(content, url)
    meter = rules.Meter(budget or rules.SelectorBudget())
    meter.admit(doc)
    choices = [selectors.next] if selectors and selectors.next else ["a[rel~=next]", "link[rel~=next]"]
    for choice in choices:
        if (link := _href(_first(doc, choice, meter))) and link.startswith("http") and link != url:
            return link
    return None


# ---------------------------------------------------------------- article pages


def article_metadata(content: bytes, url: str) -> RawEntry:
    """Date, categories and main text of one article page: JSON-LD, Open Graph, ``<time>``, tags."""
    doc = document(content, url)
    data = _json_ld_article(doc)
    meta = {m.get("property") or m.get("name"): m.get("content") for m in doc.xpath("//meta[@content]")}
    published = (
        parse_date(data.get("datePublished"))
        or parse_date(meta.get("article:published_time"))
        or parse_date(_date_value(_first(doc, "time[datetime]")))
    )
    updated = parse_date(data.get("dateModified")) or parse_date(meta.get("article:modified_time"))
    categories = _as_list(data.get("articleSection")) + _as_list(data.get("keywords"))
    categories += [str(c) for c in doc.xpath("//meta[@property='article:tag']/@content")]
    categories += [_text(el) for el in _category_elements(doc)]
    return RawEntry(
        link=url,
        title=str(data.get("headline") or meta.get("og:title") or ""),
        published=published,
        updated=updated,
        content=main_text_html(content, url),
        categories=[c for c in dict.fromkeys(c.strip() for c in categories) if c],
    )


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _json_ld_article(doc) -> dict:
    for script in doc.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, dict):
                kinds = node.get("@type")
                kinds = kinds if isinstance(kinds, list) else [kinds]
                if any(k in ("NewsArticle", "Article", "BlogPosting", "Report") for k in kinds):
                    return node
                stack.extend(node.get("@graph", []))
    return {}


def _category_elements(doc) -> list:
    found = []
    for el in doc.xpath("//*[@class or @rel]"):
        classes = (el.get("class") or "").lower()
        if (el.get("rel") == "tag" or (el.tag in ("a", "li", "span") and any(h in classes for h in CATEGORY_HINTS))) and (
            not el.xpath(".//a|.//li|.//span") or el.get("rel") == "tag"
        ):
            found.append(el)
    return found


def main_text_html(content: bytes, url: str) -> str:
    """The article's main text as simple HTML (trafilatura); empty when nothing is found."""
    import trafilatura  # imported on first use: it takes a while to load

    text = trafilatura.extract(content.decode("utf-8", errors="replace"), url=url, output_format="html", include_comments=False)
    if not text:
        return ""
    body = re.search(r"<body>(.*)</body>", text, re.S)
    return (body[1] if body else text).strip()


def merge_article(entry: RawEntry, page: RawEntry) -> RawEntry:
    """The list item, completed from its article page: the page's date and text win, categories add up."""
    entry.published = page.published or entry.published
    entry.updated = page.updated or entry.updated
    entry.date_text = None if entry.published else entry.date_text
    entry.content = page.content or entry.content
    entry.categories = list(dict.fromkeys(entry.categories + page.categories))
    return entry


# ---------------------------------------------------------------- detection


def detect(content: bytes, url: str) -> Detection:
    """First an advertised feed; else repeated article blocks with a link and a date."""
    found = Detection(url=url, feeds=find_feed_links(content.decode("utf-8", errors="replace"), url))
    if found.feeds:
        return found
    doc = document(content, url)
    found.selectors = detect_blocks(doc)
    if found.selectors is not None:
        found.items = extract(content, url, found.selectors).entries
    return found


def detect_blocks(doc) -> Selectors | None:
    groups: dict[tuple, list] = {}
    for el in doc.iter():
        if isinstance(el.tag, str) and el.getparent() is not None and el.tag not in ("a", "span", "time", "p", "script", "style"):
            groups.setdefault((el.getparent(), el.tag, el.get("class") or ""), []).append(el)
    scored = []
    for (parent, _tag, _cls), members in groups.items():
        good = [m for m in members if m.xpath(".//a[@href]") and (m.xpath(".//time") or _has_date(_text(m)))]
        if len(good) >= 2:
            scored.append((len(good), -len(members) + len(good), -_depth(parent), members, good))
    if not scored:
        return None
    scored.sort(key=lambda s: s[:3], reverse=True)
    members, good = scored[0][3], scored[0][4]
    sample = good[0]
    return Selectors(
        item=_item_selector(doc, members),
        title=_relative(sample, _default_title(sample)),
        link=_link_selector(sample),
        date=_date_selector(sample),
        summary=_summary_selector(sample),
        image="img" if sample.xpath(".//img[@src]") else None,
        categories=_categories_selector(sample),
        next=_next_selector(doc),
    )


def _depth(el) -> int:
    return sum(1 for _ in el.iterancestors())


def _simple(el) -> str:
    classes = [c for c in (el.get("class") or "").split() if re.match(r"^[A-Za-z_][\w-]*$", c)]
    return el.tag + "".join(f".{c}" for c in classes[:2])


def _item_selector(doc, members: list) -> str:
    own = _simple(members[0])
    if set(select(doc, own)) == set(members):
        return own
    parent = members[0].getparent()
    anchor = f"#{parent.get('id')}" if parent.get("id") else _simple(parent)
    return f"{anchor} > {own}"


def _relative(item, el) -> str | None:
    """A short CSS selector for ``el`` inside ``item`` whose first match is ``el``."""
    if el is None or el is item:
        return None
    for choice in (_simple(el), el.tag):
        if _first(item, choice) is el:
            return choice
    parent = el.getparent()
    return f"{_simple(parent)} > {_simple(el)}" if parent is not None and parent is not item else _simple(el)


def _link_selector(item) -> str | None:
    title = _default_title(item)
    if title is not None and title.tag != "a" and title.xpath(".//a[@href]"):
        return f"{_relative(item, title)} a"
    return _relative(item, title) if title is not None and title.tag == "a" else "a"


def _date_selector(item) -> str | None:
    if item.xpath(".//time"):
        return "time"
    for el in item.iter():
        if isinstance(el.tag, str) and el is not item and el.text and _has_date(el.text):
            return _relative(item, el)
    return None


def _summary_selector(item) -> str | None:
    title, date = _default_title(item), _default_date(item)
    for p in item.xpath(".//p"):
        if title is not None and (p is title or title in p.iterdescendants()):
            continue
        if not isinstance(date, str) and date is not None and (date is p or date in p.iterdescendants()):
            continue
        if len(_text(p)) > 20 and not (_has_date(_text(p)) and len(_text(p)) < 60):  # not a date line
            return _relative(item, p)
    return None


def _categories_selector(item) -> str | None:
    for el in item.iter():
        classes = (el.get("class") or "").lower() if isinstance(el.tag, str) else ""
        if el is not item and any(h in classes for h in CATEGORY_HINTS):
            inner = el.xpath(".//a|.//li")
            return f"{_simple(el)} {inner[0].tag}" if inner else _simple(el)
    return None


def _next_selector(doc) -> str | None:
    if select(doc, "a[rel~=next]"):
        return "a[rel~=next]"
    for a in doc.xpath("//a[@href]"):
        classes = (a.get("class") or "") + " " + (a.getparent().get("class") or "")
        if re.search(r"next|weiter", classes, re.I):
            return (
                _simple(a)
                if "next" in (a.get("class") or "").lower() or "weiter" in (a.get("class") or "").lower()
                else f"{_simple(a.getparent())} > a"
            )
    return None


def selectors_toml(url: str, selectors: Selectors) -> str:
    """A ``[[sources]]`` table a city can paste into its feeds/<city>.toml."""
    lines = ["[[sources]]", f"url = {json.dumps(url)}", 'kind = "html"', "", "[sources.html]"]
    for name, value in selectors.as_dict().items():
        if name in ("max_pages", "article_pages") and value == Selectors.__dataclass_fields__[name].default:
            continue
        lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def check_selector(selector: str) -> None:
    """Raise InvalidSelector (also a ValueError; a German message) unless a city may use ``selector``
    (for registry and API validation; evaluation checks again)."""
    rules.check(selector)
