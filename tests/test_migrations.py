"""Data migrations keep what is stored: a database at the previous revision, upgraded, still answers."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import BigInteger, Column, MetaData, Table, select, text
from sqlalchemy.orm import Session

from syndicate import db
from syndicate.clock import utcnow
from syndicate.db import make_engine
from syndicate.dedupe.rules import epoch, probe
from syndicate.dedupe.store import store_documents
from syndicate.migrations.frozen import minhash_0011
from syndicate.models import Article, ArticleBucket, City, Cluster, Source
from syndicate.reader.normalise import Entry, html_to_text, normalise_entry
from syndicate.reader.parse import parse
from tests.conftest import CORPUS, FIXTURES, make_source
from tests.support import labelled

MIGRATIONS = Path(__file__).resolve().parent.parent / "syndicate" / "migrations"


def _articles_before_0014() -> Table:
    """articles as revisions up to 0013 have it: with simhash, NOT NULL and no server default (dropped by 0014)."""
    table = Article.__table__.to_metadata(MetaData())
    table.append_column(Column("simhash", BigInteger, nullable=False, default=0))
    return table


def _articles_at(url: str, revision: str, published: list[datetime]):
    """A database migrated to ``revision`` holding articles 1, 2, … of one source, published at these times."""
    db.upgrade(url, revision)
    engine = make_engine(url)
    with Session(engine) as session:
        city = City(slug="augsburg", name="Augsburg", kind="city")
        session.add(city)
        session.flush()
        source = Source(city_id=city.id, url="https://a.example/rss", canonical_url="https://a.example/rss")
        session.add(source)
        session.flush()
        session.execute(
            _articles_before_0014().insert(),
            [
                {"id": n, "source_id": source.id, "item_key": f"k{n}", "title": "T", "content_hash": "h", "published_at": moment}
                for n, moment in enumerate(published, start=1)
            ],
        )
        session.commit()
    return engine


def _bucket_table(connection) -> tuple[set, str, set[str]]:
    """article_buckets as SQLite holds it: its rows, its CREATE statement and the names of its indexes."""
    rows = set(connection.execute(text("SELECT bucket, published, article_id FROM article_buckets")))
    schema = connection.execute(text("SELECT sql FROM sqlite_schema WHERE name = 'article_buckets'")).scalar()
    indexes = {
        r[0] for r in connection.execute(text("SELECT name FROM sqlite_schema WHERE tbl_name = 'article_buckets' AND type = 'index'"))
    }
    return rows, schema, indexes


def test_0010_keeps_every_bucket_with_its_date_in_whole_seconds(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    published = [datetime(2025, 3, 4, 9, 30, 15, 250000, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)]
    engine = _articles_at(url, "0009", published)  # these tables are the same at 0009 and now
    with engine.begin() as connection:  # the 0009 layout
        for n, moment in enumerate(published, start=1):
            connection.execute(
                text("INSERT INTO article_buckets (article_id, band, bucket, published_at) VALUES (:a, 0, :b0, :at), (:a, 24, :b1, :at)"),
                {"a": n, "b0": -(2**63) + n, "b1": 2**63 - n, "at": moment.strftime("%Y-%m-%d %H:%M:%S.%f")},
            )
    engine.dispose()

    db.upgrade(url, "0010")

    engine = make_engine(url)
    with engine.connect() as connection:
        rows, schema, indexes = _bucket_table(connection)
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.execute(text("DELETE FROM articles WHERE id = 1"))  # the buckets go with their article
        left = set(connection.execute(text("SELECT article_id FROM article_buckets")).scalars())
    engine.dispose()
    assert rows == {
        (-(2**63) + 1, epoch(published[0]), 1),
        (2**63 - 1, epoch(published[0]), 1),
        (-(2**63) + 2, epoch(published[1]), 2),
        (2**63 - 2, epoch(published[1]), 2),
    }
    assert epoch(published[0]) == 1741080615
    assert "WITHOUT ROWID" in schema
    assert "ix_article_buckets_article_id" in indexes
    assert left == {2}
    assert {c.name for c in ArticleBucket.__table__.columns} == {"bucket", "published", "article_id"}


STORY = (
    "<p>Die Stadt warnt vor gefälschten E-Mails, die im Namen des Bürgerbüros Zahlungen verlangen. "
    "Betroffene sollen keine Links öffnen und den Vorfall der Polizei melden.</p>"
    "<p>Das Bürgerbüro verschickt keine Zahlungsaufforderungen per E-Mail.</p>"
)


def entry(title: str, url: str, html: str, published: datetime) -> Entry:
    return Entry(
        title=title,
        url=url,
        canonical_url=url,
        guid=url,
        summary_html=html,
        content_html="",
        text=html_to_text(html),
        published_at=published,
        updated_at=None,
        author=None,
    )


def test_0011_recomputes_stored_buckets_so_old_articles_are_found_again(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    db.upgrade(url, "0010")
    engine = make_engine(url)
    published = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    with Session(engine) as session:  # an article stored at 0010, its buckets made by the former signature
        augsburg = make_source(session, "https://augsburg.example/rss", city="augsburg")
        session.add(Cluster(id=1, representative_id=None, published_at=published, updated_at=published, created_at=published))
        session.execute(
            _articles_before_0014().insert(),
            {
                "id": 1,
                "source_id": augsburg.id,
                "item_key": "k1",
                "title": "Warnung vor falschen Zahlungsaufforderungen",
                "summary_html": STORY,
                "content_html": "",
                "text": html_to_text(STORY),
                "content_hash": "h",
                "published_at": published,
                "cluster_id": 1,
            },
        )
        session.flush()
        session.add_all(ArticleBucket(bucket=-(2**63) + n, published=epoch(published), article_id=1) for n in range(25))
        session.commit()
    engine.dispose()

    db.upgrade(url)

    engine = make_engine(url)
    with Session(engine) as session:
        stored = set(session.execute(select(ArticleBucket.bucket, ArticleBucket.published).where(ArticleBucket.article_id == 1)))
        found = probe(1, "Warnung vor falschen Zahlungsaufforderungen", STORY, "", published)
        assert stored == {(bucket, epoch(published)) for bucket in found.buckets}
        assert len(stored) == 25
        # the same story from another city, a day later and with a sentence more, joins the old article's cluster
        nuernberg = make_source(session, "https://nuernberg.example/rss", city="nuernberg")
        copy = entry(
            "Warnung vor falschen Zahlungsaufforderungen im Namen des Bürgerbüros",
            "https://nuernberg.example/n/1",
            STORY + "<p>Weitere Hinweise gibt die Polizei.</p>",
            published + timedelta(days=1),
        )
        counts = store_documents(session, [(nuernberg, [copy])], [], utcnow())[0]
        session.commit()
        assert (counts.new, counts.duplicates) == (1, 1)
        assert session.scalar(select(Article.cluster_id).where(Article.source_id == nuernberg.id)) == 1
    engine.dispose()


def _search_index(difference) -> bool:
    """The search index (0016) lives outside the models: FTS5 tables (and their shadow tables) and the queue on
    SQLite, the generated column and its GIN index on PostgreSQL. Its own tests cover it."""
    if difference[0] in ("remove_table",):
        return difference[1].name.startswith("article_search")
    if difference[0] == "remove_column":
        return difference[3].name == "search"
    if difference[0] == "remove_index":
        return difference[1].name == "ix_articles_search"
    return False


def test_migrations_build_the_schema_the_models_describe(tmp_path):
    """Indexes and columns of a database made by the migrations are those of syndicate.models (0012 dropped
    ix_articles_source_id in both)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from syndicate.models import Base

    url = f"sqlite:///{tmp_path}/head.db"
    db.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {r[0] for r in connection.execute(text("SELECT name FROM sqlite_schema WHERE tbl_name = 'articles' AND type = 'index'"))}
    engine.dispose()
    kinds = ("add_index", "remove_index", "add_column", "remove_column", "add_table", "remove_table", "add_fk", "remove_fk")
    assert [d for d in differences if d[0] in kinds and not _search_index(d)] == []
    assert "ix_articles_source_id" not in indexes and "ix_articles_cluster_id" in indexes


def test_0013_keeps_every_bucket_row_without_the_foreign_key_and_its_index(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    published = datetime(2025, 3, 4, 9, 30, 15, tzinfo=UTC)
    engine = _articles_at(url, "0012", [published, published])
    with Session(engine) as session:
        session.add_all(
            ArticleBucket(bucket=b, published=epoch(published), article_id=n) for n in (1, 2) for b in (-(2**63) + n, 2**63 - n, n)
        )
        session.commit()
    engine.dispose()

    db.upgrade(url, "0013")

    engine = make_engine(url)
    with engine.begin() as connection:
        rows, schema, indexes = _bucket_table(connection)
        connection.execute(text("DELETE FROM articles WHERE id = 1"))  # no cascade: the store deletes rows by key
        connection.execute(text("INSERT INTO article_buckets VALUES (5, 0, 99)"))  # no article 99: no foreign key refuses it
        left = set(connection.execute(text("SELECT article_id FROM article_buckets")).scalars())
    engine.dispose()
    assert rows == {(b, epoch(published), n) for n in (1, 2) for b in (-(2**63) + n, 2**63 - n, n)}
    assert "WITHOUT ROWID" in schema and "REFERENCES" not in schema
    assert not {i for i in indexes if not i.startswith("sqlite_autoindex")}
    assert left == {1, 2, 99}


def test_0014_drops_simhash_and_keeps_every_article_and_what_points_at_it(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    published = datetime(2025, 3, 4, 9, 30, 15, tzinfo=UTC)
    engine = _articles_at(url, "0013", [published, published])
    with engine.begin() as connection:  # rows that point at the articles with ON DELETE CASCADE
        connection.execute(
            text("INSERT INTO topics (id, slug, title, categories, keywords, exclude) VALUES (1, 't', 'T', '[]', '[]', '[]')")
        )
        connection.execute(text("INSERT INTO article_topics (article_id, topic_id, reason) VALUES (1, 1, 'keyword'), (2, 1, 'keyword')"))
        connection.execute(text("INSERT INTO item_aliases (source_id, item_key, article_id) VALUES (1, 'alt', 2)"))
        connection.execute(text("UPDATE articles SET simhash = 7"))
    engine.dispose()

    def state() -> tuple:
        engine = make_engine(url)
        with engine.connect() as connection:
            columns = {row[1] for row in connection.execute(text("PRAGMA table_info(articles)"))}
            kept = (
                connection.execute(text("SELECT id, item_key, title FROM articles ORDER BY id")).all(),
                connection.execute(text("SELECT article_id, topic_id FROM article_topics ORDER BY article_id")).all(),
                connection.execute(text("SELECT item_key, article_id FROM item_aliases")).all(),
            )
        engine.dispose()
        return columns, kept

    before_columns, before = state()
    db.upgrade(url, "0014")
    upgraded_columns, upgraded = state()
    db.upgrade(url, "head")  # and the models work on it
    engine = make_engine(url)
    with Session(engine) as session:
        assert [a.language for a in session.scalars(select(Article).order_by(Article.id))] == [None, None]
    engine.dispose()
    from alembic import command

    command.downgrade(db.alembic_config(url), "0013")
    downgraded_columns, downgraded = state()

    assert "simhash" in before_columns and before_columns - upgraded_columns == {"simhash"}
    assert (
        upgraded
        == downgraded
        == before
        == (
            [(1, "k1", "T"), (2, "k2", "T")],
            [(1, 1), (2, 1)],
            [("alt", 2)],
        )
    )
    assert downgraded_columns == before_columns
    engine = make_engine(url)
    with engine.connect() as connection:  # back at 0013: the column is there again, 0 for the rows that lost it
        assert connection.execute(text("SELECT simhash FROM articles ORDER BY id")).scalars().all() == [0, 0]
    engine.dispose()


def _sample_entries() -> list[Entry]:
    """Normalised entries of the feed fixtures, the labelled dedupe set and, when it is there, the
    German part of the shared corpus: titles and HTML of the kinds the stored articles hold."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    documents = sorted((FIXTURES / "feeds").iterdir()) + sorted((CORPUS / "real-world" / "de").glob("*.xml"))
    raws = [raw for path in documents for raw in parse(path.read_bytes(), url="https://example.org/feed").entries]
    entries = [normalise_entry(raw, base="https://example.org/feed", now=now, future_tolerance=86400) for raw in raws]
    return entries + [labelled.entry_of(record) for record in labelled.load()["records"]]


def test_the_frozen_copy_of_0011_makes_the_live_buckets():
    """0011 computes buckets with its own frozen copy of the signature; it is only right while the copy
    makes what the live code made when 0011 was written (and still makes: the signature is unchanged)."""
    entries = _sample_entries()
    assert len(entries) > 200
    for e in entries:
        html = e.content_html or e.summary_html
        live = probe(1, e.title, html, e.text, e.published_at).buckets
        assert minhash_0011.buckets(e.title, html, e.text) == live, e.title
    # an article stored with text and no HTML, and one with neither
    assert (
        minhash_0011.buckets("Haushalt 2026", "", "Der Stadtrat beschließt den Haushalt.")
        == probe(1, "Haushalt 2026", "", "Der Stadtrat beschließt den Haushalt.", datetime.now(UTC)).buckets
    )
    assert minhash_0011.buckets("", "", "") == [] == probe(1, "", "", "", datetime.now(UTC)).buckets


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_revisions_import_no_live_application_code():
    """A revision must write what it wrote on the day it was made: it imports nothing of syndicate but
    its frozen copies, and those import nothing of syndicate at all."""
    versions = sorted(MIGRATIONS.glob("versions/*.py"))
    frozen = sorted(MIGRATIONS.glob("frozen/*.py"))
    assert len(versions) >= 13 and frozen
    live = {
        f"{path.parent.name}/{path.name}": name
        for path in versions
        for name in _imports(path)
        if (name == "syndicate" or name.startswith(("syndicate.", "."))) and not name.startswith("syndicate.migrations.frozen.")
    }
    live |= {f"frozen/{path.name}": name for path in frozen for name in _imports(path) if name.split(".")[0] in ("syndicate", "")}
    assert live == {}
