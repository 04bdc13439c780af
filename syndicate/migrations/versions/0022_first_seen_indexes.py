"""articles.first_seen_at and clusters.created_at indexed

/ops and /metrics count today's new articles and stories (``status.summarise``): without an index each
count read the whole table, 226 ms and 71 ms at 255,000 articles on PostgreSQL (bench/year.py), growing
with the year. Both columns only grow, so their b-trees are appended to.

Revision ID: 0022
Revises: 0020
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"], unique=False)
    op.create_index("ix_clusters_created_at", "clusters", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_clusters_created_at", table_name="clusters")
    op.drop_index("ix_articles_first_seen_at", table_name="articles")
