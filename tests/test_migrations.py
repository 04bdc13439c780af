"""Data migrations keep what is stored: a database at the previous revision, upgraded, still answers."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from syndicate import migrate
from syndicate.db import make_engine
from syndicate.dedupe import epoch
from syndicate.models import Article, ArticleBucket, City, Source


def test_0010_keeps_every_bucket_with_its_date_in_whole_seconds(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    published = [datetime(2025, 3, 4, 9, 30, 15, 250000, tzinfo=timezone.utc), datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]
    with Session(engine) as session:  # these tables are the same at 0009 and now
        city = City(slug="augsburg", name="Augsburg", kind="city")
        session.add(city)
        session.flush()
        source = Source(city_id=city.id, url="https://a.example/rss", canonical_url="https://a.example/rss")
        session.add(source)
        session.flush()
        session.add_all(Article(id=n, source_id=source.id, item_key=f"k{n}", title="T", content_hash="h", published_at=moment)
                        for n, moment in enumerate(published, start=1))
        session.commit()
    with engine.begin() as connection:  # the 0009 layout
        for n, moment in enumerate(published, start=1):
            connection.execute(text("INSERT INTO article_buckets (article_id, band, bucket, published_at) VALUES (:a, 0, :b0, :at), (:a, 24, :b1, :at)"),
                               {"a": n, "b0": -(2**63) + n, "b1": 2**63 - n, "at": moment.strftime("%Y-%m-%d %H:%M:%S.%f")})
    engine.dispose()

    migrate.upgrade(url)

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = set(connection.execute(text("SELECT bucket, published, article_id FROM article_buckets")))
        schema = connection.execute(text("SELECT sql FROM sqlite_schema WHERE name = 'article_buckets'")).scalar()
        indexes = {r[0] for r in connection.execute(text("SELECT name FROM sqlite_schema WHERE tbl_name = 'article_buckets' AND type = 'index'"))}
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.execute(text("DELETE FROM articles WHERE id = 1"))  # the buckets go with their article
        left = set(connection.execute(text("SELECT article_id FROM article_buckets")).scalars())
    engine.dispose()
    assert rows == {(-(2**63) + 1, epoch(published[0]), 1), (2**63 - 1, epoch(published[0]), 1),
                    (-(2**63) + 2, epoch(published[1]), 2), (2**63 - 2, epoch(published[1]), 2)}
    assert epoch(published[0]) == 1741080615
    assert "WITHOUT ROWID" in schema
    assert "ix_article_buckets_article_id" in indexes
    assert left == {2}
    assert {c.name for c in ArticleBucket.__table__.columns} == {"bucket", "published", "article_id"}
