"""articles: the index on source_id alone is dropped

uq_articles_source_item (source_id, item_key) starts with source_id and answers every lookup by
source; the second index only cost a b-tree insert per stored article (and a delete per purge).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_articles_source_id", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_source_id", "articles", ["source_id"], unique=False)
