"""The freshness model's inputs read from the database: a source's urgency, its bounds and its host's floor,
and the delay a source's new items usually have (shown on /ops and in the API). The model: schedule.py."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.ingest import politeness, push, schedule
from syndicate.models import Source, Topic

if TYPE_CHECKING:
    from syndicate.ingest.refresh import RefreshConfig


@dataclass(frozen=True)
class Expected:
    seconds: int
    text: str  # German, for the press office


def urgent_topics(session: Session) -> set[str]:
    return set(session.scalars(select(Topic.slug).where(Topic.urgent.is_(True))))


def is_urgent(source: Source, urgent: Collection[str]) -> bool:
    """Marked urgent itself, or through one of its default topics."""
    return bool(source.urgent) or any(topic in urgent for topic in source.default_topics or ())


def bounds(source: Source, config: RefreshConfig, urgent: bool) -> tuple[int, int]:
    """The source's own bounds, else the settings'; an urgent source's minimum is the urgent interval."""
    low = source.min_interval or (config.targets.urgent if urgent else config.min_interval)
    return low, source.max_interval or config.max_interval


def host_floors(session: Session, urls: Iterable[str], limits: politeness.HostLimits) -> dict[str, int]:
    """Per host of ``urls``: the shortest interval at which all its enabled sources fit its requests per minute."""
    floors = {}
    for host in {politeness.host_of(url) for url in urls}:
        per_minute = limits.for_host(host)[1]
        if not per_minute or not host:
            continue
        same_host = or_(*(Source.canonical_url.like(f"{scheme}://{host}{end}%") for scheme in ("http", "https") for end in ("/", ":")))
        count = session.scalar(select(func.count()).select_from(Source).where(Source.enabled.is_(True), same_host)) or 0
        floors[host] = schedule.host_floor(count, per_minute)
    return floors


def expected(session: Session, sources: list[Source], config: RefreshConfig) -> dict[int, Expected]:
    """Per source id: the interval of the hours it publishes in (``schedule.expected_delay``), in seconds and in German."""
    urgent, floors = urgent_topics(session), host_floors(session, [s.url for s in sources], config.host_limits)
    pushed = push.pushed(session, [s.id for s in sources], utcnow())
    out = {}
    for source in sources:
        marked = is_urgent(source, urgent)
        low, high = bounds(source, config, marked)
        seconds = schedule.expected_delay(
            schedule.Profile.from_json(source.freshness),
            low=low,
            high=high,
            urgent=marked,
            floor=floors.get(politeness.host_of(source.url), 0),
            pushed=source.id in pushed,
            targets=config.targets,
        )
        out[source.id] = Expected(seconds, schedule.delay_in_german(seconds))
    return out
