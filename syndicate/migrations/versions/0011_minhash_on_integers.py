"""article_buckets computed again: the MinHash signature is taken on integers

The signature no longer hashes each shingle with SHAKE-128 and each band with BLAKE2b; it hashes
each word once and does the rest in numpy. Bucket ids made the old way would never meet new ones,
so every stored article's buckets are computed again from its stored title, HTML and text, in
chunks of 1,000 articles. The computation is the frozen copy in
``syndicate/migrations/frozen/minhash_0011.py``, so that later changes to the live signature
never change what this revision writes.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from syndicate.migrations.frozen.minhash_0011 import reindex_all

    reindex_all(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("0011 keeps no buckets of the former signature: restore the database from before the upgrade")
