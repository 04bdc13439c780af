"""sources.freshness (the posting profile of the freshness model), sources.urgent and topics.urgent;
push_subscriptions (our WebSub subscriptions to publishers' hubs)

``freshness`` holds a source's recent publication times and their counts per Berlin hour
(syndicate/ingest/schedule.py ``Profile``); NULL until its next changed document. ``urgent`` marks
warnings: such a source, or any source whose default topics include an urgent topic, is polled at
the shortest interval the host budget allows.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch: SQLite's batch mode would copy ``sources`` into a new table and drop
    # the old one, and the drop cascades to every article of every source
    op.add_column("sources", sa.Column("freshness", sa.JSON(), nullable=True))
    op.add_column("sources", sa.Column("urgent", sa.Boolean(create_constraint=False), server_default=sa.false(), nullable=False))
    op.add_column("topics", sa.Column("urgent", sa.Boolean(create_constraint=False), server_default=sa.false(), nullable=False))
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("hub", sa.String(length=2000), nullable=False),
        sa.Column("topic", sa.String(length=2000), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id"),
        sa.UniqueConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("push_subscriptions")
    op.drop_column("topics", "urgent")
    op.drop_column("sources", "urgent")
    op.drop_column("sources", "freshness")
