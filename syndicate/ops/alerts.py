"""Alerts as log lines and metrics.

    source_failing   a source failing for longer than ``ops_failing_alert_after`` (state broken or gone)
    beat_lag         the last beat tick is older than three beat intervals
    queue_growing    a queue has grown without shrinking for ``ops_queue_alert_minutes``

``evaluate`` is a pure function of the summary, the queue trend and the thresholds. ``/ops`` and
each ``/metrics`` scrape evaluate them to show them; ``/metrics`` exposes ``syndicate_alert_active``.
They are logged by the ops watcher (syndicate/ops/watch.py): ``ALERT …`` when one is raised and
``RESOLVED …`` when it ends, once for the installation. The queue trend lives in the evaluating
process, sampled at each evaluation.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.clock import utcnow
from syndicate.ops.status import Summary
from syndicate.settings import Settings

NAMES = ("source_failing", "beat_lag", "queue_growing")


@dataclass(frozen=True)
class Alert:
    name: str
    subject: str  # source:12 | beat | queue:refresh
    message: str  # German, as the dashboard shows it

    @property
    def key(self) -> str:
        return f"{self.name} {self.subject}"


class QueueTrend:
    """Depth samples per queue, to tell a queue that keeps growing from one that drains."""

    def __init__(self, keep: timedelta = timedelta(hours=2)):
        self.keep = keep
        self._samples: dict[str, deque[tuple[datetime, int]]] = {}
        self._lock = threading.Lock()

    def add(self, now: datetime, depths: dict[str, int]) -> None:
        with self._lock:
            for queue, depth in depths.items():
                samples = self._samples.setdefault(queue, deque())
                samples.append((now, depth))
                while samples and now - samples[0][0] > self.keep:
                    samples.popleft()

    def queues(self) -> list[str]:
        with self._lock:
            return sorted(self._samples)

    def growing_for(self, queue: str) -> float:
        """Seconds since the start of the current run of samples that never went down (0 when not growing)."""
        with self._lock:
            samples = list(self._samples.get(queue, ()))
        if len(samples) < 2:
            return 0.0
        start = len(samples) - 1
        while start > 0 and samples[start - 1][1] <= samples[start][1]:
            start -= 1
        (began, first), (latest, last) = samples[start], samples[-1]
        return (latest - began).total_seconds() if last > first else 0.0


def evaluate(summary: Summary, trend: QueueTrend, settings: Settings, now: datetime | None = None) -> list[Alert]:
    now = now or utcnow()
    alerts = []
    for source in summary.failing:
        since = datetime.fromisoformat(source["since"]) if source.get("since") else None
        if since is not None and (now - since).total_seconds() >= settings.ops_failing_alert_after:
            hours = (now - since).total_seconds() / 3600
            alerts.append(
                Alert(
                    "source_failing",
                    f"source:{source['id']}",
                    f"Quelle #{source['id']} ({source['city']}) {source['url']} scheitert seit {hours:.1f} h: "
                    f"{source['reason']} ({source['errors']} Fehler)",
                )
            )
    limit = 3 * settings.beat_interval
    if summary.beat_age_seconds is not None and summary.beat_age_seconds > limit:
        alerts.append(Alert("beat_lag", "beat", f"letzter Beat-Takt vor {summary.beat_age_seconds:.0f} s (Grenze {limit:.0f} s)"))
    for queue in trend.queues():
        minutes = trend.growing_for(queue) / 60
        if minutes >= settings.ops_queue_alert_minutes:
            alerts.append(Alert("queue_growing", f"queue:{queue}", f"Warteschlange {queue} wächst seit {minutes:.0f} min"))
    return alerts


@dataclass
class AlertState:
    """What one process remembers between evaluations: the queue trend."""

    trend: QueueTrend = field(default_factory=QueueTrend)

    def check(self, summary: Summary, depths: dict[str, int], settings: Settings, now: datetime | None = None) -> list[Alert]:
        now = now or utcnow()
        self.trend.add(now, depths)
        return evaluate(summary, self.trend, settings, now)
