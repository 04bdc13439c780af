"""article_buckets: no foreign key to articles and no index on article_id

The rows are an index derived from each article; the store deletes an article's rows by their key,
computed again from the stored article (``dedupe.unindex``), and maintenance prunes rows left without
an article (``maintenance.prune_buckets``). The foreign key cost a lookup in articles and the index a
second b-tree insert for each of the ~25 rows a new article writes.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _rebuild(foreign_key: bool) -> None:
    """SQLite adds or drops a foreign key only with its table: the rows go to a new one."""
    keys = [sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE")] if foreign_key else []
    op.create_table(
        "article_buckets_next",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("published", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        *keys,
        sa.PrimaryKeyConstraint("bucket", "published", "article_id"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO article_buckets_next (bucket, published, article_id) SELECT bucket, published, article_id FROM article_buckets")
    op.drop_table("article_buckets")
    op.rename_table("article_buckets_next", "article_buckets")


def upgrade() -> None:
    op.drop_index("ix_article_buckets_article_id", table_name="article_buckets")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("article_buckets_article_id_fkey", "article_buckets", type_="foreignkey")
    else:
        _rebuild(foreign_key=False)


def downgrade() -> None:
    op.execute("DELETE FROM article_buckets WHERE NOT EXISTS (SELECT 1 FROM articles WHERE articles.id = article_buckets.article_id)")
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key("article_buckets_article_id_fkey", "article_buckets", "articles", ["article_id"], ["id"], ondelete="CASCADE")
    else:
        _rebuild(foreign_key=True)
    op.create_index("ix_article_buckets_article_id", "article_buckets", ["article_id"], unique=False)
