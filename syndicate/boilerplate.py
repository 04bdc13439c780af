"""Per-source boilerplate: sentences that recur in a source's articles (headers, footers, press contacts,
the standard items of a council agenda) are left out before two articles are compared.

``source_passages`` counts, per source and sentence hash, the stored articles that contain the
sentence. Counting happens once per inserted article (edits do not count again), one upsert
per document (``add``); lookups are by primary key.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from syndicate.models import SourcePassage

_UPSERT = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
_COUNTS = select(SourcePassage.source_id, SourcePassage.passage, SourcePassage.articles).where(
    SourcePassage.source_id.in_(bindparam("sources", expanding=True)), SourcePassage.passage.in_(bindparam("hashes", expanding=True)))


def add(session: Session, increments: dict[tuple[int, int], int]) -> None:
    """Count ``n`` more articles of the source for each (source id, sentence hash) → n."""
    if not increments:
        return
    upsert = _UPSERT.get(session.get_bind().dialect.name)
    keys = sorted(increments)
    if upsert is not None:
        statement = upsert(SourcePassage.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["source_id", "passage"], set_={"articles": SourcePassage.articles + statement.excluded.articles}
        )
        rows = [{"source_id": s, "passage": h, "articles": increments[(s, h)]} for s, h in keys]
        session.connection().execute(statement, rows)  # Core: no ORM bulk bookkeeping for plain counters
        return
    for (source_id, passage) in keys:
        row = session.get(SourcePassage, (source_id, passage))
        if row is None:
            session.add(SourcePassage(source_id=source_id, passage=passage, articles=increments[(source_id, passage)]))
        else:
            row.articles += increments[(source_id, passage)]
    session.flush()


def counts(session: Session, source_ids: Iterable[int], passages: Iterable[int]) -> dict[tuple[int, int], int]:
    """(source id, sentence hash) → number of stored articles of that source containing it."""
    sources, hashes = sorted(set(source_ids)), sorted(set(passages))
    if not sources or not hashes:
        return {}
    found: dict[tuple[int, int], int] = {}
    for start in range(0, len(hashes), 400):  # bounded IN lists; primary-key lookups
        rows = session.connection().execute(_COUNTS, {"sources": sources, "hashes": hashes[start : start + 400]})
        found.update({(s, h): n for s, h, n in rows})
    return found


def common(counted: dict[tuple[int, int], int], source_id: int, passages: Iterable[int], *, stored: Iterable[int] = ()) -> set[int]:
    """The sentences that another article of ``source_id`` contains.

    ``stored`` are the sentences of an article that is itself counted in ``source_id``: for
    them one occurrence is the article itself, so another one is needed."""
    own = set(stored)
    return {h for h in passages if counted.get((source_id, h), 0) - (h in own) >= 1}
