"""Per-source boilerplate: sentences that recur in a source's articles (headers, footers, press contacts,
the standard items of a council agenda) are left out before two articles are compared.

``source_passages`` counts, per source and sentence hash, the stored articles that contain the
sentence. Counting happens once per inserted article (edits do not count again), one upsert
per document (``add``); lookups are by primary key.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from syndicate.db import placeholder
from syndicate.models import SourcePassage


def add(session: Session, increments: dict[tuple[int, int], int]) -> None:
    """Count ``n`` more articles of the source for each (source id, sentence hash) → n."""
    if not increments:
        return
    keys = sorted(increments)
    upsert = "ON CONFLICT (source_id, passage) DO UPDATE SET articles = source_passages.articles + excluded.articles"
    name = session.get_bind().dialect.name
    if name == "postgresql":  # three arrays in one statement (~1,000 rows per group)
        session.connection().exec_driver_sql(
            f"INSERT INTO source_passages (source_id, passage, articles) SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::integer[]) {upsert}",
            ([s for s, _h in keys], [h for _s, h in keys], [increments[k] for k in keys]),
        )
        return
    if name == "sqlite":  # sent as plain rows
        session.connection().exec_driver_sql(
            f"INSERT INTO source_passages (source_id, passage, articles) VALUES (?, ?, ?) {upsert}",
            [(s, h, increments[(s, h)]) for s, h in keys],
        )
        return
    for source_id, passage in keys:
        row = session.get(SourcePassage, (source_id, passage))
        if row is None:
            session.add(SourcePassage(source_id=source_id, passage=passage, articles=increments[(source_id, passage)]))
        else:
            row.articles += increments[(source_id, passage)]
    session.flush()


class Counts(dict[tuple[int, int], int]):
    """(source id, sentence hash) → stored articles of the source containing it, for the pairs read
    beforehand (``counts``); ``get`` of a pair not read then reads it (one lookup), so a rule never
    takes a count it did not ask for as 0."""

    def __init__(self, session: Session, found: dict[tuple[int, int], int] | None = None, asked: Iterable[tuple[int, int]] = ()):
        super().__init__(found or {})
        self._session, self._asked = session, set(asked)

    # narrower than dict.get on purpose: a count is always asked with its pair and answered as a number
    def get(self, key: tuple[int, int], default: int = 0) -> int:  # type: ignore[override]
        if key in self:
            return self[key]
        if key not in self._asked:
            self._asked.add(key)
            if (n := _read(self._session, [key]).get(key)) is not None:
                self[key] = n
                return n
        return default


def counts(session: Session, pairs: Iterable[tuple[int, int]]) -> Counts:
    """(source id, sentence hash) → number of stored articles of that source containing it, for
    exactly the pairs asked: one index lookup each, not one per source × sentence."""
    wanted = sorted(set(pairs))
    return Counts(session, _read(session, wanted), wanted)


def _read(session: Session, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    connection = session.connection()
    mark = placeholder(connection)
    found: dict[tuple[int, int], int] = {}
    for start in range(0, len(wanted), 400):  # bounded statements
        chunk = wanted[start : start + 400]
        values = ", ".join([f"(CAST({mark} AS BIGINT), CAST({mark} AS BIGINT))"] * len(chunk))
        rows = connection.exec_driver_sql(
            f"WITH wanted(s, p) AS (VALUES {values}) SELECT sp.source_id, sp.passage, sp.articles "
            "FROM wanted JOIN source_passages AS sp ON sp.source_id = wanted.s AND sp.passage = wanted.p",
            tuple(value for pair in chunk for value in pair),
        )
        found.update({(s, h): n for s, h, n in rows})
    return found


def common(counted: dict[tuple[int, int], int], source_id: int, passages: Iterable[int], *, stored: Iterable[int] = ()) -> set[int]:
    """The sentences that another article of ``source_id`` contains.

    ``stored`` are the sentences of an article that is itself counted in ``source_id``: for
    them one occurrence is the article itself, so another one is needed."""
    own = set(stored)
    return {h for h in passages if counted.get((source_id, h), 0) - (h in own) >= 1}
