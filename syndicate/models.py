"""ORM models: cities, sources, articles and their clusters, topics, fetch log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from syndicate.clock import utcnow


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware values")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite stores naive values, written as UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # PostgreSQL answers in the session's zone


class Base(DeclarativeBase):
    # Every model here is mapped to one Table; saying so lets Core statements (insert, update, delete)
    # take ``Model.__table__`` without a cast (SQLAlchemy declares it as any FromClause).
    __table__: ClassVar[Table]


class City(Base):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="city")
    contact: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(500))
    newsroom: Mapped[str | None] = mapped_column(String(500))
    registry_file: Mapped[str | None] = mapped_column(String(300))

    sources: Mapped[list[Source]] = relationship(back_populates="city")


class Source(Base):
    __tablename__ = "sources"
    __mapper_args__ = {"eager_defaults": False}  # see ``freshness`` below

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    canonical_url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    feed_title: Mapped[str | None] = mapped_column(String(300))
    site_url: Mapped[str | None] = mapped_column(String(2000))
    origin: Mapped[str] = mapped_column(String(10), default="api")  # file | api
    registry_file: Mapped[str | None] = mapped_column(String(300))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_topics: Mapped[list] = mapped_column(JSON, default=list)
    min_interval: Mapped[int | None] = mapped_column(Integer)
    max_interval: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), default="feed", server_default="feed")  # feed | html (migration 0006)
    # html sources: selectors and options (syndicate.reader.html_source.Selectors); None: detected on every poll
    extraction: Mapped[dict | None] = mapped_column(JSON)

    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error_reason: Mapped[str | None] = mapped_column(String(60))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    redirected_from: Mapped[str | None] = mapped_column(String(2000))
    # permanent-redirect bookkeeping (migration 0003): {"pending": {"url", "first_seen", "seen"} | None,
    # "history": [{"url": old URL, "moved_to", "moved_at"}, …]}; see syndicate/ingest/moves.py
    redirects: Mapped[dict | None] = mapped_column(JSON)
    current_interval: Mapped[int | None] = mapped_column(Integer)  # the interval of the last plan (s)
    # freshness model (migration 0018; syndicate/ingest/schedule.py): Profile.as_json() of its posting history, and
    # the mark of a warnings source. Deferred, and its default not read back after an insert: a plain query names
    # only the columns of 0013 and before, so code and tests that write sources at those revisions keep working;
    # refresh loads the group with ``undefer_group("freshness")``.
    freshness: Mapped[dict | None] = mapped_column(JSON, deferred=True, deferred_group="freshness")
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=false(), deferred=True, deferred_group="freshness")
    last_manual_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # who holds the source (migration 0008; see syndicate/ingest/due.py): a queued message or a running worker
    lease_state: Mapped[str | None] = mapped_column(String(10))  # queued | running | None (free)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    city: Mapped[City] = relationship(back_populates="sources")


class Cluster(Base):
    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    representative_id: Mapped[int | None] = mapped_column(Integer, index=True)  # an article id; no FK, to avoid a cycle
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # today's stories (0022)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "item_key", name="uq_articles_source_item"),
        Index("ix_articles_canonical_url", "canonical_url"),
        Index("ix_articles_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # looked up through uq_articles_source_item (source_id first): a second index on source_id alone was dropped (0012)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"), index=True)
    item_key: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(2000))
    canonical_url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(1000))
    summary_html: Mapped[str | None] = mapped_column(Text)
    content_html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(300))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    enclosures: Mapped[list | None] = mapped_column(JSON, default=list)  # [{href, type, length}]: images, audio, documents
    language: Mapped[str | None] = mapped_column(String(20))  # the feed's language tag when the article was first stored
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # today's articles (0022)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[Source] = relationship()


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list] = mapped_column(JSON, default=list)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    exclude: Mapped[list | None] = mapped_column(JSON, default=list)  # keywords that veto keyword/category matches (0004)
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=false())  # its sources polled as warnings (0018)


class ArticleTopic(Base):
    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True)
    reason: Mapped[str] = mapped_column(String(20), default="keyword")  # category | keyword | source
    rule: Mapped[str | None] = mapped_column(String(300))  # the category, keyword or source default that matched (0004)


class FetchLog(Base):
    __tablename__ = "fetch_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    updated_items: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(Text)
    # A run of identical quiet outcomes (not_modified/unchanged) is one row: ``repeats`` attempts
    # from ``started_at`` to ``last_started_at`` (set from the start, equal for a single attempt).
    # Folding writes no indexed column and keeps the row's size (duration and bytes stay the first
    # attempt's), so re-polling unchanged sources grows no table and no index.
    repeats: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BeatTick(Base):
    """The last time beat's enqueue task ran (one row), for ``status`` and ``/readyz``."""

    __tablename__ = "beat_ticks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)


class WatchMark(Base):
    """What the ops watcher (syndicate/ops/watch.py) last logged about one thing, shared by every process
    and kept over restarts, so that each change is logged once for the installation (migration 0021).

    ``key``: ``worker:<hostname>`` (online | lost), ``beat`` (running | stopped), ``source:<id>`` (failing),
    ``alert:<name> <subject>`` (active). ``since``: when the state began; ``seen_at``:
    a worker's last sign of life, a beat's last tick; ``detail``: what the line said."""

    __tablename__ = "watch_marks"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)


class HostRequest(Base):
    """One request slot on a host, shared by all workers through the database.

    Concurrency per host = rows with ``finished_at`` NULL and ``expires_at`` in the future;
    rate per host = rows with ``started_at`` within the last minute. Old rows are pruned.
    """

    __tablename__ = "host_requests"
    __table_args__ = (Index("ix_host_requests_host_started", "host", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateWindow(Base):
    """Requests counted per key (a token, a client address) and minute, shared by every API process
    through the database (syndicate.access.limits). Windows older than the previous minute are pruned."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # minutes since 1970
    hits: Mapped[int] = mapped_column(Integer, default=0)


class MailSubscription(Base):
    """An e-mail subscription to a merged feed (syndicate.mail). Data protection (DSGVO): only the address,
    the feed, the rhythm, the state, the confirmation token's hash and timestamps are stored; unsubscribing
    deletes the row (and its sent records), unconfirmed rows are deleted after 48 hours."""

    __tablename__ = "mail_subscriptions"
    __table_args__ = (UniqueConstraint("address", "feed", name="uq_mail_subscriptions_address_feed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    feed: Mapped[str] = mapped_column(String(500))  # path and query, e.g. /feeds/topics/it-sicherheit.atom
    rhythm: Mapped[str] = mapped_column(String(16))  # sofort | taeglich | woechentlich
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | active | suspended
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the confirmation token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailSent(Base):
    """One story (cluster) claimed for, and then sent to, one subscription: unique, so a story goes out
    once per subscription ever. ``sent_at`` is empty while the mail holding it is being sent."""

    __tablename__ = "mail_sent"
    __table_args__ = (UniqueConstraint("subscription_id", "cluster_id", name="uq_mail_sent_subscription_cluster"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("mail_subscriptions.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[int] = mapped_column(Integer)  # no FK: a story deleted by retention stays recorded as sent
    message_id: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters of the secret, for display
    scope: Mapped[str] = mapped_column(String(10))  # operator | city
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    city: Mapped[City | None] = relationship()


class ConsoleSession(Base):
    """A browser signed in to the console with a token (syndicate.access.sessions). The cookie holds a random
    secret; only its hash is stored, so a leaked database row cannot be replayed as a cookie."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    token: Mapped[ApiToken] = relationship()


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(200))  # e.g. "token:3 city:muenchen", "cli"
    action: Mapped[str] = mapped_column(String(60))  # source.create, source.update, source.delete, …
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="SET NULL"), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


# ---------------------------------------------------------------- deduplication (migration 0004)


class ArticleBucket(Base):
    """LSH bucket ids of an article's near-duplicate signature (see syndicate.reader.neardup).

    Candidates for a new article are the articles sharing a bucket within the time window: one
    range scan of the primary key per bucket, whatever the number of stored articles. The key is
    the whole row and the date is whole seconds since 1970 (``published``): on SQLite the table is
    its own index (WITHOUT ROWID), so storing an article's ~25 rows writes one random-order b-tree
    of small entries and nothing else.

    The rows are an index derived from the article, so ``article_id`` has no foreign key and no index
    of its own (both cost more than the row on every insert): whoever changes or deletes an article
    deletes its rows by their key, computed again from what is stored (``dedupe.unindex``); a row
    left behind (an article deleted by hand) is never a candidate, since no article answers to it,
    and maintenance prunes it (``maintenance.prune_buckets``)."""

    __tablename__ = "article_buckets"
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    published: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # published_at, epoch seconds
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # articles.id (no foreign key: see above)


class SourcePassage(Base):
    """How many stored articles of a source contain a sentence: recurring ones are boilerplate."""

    __tablename__ = "source_passages"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    passage: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    articles: Mapped[int] = mapped_column(Integer, default=0)


class ItemAlias(Base):
    """An item key a source used before for a stored article (a changed GUID or URL)."""

    __tablename__ = "item_aliases"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)


class ArticleRevision(Base):
    """The previous state of an article that changed in place (edited, or re-keyed)."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(20))  # edited | rekeyed
    item_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")


class Tombstone(Base):
    """A deleted or purged item that must not come back on the next poll.

    Matches an incoming item by (source, item key), or by canonical URL within the source;
    a tombstone without a source blocks its canonical URL everywhere."""

    __tablename__ = "tombstones"
    __table_args__ = (
        UniqueConstraint("source_id", "item_key", name="uq_tombstones_source_item"),
        Index("ix_tombstones_canonical_url", "canonical_url"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_key: Mapped[str | None] = mapped_column(String(64))
    canonical_url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(1000))
    reason: Mapped[str] = mapped_column(String(200), default="deleted")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSubSubscription(Base):
    """A WebSub subscriber: callback + topic (one of our feed URLs), verified intent, lease and secret.

    ``state``: pending (intent not yet verified) · active · denied. A renewal or unsubscribe waits in
    ``pending_mode`` until its verification; the active lease holds meanwhile."""

    __tablename__ = "websub_subscriptions"
    __table_args__ = (UniqueConstraint("callback", "topic", name="uq_websub_callback_topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    callback: Mapped[str] = mapped_column(String(2000))
    topic: Mapped[str] = mapped_column(String(2000), index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    pending_mode: Mapped[str | None] = mapped_column(String(20))  # subscribe | unsubscribe
    pending_secret: Mapped[str | None] = mapped_column(String(200))
    pending_lease: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_etag: Mapped[str | None] = mapped_column(String(100))  # the feed version last delivered
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class PushSubscription(Base):
    """Our subscription to a publisher's WebSub hub for one source (migration 0018; syndicate/ingest/push.py).

    ``state``: wanted (the feed advertises a hub; not yet asked) · pending (asked, the hub has not verified yet) ·
    active (verified, lease running) · denied. ``token`` names the callback (``/websub/callback/{token}``);
    ``secret`` signs the hub's deliveries (``X-Hub-Signature``)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), unique=True)
    hub: Mapped[str] = mapped_column(String(2000))
    topic: Mapped[str] = mapped_column(String(2000))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default="wanted")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
