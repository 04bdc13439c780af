"""The search index of each database, and the query that ranks articles by it.

SQLite: the FTS5 table ``article_search`` (migration 0016) stores German stems made here in Python.
Triggers queue inserted and edited articles in ``article_search_pending`` and drop deleted ones
from the index at once; ``catch_up`` stems the queued articles before any search reads the index,
so a search always sees the articles as they are (the first search after the migration fills the
whole index). PostgreSQL: the generated column ``articles.search`` needs no catching up.

``ranked`` gives a subquery of (article_id, rank): lower rank is better on both databases.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, bindparam, literal_column, select, text
from sqlalchemy.orm import Session

from syndicate.models import Article
from syndicate.search import german

BATCH = 2000
# Matching articles a search ranks (the newest): a common word costs no more than a rare one. The
# portal shows at most 50 pages of 20 stories, so ranking more matches than that reads and ranks rows
# no page can show; on PostgreSQL each one is a tsvector tested and ranked, and for two words that
# are each common but rarely together, finding them means testing many rows per match.
MOST = 1000


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def catch_up(session: Session) -> int:
    """Index the articles queued by the triggers (SQLite; a no-op on PostgreSQL). Commits each batch;
    returns how many articles were indexed. Safe to run twice at once: each batch replaces rows."""
    if not is_sqlite(session):
        return 0
    done = 0
    while ids := session.scalars(text("SELECT article_id FROM article_search_pending LIMIT :n"), {"n": BATCH}).all():
        rows = session.execute(select(Article.id, Article.title, Article.text).where(Article.id.in_(ids))).all()
        connection = session.connection()
        delete_ids = text("DELETE FROM article_search WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
        connection.execute(delete_ids, {"ids": list(ids)})
        if rows:
            connection.execute(
                text("INSERT INTO article_search (rowid, title, body) VALUES (:id, :title, :body)"),
                [{"id": i, "title": german.terms(title), "body": german.terms(body or "")} for i, title, body in rows],
            )
        dequeue = text("DELETE FROM article_search_pending WHERE article_id IN :ids").bindparams(bindparam("ids", expanding=True))
        connection.execute(dequeue, {"ids": list(ids)})
        session.commit()
        done += len(ids)
    return done


def ranked(session: Session, terms: list[german.Term]):
    """A subquery of (article_id, rank) for the articles matching every term; lower rank is better.
    ``terms`` is never empty (callers answer an empty query themselves)."""
    if is_sqlite(session):
        catch_up(session)
        # bm25 is negative, better matches more so; a hit in the title counts four times one in the text.
        # Only the newest MOST matches are ranked (rowid order is the index's own, so FTS5 stops there and
        # computes bm25 for those alone): a word in every other article costs no more than a rarer one.
        # The LIMIT also keeps SQLite from flattening this into the caller's join, where bm25 cannot run.
        statement = text(
            "SELECT rowid AS article_id, bm25(article_search, 4.0, 1.0) AS rank FROM article_search"
            " WHERE article_search MATCH :expression ORDER BY rowid DESC LIMIT :most"
        ).bindparams(expression=german.fts5_expression(terms), most=MOST)
        return statement.columns(article_id=Integer, rank=Float).subquery("matches")
    return _postgres_ranked(terms)


def _postgres_ranked(terms: list[german.Term]):
    """The words are bound parameters: to_tsquery sees one word of letters and digits each, folded as the
    column is, and prefix lexemes that are built here from letters and digits only. A stem that one of
    the prefixes already matches gets no term of its own (each alternative costs a test on every row read)."""
    parts, params = [], {}
    for i, term in enumerate(terms):
        alternatives = []
        if not term.stem_is_prefixed():
            alternatives.append(f"to_tsquery('german'::regconfig, {german.FOLD_SQL.format(f':w{i}')})")
            params[f"w{i}"] = term.word
        if term.prefixes:
            alternatives.append(f"to_tsquery('simple'::regconfig, :p{i})")
            params[f"p{i}"] = " | ".join(f"{p}:*" for p in term.prefixes)
        parts.append(f"({' || '.join(alternatives)})")
    query = " && ".join(parts)
    # as on SQLite, the newest MOST matches are ranked: ts_rank reads each match's whole tsvector
    statement = text(
        f"SELECT m.id AS article_id, -ts_rank(m.search, q.query) AS rank FROM (SELECT {query} AS query) AS q, "
        f"LATERAL (SELECT id, search FROM articles WHERE articles.search @@ q.query ORDER BY id DESC LIMIT :most) AS m"
    ).bindparams(**params, most=MOST)
    return statement.columns(article_id=Integer, rank=Float).subquery("matches")


def matching_ids(session: Session, query: str):
    """A subquery of the ids of articles that match ``query`` (nothing for a query without words)."""
    terms = german.parse(query)
    if not terms:
        return select(Article.id).where(literal_column("1") == 0)
    return select(ranked(session, terms).c.article_id)
