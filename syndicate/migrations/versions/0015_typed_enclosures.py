"""articles.enclosures as typed values: length a whole number of bytes (or null), type and URL bounded

Enclosure lengths used to be stored as the publisher's string when ``str.isdigit()`` accepted it, so
"²" or five thousand nines were stored and made every merged feed with that article fail to render.
Normalise now stores {href, type, length} with length an int in 0..2**53 or null; this rewrites the
rows written before in that form. A source's site_url (the feed's own link, shown as a link in the
API and as OPML htmlUrl) was stored unchecked; one that is not http(s) or is longer than the column
is cleared. The rules are written out here, not imported: a migration must keep doing what it did
when it was written.

Revision ID: 0015
Revises: 0014
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DIGITS = re.compile(r"[0-9]{1,16}\Z")  # ASCII digits only; str.isdigit() also accepts "²"
MAX_LENGTH = 2**53
MAX_URL_CHARS = 2000
MAX_TYPE_CHARS = 100
MAX_ENCLOSURES = 10
CHUNK = 1000

articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("enclosures", sa.JSON))
sources = sa.table("sources", sa.column("site_url", sa.String))


def _length(value: object) -> int | None:
    if isinstance(value, str) and DIGITS.match(value.strip()):
        value = int(value.strip())
    return value if type(value) is int and 0 <= value <= MAX_LENGTH else None


def _typed(enclosures: object) -> list[dict]:
    kept = []
    for enclosure in enclosures if isinstance(enclosures, list) else []:
        href = enclosure.get("href") if isinstance(enclosure, dict) else None
        if isinstance(href, str) and href.startswith(("http://", "https://")) and len(href) <= MAX_URL_CHARS:
            kind = enclosure.get("type")
            kind = kind if isinstance(kind, str) and len(kind) <= MAX_TYPE_CHARS else ""
            kept.append({"href": href, "type": kind, "length": _length(enclosure.get("length"))})
    return kept[:MAX_ENCLOSURES]


def _as_before(enclosures: object) -> list[dict]:
    """The former form: length a string of digits, "0" when unknown."""
    return [{**e, "length": str(e["length"] or 0)} for e in _typed(enclosures)]


def _rewrite(convert) -> None:
    """Every article's enclosures through ``convert``, in chunks by id; only changed rows are written."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(articles.c.id, articles.c.enclosures)
            .where(articles.c.id > last, articles.c.enclosures.is_not(None))
            .order_by(articles.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        changed = [{"row_id": row_id, "value": new} for row_id, value in rows if (new := convert(value)) != value]
        if changed:
            connection.execute(
                articles.update().where(articles.c.id == sa.bindparam("row_id")).values(enclosures=sa.bindparam("value")), changed
            )


def upgrade() -> None:
    _rewrite(_typed)
    site = sources.c.site_url
    web = sa.or_(site.like("http://%"), site.like("https://%"))
    op.get_bind().execute(
        sources.update().where(site.is_not(None), sa.or_(~web, sa.func.length(site) > MAX_URL_CHARS)).values(site_url=None)
    )


def downgrade() -> None:
    _rewrite(_as_before)
