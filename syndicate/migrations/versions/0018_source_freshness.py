"""sources.freshness (the posting profile of the freshness model), sources.urgent and topics.urgent

``freshness`` holds a source's recent publication times and their counts per Berlin hour
(syndicate/ingest/schedule.py ``Profile``); NULL until its next changed document. ``urgent`` marks
warnings: such a source, or any source whose default topics include an urgent topic, is polled at
the shortest interval the host budget allows.

Revision ID: 0018
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch: SQLite's batch mode would copy ``sources`` into a new table and drop
    # the old one, and the drop cascades to every article of every source
    op.add_column("sources", sa.Column("freshness", sa.JSON(), nullable=True))
    op.add_column("sources", sa.Column("urgent", sa.Boolean(create_constraint=False), server_default=sa.false(), nullable=False))
    op.add_column("topics", sa.Column("urgent", sa.Boolean(create_constraint=False), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("topics", "urgent")
    op.drop_column("sources", "urgent")
    op.drop_column("sources", "freshness")
