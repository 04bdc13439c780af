"""One story from three cities under three URLs ends up in one cluster; re-inserts do not duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.dedupe.store import store_documents
from syndicate.ingest.refresh import refresh_source
from syndicate.models import Article, Cluster, Source
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import parse
from syndicate.topics import rules as topic_rules
from tests.conftest import make_source
from tests.support.stories import FIXTURES, PHISHING, poll_all


def story(session, slug_to_source, slug) -> Article:
    return session.scalar(select(Article).where(Article.source_id == slug_to_source[slug].id, Article.title == PHISHING))


def test_same_story_from_three_cities_is_one_cluster(runtime, session, server):
    sources = poll_all(runtime, session, server)

    muc, nbg, aug = (story(session, sources, slug) for slug in ("muenchen", "nuernberg", "augsburg"))
    # the three copies really differ in identity: URL, tracking parameters, guid
    assert aug.url == "https://www.bayern.de/presse/warnung-phishing-2025?utm_source=newsletter&utm_medium=email"
    assert muc.url == "https://www.bayern.de/presse/warnung-phishing-2025"
    assert nbg.url != muc.url and nbg.guid != muc.guid != aug.guid
    assert aug.text != muc.text  # Augsburg's copy matches by canonical URL only
    assert nbg.text == muc.text  # Nürnberg's copy matches by title + text only

    assert muc.cluster_id is not None
    assert muc.cluster_id == nbg.cluster_id == aug.cluster_id
    cluster = session.get(Cluster, muc.cluster_id)
    # the copy seen first (polled first) represents the story: a claimed date, the earliest one
    # included, never outranks what was observed (syndicate.dedupe.clusters)
    assert cluster.representative_id == muc.id
    assert cluster.published_at == muc.published_at != aug.published_at == datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    members = session.scalars(select(Article.id).where(Article.cluster_id == cluster.id)).all()
    assert sorted(members) == sorted([muc.id, nbg.id, aug.id])

    # every unrelated article has a cluster of its own
    others = session.scalars(select(Article).where(Article.title != PHISHING)).all()
    assert len(others) == 3
    other_clusters = {a.cluster_id for a in others}
    assert len(other_clusters) == 3 and cluster.id not in other_clusters
    for article in others:
        assert session.get(Cluster, article.cluster_id).representative_id == article.id
    assert session.scalar(select(func.count(Cluster.id))) == 4


def test_duplicates_are_counted_when_joining_a_cluster(runtime, session, server):
    muc = make_source(session, server.url("/muenchen.xml"), city="muenchen")
    nbg = make_source(session, server.url("/nuernberg.xml"), city="nuernberg")
    assert refresh_source(session, runtime.client, muc.id, runtime.refresh_config).duplicates == 0
    outcome = refresh_source(session, runtime.client, nbg.id, runtime.refresh_config)
    assert (outcome.new, outcome.duplicates) == (2, 1)


def _entries(name: str, base: str, now: datetime):
    feed = parse((FIXTURES / name).read_bytes(), url=base)
    return [normalise_entry(raw, base=base, now=now, future_tolerance=3600) for raw in feed.entries]


def test_storing_the_same_entries_twice_does_not_duplicate(runtime, topics):
    now = utcnow()
    entries = _entries("muenchen.xml", "https://ru.muenchen.de/rss", now)
    with runtime.sessions() as session:
        source = make_source(session, "https://ru.muenchen.de/rss")
        rules = topic_rules.load_rules(session)
        first = store_documents(session, [(source, entries)], rules, now)[0]
        session.commit()
    with runtime.sessions() as other:  # a second worker with the same document
        source = other.get(Source, source.id)
        second = store_documents(
            other, [(source, _entries("muenchen.xml", "https://ru.muenchen.de/rss", now))], topic_rules.load_rules(other), now
        )[0]
        other.commit()
    assert (first.new, first.updated) == (2, 0)
    assert (second.new, second.updated, second.duplicates) == (0, 0, 0)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Article.id))) == 2
        assert session.scalar(select(func.count(Cluster.id))) == 2


def test_insert_race_on_the_same_item_key_is_absorbed(runtime, topics, monkeypatch):
    """Another worker inserted the items between our lookup and our insert: the unique key refuses
    ours, nothing is counted twice, and no cluster, bucket or topic row is left without its article."""
    from syndicate.dedupe import store
    from syndicate.models import ArticleBucket, ArticleTopic, SourcePassage

    now = utcnow()
    entries = _entries("muenchen.xml", "https://ru.muenchen.de/rss", now)
    with runtime.sessions() as session:
        source = make_source(session, "https://ru.muenchen.de/rss")
        rules = topic_rules.load_rules(session)
        assert store_documents(session, [(source, entries[:1])], rules, now)[0].new == 1
        session.commit()

        def tables():
            return [session.scalar(select(func.count()).select_from(t)) for t in (Article, Cluster, ArticleBucket, ArticleTopic)] + [
                session.scalar(select(func.sum(SourcePassage.articles)))
            ]

        before = tables()
        real_known, lookups = store._known, []

        def lookup_misses(session_, source_id, keys):  # as if the other worker had not committed yet
            lookups.append(keys)
            return {}

        monkeypatch.setattr(store, "_known", lookup_misses)
        counts = store_documents(session, [(source, entries)], rules, now)[0]
        session.commit()
        monkeypatch.setattr(store, "_known", real_known)

        assert len(lookups) == 1 and len(lookups[0]) == 2
        assert (counts.new, counts.updated, counts.duplicates) == (1, 0, 0)  # only the second item is ours
        after = tables()
        assert after[0] == before[0] + 1 and after[1] == before[1] + 1  # one article, one cluster more
        assert after[2] > before[2] and after[4] > before[4]
        orphans = select(func.count(Cluster.id)).where(~Cluster.id.in_(select(Article.cluster_id).where(Article.cluster_id.is_not(None))))
        assert session.scalar(orphans) == 0
        # stored once more, normally: nothing new
        assert (store_documents(session, [(source, entries)], rules, now)[0].new, tables()) == (0, after)


@pytest.mark.slow  # a corpus sweep
def test_probes_of_a_document_are_the_probes_of_its_items():
    """``dedupe.probes`` (signatures and bands of a document computed together) gives each item's
    ``dedupe.probe`` and each run's ``neardup.minhash``: the corpus's and the fixtures' entries, items
    too short to shingle and empty ones."""
    from syndicate.dedupe import rules as dedupe
    from syndicate.reader.errors import SyndicateError
    from tests.conftest import CORPUS
    from tests.conftest import FIXTURES as ALL_FIXTURES

    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    files = sorted((ALL_FIXTURES / "feeds").iterdir()) + sorted(FIXTURES.iterdir())
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*") if p.is_file())
    documents = [
        [
            ("Zwei Wörter", "<p>zwei Wörter</p>", "zwei Wörter", now, None),
            ("", "", "", now, None),
            ("Ein", "", "ein", now, None),
            ("Titel — „Zitat“", "<p>Satz eins. Satz zwei!</p><p>Drei</p>", "", now, None),
        ]
    ]
    for path in files:
        try:
            feed = parse(path.read_bytes(), url="https://example.org/feed")
        except SyndicateError:
            continue
        entries = [normalise_entry(raw, base="https://example.org/", now=now, future_tolerance=3600) for raw in feed.entries]
        documents.append([(e.title, e.content_html or e.summary_html, e.text, e.published_at, e.block_text or None) for e in entries])
    from syndicate.reader import neardup

    compared = 0
    for items in documents:
        together = dedupe.probes(7, items)
        assert len(together) == len(items)
        runs = [found.evidence.words for found in together]
        for run, batched in zip(runs, neardup.minhashes(runs)):  # against the one-run computation
            alone = neardup.minhash(run)
            assert (batched is None and alone is None) or (batched == alone).all(), run
        for item, found in zip(items, together):
            alone = dedupe.probe(7, *item)
            assert (found.source_id, found.evidence, found.hashes, found.published_at, found.buckets) == (
                alone.source_id,
                alone.evidence,
                alone.hashes,
                alone.published_at,
                alone.buckets,
            ), item[0]
            compared += 1
    assert compared > (1000 if CORPUS.is_dir() else 30), compared  # the corpus beside the checkout, or the fixtures alone
