"""The operator summary: sources by health, last beat tick, broker reachability (for CLI, /readyz)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from kombu import Connection
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from syndicate.clock import utcnow
from syndicate.models import Article, BeatTick, Cluster, Source


@dataclass
class Summary:
    sources: dict[str, int] = field(default_factory=dict)
    articles: int = 0
    clusters: int = 0
    last_beat_tick: datetime | None = None
    beat_age_seconds: float | None = None
    failing: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["last_beat_tick"] = self.last_beat_tick.isoformat() if self.last_beat_tick else None
        return data


def summarise(session: Session, now: datetime | None = None) -> Summary:
    now = now or utcnow()
    summary = Summary()
    for source in session.scalars(select(Source)):
        summary.sources[source.health] = summary.sources.get(source.health, 0) + 1
        if source.health == "failing":
            summary.failing.append(
                {"id": source.id, "url": source.url, "reason": source.last_error_reason, "errors": source.error_count,
                 "message": source.last_error_message}
            )
    summary.articles = session.scalar(select(func.count(Article.id))) or 0
    summary.clusters = session.scalar(select(func.count(Cluster.id))) or 0
    tick = session.get(BeatTick, 1)
    if tick is not None:
        summary.last_beat_tick = tick.ticked_at
        summary.beat_age_seconds = round((now - tick.ticked_at).total_seconds(), 1)
    return summary


def check_database(session: Session) -> str | None:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        return f"{exc.__class__.__name__}: {exc}"
    return None


def check_broker(broker_url: str, timeout: float = 3.0) -> str | None:
    try:
        with Connection(broker_url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # kombu raises driver-specific errors
        return f"{exc.__class__.__name__}: {exc}"
    return None
