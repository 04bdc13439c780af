"""The ``syndicate`` command as a subprocess against the test database and a feed server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.ingest.due import record_tick
from syndicate.models import Article, Source
from syndicate.ops import workers as workerinfo
from tests.conftest import ROOT, cli_env
from tests.support import processes
from tests.support.cli import json_lines, syndicate
from tests.support.stories import fixture

pytestmark = pytest.mark.slow  # every test runs the command as a child process

POLL_KEYS = {"id", "url", "city", "status", "http_status", "new", "updated", "duplicates", "reason", "duration_ms"}
OPTIONAL_POLL_KEYS = {"message"}


def write_city(settings, feed_server, *, failing: bool = False) -> Path:
    urls = [feed_server.url("/fuerth.xml"), feed_server.url("/fuerth-kultur.atom")]
    if failing:
        urls.append(feed_server.url("/kaputt.xml"))
    sources = "\n".join(f'[[sources]]\nurl = "{url}"\ntopics = ["buergerservice"]\n' for url in urls)
    path = settings.feeds_dir / "fuerth.toml"
    path.write_text(f'[city]\nslug = "fuerth"\nname = "Stadt Fürth"\nkind = "city"\n\n{sources}', encoding="utf-8")
    return path


@pytest.fixture
def served(feed_server):
    feed_server.add("/fuerth.xml", fixture("rathaus_v1.xml"), headers={"Content-Type": "application/rss+xml"})
    feed_server.add("/fuerth-kultur.atom", fixture("augsburg.atom"), headers={"Content-Type": "application/atom+xml"}, etag='"k1"')
    feed_server.add("/kaputt.xml", b"Wartungsarbeiten", status=500)
    return feed_server


def article_count(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count(Article.id)))


def test_sync_poll_publish_status(settings, runtime, served):
    write_city(settings, served)

    synced = syndicate(settings, "sources", "sync")
    assert synced.returncode == 0, synced.stderr
    assert "2 created" in synced.stdout
    with runtime.sessions() as session:
        urls = set(session.scalars(select(Source.url)))
    assert urls == {served.url("/fuerth.xml"), served.url("/fuerth-kultur.atom")}

    first = syndicate(settings, "poll", "--all", "--json")
    assert first.returncode == 0, first.stderr
    lines = json_lines(first.stdout)
    assert len(lines) == 2
    for line in lines:
        assert POLL_KEYS <= set(line) <= POLL_KEYS | OPTIONAL_POLL_KEYS, sorted(line)
        assert line["status"] == "new" and line["http_status"] == 200 and line["reason"] is None
        assert isinstance(line["duration_ms"], int) and line["duration_ms"] >= 0
    assert sorted(line["new"] for line in lines) == [2, 2]
    assert {line["url"] for line in lines} == urls
    assert article_count(runtime) == 4

    second = syndicate(settings, "poll", "--all", "--json")
    assert second.returncode == 0, second.stderr
    statuses = {line["url"]: (line["status"], line["new"]) for line in json_lines(second.stdout)}
    assert statuses == {served.url("/fuerth.xml"): ("unchanged", 0), served.url("/fuerth-kultur.atom"): ("not_modified", 0)}
    assert article_count(runtime) == 4

    published = syndicate(settings, "publish", "all", "--format", "atom")
    assert published.returncode == 0, published.stderr
    parsed = feedparser.parse(published.stdout.encode("utf-8"))
    assert parsed.bozo == 0 and parsed.version == "atom10"
    assert len(parsed.entries) == 4
    assert "Stadtrat beschließt Haushalt 2025" in [e.title for e in parsed.entries]

    topic = syndicate(settings, "publish", "buergerservice", "--format", "rss")  # a default topic of the sources
    assert topic.returncode == 0 and len(feedparser.parse(topic.stdout.encode("utf-8")).entries) == 4
    unknown = syndicate(settings, "publish", "raumfahrt")
    assert unknown.returncode != 0 and "raumfahrt" in unknown.stderr

    # sources and articles are fine, but with no worker and no beat nothing polls: that is not healthy
    nothing_runs = syndicate(settings, "status", "--json")
    assert nothing_runs.returncode == 1, nothing_runs.stdout + nothing_runs.stderr
    summary = json.loads(nothing_runs.stdout)
    assert summary["articles"] == 4 and summary["failing"] == [] and summary["broker_error"] is None
    assert summary["problems"] == ["no worker online", "beat: never ticked"]


def test_status_exits_1_when_a_source_is_failing(settings, runtime, served):
    write_city(settings, served, failing=True)
    assert syndicate(settings, "sources", "sync").returncode == 0

    polled = syndicate(settings, "poll", "--all", "--json")
    assert polled.returncode == 1 and "1 of 3 source(s) failed" in polled.stderr, polled.stdout + polled.stderr
    outcomes = {line["url"]: line for line in json_lines(polled.stdout)}
    assert len(outcomes) == 3  # every source still gets its line
    broken = outcomes[served.url("/kaputt.xml")]
    assert (broken["status"], broken["reason"], broken["http_status"], broken["new"]) == ("error", "http_5xx", 500, 0)

    status = syndicate(settings, "status", "--json")
    assert status.returncode == 1, status.stdout + status.stderr
    lines = status.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["sources"] == {"ok": 2, "failing": 1}
    assert [(f["url"], f["reason"], f["errors"]) for f in summary["failing"]] == [(served.url("/kaputt.xml"), "http_5xx", 1)]


def test_poll_exits_1_when_a_source_failed_but_not_when_one_is_only_deferred(settings, runtime, served):
    served.add("/spaeter.xml", b"", status=429, headers={"Retry-After": "120"})
    urls = [served.url("/fuerth.xml"), served.url("/spaeter.xml")]
    registry = "\n".join(f'[[sources]]\nurl = "{url}"\n' for url in urls)
    path = settings.feeds_dir / "fuerth.toml"
    path.write_text(f'[city]\nslug = "fuerth"\nname = "Stadt Fürth"\nkind = "city"\n\n{registry}', encoding="utf-8")
    assert syndicate(settings, "sources", "sync").returncode == 0

    deferred = syndicate(settings, "poll", "--all", "--json")
    assert deferred.returncode == 0, deferred.stdout + deferred.stderr
    assert {line["url"]: line["status"] for line in json_lines(deferred.stdout)} == {urls[0]: "new", urls[1]: "deferred"}

    write_city(settings, served, failing=True)
    assert syndicate(settings, "sources", "sync").returncode == 0
    failed = syndicate(settings, "poll", "--all", COLUMNS="200")
    assert failed.returncode == 1 and "problem: 1 of" in failed.stderr, failed.stdout + failed.stderr
    lines = failed.stdout.strip().splitlines()
    assert any(" error " in line and line.endswith("/kaputt.xml") for line in lines), failed.stdout
    assert any(line.endswith("/fuerth.xml") for line in lines) and any(line.endswith("/fuerth-kultur.atom") for line in lines)


def test_sync_with_broken_toml_names_file_and_key(settings, runtime, served):
    path = write_city(settings, served)
    path.write_text(
        path.read_text(encoding="utf-8").replace('topics = ["buergerservice"]', 'topics = ["buergerservice"]\nintervall = 600', 1),
        encoding="utf-8",
    )

    result = syndicate(settings, "sources", "sync", COLUMNS="1000")  # wide: see the long-path test below

    assert result.returncode != 0
    assert str(path) in result.stderr
    assert "sources[0].intervall" in result.stderr
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Source.id))) == 0  # nothing written


def test_broken_toml_in_a_long_path_is_named_in_one_piece(settings, runtime, tmp_path):
    feeds = tmp_path / "registry-checkout-of-the-kommunaler-feed-verbund-bayern" / "feeds"
    feeds.mkdir(parents=True)
    (feeds / "topics.toml").write_bytes((settings.feeds_dir / "topics.toml").read_bytes())
    path = feeds / "landkreis-neustadt-an-der-aisch-bad-windsheim.toml"
    path.write_text('[city]\nslug = "nea"\nname = "Landkreis"\nbeschreibung = "x"\n', encoding="utf-8")

    result = syndicate(settings, "sources", "sync", SYNDICATE_FEEDS_DIR=str(feeds))

    assert result.returncode != 0
    assert str(path) in result.stderr and "city.beschreibung" in result.stderr


def test_sync_with_invalid_toml_syntax_names_file(settings, runtime, served):
    path = settings.feeds_dir / "kaputt.toml"
    path.write_text('[city]\nslug = "kaputt"\nname = "Stadt ohne Anführungszeichen\n', encoding="utf-8")

    result = syndicate(settings, "sources", "sync", COLUMNS="1000")

    assert result.returncode != 0
    assert str(path) in result.stderr and "line 3" in result.stderr


def test_export_writes_every_feed(settings, runtime, served, tmp_path):
    write_city(settings, served)
    assert syndicate(settings, "sources", "sync").returncode == 0
    assert syndicate(settings, "poll", "--all").returncode == 0

    result = syndicate(settings, "export", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "all.atom" in written and "topics/klimaschutz.rss" in written and "cities/fuerth.json" in written
    assert not [p for p in written if p.endswith(".tmp")]
    assert len(feedparser.parse((tmp_path / "out" / "cities" / "fuerth.rss").read_bytes()).entries) == 4
    assert len(written) == 3 * (1 + 5 + 1) + 1  # all, five topics, one city, each in three formats; plus the OPML
    opml = (tmp_path / "out" / "feeds.opml").read_text()
    assert opml.count("<outline") == 7 and "/feeds/cities/fuerth.atom" in opml


# ---------------------------------------------------------------- sources add: the API's service


def _munich(runtime) -> None:
    from tests.conftest import make_source

    with runtime.sessions() as session:
        make_source(session, "https://placeholder.example/x.xml", city="muenchen")  # the city must exist


def test_sources_add_refuses_what_the_api_refuses(settings, runtime, served):
    _munich(runtime)
    blocked = served.url("/fuerth.xml").replace("127.0.0.1", "127.0.0.2")  # only 127.0.0.1/32 is allowed
    missing = served.url("/gibt-es-nicht.xml")

    refused = syndicate(settings, "sources", "add", blocked, missing, "--city", "muenchen", "--json")
    forced = syndicate(settings, "sources", "add", blocked, "--city", "muenchen", "--force", "--json")

    assert refused.returncode == 1 and forced.returncode == 1, refused.stderr + forced.stderr
    assert [(line["url"], line["error"]) for line in json_lines(refused.stdout)] == [(blocked, "blocked_address"), (missing, "http_404")]
    assert [line["error"] for line in json_lines(forced.stdout)] == ["blocked_address"]  # --force never passes the address policy
    assert json_lines(refused.stdout)[0]["message"] == f"{blocked} wurde abgelehnt: die Adresse ist nicht erlaubt"  # as the API says
    with runtime.sessions() as session:
        assert session.scalars(select(Source.url).where(Source.url.in_([blocked, missing]))).all() == []


def test_sources_add_registers_with_an_audit_entry_and_a_queued_refresh(settings, runtime, served):
    from syndicate.models import AuditEntry
    from syndicate.ops import queues
    from tests.conftest import purge_queues

    _munich(runtime)
    purge_queues(settings.broker_url)
    missing = served.url("/gibt-es-nicht.xml")

    done = syndicate(settings, "sources", "add", served.url("/fuerth.xml"), "--city", "muenchen", "--json")
    forced = syndicate(settings, "sources", "add", missing, "--city", "muenchen", "--force", "--json")

    assert done.returncode == 0 and forced.returncode == 0, done.stderr + forced.stderr
    (added,), (kept,) = json_lines(done.stdout), json_lines(forced.stdout)
    assert (added["kind"], added["items"], added["warning"], added["refresh_queued"]) == ("feed", 2, None, True)
    assert kept["warning"]["reason"] == "http_404" and kept["items"] is None
    with runtime.sessions() as session:
        entries = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_id).order_by(AuditEntry.id)).all()
        source = session.get(Source, added["id"])
        assert (source.origin, source.feed_title, source.city.slug) == ("api", "Rathaus Umschau", "muenchen")
    assert entries == [("cli", "source.create", added["id"]), ("cli", "source.create", kept["id"])]
    assert queues.depth(settings.broker_url)["refresh"] == 2
    purge_queues(settings.broker_url)


@pytest.mark.celery
def test_status_exits_0_only_with_a_worker_online_and_a_recent_beat_tick(settings, runtime, session, tmp_path):
    record_tick(session, utcnow(), 0)
    alone = syndicate(settings, "status", "--json")
    assert alone.returncode == 1 and json.loads(alone.stdout)["problems"] == ["no worker online"], alone.stdout + alone.stderr

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    queue, name = f"status-{uuid.uuid4().hex[:8]}", f"status-{uuid.uuid4().hex[:8]}@%h"  # a queue of its own: no other test's tasks
    command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads", "-c", "1", "-n", name, "-Q", queue]
    worker = processes.start(command, cli_env(settings), tmp_path / "worker.log", ROOT)
    hostname = name.replace("%h", socket.gethostname())
    probe_settings = settings.model_copy(update={"ops_inspect_timeout": 0.5})
    try:
        online = processes.wait_for(lambda: hostname in [w.hostname for w in workerinfo.probe(probe_settings).workers], timeout=40)
        assert online, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]

        record_tick(session, utcnow() - timedelta(seconds=3 * settings.beat_interval + 10), 0)
        stale = syndicate(settings, "status", "--json")
        assert stale.returncode == 1 and json.loads(stale.stdout)["problems"][0].startswith("beat: last tick"), stale.stdout

        record_tick(session, utcnow(), 0)
        healthy = syndicate(settings, "status", "--json")
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        report = json.loads(healthy.stdout)
        assert report["problems"] == [] and hostname in [w["hostname"] for w in report["workers"]]
    finally:
        processes.stop(worker)
        from tests.test_ops import drop_queue  # here: test_ops imports this module

        drop_queue(settings.broker_url, queue)
