"""mail_subscriptions and mail_sent: e-mail subscriptions to merged feeds and the stories sent to each

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("feed", sa.String(500), nullable=False),
        sa.Column("rhythm", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("confirm_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("address", "feed", name="uq_mail_subscriptions_address_feed"),
        sa.UniqueConstraint("confirm_hash", name="uq_mail_subscriptions_confirm_hash"),
    )
    op.create_index("ix_mail_subscriptions_state", "mail_subscriptions", ["state"])
    op.create_table(
        "mail_sent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription_id", sa.Integer(), sa.ForeignKey("mail_subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscription_id", "cluster_id", name="uq_mail_sent_subscription_cluster"),
    )
    op.create_index("ix_mail_sent_subscription_id", "mail_sent", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("mail_sent")
    op.drop_table("mail_subscriptions")
