"""A throttle kept in this process that coalesces triggers into at most one run per interval
(WebSub publish pings). Request limits per token or client are shared by every API process and
live in syndicate.access.limits."""

from __future__ import annotations

import threading
import time


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
