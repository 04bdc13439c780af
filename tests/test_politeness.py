"""Per-host politeness through the database, publisher hints and the other scheduling rules of a refresh."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.ingest import moves, politeness, refresh
from syndicate.ingest.refresh import refresh_source
from syndicate.models import HostRequest, Source
from syndicate.reader import errors
from syndicate.reader.hints import feed_interval, update_period_seconds
from syndicate.runtime import Runtime
from syndicate.settings import Settings, parse_host_limits
from tests.conftest import make_source

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>a</title></item></channel></rss>'
LIMITS = politeness.HostLimits(concurrency=2, per_minute=5, overrides={"akdb.de": (1, 2)}, busy_retry=10)


def rows(runtime, host: str) -> int:
    with runtime.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(HostRequest).where(HostRequest.host == host))


# ---------------------------------------------------------------- the budget itself


def test_at_most_k_slots_at_once(runtime):
    now = utcnow()
    first, second = (politeness.acquire(runtime.engine, "stadt.muenchen.de", LIMITS, now) for _ in range(2))
    with pytest.raises(errors.HostBusy) as info:
        politeness.acquire(runtime.engine, "stadt.muenchen.de", LIMITS, now)
    assert info.value.reason == "host_busy" and 5 <= info.value.retry_after <= 15
    assert politeness.acquire(runtime.engine, "augsburg.de", LIMITS, now)  # another host has its own budget
    politeness.release(runtime.engine, first, now)
    assert politeness.acquire(runtime.engine, "stadt.muenchen.de", LIMITS, now) not in (None, first, second)


def test_at_most_r_per_minute(runtime):
    start = utcnow()
    for i in range(5):
        slot = politeness.acquire(runtime.engine, "nuernberg.de", LIMITS, start + timedelta(seconds=i))
        politeness.release(runtime.engine, slot, start + timedelta(seconds=i))
    with pytest.raises(errors.HostBusy) as info:
        politeness.acquire(runtime.engine, "nuernberg.de", LIMITS, start + timedelta(seconds=10))
    assert info.value.reason == "host_rate"
    until_oldest_leaves = (politeness.WINDOW - timedelta(seconds=10)).total_seconds()
    assert until_oldest_leaves <= info.value.retry_after <= until_oldest_leaves + 10  # plus jitter
    assert politeness.acquire(runtime.engine, "nuernberg.de", LIMITS, start + timedelta(seconds=62))


def test_per_host_override(runtime):
    now = utcnow()
    politeness.acquire(runtime.engine, "akdb.de", LIMITS, now)
    with pytest.raises(errors.HostBusy):
        politeness.acquire(runtime.engine, "akdb.de", LIMITS, now)  # K=1 for akdb.de


def test_expired_slot_of_a_dead_worker_frees_itself(runtime):
    now = utcnow()
    limits = politeness.HostLimits(concurrency=1, per_minute=0, hold=30)
    politeness.acquire(runtime.engine, "bsi.bund.de", limits, now)  # never released
    with pytest.raises(errors.HostBusy):
        politeness.acquire(runtime.engine, "bsi.bund.de", limits, now + timedelta(seconds=29))
    assert politeness.acquire(runtime.engine, "bsi.bund.de", limits, now + timedelta(seconds=31))


def test_old_rows_are_pruned(runtime):
    start = utcnow()
    limits = politeness.HostLimits(concurrency=1, per_minute=0)
    for minute in range(20):
        at = start + timedelta(minutes=minute)
        politeness.release(runtime.engine, politeness.acquire(runtime.engine, "landshut.de", limits, at), at)
    assert rows(runtime, "landshut.de") <= 7


def test_no_limits_means_no_rows(runtime):
    assert politeness.acquire(runtime.engine, "x.de", politeness.HostLimits(concurrency=0, per_minute=0)) is None
    assert rows(runtime, "x.de") == 0


def test_slots_are_atomic_across_threads(runtime):
    """Sixteen workers asking at the same moment: exactly K get a slot."""
    limits = politeness.HostLimits(concurrency=3, per_minute=0)
    barrier, granted, refused = threading.Barrier(16), [], []

    def worker():
        barrier.wait()
        try:
            granted.append(politeness.acquire(runtime.engine, "regensburg.de", limits))
        except errors.HostBusy:
            refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(granted), len(refused)) == (3, 13)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", {}),
        ("stadt.muenchen.de=4/120", {"stadt.muenchen.de": (4, 120)}),
        (" A.de = 1/10 , b.de=0/0,", {"a.de": (1, 10), "b.de": (0, 0)}),
    ],
    ids=["empty", "one", "spaces-case-zero"],
)
def test_parse_host_limits(value, expected):
    assert parse_host_limits(value) == expected


@pytest.mark.parametrize("value", ["a.de", "a.de=2", "a.de=x/3", "=1/2", "a.de=1/-2"])
def test_bad_host_limits_are_refused_at_startup(value):
    with pytest.raises(ValueError):
        Settings(host_limits=value)


# ---------------------------------------------------------------- through refresh_source


def test_over_budget_source_is_deferred_without_a_request(runtime, session, feed_server):
    route = feed_server.add("/feed.xml", RSS)
    source = make_source(session, feed_server.url("/feed.xml"))
    config = runtime.refresh_config
    held = [politeness.acquire(runtime.engine, "127.0.0.1", config.host_limits) for _ in range(config.host_limits.concurrency)]
    now = utcnow()

    outcome = refresh_source(session, runtime.client, source.id, config, now=now)

    assert (outcome.status, outcome.reason, outcome.http_status) == ("deferred", "host_busy", None)
    assert route.hits == 0
    session.expire_all()
    row = session.get(Source, source.id)
    assert row.error_count == 0 and row.last_error_reason is None
    assert row.next_check_at <= now + timedelta(seconds=1.5 * config.host_limits.busy_retry)
    for slot in held:
        politeness.release(runtime.engine, slot)
    assert refresh_source(session, runtime.client, source.id, config).status == "new"
    assert rows(runtime, "127.0.0.1") == config.host_limits.concurrency + 1  # the held ones and the real request's
    with runtime.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(HostRequest).where(HostRequest.finished_at.is_(None))) == 0


def test_many_threads_never_exceed_k_connections(settings, feed_server, monkeypatch):
    """30 sources on one host, 6 threads polling them: the server never sees more than K at once."""
    rt = Runtime(settings.model_copy(update={"host_concurrency": 2, "host_rate_per_minute": 0, "host_busy_retry": 0.02}))
    for i in range(30):
        feed_server.add(f"/f{i}.xml", RSS, delay=0.02)
    with rt.sessions() as s:
        ids = [make_source(s, feed_server.url(f"/f{i}.xml"), city="muenchen").id for i in range(30)]
    outcomes, lock = {}, threading.Lock()

    def worker(mine: list[int]):
        with rt.sessions() as s:
            pending = list(mine)
            while pending:
                source_id = pending.pop(0)
                outcome = refresh_source(s, rt.client, source_id, rt.refresh_config)
                if outcome.status == "deferred":
                    pending.append(source_id)
                    time.sleep(0.01)
                with lock:
                    outcomes[source_id] = outcome.status

    threads = [threading.Thread(target=worker, args=(ids[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rt.close()
    assert set(outcomes.values()) == {"new"} and len(outcomes) == 30
    # requests being answered at once; a connection's teardown after its answer was written (which
    # ``max_active`` also counts) can overlap the next request under load without breaking the budget
    assert 1 <= feed_server.max_in_flight <= 2


# ---------------------------------------------------------------- publisher hints and identification


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"<sy:updatePeriod>daily</sy:updatePeriod>", 86400),
        (b"<sy:updatePeriod> hourly </sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 1800),
        (b"<syn:updatePeriod>weekly</syn:updatePeriod>", 7 * 86400),
        (b"<sy:updateFrequency>4</sy:updateFrequency>", None),
        (b"<sy:updatePeriod>sometimes</sy:updatePeriod>", None),
        (b"<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>0</sy:updateFrequency>", None),
        (b"<item><sy:updatePeriod>yearly</sy:updatePeriod></item>", None),  # inside an item: not the feed's
    ],
    ids=["daily", "hourly-twice", "other-prefix", "frequency-alone", "unknown-period", "zero-frequency", "in-item"],
)
def test_update_period(head, expected):
    doc = b'<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
    assert update_period_seconds(doc + head + b"</channel></rss>") == expected


def test_feed_interval_takes_the_longest_hint():
    doc = b"<rss><channel><sy:updatePeriod>hourly</sy:updatePeriod></channel></rss>"
    assert feed_interval(doc, ttl_minutes=120) == 7200
    assert feed_interval(doc, ttl_minutes=None) == 3600
    assert feed_interval(b"<rss/>", ttl_minutes=None) is None


@pytest.mark.parametrize(
    "channel, expected",
    [
        ("<ttl>30</ttl>", 1800),
        ("<ttl>180</ttl>", 3600),  # a source without history: a hint lengthens up to an hour (docs/freshness.md)
        ("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 3600),
        ("<ttl>1</ttl>", 600),  # a short ttl never shortens: the default interval (no dated items) stays
    ],
    ids=["ttl", "ttl-capped", "sy-update-period", "short-ttl"],
)
def test_feed_hints_lengthen_the_interval(runtime, session, feed_server, channel, expected):
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>t</title>{channel}<item><guid>1</guid><title>a</title></item></channel></rss>"
    )
    feed_server.add("/feed.xml", body)
    source = make_source(session, feed_server.url("/feed.xml"))
    now = utcnow()
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=now).status == "new"
    session.expire_all()
    row = session.get(Source, source.id)
    assert row.current_interval == expected and row.next_check_at == now + timedelta(seconds=expected)


def test_expires_header_lengthens_the_interval_up_to_the_cap(runtime, session, feed_server):
    from email.utils import format_datetime

    feed_server.add("/feed.xml", RSS, headers={"Expires": format_datetime(utcnow() + timedelta(hours=3), usegmt=True)})
    source = make_source(session, feed_server.url("/feed.xml"))
    now = utcnow()
    refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=now)
    session.expire_all()
    delay = (session.get(Source, source.id).next_check_at - now).total_seconds()
    assert delay == 3600  # three hours asked for; a source without history: up to an hour (docs/freshness.md)


def test_user_agent_names_version_and_contact(runtime, session, feed_server):
    from syndicate import __version__

    route = feed_server.add("/feed.xml", RSS)
    source = make_source(session, feed_server.url("/feed.xml"))
    refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    agent = route.seen_headers[0]["user-agent"]
    assert agent.startswith(f"syndicate/{__version__} (+{runtime.settings.contact_url}")
    assert Settings(user_agent="Custom/1.0").http_user_agent == "Custom/1.0"


def test_unchanged_body_is_not_parsed_and_keeps_the_interval(runtime, session, feed_server, monkeypatch):
    feed_server.add("/feed.xml", RSS, headers={"Cache-Control": "max-age=1800"})
    source = make_source(session, feed_server.url("/feed.xml"))
    refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    calls = []
    monkeypatch.setattr(refresh, "parse_feed", lambda *a, **k: calls.append(a))
    now = utcnow()
    assert refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=now).status == "unchanged"
    session.expire_all()
    assert calls == [] and session.get(Source, source.id).next_check_at == now + timedelta(seconds=1800)


# ---------------------------------------------------------------- permanent redirects (pure bookkeeping)


def test_redirect_must_be_consistent():
    t0 = utcnow()
    span, need = timedelta(hours=24), 3
    state = moves.observe(None, "https://neu.example/rss", t0)
    state = moves.observe(state, "https://neu.example/rss", t0 + timedelta(hours=12))
    state = moves.observe(state, "https://neu.example/rss", t0 + timedelta(hours=20))
    assert moves.confirmed(state, t0 + timedelta(hours=20), confirmations=need, min_span=span) is None  # < 24 h
    state = moves.observe(state, "https://neu.example/rss", t0 + timedelta(hours=25))
    assert moves.confirmed(state, t0 + timedelta(hours=25), confirmations=need, min_span=span) == "https://neu.example/rss"
    assert moves.observe(state, "https://anders.example/rss", t0)["pending"]["seen"] == 1  # another target: from scratch
    assert moves.observe(state, None, t0)["pending"] is None  # a poll without the redirect: from scratch
    assert moves.observe(None, None, t0) is None  # nothing to keep for a source that never moved


# ---------------------------------------------------------------- failing for long: broken, never disabled


@pytest.mark.slow
def test_long_failing_source_is_broken_still_enabled_and_listed(runtime, session, feed_server, settings):
    from syndicate.ops import status
    from tests.support.cli import json_lines, syndicate

    feed_server.add("/kaputt.xml", b"Fehler", status=500)
    source = make_source(session, feed_server.url("/kaputt.xml"))
    t0 = utcnow() - timedelta(hours=7)
    for at in (t0, t0 + timedelta(hours=3), utcnow()):
        assert refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=at).status == "error"
    session.expire_all()
    row = session.get(Source, source.id)
    assert row.enabled and row.error_count == 3 and row.first_error_at == t0
    assert row.next_check_at > utcnow()  # backing off, never given up
    assert status.source_state(row, utcnow(), 6 * 3600) == "broken"
    assert status.source_state(row, utcnow(), 8 * 3600) == "failing"

    listed = syndicate(settings, "sources", "list", "--json", SYNDICATE_OPS_FAILING_ALERT_AFTER=str(6 * 3600))
    assert listed.returncode == 0, listed.stderr
    assert [(line["health"], line["last_error_reason"]) for line in json_lines(listed.stdout)] == [("broken", "http_5xx")]
