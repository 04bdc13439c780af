"""Whole-table counts for /ops and /metrics (articles, stories, articles that repeat a story), held per web
process: counting reads every row of ``articles`` and ``clusters`` (about 300 ms at 255,000 articles on
PostgreSQL, bench/year.py, and growing with the year), so a scrape every 15 s and each /ops view reuse the
last count while no article or story was added since (their largest ids, read from the primary keys) and
it is younger than ``ops_counts_seconds``; deletions (retention) show after that age at the latest.
``syndicate status`` and the worker's summary count afresh (no cache).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.models import Article, Cluster


@dataclass(frozen=True)
class Counts:
    articles: int
    clusters: int
    story_duplicates: int  # articles that repeat a story another article already tells


def count(session: Session) -> Counts:
    """One pass over ``articles`` (total, in a story, distinct stories) and a count of ``clusters``."""
    articles, joined, distinct = session.execute(
        select(func.count(Article.id), func.count(Article.cluster_id), func.count(func.distinct(Article.cluster_id)))
    ).one()
    clusters = session.scalar(select(func.count(Cluster.id))) or 0
    return Counts(articles or 0, clusters, (joined or 0) - (distinct or 0))


def _stamp(session: Session) -> tuple:
    return tuple(
        session.execute(select(select(func.max(Article.id)).scalar_subquery(), select(func.max(Cluster.id)).scalar_subquery())).one()
    )


class CountCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._held: tuple[tuple, float, Counts] | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Counts:
        stamp = _stamp(session)
        with self._lock:
            held = self._held
        if held is not None and held[0] == stamp and self.clock() - held[1] < self.seconds:
            return held[2]
        counts = count(session)
        with self._lock:
            self._held = (stamp, self.clock(), counts)
        return counts
