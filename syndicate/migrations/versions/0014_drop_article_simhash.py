"""articles: simhash is dropped

No code wrote or read it: near-duplicates are found by MinHash buckets (article_buckets, 0004/0011).

SQLite drops the column in place (ALTER TABLE … DROP COLUMN, SQLite 3.35 or later), not by copying the
table: with foreign keys on, dropping the old articles table would delete the rows that point at it
(topics, aliases, revisions) by their ON DELETE CASCADE.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.drop_column("simhash")


def downgrade() -> None:
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.add_column(sa.Column("simhash", sa.BigInteger(), nullable=False, server_default="0"))
