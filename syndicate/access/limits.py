"""Request limits shared by every API process: counted in the database, not in one process's memory.

A limit of N requests a minute per key (an API token, a client address) must hold however many API
processes a city's requests are spread over. Each request adds one to its key's counter for the
current minute (one upsert, which also returns the count); the estimate of the last sixty seconds is
that count plus the previous minute's count weighted by the share of it still inside the sliding
minute — the usual two-window approximation, exact enough for a limit and cheap: one statement to
count, one to read the previous minute. Refused requests are counted too, so a client that keeps
hammering stays refused until it slows down.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.models import RateWindow

MINUTE = 60.0
PRUNE_EVERY = 500  # on average, one request in this many deletes the windows nobody reads any more


class SharedRateLimiter:
    """``hit(key)`` → None when allowed, else the seconds until a request is likely allowed again."""

    def __init__(self, engine: Engine, scope: str, per_minute: int, clock: Callable[[], float] = time.time):
        self.engine, self.scope, self.per_minute, self.clock = engine, scope, per_minute, clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def hit(self, key: object) -> float | None:
        if self.per_minute <= 0:
            return None
        now = self.clock()
        window, into = divmod(now, MINUTE)
        name = f"{self.scope}:{key}"[:200]
        statement = (
            self._insert(RateWindow)
            .values(key=name, window=int(window), hits=1)
            .on_conflict_do_update(index_elements=["key", "window"], set_={"hits": RateWindow.hits + 1})
            .returning(RateWindow.hits)
        )
        with self.engine.begin() as connection:
            current = connection.execute(statement).scalar_one()
            previous = connection.scalar(select(RateWindow.hits).where(RateWindow.key == name, RateWindow.window == int(window) - 1)) or 0
            if random.randrange(PRUNE_EVERY) == 0:
                connection.execute(delete(RateWindow).where(RateWindow.window < int(window) - 1))
        return self._wait(previous, current, into)

    def peek(self, key: object) -> float | None:
        """What ``hit(key)`` would answer, without counting: for limits that count only some requests (failed sign-ins)."""
        if self.per_minute <= 0:
            return None
        window, into = divmod(self.clock(), MINUTE)
        name = f"{self.scope}:{key}"[:200]
        query = select(RateWindow.window, RateWindow.hits).where(
            RateWindow.key == name, RateWindow.window.in_([int(window), int(window) - 1])
        )
        with self.engine.connect() as connection:
            counts = {row.window: row.hits for row in connection.execute(query)}
        return self._wait(counts.get(int(window) - 1, 0), counts.get(int(window), 0) + 1, into)

    def _wait(self, previous: int, current: int, into: float) -> float | None:
        if previous * (1 - into / MINUTE) + current <= self.per_minute:
            return None
        if current > self.per_minute:  # this minute alone is over: wait for the next one
            return MINUTE - into
        # the previous minute's weight must shrink until the estimate fits: previous·(1 − t/60) + current ≤ limit
        return max(1.0, MINUTE * (1 - (self.per_minute - current) / previous) - into)
