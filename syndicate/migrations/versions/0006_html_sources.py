"""HTML newsroom sources: ``sources.kind`` (feed | html) and ``sources.extraction`` (selectors)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="feed", nullable=False))
        batch_op.add_column(sa.Column("extraction", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("extraction")
        batch_op.drop_column("kind")
