"""What the console's source pages show: a principal's sources grouped by city with their state from the
one state model (ops.states), and the fetch log with each reason explained for a city, with what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from syndicate.access.tokens import Principal
from syndicate.errors import german, reason_message
from syndicate.ingest.refresh import RefreshConfig
from syndicate.models import Article, City, FetchLog, Source, Topic
from syndicate.ops.states import LABELS, source_state
from syndicate.reader.discover import FeedLink
from syndicate.reader.errors import NotAFeed, SyndicateError
from syndicate.sources import service

# What a city can do about a failed check, by reason code; reasons not listed get GENERIC_ADVICE.
ADVICE = {
    "http_404": "Die Adresse gibt es nicht mehr. Prüfen Sie, ob der Feed umgezogen ist, und registrieren Sie die neue Adresse.",
    "http_410": "Die Adresse gibt es nicht mehr. Prüfen Sie, ob der Feed umgezogen ist, und registrieren Sie die neue Adresse.",
    "http_401": "Der Feed ist nicht öffentlich. Bitten Sie Ihre Web-Redaktion, ihn ohne Anmeldung freizugeben.",
    "http_403": "Der Server lässt uns nicht zu. Bitten Sie Ihre Web-Redaktion, unseren Abruf nicht zu sperren.",
    "selectors_matched_nothing": "Die Seite wurde umgestaltet. Registrieren Sie die Seite neu, damit die Meldungen wieder erkannt werden.",
    "rate_limited": "Ihr Server bittet um Pausen. Wir halten uns daran; wenn das oft vorkommt, sprechen Sie mit Ihrer Web-Redaktion.",
    "tls": "Das Zertifikat Ihres Servers ist ungültig oder abgelaufen. Bitten Sie Ihre IT, es zu erneuern.",
    "dns": "Den Servernamen gibt es nicht. Prüfen Sie die Adresse auf Tippfehler.",
    "timeout": "Ihr Server antwortet zu langsam. Wenn das anhält, sprechen Sie mit Ihrer IT.",
    "connect": "Ihr Server ist nicht erreichbar. Wenn das anhält, sprechen Sie mit Ihrer IT.",
    "not_a_feed": "Unter der Adresse steht kein Feed mehr. Prüfen Sie, ob der Feed umgezogen ist.",
    "parse_error": "Der Feed ist fehlerhaft. Bitten Sie Ihre Web-Redaktion, ihn zu prüfen.",
    "too_large": "Der Feed ist zu groß. Bitten Sie Ihre Web-Redaktion, weniger Meldungen darin aufzuführen.",
}
WEEK = timedelta(days=7)
GENERIC_ADVICE = "Wir versuchen es automatisch wieder. Wenn der Fehler bleibt, wenden Sie sich an den Betrieb."


@dataclass(frozen=True)
class SourceRow:
    source: Source
    state: str
    label: str
    per_week: int = 0  # items first seen in the last seven days


@dataclass(frozen=True)
class CityGroup:
    city: City
    sources: list[SourceRow]


@dataclass(frozen=True)
class FetchRow:
    entry: FetchLog
    explanation: str | None
    advice: str | None


def row(source: Source, now: datetime, broken_after: float, per_week: int = 0) -> SourceRow:
    state = source_state(source, now, broken_after)
    return SourceRow(source, state, LABELS[state], per_week)


def items_per_week(session: Session, source_ids: list[int], now: datetime) -> dict[int, int]:
    """Items first seen in the last seven days, per source."""
    if not source_ids:
        return {}
    query = (
        select(Article.source_id, func.count())
        .where(Article.source_id.in_(source_ids), Article.first_seen_at >= now - WEEK)
        .group_by(Article.source_id)
    )
    return {row[0]: row[1] for row in session.execute(query).all()}


def overview(session: Session, principal: Principal, now: datetime, broken_after: float) -> list[CityGroup]:
    """The sources the principal may see (a city: its own; an operator: all), grouped by city."""
    query = select(Source).options(joinedload(Source.city)).order_by(Source.city_id, Source.id)
    if not principal.is_operator:
        query = query.where(Source.city_id == principal.city_id)
    groups: dict[int, CityGroup] = {}
    sources = list(session.scalars(query))
    counts = items_per_week(session, [source.id for source in sources], now)
    for source in sources:
        group = groups.setdefault(source.city_id, CityGroup(source.city, []))
        group.sources.append(row(source, now, broken_after, counts.get(source.id, 0)))
    return sorted(groups.values(), key=lambda group: group.city.name)


def cities(session: Session, principal: Principal) -> list[City]:
    """The cities the principal may register sources for."""
    query = select(City).order_by(City.name)
    if not principal.is_operator:
        query = query.where(City.id == principal.city_id)
    return list(session.scalars(query))


def source_counts(session: Session) -> dict[int, int]:
    """Sources per city id."""
    query = select(Source.city_id, func.count()).group_by(Source.city_id)
    return {row[0]: row[1] for row in session.execute(query).all()}


def topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.title)))


def explain(entries: list[FetchLog]) -> list[FetchRow]:
    rows = []
    for entry in entries:
        if entry.status == "ok" or entry.reason is None:
            rows.append(FetchRow(entry, None, None))
        else:
            rows.append(FetchRow(entry, reason_message(entry.reason, entry.http_status), ADVICE.get(entry.reason, GENERIC_ADVICE)))
    return rows


# ---------------------------------------------------------------- "Prüfen": what an address offers, before registering

REFUSED_ADVICE = {
    "invalid_url": "Bitte geben Sie eine vollständige Adresse an, die mit https:// beginnt.",
    "blocked_address": "Diese Adresse ist nicht öffentlich erreichbar. Bitte geben Sie die öffentliche Adresse Ihres Newsrooms an.",
    "not_a_feed": "Geben Sie die Adresse Ihrer Pressemitteilungen an, am besten die des RSS-Feeds.",
}


@dataclass(frozen=True)
class Finding:
    """What the test fetch found: ``kind`` is feed, html (a newsroom page with article blocks), advertises, or refused."""

    kind: str
    url: str
    preview: service.Preview | None = None
    feeds: list[FeedLink] = field(default_factory=list)
    selectors: dict | None = None
    reason: str | None = None
    message: str | None = None
    advice: str | None = None


def examine(client: httpx.Client, url: str, config: RefreshConfig) -> Finding:
    """Look at ``url`` as registering it would (the service's detection and test fetch), changing nothing."""
    try:
        found = service.detect_source(client, url, config)
        if found.is_feed:
            return Finding("feed", found.url, preview=service.preview(client, found.url, config))
        if found.feeds:
            return Finding("advertises", found.url, feeds=found.feeds)
        if found.selectors is not None:
            selectors = found.selectors.as_dict()
            return Finding("html", found.url, preview=service.preview(client, url, config, selectors, html=True), selectors=selectors)
        raise NotAFeed("no feed and no article blocks")
    except SyndicateError as exc:
        advice = REFUSED_ADVICE.get(exc.reason) or ADVICE.get(exc.reason, GENERIC_ADVICE)
        return Finding("refused", url, reason=exc.reason, message=german(exc), advice=advice)
