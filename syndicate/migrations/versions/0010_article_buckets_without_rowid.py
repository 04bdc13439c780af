"""article_buckets: the row is the key (bucket, published epoch seconds, article id), WITHOUT ROWID on SQLite

Storing a new article wrote ~25 rows into three b-trees (the table, its (article_id, band) key and
the (bucket, published_at) index, dates as text); now into one table in bucket order and one small
index on article_id. The band column was never read: a bucket id already hashes its band.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_EPOCH = {
    "sqlite": "CAST(strftime('%s', published_at) AS INTEGER)",
    "postgresql": "CAST(FLOOR(EXTRACT(EPOCH FROM published_at)) AS BIGINT)",
}


def upgrade() -> None:
    op.create_table(
        "article_buckets_new",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("published", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("bucket", "published", "article_id"),
        sqlite_with_rowid=False,
    )
    epoch = _EPOCH[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO article_buckets_new (bucket, published, article_id) SELECT DISTINCT bucket, {epoch}, article_id FROM article_buckets"
    )
    op.drop_table("article_buckets")
    op.rename_table("article_buckets_new", "article_buckets")
    if op.get_bind().dialect.name == "postgresql":  # the names a table created as article_buckets has
        op.execute("ALTER TABLE article_buckets RENAME CONSTRAINT article_buckets_new_pkey TO article_buckets_pkey")
        op.execute("ALTER TABLE article_buckets RENAME CONSTRAINT article_buckets_new_article_id_fkey TO article_buckets_article_id_fkey")
    op.create_index("ix_article_buckets_article_id", "article_buckets", ["article_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("0010 keeps no band numbers: restore the database from before the upgrade")
