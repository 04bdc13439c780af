"""Full-text search over articles: SQLite FTS5, PostgreSQL tsvector with the german configuration

SQLite: ``article_search`` (FTS5) holds each article's title and text as German stems (folded,
stemmed and stopword-free, made in Python by ``syndicate.search.german``: SQLite has no German
stemmer). Triggers keep it in step without Python: an insert or an edit of title or text puts the
article's id into ``article_search_pending``, a deletion (by hand, retention, tombstones, CASCADE)
removes its index row at once. The search code stems the pending articles before it answers
(``syndicate.search.index.catch_up``), so this migration only queues every existing article and
the index is filled lazily at the first search.

PostgreSQL: ``articles.search`` is a stored generated tsvector (title weighted A, text B) under the
``german`` configuration, with umlaut spellings folded first (ae → ä, oe → ö, ue → ü except after
q, so "Buergerbuero" and "Bürgerbüro" give one lexeme), and a GIN index. Generated columns are
kept in step by the database itself; adding it computes it for existing rows.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The same folding as syndicate.search.german.FOLD_SQL (a migration does not import live code).
_FOLD = (
    "regexp_replace(regexp_replace(regexp_replace(lower(translate({0}, 'ÄÖÜ', 'äöü')),"
    " '(^|[^q])ue', '\\1ü', 'g'), 'ae', 'ä', 'g'), 'oe', 'ö', 'g')"
)
_VECTOR = (
    "setweight(to_tsvector('german'::regconfig, " + _FOLD.format("coalesce(title, '')") + "), 'A') || "
    "setweight(to_tsvector('german'::regconfig, " + _FOLD.format("coalesce(text, '')") + "), 'B')"
)

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS article_search USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TABLE IF NOT EXISTS article_search_pending (article_id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER IF NOT EXISTS article_search_insert AFTER INSERT ON articles BEGIN
         INSERT OR IGNORE INTO article_search_pending (article_id) VALUES (new.id);
       END""",
    """CREATE TRIGGER IF NOT EXISTS article_search_update AFTER UPDATE OF title, text ON articles BEGIN
         INSERT OR IGNORE INTO article_search_pending (article_id) VALUES (new.id);
       END""",
    """CREATE TRIGGER IF NOT EXISTS article_search_delete AFTER DELETE ON articles BEGIN
         DELETE FROM article_search WHERE rowid = old.id;
         DELETE FROM article_search_pending WHERE article_id = old.id;
       END""",
    "INSERT OR IGNORE INTO article_search_pending (article_id) SELECT id FROM articles",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS article_search_insert",
    "DROP TRIGGER IF EXISTS article_search_update",
    "DROP TRIGGER IF EXISTS article_search_delete",
    "DROP TABLE IF EXISTS article_search_pending",
    "DROP TABLE IF EXISTS article_search",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
        return
    op.execute(f"ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS ({_VECTOR}) STORED")
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_articles_search")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search")
