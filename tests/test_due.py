"""Claiming due sources and the leases behind it (syndicate/ingest/due.py), on the test database
(SQLite, or PostgreSQL when SYNDICATE_TEST_DATABASE_URL is set): a due source goes to one claim,
one runner at a time; a lease that nobody renews runs out; lost messages are claimed again."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from syndicate.clock import utcnow
from syndicate.ingest import due
from syndicate.models import BeatTick, FetchLog, Source
from tests.conftest import make_source

RUN = timedelta(seconds=30)


def due_sources(session, n: int, now) -> list[Source]:
    sources = [make_source(session, f"http://127.0.0.1:9/{i}.xml") for i in range(n)]
    for offset, source in enumerate(sources):
        source.next_check_at = now - timedelta(minutes=10, seconds=-offset)
    session.commit()
    return sources


def lease_of(session, source_id: int) -> tuple:
    session.expire_all()
    source = session.get(Source, source_id)
    return source.lease_state, source.lease_token, source.lease_until


def test_due_sources_are_claimed_once(session):
    now = utcnow()
    due_source = make_source(session, "http://127.0.0.1:9/a.xml")
    later = make_source(session, "http://127.0.0.1:9/b.xml")
    disabled = make_source(session, "http://127.0.0.1:9/c.xml")
    later.next_check_at = now + timedelta(hours=1)
    disabled.enabled = False
    due_source.next_check_at = disabled.next_check_at = now - timedelta(seconds=1)
    session.commit()

    claim = due.claim_due(session, now)
    assert claim.ids == [due_source.id]
    assert lease_of(session, due_source.id) == (due.QUEUED, claim.token, now + due.QUEUED_LEASE)
    assert session.get(Source, due_source.id).next_check_at == now - timedelta(seconds=1)  # only the refresh schedules
    assert due.claim_due(session, now + timedelta(seconds=30)).ids == []  # a second tick finds nothing
    # a claim whose message never arrived (and the queue never looked empty) is due again after the lease
    again = due.claim_due(session, now + due.QUEUED_LEASE + timedelta(seconds=1))
    assert again.ids == [due_source.id] and again.token != claim.token


def test_claim_respects_limit_and_order(session):
    now = utcnow()
    sources = due_sources(session, 5, now)
    assert due.claim_due(session, now, limit=2).ids == [sources[0].id, sources[1].id]
    assert due.claim_due(session, now, limit=10).ids == [s.id for s in sources[2:]]


def test_concurrent_claimers_never_get_the_same_source(runtime, session):
    """Four beats at once (one session and connection each) split 120 due sources without overlap."""
    now = utcnow()
    ids = {s.id for s in due_sources(session, 120, now)}
    start, claims = threading.Barrier(4), [[] for _ in range(4)]

    def beat(k: int) -> None:
        with runtime.sessions() as own:
            start.wait()
            while batch := due.claim_due(own, now, limit=7).ids:
                claims[k] += batch

    threads = [threading.Thread(target=beat, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [source_id for batch in claims for source_id in batch]
    assert sorted(claimed) == sorted(ids)  # every source once: none twice, none missed
    assert sum(1 for batch in claims if batch) >= 2  # the beats really ran side by side


def test_run_lease_refuses_a_second_runner(runtime, session):
    now = utcnow()
    source = due_sources(session, 1, now)[0]
    claim = due.claim_due(session, now)
    runner = due.RunLease(runtime.engine, source.id, claim.token, RUN)
    assert runner.take(now)
    assert lease_of(session, source.id) == (due.RUNNING, claim.token, now + RUN)
    assert not due.RunLease(runtime.engine, source.id, claim.token, RUN).take(now)  # the same message twice
    assert not due.RunLease(runtime.engine, source.id, None, RUN).take(now)  # a manual refresh meanwhile
    assert not due.RunLease(runtime.engine, source.id, due.new_token(), RUN).take(now)  # another claim's message
    assert due.claim_due(session, now + timedelta(seconds=5)).ids == []  # nor is it claimed again

    source.next_check_at = now + timedelta(minutes=15)  # what the refresh does
    session.commit()
    runner.release()
    assert lease_of(session, source.id) == (None, None, None)
    assert not due.RunLease(runtime.engine, source.id, claim.token, RUN).take(now)  # stale: done and not due
    assert due.RunLease(runtime.engine, source.id, None, RUN).take(now)  # a manual refresh takes a free source


def test_a_group_takes_its_leases_in_one_transaction_each_on_its_own_terms(runtime, session):
    from sqlalchemy import event

    now = utcnow()
    first, second, third = due_sources(session, 3, now)
    claim = due.claim_due(session, now)
    assert due.RunLease(runtime.engine, second.id, claim.token, RUN).take(now)  # another worker runs this one
    commits = []

    def committed(connection):
        commits.append(connection)

    event.listen(runtime.engine, "commit", committed)
    leases = [due.RunLease(runtime.engine, s.id, claim.token, RUN) for s in (first, second, third)]

    assert due.take_all(leases, now) == [True, False, True]

    assert len(commits) == 1  # one wait for SQLite's write lock, not three
    event.remove(runtime.engine, "commit", committed)
    session.expire_all()
    assert [lease_of(session, s.id)[:2] for s in (first, third)] == [(due.RUNNING, claim.token)] * 2
    assert lease_of(session, second.id)[0] == due.RUNNING and due.take_all([], now) == []


def test_expired_run_lease_is_claimed_again(runtime, session):
    """kill -9: the runner stops renewing; the next tick after the lease ran out claims the source."""
    now = utcnow()
    source = due_sources(session, 1, now)[0]
    killed = due.RunLease(runtime.engine, source.id, due.claim_due(session, now).token, RUN)
    assert killed.take(now)
    assert due.claim_due(session, now + RUN - timedelta(seconds=1)).ids == []
    claim = due.claim_due(session, now + RUN + timedelta(seconds=1))
    assert claim.ids == [source.id]
    assert due.RunLease(runtime.engine, source.id, claim.token, RUN).take(now + RUN + timedelta(seconds=2))
    # a runner that comes back to life touches nothing of the new run
    assert not killed.renew(now + RUN + timedelta(seconds=3))
    killed.release()
    assert lease_of(session, source.id)[:2] == (due.RUNNING, claim.token)


def test_renewal_keeps_the_lease_alive(runtime, session):
    now = utcnow()
    source = due_sources(session, 1, now)[0]
    short = timedelta(seconds=0.9)  # renewed every 0.3 s
    lease = due.RunLease(runtime.engine, source.id, due.claim_due(session, now).token, short)
    assert lease.take(utcnow())
    with lease.renewed():
        time.sleep(2.0)  # more than twice the lease
        assert not due.RunLease(runtime.engine, source.id, None, short).take(utcnow())
        assert lease_of(session, source.id)[2] > utcnow()
    lease.release()
    assert lease_of(session, source.id) == (None, None, None)

    unrenewed = due.RunLease(runtime.engine, source.id, None, short)
    assert unrenewed.take(utcnow())
    time.sleep(1.0)
    assert due.RunLease(runtime.engine, source.id, None, short).take(utcnow())  # ran out: taken over


def test_one_renewal_thread_keeps_several_leases_alive_and_stops_renewing_a_released_one(runtime, session):
    now = utcnow()
    sources = due_sources(session, 3, now)
    short = timedelta(seconds=0.9)
    token = due.claim_due(session, now).token
    leases = [due.RunLease(runtime.engine, s.id, token, short) for s in sources]
    assert all(lease.take(utcnow()) for lease in leases)
    with leases[0].renewed(), leases[1].renewed():
        with leases[2].renewed():
            time.sleep(0.2)
        leases[2].release()
        threads = [t.name for t in threading.enumerate() if t.name.startswith("lease")]
        time.sleep(2.0)  # more than twice the lease
        for lease in leases[:2]:
            assert not due.RunLease(runtime.engine, lease.source_id, None, short).take(utcnow())  # still held
            assert lease_of(session, lease.source_id)[2] > utcnow()
    assert threads == ["lease-renewal"]  # one thread for all, not one per poll
    assert lease_of(session, leases[2].source_id) == (None, None, None)  # released and not renewed again
    for lease in leases[:2]:
        lease.release()
    time.sleep(1.0)
    assert all(lease_of(session, lease.source_id) == (None, None, None) for lease in leases)


def test_lost_queued_claims_are_claimed_again_when_the_queue_is_empty(runtime, session):
    """A broker restarted without persistence: the queue is empty, the claims are still queued."""
    now = utcnow()
    sources = due_sources(session, 3, now)
    lost = due.claim_due(session, now)
    assert due.RunLease(runtime.engine, sources[0].id, lost.token, RUN).take(now)  # this one reached a worker
    # a queue seen empty before the claim says nothing about its messages
    assert due.claim_due(session, now + timedelta(seconds=5), lost_before=now - timedelta(seconds=1)).ids == []
    again = due.claim_due(session, now + timedelta(seconds=5), lost_before=now + timedelta(seconds=4))
    assert again.ids == [sources[1].id, sources[2].id]  # not the running one
    # a late message of the lost claim is refused; the new claim's runs
    assert not due.RunLease(runtime.engine, sources[1].id, lost.token, RUN).take(now + timedelta(seconds=6))
    assert due.RunLease(runtime.engine, sources[1].id, again.token, RUN).take(now + timedelta(seconds=6))


def test_failed_run_is_handed_back_or_backed_off(runtime, session):
    now = utcnow()
    first, second = due_sources(session, 2, now)
    claim = due.claim_due(session, now)
    retried = due.RunLease(runtime.engine, first.id, claim.token, RUN)
    crashed = due.RunLease(runtime.engine, second.id, claim.token, RUN)
    assert retried.take(now) and crashed.take(now)
    retried.fail(now, retrying=True)
    crashed.fail(now, retrying=False)
    assert lease_of(session, first.id) == (due.QUEUED, claim.token, now + due.QUEUED_LEASE)
    assert due.RunLease(runtime.engine, first.id, claim.token, RUN).take(now + timedelta(seconds=4))  # the retry runs
    assert lease_of(session, second.id) == (None, None, None)
    assert session.get(Source, second.id).next_check_at == now + due.FAILED_RUN_DELAY  # not every tick


def test_refresh_task_runs_under_the_lease(runtime, session, feed_server, monkeypatch):
    """The Celery task (called in this process): one run per claim; a duplicate message is skipped."""
    from workers import tasks

    monkeypatch.setattr(tasks, "_runtime", runtime)
    route = feed_server.add(
        "/a.xml",
        '<rss version="2.0"><channel><title>A</title><item><guid>1</guid>'
        "<title>Eins</title><link>https://a.example/1</link></item></channel></rss>",
        headers={"Content-Type": "application/rss+xml"},
    )
    source = make_source(session, feed_server.url("/a.xml"))
    source.next_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    claim = due.claim_due(session, utcnow())
    assert claim.ids == [source.id]

    blocker = due.RunLease(runtime.engine, source.id, claim.token, RUN)
    assert blocker.take(utcnow())  # another worker got the message first
    assert tasks.refresh_source.run(source.id, claim.token)["status"] == "skipped"
    assert route.hits == 0
    blocker.fail(utcnow(), retrying=True)  # … and gave it back for a retry

    assert tasks.refresh_source.run(source.id, claim.token)["status"] == "new"
    assert lease_of(session, source.id) == (None, None, None)
    assert tasks.refresh_source.run(source.id, claim.token)["status"] == "skipped"  # redelivered: done already
    assert route.hits == 1
    assert session.query(FetchLog).filter_by(source_id=source.id).count() == 1


def test_claimed_ids_go_out_in_batches_small_when_few_are_due():
    ids = list(range(10_000))
    assert [len(b) for b in due.batches(ids, 20)] == [20] * 500
    assert sum(due.batches(ids, 20), []) == ids  # every id once, in order
    assert due.batches(list(range(64)), 20) == [[i, i + 1] for i in range(0, 64, 2)]
    assert due.batches([5, 6, 7], 20) == [[5], [6], [7]]
    assert [len(b) for b in due.batches(list(range(200)), 20)] == [6] * 33 + [2]
    assert due.batches(list(range(800)), 20)[-1] == list(range(780, 800))
    assert due.batches([], 20) == []


def test_batches_hold_whole_groups_so_no_worker_stores_a_short_remainder():
    assert [len(b) for b in due.batches(list(range(200)), 20, group=4)] == [4] * 50  # not 6 + 6 + …: stored as 4 + 2
    assert sum(due.batches(list(range(203)), 20, group=4), []) == list(range(203))
    assert [len(b) for b in due.batches(list(range(203)), 20, group=4)][-1] == 3
    assert [len(b) for b in due.batches(list(range(400)), 20, group=4)] == [12] * 33 + [4]  # 400 // 32 = 12: three groups
    assert [len(b) for b in due.batches(list(range(10_000)), 20, group=4)] == [20] * 500
    assert due.batches([5, 6, 7], 20, group=4) == [[5], [6], [7]]  # a few due: one message each, as before
    assert [len(b) for b in due.batches(list(range(100)), 2, group=4)] == [2] * 50  # never above the message size


def test_batch_task_polls_each_source_under_its_own_lease(runtime, session, feed_server, monkeypatch):
    from workers import tasks

    monkeypatch.setattr(tasks, "_runtime", runtime)
    item = (
        '<rss version="2.0"><channel><title>{n}</title><item><guid>{n}</guid><title>Meldung {n}</title>'
        "<link>https://a.example/{n}</link></item></channel></rss>"
    )
    routes = [feed_server.add(f"/{n}.xml", item.format(n=n), headers={"Content-Type": "application/rss+xml"}) for n in range(4)]
    sources = [make_source(session, feed_server.url(f"/{n}.xml")) for n in range(4)]
    for source in sources:
        source.next_check_at = utcnow() - timedelta(seconds=1)
    session.commit()
    claim = due.claim_due(session, utcnow())
    ids = [s.id for s in sources]
    assert sorted(claim.ids) == sorted(ids)
    blocker = due.RunLease(runtime.engine, ids[1], claim.token, RUN)
    assert blocker.take(utcnow())  # another worker runs source 1 already

    assert tasks.refresh_sources.run(ids, claim.token) == {"new": 3, "skipped": 1}
    assert [r.hits for r in routes] == [1, 0, 1, 1]
    assert [lease_of(session, i) for i in ids if i != ids[1]] == [(None, None, None)] * 3
    assert tasks.refresh_sources.run(ids, claim.token) == {"skipped": 4}  # a redelivered message polls nothing
    assert [r.hits for r in routes] == [1, 0, 1, 1]

    # over its time budget, a batch hands the sources it has not started to a new message (same claim)
    blocker.fail(utcnow(), retrying=True)
    sent = []
    monkeypatch.setattr(tasks.refresh_sources, "apply_async", lambda args: sent.append(args))
    monkeypatch.setattr(runtime.settings, "batch_budget", 1e-6)
    monkeypatch.setattr(runtime.settings, "refresh_group", 1)  # the budget is looked at between groups
    extra = make_source(session, feed_server.url("/3.xml").replace("3.xml", "3.xml?x"))
    assert tasks.refresh_sources.run([ids[1], extra.id], claim.token) == {"new": 1, "handed_on": 1}
    assert sent == [([extra.id], claim.token)] and routes[1].hits == 1


def test_a_crash_in_one_source_of_a_batch_does_not_cost_the_others_their_poll(runtime, session, feed_server, monkeypatch, caplog):
    from syndicate.ingest import refresh
    from workers import tasks

    monkeypatch.setattr(tasks, "_runtime", runtime)
    item = (
        '<rss version="2.0"><channel><title>{n}</title><item><guid>{n}</guid><title>Meldung {n}</title>'
        "<link>https://a.example/{n}</link></item></channel></rss>"
    )
    for n in range(3):
        feed_server.add(f"/c{n}.xml", item.format(n=n), headers={"Content-Type": "application/rss+xml"})
    sources = [make_source(session, feed_server.url(f"/c{n}.xml")) for n in range(3)]
    now = utcnow()
    for source in sources:
        source.next_check_at = now - timedelta(seconds=1)
    session.commit()
    claim = due.claim_due(session, now)
    ids = [s.id for s in sources]
    real = refresh._poll

    def crashing(session, client, source_id, config, now, *ahead):
        if source_id == ids[1]:
            raise KeyError("a bug met by this source only")
        return real(session, client, source_id, config, now, *ahead)

    monkeypatch.setattr(refresh, "_poll", crashing)  # the group fails; its sources run again one by one
    assert tasks.refresh_sources.run(ids, claim.token) == {"new": 2, "crashed": 1}
    assert "status=crashed" in caplog.text and "KeyError" in caplog.text
    crashed = lease_of(session, ids[1])
    assert crashed == (None, None, None) and session.get(Source, ids[1]).next_check_at >= now + due.FAILED_RUN_DELAY
    assert [session.get(Source, i).last_success_at is not None for i in ids] == [True, False, True]


def test_a_batch_out_of_time_stops_instead_of_going_on(runtime, session, monkeypatch):
    """The soft time limit ends the batch (the source it hit is backed off); it is not one source's crash."""
    from celery.exceptions import SoftTimeLimitExceeded

    from syndicate.ingest import refresh
    from workers import tasks

    monkeypatch.setattr(tasks, "_runtime", runtime)
    now = utcnow()
    first, second = due_sources(session, 2, now)
    claim = due.claim_due(session, now)
    polled = []

    def out_of_time(session, client, source_id, config, now, *ahead):
        polled.append(source_id)
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(refresh, "_poll", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        tasks.refresh_sources.run([first.id, second.id], claim.token)
    assert polled == [first.id]
    assert lease_of(session, first.id) == (None, None, None)
    assert lease_of(session, second.id)[:2] == (due.QUEUED, claim.token)  # claimed again once its queued lease runs out


def test_beat_tick_is_recorded(session):
    now = utcnow()
    due.record_tick(session, now, 7)
    due.record_tick(session, now + timedelta(seconds=5), 3)
    ticks = session.query(BeatTick).all()
    assert len(ticks) == 1 and ticks[0].enqueued == 3
    assert ticks[0].ticked_at == now + timedelta(seconds=5)
    assert session.query(Source).count() == 0


def test_refresh_tasks_route_to_the_refresh_queue_with_limits_above_their_work():
    import celeryconfig
    from syndicate.settings import get_settings
    from workers import app
    from workers.tasks import refresh_source, refresh_sources

    settings = get_settings()
    for name in ("syndicate.refresh_source", "syndicate.refresh_sources"):
        assert app.amqp.router.route({}, name)["queue"].name == "refresh"
    for name in ("syndicate.websub_deliver", "syndicate.maintenance", "syndicate.enqueue_due"):
        assert app.amqp.router.route({}, name)["queue"].name != "refresh"  # a refresh flood never starves them
    assert app.conf.task_soft_time_limit > 2 * settings.fetch_deadline and app.conf.task_time_limit > app.conf.task_soft_time_limit
    assert refresh_sources.soft_time_limit >= settings.batch_budget + app.conf.task_soft_time_limit
    assert refresh_sources.time_limit > refresh_sources.soft_time_limit
    assert refresh_sources.time_limit + celeryconfig.RETRY_BACKOFF_MAX < celeryconfig.VISIBILITY_TIMEOUT
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost and app.conf.worker_prefetch_multiplier == 1
    assert refresh_source.autoretry_for and refresh_sources.autoretry_for and refresh_sources.retry_jitter


def test_every_declared_queue_has_a_task_and_the_same_queues_are_declared_watched_and_served():
    """No queue without a task: operators are told to run workers for the queues declared here."""
    import celeryconfig
    from syndicate.cli.up import CELERY_QUEUES
    from syndicate.ops.queues import QUEUES
    from workers import app

    app.loader.import_default_modules()  # registers the tasks of workers/
    declared = {queue.name for queue in celeryconfig.task_queues}
    routed = {app.amqp.router.route({}, name)["queue"].name for name in app.tasks if name.startswith("syndicate.")}
    assert declared == routed == set(CELERY_QUEUES) == set(QUEUES)
    assert "publish" not in declared


def test_the_embedded_broker_polls_for_the_next_message_without_idling_a_second(broker_url):
    from kombu import Connection

    import celeryconfig

    if not broker_url.startswith("sqla+"):
        pytest.skip("the suite runs on another broker")
    with Connection(broker_url) as connection:
        assert connection.transport.polling_interval == celeryconfig.EMBEDDED_BROKER_POLL <= 0.1
