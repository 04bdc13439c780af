"""Request and response bodies of /api/v1, named by role (FastAPI template style)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from syndicate.clock import utcnow
from syndicate.errors import reason_message
from syndicate.ingest.freshness import Expected
from syndicate.models import AuditEntry, FetchLog, Source
from syndicate.ops import states
from syndicate.reader.discover import FeedLink
from syndicate.sources.registry import SLUG, HtmlExtraction
from syndicate.sources.service import Preview

TEXT = r"^[^\x00-\x1f\x7f]*$"  # one line of text: no control characters (PostgreSQL refuses NUL)

Url = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00-\x20\x7f]+$", examples=["https://www.muenchen.de/rss.xml"])]
Title = Annotated[str, Field(min_length=1, max_length=300, pattern=TEXT)]
TopicSlug = Annotated[str, Field(max_length=64, pattern=SLUG)]
Interval = Annotated[int, Field(ge=60, le=7 * 86400, description="Sekunden")]


# Values the database holds as plain strings; the models below check them when they are built, so the
# casts where rows become models state what pydantic then verifies.
HealthStatus = Literal["ok", "new", "failing", "disabled"]
Origin = Literal["file", "api"]
SourceKind = Literal["feed", "html"]
FeedType = Literal["rss", "atom", "json", "rdf"]


def _drop_default(schema: dict) -> None:
    schema.pop("default", None)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _interval_order(self):
        low, high = getattr(self, "min_interval", None), getattr(self, "max_interval", None)
        if low is not None and high is not None and low > high:
            raise ValueError("min_interval darf nicht größer als max_interval sein")
        return self


class SourceCreate(_Input):
    url: Url
    title: Title | None = Field(default=None, description="nur, wenn er vom Titel des Feeds abweichen soll")
    default_topics: list[TopicSlug] = Field(default_factory=list, max_length=20)
    enabled: bool = True
    min_interval: Interval | None = None
    max_interval: Interval | None = None
    kind: Literal["feed", "html"] | None = Field(
        default=None, description="html: eine Newsroom-Seite ohne Feed; ohne Angabe erkannt (Feed, sonst wiederkehrende Artikelblöcke)"
    )
    extraction: HtmlExtraction | None = Field(default=None, description="Selektoren für kind html (wie [sources.html] in feeds/*.toml)")
    force: bool = Field(default=False, description="auch registrieren, wenn der Testabruf kein Feed liefert")

    @model_validator(mode="after")
    def _extraction_needs_html(self):
        if self.extraction is not None and self.kind != "html":
            raise ValueError("extraction gibt es nur mit kind html")
        return self


class SourceUpdate(_Input):
    """Only the fields given are changed; ``null`` clears title and interval bounds."""

    title: Title | None = None
    # None only stands for "not given" (the route reads the fields set); null itself is refused
    default_topics: list[TopicSlug] = Field(default=None, max_length=20, json_schema_extra=_drop_default)  # type: ignore[arg-type]
    enabled: bool = Field(default=None, json_schema_extra=_drop_default)  # type: ignore[assignment]
    min_interval: Interval | None = None
    max_interval: Interval | None = None
    extraction: HtmlExtraction | None = Field(
        default=None, description="Selektoren einer Newsroom-Seite (kind html); null: die Artikelblöcke bei jedem Abruf erkennen"
    )


class SourceHealth(BaseModel):
    status: states.State = Field(description=states.DESCRIPTION)
    last_checked_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    error_count: int
    last_error_reason: str | None
    last_error_message: str | None = Field(description="warum der letzte Abruf scheiterte, auf Deutsch (die Einzelheiten stehen in /ops)")
    last_http_status: int | None


class SourcePublic(BaseModel):
    id: int
    city: str
    url: str
    title: str | None
    feed_title: str | None
    site_url: str | None
    origin: Origin
    registry_file: str | None
    enabled: bool
    default_topics: list[str]
    min_interval: int | None
    max_interval: int | None
    created_at: datetime | None
    last_manual_refresh_at: datetime | None
    health: SourceHealth
    kind: SourceKind = "feed"
    extraction: dict | None = Field(default=None, description="Selektoren einer HTML-Quelle; null: bei jedem Abruf erkannt")
    expected_delay_seconds: int | None = Field(
        default=None, description="Übliche Verzögerung neuer Meldungen dieser Quelle in Sekunden (docs/freshness.md)"
    )
    freshness: str | None = Field(default=None, description="Dieselbe Angabe in Worten")

    @classmethod
    def of(cls, source: Source, broken_after: float, expected: Expected | None = None) -> SourcePublic:
        """``broken_after``: seconds of failure after which a source counts as broken (``ops_failing_alert_after``);
        ``expected``: the freshness model's usual delay of the source."""
        health = SourceHealth(
            status=states.source_state(source, utcnow(), broken_after),
            last_checked_at=source.last_checked_at,
            last_success_at=source.last_success_at,
            next_check_at=source.next_check_at if source.enabled else None,
            error_count=source.error_count,
            last_error_reason=source.last_error_reason,
            last_error_message=reason_message(source.last_error_reason, source.last_http_status) if source.last_error_reason else None,
            last_http_status=source.last_http_status,
        )
        return cls(
            id=source.id,
            city=source.city.slug,
            url=source.url,
            title=source.title,
            feed_title=source.feed_title,
            site_url=source.site_url,
            origin=cast(Origin, source.origin),
            registry_file=source.registry_file,
            enabled=source.enabled,
            default_topics=list(source.default_topics or []),
            min_interval=source.min_interval,
            max_interval=source.max_interval,
            created_at=source.created_at,
            last_manual_refresh_at=source.last_manual_refresh_at,
            health=health,
            kind=cast(SourceKind, source.kind or "feed"),
            extraction=source.extraction,
            expected_delay_seconds=expected.seconds if expected else None,
            freshness=expected.text if expected else None,
        )


class PreviewPublic(BaseModel):
    feed_title: str
    format: str
    item_count: int
    latest_titles: list[str]
    final_url: str
    site_url: str | None

    @classmethod
    def of(cls, preview: Preview | None) -> PreviewPublic | None:
        return cls(**preview.__dict__) if preview else None


class FetchWarning(BaseModel):
    reason: str
    message: str


class SourceCreated(BaseModel):
    source: SourcePublic
    preview: PreviewPublic | None
    warning: FetchWarning | None = Field(description="warum der Testabruf scheiterte, wenn force gesetzt war")
    refresh_queued: bool


class RefreshQueued(BaseModel):
    source: SourcePublic
    queued: bool = Field(description="false: der Broker war nicht erreichbar; die Quelle ist beim nächsten Beat-Tick dran")


class FetchPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    started_at: datetime
    duration_ms: int
    status: str
    http_status: int | None
    bytes: int
    new_items: int
    updated_items: int
    duplicates: int
    reason: str | None
    message: str | None
    repeats: int = Field(
        1,
        description="identical quiet outcomes (not_modified/unchanged) folded into this row, the first at started_at (duration_ms and bytes are the first's)",
    )
    last_started_at: datetime | None = Field(None, description="the latest attempt of this row: started_at unless repeats > 1")

    @classmethod
    def of(cls, row: FetchLog) -> FetchPublic:
        public = cls.model_validate(row)
        public.message = reason_message(row.reason, row.http_status) if row.reason else None  # German, like every text for cities
        return public


class DiscoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url


class DiscoveredFeed(BaseModel):
    url: str
    title: str | None
    type: FeedType

    @classmethod
    def of(cls, link: FeedLink) -> DiscoveredFeed:
        return cls(url=link.url, title=link.title, type=cast(FeedType, link.type))


class DiscoverResult(BaseModel):
    url: str = Field(description="die Adresse der Seite nach Weiterleitungen")
    feeds: list[DiscoveredFeed]


class ImportResult(BaseModel):
    url: str
    status: Literal["created", "refused"]
    id: int | None
    reason: str | None
    message: str | None


class OpmlImported(BaseModel):
    created: int
    refused: int
    results: list[ImportResult]


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    token_id: int | None
    action: str
    city: str | None
    target_type: str | None
    target_id: int | None
    before: dict | None
    after: dict | None

    @classmethod
    def of(cls, entry: AuditEntry, city: str | None) -> AuditPublic:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            token_id=entry.token_id,
            action=entry.action,
            city=city,
            target_type=entry.target_type,
            target_id=entry.target_id,
            before=entry.before,
            after=entry.after,
        )
