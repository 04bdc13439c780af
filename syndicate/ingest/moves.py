"""Permanent redirects: a source moves to the new URL only once the move has been seen consistently.

A single 301 may be a publisher's mistake, so a source follows it only after
``confirmations`` polls in a row saw every hop permanent and ending at the same URL, the
first of them at least ``min_span`` ago (e.g. 3 polls over ≥ 24 h). The old URLs are kept
in ``Source.redirects["history"]`` (and the last one in ``redirected_from``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import Source
from syndicate.reader.normalise import canonical_url

HISTORY = 10


def observe(state: dict | None, target: str | None, now: datetime) -> dict | None:
    """The bookkeeping after one poll whose permanent-redirect target was ``target`` (None: none)."""
    pending = (state or {}).get("pending")
    if target is None:
        return {**state, "pending": None} if state and pending else state
    if pending and pending["url"] == target:
        pending = {**pending, "seen": pending["seen"] + 1, "last_seen": now.isoformat()}
    else:
        pending = {"url": target, "first_seen": now.isoformat(), "last_seen": now.isoformat(), "seen": 1}
    return {**(state or {}), "pending": pending}


def confirmed(state: dict | None, now: datetime, *, confirmations: int, min_span: timedelta) -> str | None:
    pending = (state or {}).get("pending")
    if not pending or pending["seen"] < confirmations:
        return None
    return pending["url"] if now - datetime.fromisoformat(pending["first_seen"]) >= min_span else None


def follow(session: Session, source: Source, target: str | None, now: datetime, *, confirmations: int, min_span: timedelta) -> bool:
    """Record this poll's permanent redirect; move the source when it is confirmed. True when it moved."""
    state = observe(source.redirects, target, now)
    new_url = confirmed(state, now, confirmations=confirmations, min_span=min_span)
    key = canonical_url(new_url) if new_url else None
    taken = key and session.scalar(select(Source.id).where(Source.canonical_url == key, Source.id != source.id))
    if new_url and key and not taken:
        history = ((state or {}).get("history") or [])[-(HISTORY - 1) :]
        history.append({"url": source.url, "moved_to": new_url, "moved_at": now.isoformat()})
        state = {"pending": None, "history": history}
        source.redirected_from, source.url, source.canonical_url = source.url, new_url, key
    if state != source.redirects:
        source.redirects = state
    return bool(key and not taken)
