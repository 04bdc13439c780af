"""An item's life in the store, polled through refresh_source from a real server on 127.0.0.1:
re-polls, edits in place, GUID changes, near duplicates across cities, recurring formats,
hub URLs, bridging clusters, tombstones."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.dedupe import rules as dedupe
from syndicate.dedupe import tombstones
from syndicate.ingest.refresh import refresh_source
from syndicate.models import Article, ArticleBucket, ArticleRevision, Cluster, ItemAlias, SourcePassage, Tombstone
from syndicate.publish.feeds import FeedQuery, load_items
from tests.conftest import make_source

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
STORY = [
    "Das Landesamt für Sicherheit in der Informationstechnik warnt vor einer Welle gefälschter E-Mails, die angeblich vom Finanzamt stammen.",
    "Die Nachrichten kündigen eine Steuererstattung an und fordern dazu auf, über einen Link Kontodaten und Zugangsdaten einzugeben.",
    "Die Finanzverwaltung verschickt Bescheide jedoch nie auf diesem Weg und fragt niemals per E-Mail nach Passwörtern.",
    "Wer eine solche Nachricht erhalten hat, sollte weder den Link öffnen noch Anhänge herunterladen.",
    "Verdächtige E-Mails können an die Meldestelle des Landesamts weitergeleitet und danach gelöscht werden.",
    "Wer bereits Daten eingegeben hat, sollte umgehend seine Bank informieren und Anzeige bei der Polizei erstatten.",
]
OTHER = [
    "Die Stadtbibliothek öffnet ab November auch sonntags von 13 bis 18 Uhr.",
    "An Sonntagen können Medien an Automaten entliehen werden.",
    "Ein Sicherheitsdienst und ehrenamtliche Helferinnen sind vor Ort.",
]


def item(title: str, sentences: list[str], guid: str, link: str, day: str = "Mon, 03 Mar 2025 09:00:00 +0100") -> str:
    body = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f'<item><title>{html.escape(title)}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>{day}</pubDate><description>{html.escape(body)}</description></item>"
    )


def rss(*items: str, built: str = "Mon, 03 Mar 2025 10:00:00 +0100") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Pressemitteilungen</title>'
        f"<link>https://www.augsburg.de/</link><lastBuildDate>{built}</lastBuildDate>{''.join(items)}</channel></rss>"
    )


def poll(runtime, session, source_id, now=None):
    outcome = refresh_source(session, runtime.client, source_id, runtime.refresh_config, now=now)
    session.expire_all()
    return outcome


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def snapshot(session) -> tuple[int, ...]:
    passages = session.scalar(select(func.coalesce(func.sum(SourcePassage.articles), 0)))
    return (count(session, Article), count(session, Cluster), count(session, ArticleBucket), passages, count(session, ArticleRevision))


def bucket_rows(session, article_id: int) -> set[tuple[int, int]]:
    return set(session.execute(select(ArticleBucket.bucket, ArticleBucket.published).where(ArticleBucket.article_id == article_id)))


def expected_buckets(article: Article) -> set[tuple[int, int]]:
    found = dedupe.stored_probe(article)
    return {(bucket, found.published) for bucket in found.buckets}


def test_repoll_of_an_unchanged_source_adds_no_article_and_no_cluster(runtime, session, feed_server):
    items = [
        item("Warnung vor gefälschten E-Mails", STORY, "aug-1", "https://www.augsburg.de/a/1"),
        item("Bibliothek sonntags geöffnet", OTHER, "aug-2", "https://www.augsburg.de/a/2"),
    ]
    route = feed_server.add("/aug.xml", rss(*items), headers=RSS)
    source = make_source(session, feed_server.url("/aug.xml"), city="augsburg")
    assert poll(runtime, session, source.id).new == 2
    before = snapshot(session)

    route.body = rss(*items, built="Tue, 04 Mar 2025 10:00:00 +0100").encode()  # a new body, the same items
    outcome = poll(runtime, session, source.id)

    assert (outcome.status, outcome.new, outcome.updated, outcome.duplicates) == ("unchanged", 0, 0, 0)
    assert snapshot(session) == before  # no article, cluster, bucket, sentence count or revision added
    assert before[:2] == (2, 2)


def test_edited_article_changes_in_place_and_keeps_its_cluster(runtime, session, feed_server):
    t0 = utcnow() - timedelta(hours=3)
    aug = feed_server.add(
        "/aug.xml", rss(item("Warnung vor gefälschten E-Mails", STORY, "aug-1", "https://www.augsburg.de/a/1")), headers=RSS
    )
    copy = ["Die Stadt Nürnberg gibt die folgende Mitteilung des Landesamts weiter."] + STORY[:5]  # own lead, last sentence dropped
    feed_server.add(
        "/nbg.xml",
        rss(
            item(
                "Phishing-Mails im Namen des Finanzamts",
                copy,
                "nbg-7",
                "https://www.nuernberg.de/p/7",
                day="Tue, 04 Mar 2025 08:00:00 +0100",
            )
        ),
        headers=RSS,
    )
    augsburg = make_source(session, feed_server.url("/aug.xml"), city="augsburg", name="Stadt Augsburg")
    nuernberg = make_source(session, feed_server.url("/nbg.xml"), city="nuernberg", name="Stadt Nürnberg")
    assert poll(runtime, session, augsburg.id, now=t0).new == 1
    assert (poll(runtime, session, nuernberg.id, now=t0).duplicates) == 1  # a near duplicate: joined the cluster
    original = session.scalar(select(Article).where(Article.source_id == augsburg.id))
    cluster_id, article_id = original.cluster_id, original.id
    assert session.scalar(select(Article.cluster_id).where(Article.source_id == nuernberg.id)) == cluster_id
    old_rows = bucket_rows(session, article_id)
    assert old_rows == expected_buckets(original)  # the rows are those of the article as stored (how they are deleted)

    edited = STORY[:2] + ["Die Finanzverwaltung verschickt Steuerbescheide nie per E-Mail."] + STORY[3:]
    aug.body = rss(item("Warnung vor gefälschten E-Mails (aktualisiert)", edited, "aug-1", "https://www.augsburg.de/a/1")).encode()
    outcome = poll(runtime, session, augsburg.id, now=t0 + timedelta(hours=1))

    assert (outcome.new, outcome.updated) == (0, 1)
    article = session.scalar(select(Article).where(Article.source_id == augsburg.id))
    assert (article.id, article.cluster_id) == (article_id, cluster_id)
    assert article.title.endswith("(aktualisiert)") and "Steuerbescheide" in article.text
    assert count(session, Cluster) == 1 and count(session, Article) == 2
    (revision,) = session.scalars(select(ArticleRevision).where(ArticleRevision.article_id == article_id))
    assert revision.reason == "edited" and revision.title == "Warnung vor gefälschten E-Mails" and "Bescheide" in revision.text
    (entry,) = load_items(session, FeedQuery())
    assert entry.article.id == article_id and [city.slug for city, _ in entry.also] == ["nuernberg"]
    new_rows = bucket_rows(session, article_id)
    assert new_rows == expected_buckets(article) and new_rows != old_rows  # the old rows went by their key


def test_changed_guid_and_url_is_an_update_not_a_new_article(runtime, session, feed_server):
    first = [
        item("Warnung vor gefälschten E-Mails", STORY, "aug-1", "https://www.augsburg.de/a/1"),
        item("Bibliothek sonntags geöffnet", OTHER, "aug-2", "https://www.augsburg.de/a/2"),
    ]
    route = feed_server.add("/aug.xml", rss(*first), headers=RSS)
    source = make_source(session, feed_server.url("/aug.xml"), city="augsburg")
    assert poll(runtime, session, source.id).new == 2
    before = {a.title: (a.id, a.cluster_id) for a in session.scalars(select(Article))}

    moved = item("Warnung vor gefälschten E-Mails", STORY, "cms2-991", "https://stadt.augsburg.de/news/991")  # CMS relaunch
    route.body = rss(moved, first[1]).encode()
    outcome = poll(runtime, session, source.id)

    assert (outcome.new, outcome.updated) == (0, 1)
    after = {a.title: (a.id, a.cluster_id) for a in session.scalars(select(Article))}
    assert after == before
    article = session.get(Article, before["Warnung vor gefälschten E-Mails"][0])
    assert article.guid == "cms2-991" and article.url == "https://stadt.augsburg.de/news/991"
    assert count(session, ItemAlias, ItemAlias.article_id == article.id) == 1
    assert count(session, ArticleRevision, ArticleRevision.reason == "rekeyed") == 1

    route.body = rss(first[0], first[1], built="Wed, 05 Mar 2025 10:00:00 +0100").encode()  # the old GUID comes back
    outcome = poll(runtime, session, source.id)
    assert outcome.new == 0 and count(session, Article) == 2


def test_same_link_for_distinct_items_is_no_update(runtime, session, feed_server):
    """A newsroom that links every item to one page: two items, not one updated twice."""
    page = "https://www.augsburg.de/presse"
    route = feed_server.add("/aug.xml", rss(item("Warnung vor gefälschten E-Mails", STORY, "aug-1", page)), headers=RSS)
    source = make_source(session, feed_server.url("/aug.xml"), city="augsburg")
    assert poll(runtime, session, source.id).new == 1
    route.body = rss(
        item("Bibliothek sonntags geöffnet", OTHER, "aug-2", page, day="Mon, 10 Mar 2025 09:00:00 +0100"),
        item("Warnung vor gefälschten E-Mails", STORY, "aug-1", page),
    ).encode()
    outcome = poll(runtime, session, source.id)
    assert (outcome.new, outcome.updated) == (1, 0)
    assert count(session, Cluster) == 2


def test_recurring_issues_with_shared_boilerplate_stay_separate(runtime, session, feed_server):
    header = "Rathaus Umschau – der Wochenüberblick des Presse- und Informationsamts der Landeshauptstadt München."
    footer = "Herausgeber: Landeshauptstadt München, Presse- und Informationsamt. Die Rathaus Umschau erscheint jeden Freitag."
    news = [
        ["Der Tierpark Hellabrunn verlängert seine Öffnungszeiten.", "Im Westpark werden 40 neue Sitzbänke aufgestellt."],
        ["Die Stadtbibliothek bietet Sprachcafés an.", "Das Baureferat saniert die Brücke über den Auer Mühlbach."],
        ["Im Olympiapark beginnt die Sanierung der Eissporthalle.", "Die Volkshochschule startet ein neues Programm."],
        ["Die Feuerwehr stellt drei neue Drehleitern in Dienst.", "Im Englischen Garten werden Wege erneuert."],
    ]
    issues = [
        item(
            "Rathaus Umschau",
            [header, *blurbs, footer],
            f"ru-{n}",
            f"https://ru.muenchen.de/{n}",
            day=f"Fri, {7 + 7 * n:02d} Mar 2025 12:00:00 +0100",
        )
        for n, blurbs in enumerate(news)
    ]
    feed_server.add("/ru.xml", rss(*issues), headers=RSS)
    source = make_source(session, feed_server.url("/ru.xml"), city="muenchen")

    outcome = poll(runtime, session, source.id)

    assert (outcome.new, outcome.duplicates) == (4, 0)
    assert count(session, Cluster) == 4


def test_an_article_that_bridges_two_clusters_merges_them(runtime, session, feed_server):
    title = "Warnung vor gefälschten E-Mails im Namen des Finanzamts"
    feeds = {  # Fürth copies the first half, Erlangen the second, Würzburg all of it
        "fuerth": (STORY[:3], "Mon, 03 Mar 2025 09:00:00 +0100"),
        "erlangen": (STORY[3:], "Mon, 03 Mar 2025 08:00:00 +0100"),
        "wuerzburg": (STORY, "Mon, 03 Mar 2025 11:00:00 +0100"),
    }
    clusters = []
    for n, (city, (sentences, day)) in enumerate(feeds.items()):
        feed_server.add(f"/{city}.xml", rss(item(title, sentences, f"{city}-1", f"https://www.{city}.de/n/{n}", day=day)), headers=RSS)
        source = make_source(session, feed_server.url(f"/{city}.xml"), city=city)
        poll(runtime, session, source.id)
        clusters.append(count(session, Cluster))
    assert clusters == [1, 2, 1]  # the halves are no duplicates of each other; the whole joins both
    cluster = session.scalar(select(Cluster))
    erlangen = session.scalar(select(Article).where(Article.guid == "erlangen-1"))
    fuerth = session.scalar(select(Article).where(Article.guid == "fuerth-1"))
    assert cluster.representative_id == fuerth.id  # seen first; Erlangen's earlier claimed date does not outrank it
    assert cluster.published_at == datetime(2025, 3, 3, 8, 0, tzinfo=UTC) and erlangen.cluster_id == cluster.id


@pytest.fixture
def two_items(runtime, session, feed_server):
    items = [
        item("Warnung vor gefälschten E-Mails", STORY, "aug-1", "https://www.augsburg.de/a/1"),
        item("Bibliothek sonntags geöffnet", OTHER, "aug-2", "https://www.augsburg.de/a/2"),
    ]
    route = feed_server.add("/aug.xml", rss(*items), headers=RSS)
    source = make_source(session, feed_server.url("/aug.xml"), city="augsburg")
    assert poll(runtime, session, source.id).new == 2
    return source, route, items


def test_deleted_item_does_not_come_back(runtime, session, two_items):
    source, route, items = two_items
    victim = session.scalar(select(Article).where(Article.guid == "aug-1"))
    tombstones.bury(session, victim, "auf Wunsch der Stadt entfernt")
    session.commit()
    assert count(session, Article) == 1 and count(session, Cluster) == 1

    route.body = rss(*items, built="Tue, 04 Mar 2025 10:00:00 +0100").encode()
    outcome = poll(runtime, session, source.id)
    moved = item("Warnung vor gefälschten E-Mails", STORY, "aug-1-neu", "https://www.augsburg.de/a/1")  # new GUID, same URL
    route.body = rss(moved, items[1]).encode()
    again = poll(runtime, session, source.id)

    assert (outcome.new, outcome.updated, again.new, again.updated) == (0, 0, 0, 0)
    assert count(session, Article) == 1
    assert session.scalar(select(Tombstone.reason)) == "auf Wunsch der Stadt entfernt"


@pytest.mark.slow
def test_articles_delete_command_leaves_a_tombstone(runtime, session, two_items, settings):
    from tests.support.cli import syndicate

    source, route, items = two_items
    victim = session.scalar(select(Article.id).where(Article.guid == "aug-2"))
    result = syndicate(settings, "articles", "delete", str(victim), "--reason", "Datenschutz")
    assert result.returncode == 0, result.stderr
    session.expire_all()
    assert session.get(Article, victim) is None
    route.body = rss(*items, built="Tue, 04 Mar 2025 10:00:00 +0100").encode()
    assert poll(runtime, session, source.id).new == 0
    assert session.scalar(select(Tombstone.reason).where(Tombstone.source_id == source.id)) == "Datenschutz"


def test_purged_items_do_not_come_back(runtime, session, two_items):
    source, route, items = two_items
    assert tombstones.purge(session, datetime(2025, 3, 4, tzinfo=UTC)) == 2
    assert (count(session, Article), count(session, Cluster), count(session, ArticleBucket)) == (0, 0, 0)
    route.body = rss(*items, built="Tue, 04 Mar 2025 10:00:00 +0100").encode()
    outcome = poll(runtime, session, source.id)
    assert (outcome.status, outcome.new) == ("unchanged", 0)
    assert count(session, Article) == 0


def test_a_blocked_url_is_refused_in_every_source(runtime, session, feed_server):
    tombstones.bury_url(session, "https://www.bayern.de/presse/warnung")
    session.commit()
    feed_server.add(
        "/nbg.xml",
        rss(
            item("Warnung", STORY, "nbg-1", "https://www.bayern.de/presse/warnung?utm_source=x"),
            item("Bibliothek", OTHER, "nbg-2", "https://www.nuernberg.de/b"),
        ),
        headers=RSS,
    )
    source = make_source(session, feed_server.url("/nbg.xml"), city="nuernberg")
    assert poll(runtime, session, source.id).new == 1
    assert session.scalar(select(Article.guid)) == "nbg-2"


def test_deleting_the_representative_hands_the_cluster_on(runtime, session, feed_server):
    feed_server.add(
        "/a.xml",
        rss(item("Warnung vor gefälschten E-Mails", STORY, "a-1", "https://a.de/1", day="Mon, 03 Mar 2025 08:00:00 +0100")),
        headers=RSS,
    )
    feed_server.add(
        "/b.xml",
        rss(item("Warnung vor gefälschten E-Mails", STORY, "b-1", "https://b.de/1", day="Mon, 03 Mar 2025 12:00:00 +0100")),
        headers=RSS,
    )
    first = make_source(session, feed_server.url("/a.xml"), city="augsburg")
    second = make_source(session, feed_server.url("/b.xml"), city="nuernberg")
    poll(runtime, session, first.id)
    poll(runtime, session, second.id)
    a, b = (session.scalar(select(Article).where(Article.guid == g)) for g in ("a-1", "b-1"))
    assert a.cluster_id == b.cluster_id
    tombstones.bury(session, a)
    session.commit()
    session.expire_all()
    cluster = session.get(Cluster, b.cluster_id)
    assert cluster.representative_id == b.id
    assert cluster.published_at == datetime(2025, 3, 3, 11, 0, tzinfo=UTC)


def test_boilerplate_counts_read_a_pair_that_was_not_asked_for_when_a_rule_needs_it(session):
    """A count the batch did not read beforehand is read on first use, never taken as 0."""
    from syndicate.dedupe import boilerplate

    source = make_source(session, "https://a.example/rss")
    session.add_all(
        [SourcePassage(source_id=source.id, passage=11, articles=3), SourcePassage(source_id=source.id, passage=12, articles=5)]
    )
    session.commit()
    counted = boilerplate.counts(session, [(source.id, 11), (source.id, 99)])
    assert dict(counted) == {(source.id, 11): 3}
    assert counted.get((source.id, 99), 0) == 0  # asked, not stored
    assert counted.get((source.id, 12), 0) == 5  # not asked: read now
    assert boilerplate.common(counted, source.id, [11, 12, 99]) == {11, 12}


def test_articles_inserted_plainly_are_stored_as_sqlalchemy_stores_them(runtime, session, feed_server):
    """SQLite's first write of a store goes past SQLAlchemy's statement (``syndicate.dedupe.batch.insert_plain``):
    every column must hold what SQLAlchemy's own INSERT would have put there."""
    from sqlalchemy import insert

    from syndicate.dedupe.batch import insert_plain

    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plain insert is SQLite's")
    source = make_source(session, feed_server.url("/none.xml"), city="augsburg")
    published = datetime(2025, 3, 4, 9, 30, 15, 250000, tzinfo=UTC)
    row = {
        "source_id": source.id,
        "guid": "g",
        "url": "https://a.example/ä?x=1",
        "canonical_url": None,
        "title": "Tür & „Tor“",
        "summary_html": "<p>a</p>",
        "content_html": "",
        "content_hash": "h" * 64,
        "author": None,
        "categories": ["Digitalisierung", "Ä"],
        "enclosures": [{"href": "https://a.example/i.png", "type": "image/png", "length": "0"}],
        "published_at": published,
        "updated_at": None,
        "first_seen_at": published.replace(microsecond=0),
        "changed_at": datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    }  # no text: its default
    connection = session.connection()
    connection.execute(insert(Article.__table__), [row | {"item_key": "by-sqlalchemy"}])
    (inserted,) = insert_plain(connection, [row | {"item_key": "plain"}])
    assert insert_plain(connection, [row | {"item_key": "plain"}]) == []  # stored already: left out, as ON CONFLICT DO NOTHING
    session.commit()

    def stored(key):
        return session.connection().exec_driver_sql("SELECT * FROM articles WHERE item_key = ?", (key,)).mappings().one()

    by_sqlalchemy, plain = stored("by-sqlalchemy"), stored("plain")
    assert inserted == (plain["id"], "plain")
    assert {k: v for k, v in plain.items() if k not in ("id", "item_key")} == {
        k: v for k, v in by_sqlalchemy.items() if k not in ("id", "item_key")
    }
    article = session.get(Article, plain["id"])
    assert (article.published_at, article.categories, article.text, article.language) == (published, ["Digitalisierung", "Ä"], "", None)


def test_clusters_inserted_plainly_are_stored_as_sqlalchemy_stores_them(session):
    """New clusters go past SQLAlchemy's statement on SQLite too (``plain_statements`` of the clusters
    table): more rows than one statement takes, each as SQLAlchemy's own INSERT would store it."""
    from sqlalchemy import insert

    from syndicate.dedupe.batch import ROWS_PER_INSERT, plain_statements, run_plain

    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plain insert is SQLite's")
    start = datetime(2025, 3, 4, 9, 30, 15, 250000, tzinfo=UTC)
    rows = [
        {
            "representative_id": 10_000 + n,
            "published_at": start + timedelta(minutes=n),
            "updated_at": start + timedelta(seconds=n),
            "created_at": start.replace(microsecond=0),
        }
        for n in range(ROWS_PER_INSERT + 7)
    ]
    connection = session.connection()
    statements = plain_statements(connection.dialect, rows, Cluster.__table__, "RETURNING id, representative_id")
    assert len(statements) == 2
    returned = run_plain(connection, statements)
    by_sqlalchemy = connection.execute(
        insert(Cluster.__table__).returning(Cluster.id, Cluster.representative_id),
        [r | {"representative_id": -r["representative_id"]} for r in rows],
    ).all()
    session.commit()
    assert sorted(rep for _id, rep in returned) == [r["representative_id"] for r in rows]
    stored = {
        rep: (published, updated, created)
        for rep, published, updated, created in session.connection().exec_driver_sql(
            "SELECT representative_id, published_at, updated_at, created_at FROM clusters"
        )
    }
    assert len(by_sqlalchemy) == len(rows) and len(stored) == 2 * len(rows)
    assert all(stored[r["representative_id"]] == stored[-r["representative_id"]] for r in rows)
    cluster = session.get(Cluster, {rep: i for i, rep in returned}[10_003])
    assert (cluster.published_at, cluster.updated_at) == (start + timedelta(minutes=3), start + timedelta(seconds=3))
    with pytest.raises(TypeError, match="clusters.created_at"):
        plain_statements(
            connection.dialect, [{"representative_id": 1, "published_at": start, "updated_at": start}], Cluster.__table__, "RETURNING id"
        )


def test_plain_datetimes_are_what_sqlalchemy_binds_on_sqlite():
    from sqlalchemy.dialects import sqlite

    from syndicate.dedupe.batch import sqlite_datetime
    from syndicate.models import UTCDateTime

    dialect = sqlite.dialect()
    column = UTCDateTime()
    process = column.dialect_impl(dialect).bind_processor(dialect)
    for value in [
        datetime(2025, 3, 4, 9, 30, 15, 250000, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        None,
    ]:
        assert sqlite_datetime(value) == process(value)
    with pytest.raises(ValueError):
        sqlite_datetime(datetime(2026, 1, 1))


def test_bucket_rows_are_the_sorted_bucket_tuples():
    """``bucket_rows`` (numpy) gives the rows in the order of ``sorted`` on (bucket, published, position):
    equal dates and shared buckets tie-break as the tuples do, and the bucket ids keep their sign."""
    import random
    from types import SimpleNamespace

    from syndicate.dedupe.batch import bucket_rows

    chance = random.Random(9)
    pool = [chance.randrange(-(2**63), 2**63) for _ in range(40)] + [-(2**63), 2**63 - 1, 0]
    pending = [
        SimpleNamespace(
            found=SimpleNamespace(
                buckets=chance.sample(pool, chance.randrange(0, 26)), published=chance.choice([0, 1_700_000_000, 1_700_000_001, -86_400])
            )
        )
        for _ in range(300)
    ]
    buckets, published, positions = bucket_rows(pending)
    expected = sorted((b, p.found.published, n) for n, p in enumerate(pending) for b in p.found.buckets)
    assert list(zip(buckets.tolist(), published.tolist(), positions.tolist())) == expected
    assert len(expected) > 3000
    empty = bucket_rows([SimpleNamespace(found=SimpleNamespace(buckets=[], published=5))])
    assert [column.tolist() for column in empty] == [[], [], []]
