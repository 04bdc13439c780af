"""Which sources are due, claimed so that a second beat tick or a second beat does not
enqueue them again before a worker has run them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import BeatTick, Source

CLAIM_LEASE = timedelta(minutes=10)


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Ids of due sources; their ``next_check_at`` moves one lease ahead (the refresh sets the real one)."""
    query = (
        select(Source)
        .where(Source.enabled.is_(True), Source.next_check_at <= now)
        .order_by(Source.next_check_at)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    sources = session.scalars(query).all()
    for source in sources:
        source.next_check_at = now + CLAIM_LEASE
    session.commit()
    return [s.id for s in sources]


def record_tick(session: Session, now: datetime, enqueued: int) -> None:
    tick = session.get(BeatTick, 1) or BeatTick(id=1)
    tick.ticked_at, tick.enqueued = now, enqueued
    session.add(tick)
    session.commit()
