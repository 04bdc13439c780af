"""Per-token request limit: a sliding window of one minute, kept in this process.

With several API processes each keeps its own window, so the effective limit is the
configured one times the number of processes; that is the accepted trade-off for not
needing Redis in the embedded setup.
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW = 60.0


class RateLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: int) -> float | None:
        """Count one request; None when allowed, else the seconds until the next one is."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return hits[0] + WINDOW - now
            hits.append(now)
            return None
