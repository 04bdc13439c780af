"""Request limits kept in this process: a sliding window of one minute per key (an API token,
a client address), and a throttle that coalesces triggers into at most one run per interval.

With several API processes each keeps its own window, so the effective limit is the
configured one times the number of processes; that is the accepted trade-off for not
needing Redis in the embedded setup.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable

WINDOW = 60.0


class RateLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Hashable) -> float | None:
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


class Coalescer:
    """At most one run per ``interval``, and none of the triggers lost.

    A trigger while a run is queued for later is covered by that run (it starts after the
    trigger). Otherwise the run is queued now, or, within ``interval`` of the last one, delayed
    until the interval has passed; any number of triggers in between share that one run.
    """

    def __init__(self, interval: float, clock=time.monotonic):
        self.interval, self.clock = interval, clock
        self._last = float("-inf")  # when the last queued run starts
        self._lock = threading.Lock()

    def trigger(self) -> float | None:
        """Seconds from now at which to queue a run, or None when a run already queued covers this trigger."""
        with self._lock:
            now = self.clock()
            if self._last > now:
                return None
            delay = max(0.0, self._last + self.interval - now)
            self._last = now + delay
            return delay
