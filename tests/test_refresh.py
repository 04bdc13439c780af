"""refresh_source end to end against a real HTTP server on 127.0.0.1 and the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.ingest import refresh as refresh_module
from syndicate.ingest.refresh import refresh_source
from syndicate.models import Article, FetchLog, Source
from syndicate.ops.states import source_state
from tests.conftest import make_source
from tests.support.stories import fixture

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def poll(runtime, session, source_id, now=None):
    outcome = refresh_source(session, runtime.client, source_id, runtime.refresh_config, now=now)
    session.expire_all()
    return outcome


def articles(session, source_id) -> list[Article]:
    return list(session.scalars(select(Article).where(Article.source_id == source_id).order_by(Article.published_at)))


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_first_poll_stores_normalised_articles(runtime, session, feed_server):
    feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rathaus.xml"))

    outcome = poll(runtime, session, source.id)

    assert outcome.status == "new", outcome
    assert (outcome.new, outcome.updated, outcome.duplicates, outcome.http_status) == (2, 0, 0, 200)
    assert outcome.reason is None
    stored = articles(session, source.id)
    assert [a.title for a in stored] == ["Stadtrat beschließt Haushalt 2025", "Sperrung der Ludwigstraße am Wochenende"]
    haushalt, sperrung = stored
    # dates: +0100 in the feed → UTC, timezone-aware
    assert haushalt.published_at == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    assert haushalt.published_at.utcoffset() == timedelta(0)
    assert sperrung.published_at == datetime(2025, 3, 4, 13, 30, tzinfo=UTC)
    # the relative item link became absolute
    parts = urlsplit(haushalt.url)
    assert parts.scheme in ("http", "https") and parts.netloc
    assert parts.path == "/2025/41/haushalt-2025-1001"
    assert sperrung.url == "https://ru.muenchen.de/2025/42/sperrung-ludwigstrasse-1002"
    # sanitised HTML: script and event handler gone, the link absolute and marked noopener
    stored_html = haushalt.summary_html + (haushalt.content_html or "")
    assert "<script" not in stored_html and "alert(" not in stored_html
    assert "onclick" not in stored_html and "steal()" not in stored_html
    assert 'href="/haushalt' not in stored_html
    assert "/haushalt/2025" in stored_html and 'rel="noopener noreferrer"' in stored_html
    assert "Die Stadtkämmerei erläutert die Zahlen am Dienstag." in stored_html
    # plain text: no markup, no script source
    assert (
        haushalt.text
        == "Der Stadtrat hat den Haushalt für das kommende Jahr beschlossen. Die Stadtkämmerei erläutert die Zahlen am Dienstag."
    )
    assert sperrung.text == "Wegen Bauarbeiten ist die Ludwigstraße gesperrt."
    # every article sits in a cluster; the source row records the success
    assert all(a.cluster_id is not None for a in stored)
    row = session.get(Source, source.id)
    assert row.error_count == 0 and row.last_success_at is not None and row.body_hash
    assert row.feed_title == "Rathaus Umschau"
    assert row.next_check_at > utcnow()
    log = session.scalars(select(FetchLog).where(FetchLog.source_id == source.id)).all()
    assert [(entry.status, entry.new_items, entry.http_status) for entry in log] == [("new", 2, 200)]


def test_second_poll_with_etag_is_not_modified(runtime, session, feed_server):
    route = feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS, etag='"ru-v1"')
    source = make_source(session, feed_server.url("/rathaus.xml"))
    assert poll(runtime, session, source.id).status == "new"
    assert "if-none-match" not in route.seen_headers[0]
    assert session.get(Source, source.id).etag == '"ru-v1"'

    outcome = poll(runtime, session, source.id)

    assert outcome.status == "not_modified", outcome
    assert outcome.http_status == 304
    assert (outcome.new, outcome.updated, outcome.duplicates) == (0, 0, 0)
    assert route.hits == 2
    assert route.seen_headers[1].get("if-none-match") == '"ru-v1"'
    assert count(session, Article, Article.source_id == source.id) == 2
    row = session.get(Source, source.id)
    assert row.etag == '"ru-v1"'  # kept across the 304
    assert row.error_count == 0


def test_quiet_polls_fold_into_one_fetch_log_row_and_a_change_starts_a_new_one(runtime, session, feed_server):
    route = feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS, etag='"ru-v1"')
    source = make_source(session, feed_server.url("/rathaus.xml"))
    t0 = utcnow()
    assert poll(runtime, session, source.id, now=t0).status == "new"
    times = [t0 + timedelta(minutes=n) for n in (10, 20, 30)]
    for t in times:
        assert poll(runtime, session, source.id, now=t).status == "not_modified"

    def log():
        rows = session.scalars(select(FetchLog).where(FetchLog.source_id == source.id).order_by(FetchLog.id)).all()
        return [(r.status, r.http_status, r.repeats, r.started_at, r.last_started_at) for r in rows]

    assert log() == [("new", 200, 1, t0, t0), ("not_modified", 304, 3, times[0], times[2])]
    # an error interrupts the run; the next quiet poll starts a new row, the same body without ETag another
    route.status, route.body, route.etag = 500, b"kaputt", None
    t_err = t0 + timedelta(minutes=40)
    assert poll(runtime, session, source.id, now=t_err).status == "error"
    route.status, route.body, route.etag = 200, fixture("rathaus_v1.xml"), '"ru-v1"'
    t_304 = t0 + timedelta(minutes=50)
    assert poll(runtime, session, source.id, now=t_304).status == "not_modified"
    route.etag = None
    session.get(Source, source.id).etag = None
    session.commit()
    t_same = [t0 + timedelta(minutes=60), t0 + timedelta(minutes=70)]
    for t in t_same:
        assert poll(runtime, session, source.id, now=t).status == "unchanged"
    assert [row[:3] for row in log()] == [
        ("new", 200, 1),
        ("not_modified", 304, 3),
        ("error", 500, 1),
        ("not_modified", 304, 1),
        ("unchanged", 200, 2),
    ]
    assert log()[-1][3:] == (t_same[0], t_same[1])
    assert count(session, Article, Article.source_id == source.id) == 2


def test_same_body_without_etag_is_unchanged_and_not_parsed(runtime, session, feed_server, monkeypatch):
    route = feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rathaus.xml"))
    assert poll(runtime, session, source.id).status == "new"
    first_hash = session.get(Source, source.id).body_hash

    def parse_must_not_run(*args, **kwargs):
        raise AssertionError("an unchanged body must not be parsed again")

    monkeypatch.setattr(refresh_module, "parse_feed", parse_must_not_run)
    outcome = poll(runtime, session, source.id)

    assert outcome.status == "unchanged", outcome
    assert outcome.http_status == 200
    assert (outcome.new, outcome.updated) == (0, 0)
    assert route.hits == 2 and "if-none-match" not in route.seen_headers[1]
    assert session.get(Source, source.id).body_hash == first_hash
    assert count(session, Article, Article.source_id == source.id) == 2


def test_changed_item_text_is_updated_in_place(runtime, session, feed_server):
    route = feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rathaus.xml"))
    t0 = utcnow() - timedelta(hours=2)
    t1 = t0 + timedelta(hours=1)
    assert poll(runtime, session, source.id, now=t0).new == 2
    before = {a.item_key: (a.id, a.changed_at, a.text) for a in articles(session, source.id)}

    route.body = fixture("rathaus_v2.xml")
    outcome = poll(runtime, session, source.id, now=t1)

    assert outcome.status == "new", outcome  # something changed
    assert (outcome.new, outcome.updated) == (0, 1)
    after = articles(session, source.id)
    assert len(after) == 2
    assert {a.item_key: a.id for a in after} == {key: value[0] for key, value in before.items()}  # same rows
    sperrung = next(a for a in after if a.title.startswith("Sperrung"))
    assert sperrung.text == "Wegen Bauarbeiten ist die Ludwigstraße von Freitag, 20 Uhr, bis Montag, 5 Uhr, gesperrt."
    assert before[sperrung.item_key][1] == t0 and sperrung.changed_at == t1
    assert sperrung.first_seen_at == t0
    haushalt = next(a for a in after if a.title.startswith("Stadtrat"))
    assert haushalt.changed_at == t0  # untouched item keeps its change time


def test_http_500_is_recorded_with_backoff_and_keeps_articles(runtime, session, feed_server):
    route = feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rathaus.xml"))
    assert poll(runtime, session, source.id).new == 2

    route.status, route.body = 500, b"<h1>Interner Serverfehler</h1>"
    now = utcnow()
    outcome = poll(runtime, session, source.id, now=now)

    assert outcome.status == "error", outcome
    assert outcome.reason == "http_5xx" and outcome.http_status == 500
    assert (outcome.new, outcome.updated) == (0, 0)
    row = session.get(Source, source.id)
    assert row.error_count == 1
    assert row.last_error_reason == "http_5xx"
    assert row.last_error_message and "500" in row.last_error_message
    assert row.last_http_status == 500
    assert row.first_error_at == now
    assert source_state(row, now, broken_after=6 * 3600) == "failing"
    # backoff: min_interval is 60 s in the test settings, ±10 % jitter
    assert now + timedelta(seconds=50) <= row.next_check_at <= now + timedelta(seconds=70)
    logged = session.scalars(select(FetchLog).where(FetchLog.source_id == source.id).order_by(FetchLog.id)).all()
    assert [(log.status, log.reason, log.http_status) for log in logged] == [("new", None, 200), ("error", "http_5xx", 500)]
    assert count(session, Article, Article.source_id == source.id) == 2

    # a second failure backs off further; a success clears the failure state
    later = now + timedelta(minutes=2)
    assert poll(runtime, session, source.id, now=later).status == "error"
    row = session.get(Source, source.id)
    assert row.error_count == 2 and row.next_check_at >= later + timedelta(seconds=100)
    route.status, route.body = 200, fixture("rathaus_v1.xml")
    assert poll(runtime, session, source.id).status == "unchanged"
    row = session.get(Source, source.id)
    assert (row.error_count, row.last_error_reason, row.last_error_message, row.first_error_at) == (0, None, None, None)


def test_429_with_retry_after_is_deferred(runtime, session, feed_server):
    route = feed_server.add("/rathaus.xml", b"Wartung", status=500)
    source = make_source(session, feed_server.url("/rathaus.xml"))
    assert poll(runtime, session, source.id).status == "error"  # error_count 1 before the 429
    route.status, route.body, route.headers = 429, b"Zu viele Anfragen", {"Retry-After": "120"}
    now = utcnow() + timedelta(seconds=5)

    outcome = poll(runtime, session, source.id, now=now)

    assert outcome.status == "deferred", outcome
    assert (outcome.http_status, outcome.reason) == (429, "rate_limited")
    row = session.get(Source, source.id)
    assert row.error_count == 1 and row.last_error_reason == "http_5xx"  # a deferral is no new failure
    assert abs((row.next_check_at - (now + timedelta(seconds=120))).total_seconds()) <= 1
    assert count(session, FetchLog, FetchLog.source_id == source.id, FetchLog.status == "deferred") == 1


def test_html_page_is_not_a_feed(runtime, session, feed_server):
    feed_server.add("/aktuelles", fixture("startseite.html"), headers={"Content-Type": "text/html; charset=utf-8"})
    source = make_source(session, feed_server.url("/aktuelles"))

    outcome = poll(runtime, session, source.id)

    assert outcome.status == "error" and outcome.reason == "not_a_feed", outcome
    assert outcome.http_status == 200
    row = session.get(Source, source.id)
    assert row.error_count == 1 and row.last_error_reason == "not_a_feed"
    assert row.last_error_message
    assert row.body_hash is None  # a failed parse must not mark the body as seen
    assert count(session, Article, Article.source_id == source.id) == 0
    assert count(session, FetchLog, FetchLog.source_id == source.id, FetchLog.reason == "not_a_feed") == 1


def test_permanent_redirect_updates_source_url(runtime, session, feed_server):
    """A 301 moves the source once it has been confirmed (by default: 3 polls over at least a day)."""
    config = runtime.refresh_config
    new_url = feed_server.url("/presse/rss.xml")
    old = feed_server.add("/rss.php", status=301, headers={"Location": new_url})
    feed_server.add("/presse/rss.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rss.php"))
    t0 = utcnow() - timedelta(days=2)
    polls = [t0 + config.redirect_min_span * i / (config.redirect_confirmations - 1) for i in range(config.redirect_confirmations)]

    first = poll(runtime, session, source.id, now=polls[0])
    assert first.status == "new" and first.new == 2, first
    for now in polls[1:-1]:
        assert poll(runtime, session, source.id, now=now).status == "unchanged"
        assert session.get(Source, source.id).url == feed_server.url("/rss.php")  # not yet confirmed
    assert poll(runtime, session, source.id, now=polls[-1]).status == "unchanged"

    row = session.get(Source, source.id)
    assert row.url == new_url
    assert row.redirected_from == feed_server.url("/rss.php")
    assert row.canonical_url == new_url
    assert old.hits == config.redirect_confirmations
    assert poll(runtime, session, source.id).status == "unchanged"
    assert old.hits == config.redirect_confirmations  # the next poll goes straight to the new address
    assert count(session, Article, Article.source_id == source.id) == 2


def test_temporary_redirect_keeps_source_url(runtime, session, feed_server):
    feed_server.add("/rss.php", status=302, headers={"Location": feed_server.url("/heute.xml")})
    feed_server.add("/heute.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rss.php"))

    assert poll(runtime, session, source.id).status == "new"
    row = session.get(Source, source.id)
    assert row.url == feed_server.url("/rss.php") and row.redirected_from is None


def test_same_item_twice_in_one_document_is_stored_once(runtime, session, feed_server):
    feed_server.add("/regensburg.xml", fixture("doppelt.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/regensburg.xml"), city="regensburg")

    outcome = poll(runtime, session, source.id)

    assert outcome.status == "new", outcome
    assert (outcome.new, outcome.duplicates) == (2, 1)
    titles = [a.title for a in articles(session, source.id)]
    assert titles == ["Christkindlmarkt öffnet am Neupfarrplatz", "Neue Öffnungszeiten der Stadtbücherei"]


@pytest.mark.parametrize("status, reason", [(404, "http_404"), (410, "http_410"), (503, "http_5xx")])
def test_other_http_errors_have_stable_reasons(runtime, session, feed_server, status, reason):
    feed_server.add("/weg.xml", b"weg", status=status)
    source = make_source(session, feed_server.url("/weg.xml"))

    outcome = poll(runtime, session, source.id)

    assert (outcome.status, outcome.reason, outcome.http_status) == ("error", reason, status)
    assert session.get(Source, source.id).last_error_reason == reason


def test_crash_while_storing_leaves_nothing_half_stored(runtime, session, feed_server, monkeypatch):
    """A worker that dies after the first of two items (here: an exception) must not leave that
    item stored without a cluster: the next poll would find it by its key and never cluster it."""
    from syndicate.dedupe import batch as dedupe_batch

    feed_server.add("/rathaus.xml", fixture("rathaus_v1.xml"), headers=RSS)
    source = make_source(session, feed_server.url("/rathaus.xml"))
    real_explain, calls = dedupe_batch.topics.explain, []

    def explain_then_crash(*args, **kwargs):  # the articles rows are written by now, their topics not
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("Worker verloren")
        return real_explain(*args, **kwargs)

    monkeypatch.setattr(dedupe_batch.topics, "explain", explain_then_crash)
    with runtime.sessions() as worker, pytest.raises(RuntimeError):  # a fresh session, as in a worker
        refresh_source(worker, runtime.client, source.id, runtime.refresh_config)
    monkeypatch.undo()
    session.expire_all()
    assert count(session, Article, Article.source_id == source.id) == 0

    outcome = poll(runtime, session, source.id)
    assert (outcome.status, outcome.new) == ("new", 2)
    assert all(a.cluster_id is not None for a in articles(session, source.id))


def _story_feed(city: str, n: int, when: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Stadt {city}</title>'
        f"<link>https://{city}.example/</link><item><guid>{city}-{n}</guid><title>Neue Ladesäulen am Rathausplatz</title>"
        f"<link>https://{city}.example/presse/{n}</link><pubDate>{when}</pubDate><description><![CDATA["
        "<p>Die Stadtwerke haben am Rathausplatz zwölf neue Ladesäulen für Elektroautos in Betrieb genommen.</p>"
        "<p>Geladen wird mit Ökostrom; bezahlt wird per Karte oder App.</p>]]></description></item></channel></rss>"
    )


def test_a_group_asks_for_the_next_response_while_it_reads_a_changed_document(runtime, session, feed_server, monkeypatch):
    """The next source's GET runs on the fetch-ahead thread while a changed document is read: one
    request out at a time, the same outcomes and errors as fetched in line. After an unchanged
    response (nothing to read) the next GET is the worker's own."""
    import threading

    feed_server.add("/augsburg.xml", _story_feed("augsburg", 1, "Mon, 24 Nov 2025 08:00:00 GMT"), headers=RSS)
    feed_server.add("/nuernberg.xml", _story_feed("nuernberg", 7, "Mon, 24 Nov 2025 10:30:00 GMT"), headers=RSS)
    feed_server.add("/kaputt.xml", "", status=500)
    ids = [make_source(session, feed_server.url(f"/{name}.xml"), city=name).id for name in ("augsburg", "nuernberg", "kaputt")]
    real, lock, out, seen = refresh_module._fetch, threading.Lock(), [0], []

    def watched(engine, client, url, *rest):
        with lock:
            out[0] += 1
            seen.append((urlsplit(url).path, threading.current_thread().name, out[0]))
        try:
            return real(engine, client, url, *rest)
        finally:
            with lock:
                out[0] -= 1

    monkeypatch.setattr(refresh_module, "_fetch", watched)
    main = threading.current_thread().name

    outcomes = refresh_module.refresh_sources(session, runtime.client, ids, runtime.refresh_config)

    assert [(o.status, o.new, o.reason) for o in outcomes] == [("new", 1, None), ("new", 1, None), ("error", 0, "http_5xx")]
    assert [(path, thread) for path, thread, _n in seen] == [
        ("/augsburg.xml", main),
        ("/nuernberg.xml", "fetch-ahead_0"),
        ("/kaputt.xml", "fetch-ahead_0"),
    ]
    assert max(n for _p, _t, n in seen) == 1  # never two requests at once
    assert articles(session, ids[1])[0].cluster_id == articles(session, ids[0])[0].cluster_id  # stored as before

    seen.clear()
    outcomes = refresh_module.refresh_sources(session, runtime.client, ids, runtime.refresh_config)
    assert [o.status for o in outcomes] == ["unchanged", "unchanged", "error"]
    assert [thread for _path, thread, _n in seen] == [main, main, main]


def test_a_group_of_sources_is_stored_in_one_transaction_and_deduplicated_in_memory(runtime, session, feed_server):
    """refresh_sources: each source fetched and read, then all stored together and committed once; a
    story that one source of the group republishes from another joins its cluster; a failing source
    of the group is recorded as failed and costs the others nothing."""
    from sqlalchemy import event

    feed_server.add("/augsburg.xml", _story_feed("augsburg", 1, "Mon, 24 Nov 2025 08:00:00 GMT"), headers=RSS)
    feed_server.add("/nuernberg.xml", _story_feed("nuernberg", 7, "Mon, 24 Nov 2025 10:30:00 GMT"), headers=RSS)
    feed_server.add("/kaputt.xml", "", status=500)
    ids = [make_source(session, feed_server.url(f"/{name}.xml"), city=name).id for name in ("augsburg", "nuernberg", "kaputt")]
    commits = []

    def counted(_session):
        commits.append(1)

    event.listen(session, "after_commit", counted)  # the session's own (the host slots commit on their own connections)
    try:
        outcomes = refresh_module.refresh_sources(session, runtime.client, ids, runtime.refresh_config)
    finally:
        event.remove(session, "after_commit", counted)
    session.expire_all()
    assert [(o.id, o.status, o.new, o.duplicates) for o in outcomes] == [
        (ids[0], "new", 1, 0),
        (ids[1], "new", 1, 1),
        (ids[2], "error", 0, 0),
    ]
    assert outcomes[2].reason == "http_5xx"
    first, copy = articles(session, ids[0])[0], articles(session, ids[1])[0]
    assert first.cluster_id == copy.cluster_id is not None
    assert len(commits) == 1
    sources = [session.get(Source, i) for i in ids]
    assert [s.last_success_at is not None for s in sources] == [True, True, False]
    assert sources[2].error_count == 1 and sources[2].last_error_reason == "http_5xx"
    assert all(s.next_check_at > utcnow() for s in sources)
    assert [count(session, FetchLog, FetchLog.source_id == i) for i in ids] == [1, 1, 1]


def test_a_cluster_merged_away_by_another_worker_after_the_read_is_stored_again_from_fresh_reads(
    runtime, session, feed_server, monkeypatch
):
    """Between a batch's read and its write another worker merges the stored cluster it wants to join
    into a new one: the write notices (dedupe_batch.StaleRead), the store is rolled back and runs again
    with fresh reads, and the copy joins the cluster that exists now — no crash, nothing lost."""
    from sqlalchemy import text

    from syndicate.dedupe import store
    from syndicate.models import Cluster

    feed_server.add("/augsburg.xml", _story_feed("augsburg", 1, "Mon, 24 Nov 2025 08:00:00 GMT"), headers=RSS)
    feed_server.add("/nuernberg.xml", _story_feed("nuernberg", 7, "Mon, 24 Nov 2025 10:30:00 GMT"), headers=RSS)
    first, second = (make_source(session, feed_server.url(f"/{name}.xml"), city=name).id for name in ("augsburg", "nuernberg"))
    assert poll(runtime, session, first).new == 1
    old_cluster = articles(session, first)[0].cluster_id
    real_write, writes = store.Batch.write, []

    def other_worker_first(batch, *args, **kwargs):
        writes.append(1)
        if len(writes) == 1:  # the other worker, on its own connection, after our read and before our write
            with runtime.engine.begin() as connection:
                moved = connection.execute(
                    text(
                        "INSERT INTO clusters (published_at, updated_at, created_at, representative_id) "
                        "SELECT published_at, updated_at, created_at, representative_id FROM clusters WHERE id = :c "
                        "RETURNING id"
                    ),
                    {"c": old_cluster},
                ).scalar_one()
                connection.execute(text("UPDATE articles SET cluster_id = :n WHERE cluster_id = :c"), {"n": moved, "c": old_cluster})
                connection.execute(text("DELETE FROM clusters WHERE id = :c"), {"c": old_cluster})
        return real_write(batch, *args, **kwargs)

    monkeypatch.setattr(store.Batch, "write", other_worker_first)
    outcome = poll(runtime, session, second)
    assert (outcome.status, outcome.new, outcome.duplicates) == ("new", 1, 1)
    assert len(writes) == 2
    original, copy = articles(session, first)[0], articles(session, second)[0]
    assert original.cluster_id == copy.cluster_id != old_cluster
    assert session.get(Cluster, old_cluster) is None


def test_refresh_in_groups_commits_per_group_and_runs_a_failing_group_one_by_one(runtime, session, feed_server, monkeypatch):
    """``syndicate poll``'s pipeline: groups of ``size`` in one transaction each, outcomes in order; a group
    that raises is polled again source by source, so the others still get their poll."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    names = ["augsburg", "nuernberg", "fuerth", "erlangen", "bamberg"]
    for n, name in enumerate(names):
        feed_server.add(f"/{name}.xml", _story_feed(name, 10 + n, "Mon, 24 Nov 2025 08:00:00 GMT"), headers=RSS)
    ids = [make_source(session, feed_server.url(f"/{name}.xml"), city=name).id for name in names]
    commits = []

    def counted(_session):
        commits.append(1)

    real = refresh_module._store_again_if_stale

    def breaks_the_second_group(session_, polls, now):
        if {p.source.id for p in polls} == set(ids[2:4]):
            raise RuntimeError("a bug met only by this group")
        return real(session_, polls, now)

    monkeypatch.setattr(refresh_module, "_store_again_if_stale", breaks_the_second_group)
    event.listen(Session, "after_commit", counted)  # every session's (the host slots commit on their own connections)
    try:
        outcomes = list(refresh_module.refresh_in_groups(runtime.sessions, runtime.client, ids, runtime.refresh_config, size=2))
    finally:
        event.remove(Session, "after_commit", counted)

    assert [o.id for o in outcomes] == ids
    assert [o.status for o in outcomes] == ["new"] * 5
    assert count(session, Article) == 5
    assert len(commits) == 4  # groups 1 and 3 one commit each; group 2, rolled back, then one per source


@pytest.mark.parametrize(
    "declared, stored",
    [("de-DE", "de-DE"), ("de_AT", "de-AT"), (" de ", "de"), ("Deutsch (Bayern)", None), ("x" * 30, None), ("", None)],
)
def test_new_articles_keep_the_language_their_feed_declares(runtime, session, feed_server, declared, stored):
    from tests.support.api_fixtures import RSS_TYPE, rss

    body = rss("Pressemitteilungen", ["Eine Meldung", "Noch eine"]).replace("<link>", f"<language>{declared}</language><link>", 1)
    feed_server.add("/sprache.xml", body, headers=RSS_TYPE)
    source = make_source(session, feed_server.url("/sprache.xml"))
    assert poll(runtime, session, source.id).new == 2
    assert session.scalars(select(Article.language).where(Article.source_id == source.id)).all() == [stored, stored]
