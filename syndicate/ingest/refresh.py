"""refresh_sources: the whole pipeline for a group of sources, top to bottom (refresh_source: a group of one).

for each source (``_poll``, no write): load source → host slot (over budget? deferred)
  → conditional GET → rate limited? deferred → HTTP error? → not modified? → body unchanged?
  → parse (or, for an HTML newsroom, extract) → normalise
  (while a changed document is read, the next source's host slot and GET run on the fetch-ahead thread)
then the group (``_store``): store the documents together (upsert, cluster, topics) → per source:
  posting profile and WebSub hub (changed documents) → the freshness plan → validators, permanent redirect → reset the error counter
then per source (``_finish``): error counter, schedule, fetch log → one commit, with the worker's lease releases.

Stages never call each other; only this module calls them. Failures are stored on
the source row (``error_count``, ``last_error_reason`` …) and in the fetch log; a deferral
(our host budget, the publisher's 429/503) is not a failure and counts no error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial

import httpx
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, undefer_group

from syndicate.clock import utcnow
from syndicate.db import engine_of
from syndicate.dedupe.batch import StaleRead
from syndicate.dedupe.store import StoreCounts, store_documents
from syndicate.ingest import freshness, moves, politeness, push, schedule
from syndicate.models import Article, City, FetchLog, Source
from syndicate.reader import errors, html_source
from syndicate.reader import fetch as fetching
from syndicate.reader.discover import parse_feed
from syndicate.reader.errors import SyndicateError
from syndicate.reader.hints import feed_interval, push_links
from syndicate.reader.normalise import Entry, canonical_url, feed_title, http_url, language_tag, normalise_entry
from syndicate.reader.parse import ParsedFeed
from syndicate.reader.selectors import SelectorBudget
from syndicate.settings import Settings
from syndicate.topics import rules as topics

log = logging.getLogger("syndicate.refresh")
FRESHNESS = undefer_group("freshness")  # the freshness model's columns, deferred in plain queries (models.Source)


@dataclass(frozen=True)
class RefreshConfig:
    default_interval: int
    min_interval: int
    max_interval: int
    backoff_cap: int
    future_tolerance: int
    fetch_limits: fetching.FetchLimits = fetching.FetchLimits()
    host_limits: politeness.HostLimits = politeness.HostLimits()
    redirect_confirmations: int = 3
    redirect_min_span: timedelta = timedelta(days=1)
    selector_budget: SelectorBudget = SelectorBudget()
    targets: schedule.Targets = schedule.Targets()

    @classmethod
    def from_settings(cls, settings: Settings) -> RefreshConfig:
        return cls(
            default_interval=settings.default_interval,
            min_interval=settings.min_interval,
            max_interval=settings.max_interval,
            backoff_cap=settings.error_backoff_cap,
            future_tolerance=settings.future_tolerance,
            fetch_limits=fetching.FetchLimits(
                max_bytes=settings.max_body_bytes,
                max_decoded_bytes=settings.max_decoded_bytes,
                max_redirects=settings.max_redirects,
                deadline=settings.fetch_deadline,
            ),
            host_limits=politeness.HostLimits(
                concurrency=settings.host_concurrency,
                per_minute=settings.host_rate_per_minute,
                overrides=settings.host_limit_overrides,
                busy_retry=settings.host_busy_retry,
                hold=settings.fetch_deadline + 10,
            ),
            redirect_confirmations=settings.redirect_confirmations,
            redirect_min_span=timedelta(seconds=settings.redirect_min_span),
            targets=schedule.Targets(
                active=settings.active_interval,
                urgent=settings.urgent_interval,
                unknown=settings.default_interval,
                pushed=settings.push_interval,
            ),
        )


@dataclass
class RefreshOutcome:
    id: int
    url: str
    status: str  # new | not_modified | unchanged | error | deferred | skipped
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    reason: str | None = None
    message: str | None = None
    duration_ms: int = 0
    city: str | None = None  # the source's city slug, for the worker's log line

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Poll:
    """One source's poll before the store: what was fetched and read, or how it ended (``delay`` set)."""

    source: Source
    outcome: RefreshOutcome
    started: float
    interval: int
    low: int
    high: int
    config: RefreshConfig
    urgent: bool = False  # marked urgent itself or through one of its default topics
    result: fetching.FetchResult | None = None
    body: bytes = b""
    digest: str | None = None
    feed: ParsedFeed | None = None
    entries: list[Entry] | None = None
    delay: float | None = None  # until the next check (deferred: set by the poll; else at the store or the finish)
    error: SyndicateError | None = None  # it failed (the source row records it at the end, with the others)

    @property
    def ended(self) -> bool:
        """Deferred or failed: nothing to store, no success to record."""
        return self.delay is not None or self.error is not None


def refresh_source(
    session: Session,
    client: httpx.Client,
    source_id: int,
    config: RefreshConfig,
    now: datetime | None = None,
    before_commit: Callable[[Session], None] | None = None,
) -> RefreshOutcome:
    """``before_commit``: a last statement for the final transaction (the worker's lease release)."""
    return refresh_sources(session, client, [source_id], config, now, {source_id: before_commit} if before_commit else None)[0]


def refresh_sources(
    session: Session,
    client: httpx.Client,
    source_ids: list[int],
    config: RefreshConfig,
    now: datetime | None = None,
    before_commit: dict[int, Callable[[Session], None]] | None = None,
    polling: Callable[[int | None], None] | None = None,
) -> list[RefreshOutcome]:
    """Several sources in one transaction: each fetched and read first (no write), then the documents
    stored together (``store_documents``: one read of the stored candidates, one write, so items of
    one source that another source of the group republished are found in memory), then every
    source's row, schedule and fetch log, and one commit. Anything raised rolls the whole group back;
    the worker then runs its sources one by one (workers/tasks.py), so one source's crash costs the
    others nothing.
    ``polling``: told each source id as its poll starts, and None when the group's store starts."""
    now = now or utcnow()
    hooks, polling = before_commit or {}, polling or (lambda _source_id: None)
    try:
        # the rows each poll starts with, read at once and held here: the session's identity map holds
        # objects weakly, so an unreferenced row would be gone again and each ``session.get`` read it anew
        _held = session.scalars(select(Source).options(FRESHNESS).where(Source.id.in_(source_ids))).all() if len(source_ids) > 1 else []
        polls, ahead = {}, _Ahead(session, client, config)
        urgent_topics = freshness.urgent_topics(session)
        for n, source_id in enumerate(source_ids):
            polling(source_id)
            following = source_ids[n + 1] if n + 1 < len(source_ids) else None
            polls[source_id] = _poll(
                session, client, source_id, config, now, ahead.take(source_id), partial(ahead.start, following), urgent_topics
            )
        polling(None)
        _store_again_if_stale(session, [p for p in polls.values() if p is not None and not p.ended], now)
        for poll in polls.values():
            if poll is not None:
                _finish(session, poll, now, hooks.get(poll.source.id))
        cities = {poll.outcome.id: poll.source.city_id for poll in polls.values() if poll is not None}
        slugs = _city_slugs(session, set(cities.values()))  # for the worker's log line, in the same transaction
        session.commit()
    except BaseException:
        session.rollback()  # nothing of the group is kept: the caller runs its sources again one by one
        raise
    for poll in polls.values():
        if poll is not None:
            poll.outcome.city = slugs.get(cities[poll.outcome.id])
    return [
        poll.outcome if poll is not None else RefreshOutcome(id=i, url="", status="skipped", reason="disabled_or_missing")
        for i, poll in polls.items()
    ]


def _city_slugs(session: Session, city_ids: set[int]) -> dict[int, str]:
    """City id → slug for the outcomes (one small query per group)."""
    if not city_ids:
        return {}
    return dict(session.execute(select(City.id, City.slug).where(City.id.in_(city_ids))).all())


def refresh_in_groups(
    sessions: Callable[[], Session], client: httpx.Client, source_ids: list[int], config: RefreshConfig, size: int
) -> Iterator[RefreshOutcome]:
    """``refresh_sources`` over ``source_ids`` in groups of ``size``, each group's outcomes as it completes
    (``syndicate poll``: the workers' pipeline, in this process, without leases or a broker). A group
    that raises is run again one source at a time, as a worker does, so one source's bug costs the
    others nothing."""
    for start in range(0, len(source_ids), max(1, size)):
        group = source_ids[start : start + max(1, size)]
        try:
            with sessions() as session:
                yield from refresh_sources(session, client, group, config)
            continue
        except Exception:
            if len(group) == 1:
                raise
            log.warning("refresh group of %s sources failed; its sources run one by one", len(group), exc_info=True)
        for source_id in group:
            with sessions() as session:
                yield refresh_source(session, client, source_id, config)


class _Ahead:
    """The next source's conditional GET, on one background thread while this source's changed document
    is read (the worker would otherwise wait for each response): started only once this source's own
    response is in, so a worker never has more than one request out, and a host's budget sees no more
    than before. After a 304 or the same body there is nothing to read meanwhile: the next GET is the
    worker's own (a hand-over to the thread costs more than such a poll's own work)."""

    _pool: tuple[int, ThreadPoolExecutor] | None = None  # per process (a forked pool child makes its own)

    def __init__(self, session: Session, client: httpx.Client, config: RefreshConfig):
        self.session, self.client, self.config = session, client, config
        self.pending: dict[int, Future] = {}

    @classmethod
    def _executor(cls) -> ThreadPoolExecutor:
        if cls._pool is None or cls._pool[0] != os.getpid():
            cls._pool = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-ahead"))
        return cls._pool[1]

    def start(self, source_id: int | None) -> None:
        source = self.session.get(Source, source_id) if source_id is not None else None
        if source is not None and source.enabled:  # read here: the session stays on this thread
            self.pending[source.id] = self._executor().submit(
                _fetch, self.session.get_bind(), self.client, source.url, source.etag, source.last_modified, self.config
            )

    def take(self, source_id: int) -> Future | None:
        return self.pending.pop(source_id, None)


def _fetch(
    engine, client: httpx.Client, url: str, etag: str | None, last_modified: str | None, config: RefreshConfig
) -> fetching.FetchResult:
    """One conditional GET under the host budget (no session: it may run on the fetch-ahead thread)."""
    with politeness.host_slot(engine, url, config.host_limits):
        return fetching.fetch(client, url, etag=etag, last_modified=last_modified, limits=config.fetch_limits)


def _poll(
    session: Session,
    client: httpx.Client,
    source_id: int,
    config: RefreshConfig,
    now: datetime,
    fetched: Future | None = None,
    then: Callable[[], None] = lambda: None,
    urgent_topics: Collection[str] = (),
) -> _Poll | None:
    """Fetch and read one source (no write): its document's entries, or how it ended. ``fetched``: its
    response, asked for ahead (``_Ahead``); ``then``: called when its response is a changed document,
    before it is read (a 304, the same body or an error leave nothing to overlap a request with)."""
    started = time.monotonic()
    source = session.get(Source, source_id, options=[FRESHNESS])
    if source is None or not source.enabled:
        return None
    urgent = freshness.is_urgent(source, urgent_topics)
    low, high = freshness.bounds(source, config, urgent)
    poll = _Poll(
        source,
        RefreshOutcome(id=source.id, url=source.url, status="error"),
        started,
        int(schedule.clamp(source.current_interval or config.default_interval, low, high)),
        low,
        high,
        config,
        urgent,
    )
    outcome = poll.outcome
    try:
        result = (
            fetched.result()
            if fetched is not None
            else _fetch(session.get_bind(), client, source.url, source.etag, source.last_modified, config)
        )
        poll.result, outcome.http_status, poll.body = result, result.status, result.content
        if (error := result.error()) is not None:
            raise error
        if result.not_modified:
            outcome.status = "not_modified"
        elif (digest := hashlib.sha256(result.content).hexdigest()) == source.body_hash:
            outcome.status = "unchanged"
        else:
            then()  # a document to read: the next source's GET meanwhile
            poll.digest, poll.feed = digest, _read(session, client, source, result, config)
            base = http_url(poll.feed.link) or result.final_url
            poll.entries = _normalise(poll.feed.entries, base, now, config, source.id)
    except errors.HostBusy as exc:  # our own budget for the host is spent: soon again, no error
        outcome.status, outcome.reason, outcome.message, poll.delay = "deferred", exc.reason, exc.message, exc.retry_after
    except errors.RateLimited as exc:  # the publisher asked for a pause: no error
        outcome.status, outcome.reason, outcome.message = "deferred", exc.reason, exc.message
        poll.delay = schedule.deferral_delay(exc.retry_after, fallback=poll.interval, low=low, cap=config.backoff_cap)
    except SyndicateError as exc:
        outcome.status, outcome.reason, outcome.message = "error", exc.reason, exc.message
        poll.error = exc  # the error count and the delay it gives: ``_finish``
    return poll


def _normalise(raws: list, base: str, now: datetime, config: RefreshConfig, source_id: int) -> list[Entry]:
    """Each entry on its own: normalise bounds every value a feed can send, so an entry that still fails
    is a bug of ours, and it costs that entry (logged), not the document, the source or its group."""
    entries = []
    for raw in raws:
        try:
            entries.append(normalise_entry(raw, base=base, now=now, future_tolerance=config.future_tolerance))
        except Exception:
            log.exception("source %s: an entry (guid %r, link %r) could not be normalised; left out", source_id, raw.guid, raw.link)
    return entries


STORE_ATTEMPTS = 3


def _store_again_if_stale(session: Session, polls: list[_Poll], now: datetime) -> None:
    """``_store``; when another worker changed what the store read (a cluster merged away meanwhile),
    rolled back and stored again from fresh reads — the fetched documents are kept."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            return _store(session, polls, now)
        except StaleRead:
            if attempt == STORE_ATTEMPTS:
                raise
            session.rollback()


def _store(session: Session, polls: list[_Poll], now: datetime) -> None:
    """The new documents stored together; then each source's success: counts, interval, validators, moves."""
    documents = [p for p in polls if p.entries is not None]
    if documents:
        all_counts = store_documents(
            session,
            [(p.source, p.entries or []) for p in documents],
            topics.load_rules(session),
            now,
            languages=[language_tag(p.feed.language) if p.feed is not None else None for p in documents],
        )
        for poll, counts in zip(documents, all_counts):
            config, source, feed, result = poll.config, poll.source, poll.feed, poll.result
            assert feed is not None and result is not None, "a poll with entries has its response and its document"
            _apply_counts(poll.outcome, counts)
            source.body_hash, source.feed_title = poll.digest, feed_title(feed.title)[:300] or None
            source.site_url = http_url(feed.link, result.final_url)  # http(s) only, bounded: shown as a link
            dates = [d for raw in feed.entries if (d := raw.published or raw.updated)]
            # an undated feed: the time new items turned up stands in for their dates (not at the first
            # import, whose items are the backlog, not a burst)
            if not dates and counts.new and source.last_success_at is not None:
                dates = [now]
            before = schedule.Profile.from_json(source.freshness)
            source.freshness = schedule.learn(dates, now, before, hint=feed_interval(result.content, feed.ttl_minutes)).as_json()
            if source.kind != "html":
                push.note(session, source, push_links(result.content))
    floors = freshness.host_floors(session, [p.source.url for p in polls], polls[0].config.host_limits) if polls else {}
    pushed = push.pushed(session, [p.source.id for p in polls], now)
    for poll in polls:
        # the source row is changed only now: a changed row is flushed by the next query, and on SQLite
        # that write would hold the database's one write lock through the whole parse and store
        source, result, config = poll.source, poll.result, poll.config
        assert result is not None, "a poll that did not end has its response"
        _remember_validators(source, result)
        moves.follow(
            session, source, result.permanent_redirect, now, confirmations=config.redirect_confirmations, min_span=config.redirect_min_span
        )
        source.error_count, source.first_error_at = 0, None
        source.last_error_reason = source.last_error_message = None
        source.last_success_at = now
        poll.interval = poll.delay = source.current_interval = _plan(poll, floors, result.max_age, now, source.id in pushed).interval


def _plan(poll: _Poll, floors: dict[str, int], max_age: int | None, now: datetime, pushed: bool) -> schedule.Plan:
    """The freshness model's next interval (the feed's own hint is kept in the profile, the response's is ``max_age``)."""
    profile = schedule.Profile.from_json(poll.source.freshness)
    floor = floors.get(politeness.host_of(poll.source.url), 0)
    return schedule.plan(
        profile,
        now,
        low=poll.low,
        high=poll.high,
        urgent=poll.urgent,
        hint=max_age,
        floor=floor,
        pushed=pushed,
        targets=poll.config.targets,
    )


def _read(session: Session, client: httpx.Client, source: Source, result: fetching.FetchResult, config: RefreshConfig) -> ParsedFeed:
    """The one dispatch by source kind: a feed is parsed; an HTML newsroom page is extracted (its list
    followed to further pages on the first import, new articles' own pages read once)."""
    if source.kind != "html":
        return _parse(result)
    selectors = html_source.Selectors.from_dict(source.extraction)
    feed = html_source.extract(result.content, result.final_url, selectors, config.selector_budget)
    if source.last_success_at is None:
        feed.entries += _later_pages(session, client, result, selectors, config)
    if selectors and selectors.article_pages:
        _read_article_pages(session, client, source, feed, config)
    return feed


def _later_pages(session: Session, client: httpx.Client, page: fetching.FetchResult, selectors, config: RefreshConfig) -> list:
    entries, seen = [], {page.final_url}
    for _ in range((selectors.max_pages if selectors else html_source.Selectors.max_pages) - 1):
        url = html_source.next_page(page.content, page.final_url, selectors, config.selector_budget)
        if url is None or url in seen:
            break
        seen.add(url)
        try:
            page = _get(session, client, url, config)
            entries += html_source.extract(page.content, page.final_url, selectors, config.selector_budget).entries
        except errors.SyndicateError:  # an unreadable later page ends the walk, not the import
            break
    return entries


def _read_article_pages(session: Session, client: httpx.Client, source: Source, feed: ParsedFeed, config: RefreshConfig) -> None:
    """Each article not stored yet: its own page, once, for date, categories and text."""
    with session.no_autoflush:  # no write lock held while the pages are fetched under the host budget
        known = set(session.scalars(select(Article.canonical_url).where(Article.source_id == source.id)))
    for entry in feed.entries:
        if entry.link is None or canonical_url(entry.link) in known:  # extract keeps linked items only
            continue
        try:
            page = _get(session, client, entry.link, config)
            html_source.merge_article(entry, html_source.article_metadata(page.content, page.final_url))
        except errors.SyndicateError:  # the list item alone is still an article
            continue


def _get(session: Session, client: httpx.Client, url: str, config: RefreshConfig) -> fetching.FetchResult:
    """One more page of an HTML source, under the same host budget and limits as the list page."""
    with politeness.host_slot(engine_of(session), url, config.host_limits):
        return fetching.fetch_ok(client, url, limits=config.fetch_limits)


def _parse(result: fetching.FetchResult) -> ParsedFeed:
    """parse, and when the body is an HTML page, name the feeds it advertises in the error."""
    return parse_feed(result.content, url=result.final_url, content_type=result.content_type, page=result.text)


def _apply_counts(outcome: RefreshOutcome, counts: StoreCounts) -> None:
    outcome.new, outcome.updated, outcome.duplicates = counts.new, counts.updated, counts.duplicates
    outcome.status = "new" if counts.new or counts.updated else "unchanged"


def _remember_validators(source: Source, result: fetching.FetchResult) -> None:
    """Keep new validators, also from a 304 (which may bring a new ETag or Last-Modified)."""
    source.etag = result.etag or (source.etag if result.not_modified else None)
    source.last_modified = result.last_modified or (source.last_modified if result.not_modified else None)


QUIET = frozenset({"not_modified", "unchanged"})


def _finish(session: Session, poll: _Poll, now: datetime, before_commit: Callable[[Session], None] | None) -> None:
    """The source row (error, schedule) and the fetch log of one poll; the caller commits."""
    source, outcome, config = poll.source, poll.outcome, poll.config
    if (exc := poll.error) is not None:
        source.error_count += 1
        source.first_error_at = source.first_error_at or now
        source.last_error_reason, source.last_error_message = exc.reason, exc.message[:2000]
        gone = exc.reason == "http_410"  # still retried, at the cap
        poll.delay = (
            config.backoff_cap if gone else schedule.error_delay(error_count=source.error_count, low=poll.low, cap=config.backoff_cap)
        )
    outcome.duration_ms = int((time.monotonic() - poll.started) * 1000)
    source.last_checked_at = now
    source.last_http_status = outcome.http_status
    assert poll.delay is not None, "every poll has its delay by now: set when it ended, by the store, or above"
    source.next_check_at = schedule.next_check_at(now, poll.delay)
    if not _fold_quiet(session, source.id, outcome, now):
        session.add(
            FetchLog(
                source_id=source.id,
                started_at=now,
                last_started_at=now,
                duration_ms=outcome.duration_ms,
                status=outcome.status,
                http_status=outcome.http_status,
                bytes=len(poll.body),
                new_items=outcome.new,
                updated_items=outcome.updated,
                duplicates=outcome.duplicates,
                reason=outcome.reason,
                message=(outcome.message or "")[:2000] or None,
            )
        )
    if before_commit is not None:
        before_commit(session)


def _fold_quiet(session: Session, source_id: int, outcome: RefreshOutcome, now: datetime) -> bool:
    """A quiet poll (304 or the same body) that repeats the source's latest fetch-log row is folded
    into that row (repeats + 1, the latest time) instead of adding one: polling 10,000 unchanged
    sources every few minutes then grows no table. Duration and bytes stay the first attempt's:
    SQLite stores small integers in fewer bytes, and a row that widened in its full page would
    split the page, so the fold writes only values of constant width (``repeats`` widens by a
    byte at 2, 128 and 32,768 only)."""
    if outcome.status not in QUIET:
        return False
    connection = session.connection()  # plain statements: no flush of the source row before them
    last = connection.execute(_LAST_LOG, {"b_source": source_id}).first()
    if last is None or last.status != outcome.status or last.http_status != outcome.http_status:
        return False
    connection.execute(_FOLD, {"b_id": last.id, "b_at": now, "b_repeats": (last.repeats or 1) + 1})
    return True


_LOG = FetchLog.__table__
_LAST_LOG = (
    select(_LOG.c.id, _LOG.c.status, _LOG.c.http_status, _LOG.c.repeats)
    .where(_LOG.c.source_id == bindparam("b_source"))
    .order_by(_LOG.c.id.desc())
    .limit(1)
)
_FOLD = update(_LOG).where(_LOG.c.id == bindparam("b_id")).values(last_started_at=bindparam("b_at"), repeats=bindparam("b_repeats"))
