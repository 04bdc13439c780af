"""Claiming due sources: due ones are returned once, then not again until their check has run."""

from __future__ import annotations

from datetime import timedelta

from syndicate import due
from syndicate.clock import utcnow
from syndicate.models import BeatTick, Source
from tests.conftest import make_source


def test_due_sources_are_claimed_once(session):
    now = utcnow()
    due_source = make_source(session, "http://127.0.0.1:9/a.xml")
    later = make_source(session, "http://127.0.0.1:9/b.xml")
    disabled = make_source(session, "http://127.0.0.1:9/c.xml")
    later.next_check_at = now + timedelta(hours=1)
    disabled.enabled = False
    due_source.next_check_at = disabled.next_check_at = now - timedelta(seconds=1)
    session.commit()

    assert due.claim_due(session, now) == [due_source.id]
    assert due.claim_due(session, now + timedelta(seconds=30)) == []  # a second tick finds nothing
    session.refresh(due_source)
    assert due_source.next_check_at >= now + due.CLAIM_LEASE - timedelta(seconds=1)
    # a claim whose task never ran (worker lost) is due again after the lease
    assert due.claim_due(session, now + due.CLAIM_LEASE + timedelta(seconds=1)) == [due_source.id]


def test_claim_respects_limit_and_order(session):
    now = utcnow()
    sources = [make_source(session, f"http://127.0.0.1:9/{i}.xml") for i in range(5)]
    for offset, source in enumerate(sources):
        source.next_check_at = now - timedelta(minutes=10 - offset)
    session.commit()
    assert due.claim_due(session, now, limit=2) == [sources[0].id, sources[1].id]
    assert due.claim_due(session, now, limit=10) == [s.id for s in sources[2:]]


def test_beat_tick_is_recorded(session):
    now = utcnow()
    due.record_tick(session, now, 7)
    due.record_tick(session, now + timedelta(seconds=5), 3)
    ticks = session.query(BeatTick).all()
    assert len(ticks) == 1 and ticks[0].enqueued == 3
    assert ticks[0].ticked_at == now + timedelta(seconds=5)
    assert session.query(Source).count() == 0
