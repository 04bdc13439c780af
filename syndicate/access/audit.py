"""The audit log: who (token or CLI), what, when, before and after.

``record`` adds an entry to the caller's session, so the entry is committed together with
the change it describes, or not at all.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import AuditEntry, City, Source

SOURCE_FIELDS = ("url", "title", "enabled", "default_topics", "min_interval", "max_interval", "origin", "extraction")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    city_id: int | None,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
    token_id: int | None = None,
) -> AuditEntry:
    if token_id is None and actor.startswith("token:"):
        token_id = int(actor.split()[0].removeprefix("token:"))
    entry = AuditEntry(
        actor=actor[:200],
        action=action,
        city_id=city_id,
        token_id=token_id,
        target_type=target.__tablename__ if target is not None else None,
        target_id=target.id if target is not None else None,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def snapshot(source: Source) -> dict:
    """The fields of a source that a city can change, as the audit log keeps them."""
    return {name: getattr(source, name) for name in SOURCE_FIELDS}


def entries(
    session: Session, *, city: str | None = None, action: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[tuple[AuditEntry, str | None]]:
    """Newest first, as (entry, city slug); ``before_id`` pages further back."""
    query = select(AuditEntry, City.slug).outerjoin(City, AuditEntry.city_id == City.id)
    if city is not None:
        query = query.where(City.slug == city)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return [(entry, slug) for entry, slug in session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))]
