"""near-duplicate buckets, boilerplate counts, item aliases, revisions, tombstones; topic exclusions and matched rules

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_buckets",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "band"),
    )
    with op.batch_alter_table("article_buckets", schema=None) as batch_op:
        batch_op.create_index("ix_article_buckets_bucket_published", ["bucket", "published_at"], unique=False)

    op.create_table(
        "source_passages",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("passage", sa.BigInteger(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "passage"),
    )

    op.create_table(
        "item_aliases",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "item_key"),
    )
    with op.batch_alter_table("item_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_aliases_article_id"), ["article_id"], unique=False)

    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("article_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_revisions_article_id"), ["article_id"], unique=False)

    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("item_key", sa.String(length=64), nullable=True),
        sa.Column("canonical_url", sa.String(length=2000), nullable=True),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "item_key", name="uq_tombstones_source_item"),
    )
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.create_index("ix_tombstones_canonical_url", ["canonical_url"], unique=False)

    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exclude", sa.JSON(), nullable=True))
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.drop_column("rule")
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_column("exclude")
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_tombstones_canonical_url")
    op.drop_table("tombstones")
    with op.batch_alter_table("article_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_revisions_article_id"))
    op.drop_table("article_revisions")
    with op.batch_alter_table("item_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_aliases_article_id"))
    op.drop_table("item_aliases")
    op.drop_table("source_passages")
    with op.batch_alter_table("article_buckets", schema=None) as batch_op:
        batch_op.drop_index("ix_article_buckets_bucket_published")
    op.drop_table("article_buckets")
