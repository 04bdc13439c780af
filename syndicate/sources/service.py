"""What cities (and operators) do with sources through the API: look up, create with a test
fetch and preview, update, retire, ask for a refresh, read the fetch log, discover feeds.

Every change is written together with its audit entry in one commit; work for the workers
is enqueued only after that commit (``enqueue`` is called with the source id).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer_group

from syndicate.access import audit
from syndicate.access.tokens import Principal
from syndicate.clock import utcnow
from syndicate.db import rowcount
from syndicate.errors import Conflict, Invalid, NotFound, TooSoon, german
from syndicate.ingest.due import QUEUED_LEASE
from syndicate.ingest.refresh import RefreshConfig
from syndicate.models import City, FetchLog, Source, Topic
from syndicate.reader import fetch as fetching
from syndicate.reader import html_source
from syndicate.reader.discover import FeedLink, find_feed_links, parse_feed
from syndicate.reader.errors import NotAFeed, ParseError, SyndicateError
from syndicate.reader.normalise import canonical_url, http_url
from syndicate.reader.normalise import feed_title as plain_title
from syndicate.reader.parse import RawEntry, parse
from syndicate.sources.registry import HtmlExtraction

log = logging.getLogger("syndicate.sources")

Enqueue = Callable[[int], None]
REFRESH_EVERY = timedelta(minutes=5)  # at most one manual refresh per source in this time
ALWAYS_REFUSED = {"invalid_url", "blocked_address"}  # ``force`` never gets past these
EDITABLE = ("title", "enabled", "default_topics", "min_interval", "max_interval", "extraction")
SELECTOR_FIELDS = ("item", "title", "link", "date", "summary", "image", "categories", "next")
_OLDEST = datetime.min.replace(tzinfo=UTC)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Preview:
    feed_title: str
    format: str
    item_count: int
    latest_titles: list[str]
    final_url: str
    site_url: str | None


@dataclass
class SourceSpec:
    url: str
    title: str | None = None
    default_topics: list[str] = field(default_factory=list)
    enabled: bool = True
    min_interval: int | None = None
    max_interval: int | None = None
    kind: str | None = None  # feed | html; None: a feed, or an HTML newsroom page when one is detected
    extraction: dict | None = None  # html: selectors (syndicate.reader.html_source.Selectors)


@dataclass
class Created:
    source: Source
    preview: Preview | None
    warning: dict | None  # the refused test fetch's reason and message when ``force`` was given
    queued: bool


# ---------------------------------------------------------------- look-ups (404 for what the caller may not touch)


def get_city(session: Session, slug: str, principal: Principal) -> City:
    city = session.scalar(select(City).where(City.slug == slug))
    if city is None or not principal.may_touch(city.id):
        raise NotFound(f"Stadt {slug!r} gibt es nicht (oder nicht für dieses Token)", reason="city_not_found")
    return city


def get_source(session: Session, source_id: int, principal: Principal) -> Source:
    source = session.get(Source, source_id)
    if source is None or not principal.may_touch(source.city_id):
        raise NotFound(f"Quelle {source_id} gibt es nicht (oder nicht für dieses Token)", reason="source_not_found")
    return source


def list_sources(session: Session, city: City) -> list[Source]:
    # with the freshness model's columns, which the API shows for every source (deferred otherwise)
    query = select(Source).options(undefer_group("freshness")).where(Source.city_id == city.id).order_by(Source.id)
    return list(session.scalars(query))


def fetch_log(session: Session, source: Source, limit: int) -> list[FetchLog]:
    query = select(FetchLog).where(FetchLog.source_id == source.id).order_by(FetchLog.started_at.desc(), FetchLog.id.desc())
    return list(session.scalars(query.limit(limit)))


# ---------------------------------------------------------------- test fetch, preview, discovery


def fetch_page(client: httpx.Client, url: str, config: RefreshConfig) -> fetching.FetchResult:
    """One document as polling fetches it (same limits and address policy); raises the reader's errors."""
    return fetching.fetch_ok(client, url, limits=config.fetch_limits)


def preview(client: httpx.Client, url: str, config: RefreshConfig, selectors: dict | None = None, html: bool = False) -> Preview:
    """Fetch and parse (or, ``html``, extract with ``selectors``) ``url`` as polling would; raises the reader's errors."""
    return preview_page(fetch_page(client, url, config), config, selectors, html)


def preview_page(result: fetching.FetchResult, config: RefreshConfig, selectors: dict | None = None, html: bool = False) -> Preview:
    """``preview`` of a page fetched already."""
    if html:
        return preview_html(result, config, selectors)[0]
    feed = parse_feed(result.content, url=result.final_url, content_type=result.content_type, page=result.text)
    newest = sorted(feed.entries, key=lambda e: e.published or e.updated or _OLDEST, reverse=True)
    titles = [title for title in (_line(plain_title(e.title), 300) for e in newest) if title][:3]
    site = http_url(feed.link, result.final_url)
    return Preview(_line(plain_title(feed.title), 300) or "", feed.format, len(feed.entries), titles, result.final_url, site)


def preview_html(result: fetching.FetchResult, config: RefreshConfig, selectors: dict | None) -> tuple[Preview, list[RawEntry]]:
    """The items an HTML newsroom page yields with ``selectors`` (None: the detected article blocks), as polling
    extracts them; raises SelectorsMatchedNothing, InvalidSelector or SelectorTooExpensive."""
    feed = html_source.extract(result.content, result.final_url, html_source.Selectors.from_dict(selectors), config.selector_budget)
    titles = [title for title in (_line(plain_title(e.title), 300) for e in feed.entries) if title][:3]
    shown = Preview(_line(plain_title(feed.title), 300) or "", "html", len(feed.entries), titles, result.final_url, None)
    return shown, feed.entries


def check_extraction(values: dict | None) -> dict | None:
    """Selectors as an HTML source stores them, checked by the rules of feeds/*.toml (``HtmlExtraction``): a selector a
    city may not use is Invalid with reason ``invalid_selector`` and the ``field`` it is in. Empty fields are dropped;
    no selector at all is None (the article blocks are detected on each poll)."""
    given = {name: value for name, value in (values or {}).items() if value not in (None, "")}
    if not any(name in SELECTOR_FIELDS for name in given):
        return None
    if "item" not in given:
        raise Invalid("bitte einen Selektor für die Meldungsblöcke (item) angeben", reason="invalid_selector", field="item")
    try:
        checked = HtmlExtraction.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "item"
        text = error["msg"] if error["type"] == "invalid_selector" else "dieser Wert ist nicht erlaubt"
        raise Invalid(f"Selektor {name}: {text}", reason="invalid_selector", field=name) from None
    return checked.model_dump(exclude_none=True)


def discover(client: httpx.Client, url: str, config: RefreshConfig) -> tuple[str, list[FeedLink]]:
    """The feeds a page advertises; a URL that is itself a feed is its own answer."""
    try:
        result = fetch_page(client, url, config)
    except SyndicateError as exc:
        raise Invalid(f"{url}: {german(exc)}", reason=exc.reason) from exc
    try:
        feed = parse(result.content, url=result.final_url, content_type=result.content_type)
        return result.final_url, [FeedLink(result.final_url, _line(plain_title(feed.title), 300), _kind(feed.format))]
    except ParseError:
        pass
    return result.final_url, find_feed_links(result.text(), result.final_url)


def detect_source(client: httpx.Client, url: str, config: RefreshConfig) -> html_source.Detection:
    """What ``url`` is: a feed, a page that advertises feeds, or a newsroom page with article blocks."""
    return detect_page(fetch_page(client, url, config))


def detect_page(result: fetching.FetchResult) -> html_source.Detection:
    """``detect_source`` of a page fetched already."""
    try:
        feed = parse(result.content, url=result.final_url, content_type=result.content_type)
        link = FeedLink(result.final_url, _line(plain_title(feed.title), 300), _kind(feed.format))
        return html_source.Detection(url=result.final_url, feeds=[link], is_feed=True)
    except ParseError:
        pass
    try:
        return html_source.detect(result.content, result.final_url)
    except ParseError:
        return html_source.Detection(url=result.final_url)


def _line(text: str | None, limit: int) -> str | None:
    """One line of at most ``limit`` characters, without control characters (PostgreSQL refuses NUL)."""
    if text is None:
        return None
    return " ".join(CONTROL.sub(" ", text).split())[:limit] or None


def _kind(fmt: str) -> str:
    return "json" if fmt.startswith("json") else "atom" if fmt.startswith("atom") else "rdf" if fmt.startswith("rss1") else "rss"


# ---------------------------------------------------------------- changes


def _existing(session: Session, key: str) -> Source | None:
    return session.scalar(select(Source).where(Source.canonical_url == key))


def _already_registered(source: Source, city: City, operator: bool) -> Conflict:
    """The conflict as the caller may see it: another participant's source is named by nobody but an operator."""
    if source.city_id != city.id and not operator:
        return Conflict("diese Adresse ist bereits von einem anderen Teilnehmer registriert", reason="already_registered")
    where = f", verwaltet in {source.registry_file}" if source.origin == "file" else ""
    return Conflict(
        f"{source.url} ist bereits als Quelle {source.id} von {source.city.slug} registriert{where}",
        reason="already_registered",
        existing={
            "id": source.id,
            "city": source.city.slug,
            "url": source.url,
            "origin": source.origin,
            "registry_file": source.registry_file,
        },
    )


def _check_topics(session: Session, slugs: list[str]) -> None:
    known = set(session.scalars(select(Topic.slug).where(Topic.slug.in_(slugs)))) if slugs else set()
    if unknown := sorted(set(slugs) - known):
        raise Invalid(f"unbekannte Themen: {', '.join(unknown)}", reason="unknown_topic")


def _check_interval(low: int | None, high: int | None) -> None:
    if low is not None and high is not None and low > high:
        raise Invalid(f"min_interval ({low}) ist größer als max_interval ({high})", reason="invalid_interval")


def _check_editable(source: Source) -> None:
    if source.origin == "file":
        raise Conflict(
            f"Quelle {source.id} wird in {source.registry_file} verwaltet; Änderungen bitte per Merge-Request dort",
            reason="file_managed",
            registry_file=source.registry_file,
        )


def _test_fetch(client: httpx.Client, spec: SourceSpec, config: RefreshConfig, force: bool) -> tuple[Preview | None, dict | None]:
    """The test fetch; a page that is no feed and advertises none becomes an HTML source when article blocks are found."""
    url = spec.url
    try:
        try:
            return preview(client, url, config, spec.extraction, html=spec.kind == "html"), None
        except NotAFeed:
            if spec.kind is not None or (found := detect_source(client, url, config)).selectors is None or found.feeds:
                raise
            spec.kind, spec.extraction = "html", found.selectors.as_dict()
            return preview(client, url, config, spec.extraction, html=True), None
    except SyndicateError as exc:
        if not force or exc.reason in ALWAYS_REFUSED:
            hint = "" if exc.reason in ALWAYS_REFUSED else " (mit force: true trotzdem registrieren)"
            raise Invalid(f"{url} wurde abgelehnt: {german(exc)}{hint}", reason=exc.reason) from exc
        return None, {"reason": exc.reason, "message": german(exc)}


def create_source(
    session: Session,
    client: httpx.Client,
    config: RefreshConfig,
    city: City,
    spec: SourceSpec,
    *,
    actor: str,
    enqueue: Enqueue,
    force: bool = False,
    operator: bool = False,
) -> Created:
    """Validate (URL, address policy, not yet registered, test fetch), store, audit, commit, enqueue.

    ``operator``: the caller may see every city's sources, so a conflict names the registered source."""
    key = canonical_url(spec.url) if len(spec.url) <= 2000 and not CONTROL.search(spec.url) else None
    if key is None:
        raise Invalid(f"{spec.url[:200]!r} ist keine absolute http(s)-URL", reason="invalid_url")
    if spec.extraction is not None:
        spec.kind, spec.extraction = "html", check_extraction(spec.extraction)
    if (existing := _existing(session, key)) is not None:
        raise _already_registered(existing, city, operator)
    _check_topics(session, spec.default_topics)
    _check_interval(spec.min_interval, spec.max_interval)
    session.commit()  # end the read transaction: the test fetch may take a while
    shown, warning = _test_fetch(client, spec, config, force)
    final_key = canonical_url(shown.final_url) if shown else None
    if final_key and final_key != key and (existing := _existing(session, final_key)) is not None:
        raise _already_registered(existing, city, operator)
    title = _line(spec.title, 300)
    title = None if shown and title == shown.feed_title else title  # the feed's own title is no override
    source = Source(
        city_id=city.id,
        url=spec.url,
        canonical_url=key,
        title=title,
        origin="api",
        enabled=spec.enabled,
        default_topics=list(spec.default_topics),
        min_interval=spec.min_interval,
        max_interval=spec.max_interval,
        kind=spec.kind or "feed",
        extraction=spec.extraction,
        feed_title=(shown.feed_title or None) if shown else None,
        site_url=shown.site_url if shown else None,
        next_check_at=utcnow() + QUEUED_LEASE if spec.enabled else utcnow(),
    )
    session.add(source)
    try:
        session.flush()
    except IntegrityError:  # registered concurrently by someone else
        session.rollback()
        if (existing := _existing(session, key)) is None:
            raise  # another constraint refused the row (the city is gone): no one registered the URL
        raise _already_registered(existing, city, operator) from None
    audit.record(session, actor=actor, action="source.create", city_id=city.id, target=source, after=audit.snapshot(source))
    session.commit()
    queued = _enqueue(session, source, enqueue) if spec.enabled else False
    return Created(source, shown, warning, queued)


def create_city(session: Session, slug: str, name: str, *, actor: str) -> City:
    """A participant that is not (yet) in feeds/: the operator registers it so that it can be given a token."""
    if len(slug) > 64 or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise Invalid(
            "der Kurzname darf nur Kleinbuchstaben, Ziffern und Bindestriche enthalten (zum Beispiel bad-toelz)", reason="invalid_slug"
        )
    title = _line(name, 200)
    if not title:
        raise Invalid("bitte einen Namen angeben", reason="invalid_name")
    if session.scalar(select(City.id).where(City.slug == slug)) is not None:
        raise Conflict(f"eine Stadt mit dem Kurznamen {slug} gibt es schon", reason="city_exists")
    city = City(slug=slug, name=title, kind="city")
    session.add(city)
    try:
        session.flush()
    except IntegrityError:  # registered concurrently
        session.rollback()
        raise Conflict(f"eine Stadt mit dem Kurznamen {slug} gibt es schon", reason="city_exists") from None
    audit.record(session, actor=actor, action="city.create", city_id=city.id, target=city, after={"slug": slug, "name": title})
    session.commit()
    return city


def update_source(session: Session, source: Source, changes: dict, *, actor: str) -> Source:
    """Change the EDITABLE fields given (the API's PATCH and the console's forms); ``extraction`` only for an HTML
    source, checked by ``check_extraction`` (None: the article blocks are detected on each poll)."""
    _check_editable(source)
    changes = {name: value for name, value in changes.items() if name in EDITABLE}
    if "extraction" in changes:
        if source.kind != "html" and changes["extraction"] is not None:
            raise Invalid("Selektoren gibt es nur für Newsroom-Seiten (kind html), nicht für Feeds", reason="not_html")
        changes["extraction"] = check_extraction(changes["extraction"])
    if "default_topics" in changes:
        _check_topics(session, changes["default_topics"])
    _check_interval(changes.get("min_interval", source.min_interval), changes.get("max_interval", source.max_interval))
    before = audit.snapshot(source)
    for name, value in changes.items():
        setattr(source, name, value)
    if changes.get("enabled") and not before["enabled"]:
        source.next_check_at = utcnow()  # back in the rotation with the next beat tick
    after = audit.snapshot(source)
    if after != before:
        audit.record(session, actor=actor, action="source.update", city_id=source.city_id, target=source, before=before, after=after)
    session.commit()
    return source


def retire_source(session: Session, source: Source, *, actor: str) -> Source:
    """Stop polling for good; the articles already published stay in the merged feeds."""
    _check_editable(source)
    if not source.enabled:
        return source
    before = audit.snapshot(source)
    source.enabled = False
    audit.record(
        session, actor=actor, action="source.retire", city_id=source.city_id, target=source, before=before, after=audit.snapshot(source)
    )
    session.commit()
    return source


def request_refresh(session: Session, source: Source, *, actor: str, enqueue: Enqueue, now: datetime | None = None) -> bool:
    """Claim a manual refresh (at most one per source every five minutes) and enqueue it."""
    if not source.enabled:
        raise Conflict(f"Quelle {source.id} ist abgeschaltet", reason="source_disabled")
    now = now or utcnow()
    claimed = rowcount(
        session.execute(
            update(Source)
            .where(
                Source.id == source.id, or_(Source.last_manual_refresh_at.is_(None), Source.last_manual_refresh_at <= now - REFRESH_EVERY)
            )
            .values(last_manual_refresh_at=now, next_check_at=now + QUEUED_LEASE)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        session.rollback()
        session.refresh(source)
        last = source.last_manual_refresh_at
        assert last is not None, "the claim failed on a refresh at or after the limit"
        wait = (last + REFRESH_EVERY - now).total_seconds()
        raise TooSoon(
            f"Quelle {source.id} wurde gerade erst aktualisiert; nächster Versuch in {int(wait) + 1} s",
            retry_after=int(wait) + 1,
            reason="refresh_too_soon",
        )
    audit.record(session, actor=actor, action="source.refresh", city_id=source.city_id, target=source)
    session.commit()
    session.refresh(source)
    return _enqueue(session, source, enqueue)


def refresh_pushed(session: Session, source_id: int, *, enqueue: Enqueue, now: datetime | None = None) -> bool:
    """A publisher's hub pushed a change (syndicate/ingest/push.py): refresh the source now, outside its schedule."""
    source = session.get(Source, source_id)
    if source is None or not source.enabled:
        return False
    source.next_check_at = (now or utcnow()) + QUEUED_LEASE  # the beat leaves it to the queued task
    session.commit()
    return _enqueue(session, source, enqueue)


def _enqueue(session: Session, source: Source, enqueue: Enqueue) -> bool:
    """Send the refresh task; when the broker refuses, make the source due for the next beat tick."""
    try:
        enqueue(source.id)
        return True
    except Exception as exc:  # any broker failure: the beat picks the source up instead
        log.warning("could not enqueue source %s: %s", source.id, exc)
        source.next_check_at = utcnow()
        session.commit()
        return False
