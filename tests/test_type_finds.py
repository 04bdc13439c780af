"""Paths the type checker found broken (names deleted under them, None where a value was taken for
granted): each test reaches one of them and fails without its fix."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from syndicate.dedupe.batch import Batch
from syndicate.dedupe.store import store_documents
from syndicate.models import Article, City, Source
from syndicate.reader.errors import FetchTimeout
from syndicate.reader.fetch import fetch
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import RawEntry
from syndicate.sources.service import SourceSpec, create_source
from tests.conftest import make_source

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FEED = (Path(__file__).parent / "fixtures" / "refresh" / "muenchen.xml").read_bytes()


def entry(guid: str, title: str, text: str):
    raw = RawEntry(guid=guid, link=f"https://example.org/{guid}", title=title, summary=text, published=NOW)
    return normalise_entry(raw, base=None, now=NOW, future_tolerance=3600)


def test_batch_reads_the_members_of_a_cluster_it_did_not_read_up_front(session):
    # The store's batch reads the members of every cluster its reads reach; a cluster asked for
    # later is read on demand, with a limit whose constant an earlier tidy-up had deleted.
    source = make_source(session, "http://127.0.0.1:9/muenchen.xml")
    store_documents(session, [(source, [entry("muc-1", "Neue Ladesäulen in Schwabing", "Die Stadt baut Ladesäulen.")])], [], NOW)
    article = session.scalars(select(Article).where(Article.source_id == source.id)).one()
    assert article.cluster_id is not None
    batch = Batch(session, [], [], [], NOW)
    assert batch._members_stored(article.cluster_id) == [(article.id, source.id)]


def test_a_timeout_without_a_message_is_named_by_its_kind(feed_server):
    # httpx's pool timeout carries no message; the error named nothing ("timed out fetching …: ")
    # because the fallback to the exception's class tested the exception, which is always true.
    feed_server.add("/slow.xml", b"<rss/>", delay=1.0)
    feed_server.add("/other.xml", b"<rss/>")
    with httpx.Client(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(5.0, pool=0.1)) as client:
        holder = threading.Thread(target=fetch, args=(client, feed_server.url("/slow.xml")))
        holder.start()
        try:
            time.sleep(0.2)  # the one connection is taken by the slow request
            with pytest.raises(FetchTimeout) as caught:
                fetch(client, feed_server.url("/other.xml"))
        finally:
            holder.join()
    assert caught.value.message.endswith(": PoolTimeout"), caught.value.message


def test_a_source_insert_refused_for_another_reason_than_its_url_is_raised_as_it_is(runtime, session, feed_server):
    # The insert's IntegrityError was taken for a concurrent registration of the same URL, and the
    # source found under it (None here) was described: AttributeError instead of the real refusal.
    feed_server.add("/feed.xml", FEED, headers={"Content-Type": "application/rss+xml"})
    gone = City(id=987654, slug="weg", name="Weg", kind="city")  # no such row: the foreign key refuses the source
    spec = SourceSpec(url=feed_server.url("/feed.xml"))
    with pytest.raises(IntegrityError):
        create_source(session, runtime.client, runtime.refresh_config, gone, spec, actor="test", enqueue=lambda _id: None)
    assert session.scalar(select(Source.id).where(Source.url == spec.url)) is None
