"""Presentation helpers for the operator pages: German labels, local times, inline SVG charts.

No JavaScript and no CDN: charts are SVG coordinates computed here and drawn by the templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from markupsafe import Markup, escape

from syndicate.clock import utcnow
from syndicate.ops.status import LOCAL_TIME

STATE_LABELS = {
    "ok": "in Ordnung",
    "new": "neu",
    "deferred": "zurückgestellt",
    "failing": "fehlerhaft",
    "broken": "defekt",
    "gone": "verschwunden",
    "disabled": "deaktiviert",
}
FETCH_LABELS = {
    "new": "neue Meldungen",
    "not_modified": "nicht geändert (304)",
    "unchanged": "unverändert",
    "error": "Fehler",
    "deferred": "zurückgestellt",
    "skipped": "übersprungen",
}
FETCH_KINDS = {"error": "error", "deferred": "warn"}  # css class of a fetch outcome; others are ok


def when(value: datetime | None, seconds: bool = False) -> str:
    """A timestamp in Bavarian local time, e.g. 03.11.2026 14:05."""
    if value is None:
        return "–"
    return value.astimezone(LOCAL_TIME).strftime("%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M")


def ago(seconds: float | None) -> str:
    """A duration in German: „vor 12 s“, „vor 5 min“, „vor 3 h“, „vor 2 Tagen“."""
    if seconds is None:
        return "nie"
    if seconds < 120:
        return f"vor {seconds:.0f} s"
    if seconds < 7200:
        return f"vor {seconds / 60:.0f} min"
    if seconds < 172800:
        return f"vor {seconds / 3600:.0f} h"
    return f"vor {seconds / 86400:.0f} Tagen"


def ago_from(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``value`` was. A time after ``now`` counts as now: a worker probe may answer after the page
    took its ``now``, and another machine's clock may run a little ahead ("gesehen vor -1 s")."""
    return ago(None if value is None else max(0.0, ((now or utcnow()) - value).total_seconds()))


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """„in 5 min“ for a future time, „fällig“ for a past one (a next check)."""
    if value is None:
        return "–"
    ahead = (value - (now or utcnow())).total_seconds()
    return "fällig" if ahead <= 0 else ago(ahead).replace("vor ", "in ", 1)


def sparkline(values: Sequence[float], width: float = 84, height: float = 18) -> str:
    """``points`` for an SVG polyline: values left to right, 0 at the bottom, the maximum at the top."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (value / top) * (height - 2):.1f}" for i, value in enumerate(values))


@dataclass
class Dot:
    x: float
    y: float
    value: float
    label: str
    kind: str  # css class: ok | warn | error


@dataclass
class LineChart:
    width: float
    height: float
    points: str
    dots: list[Dot]
    top: float  # the value at the top edge

    @property
    def gridlines(self) -> list[tuple[float, float]]:
        """(y, value) for quarter lines."""
        return [(self.height - self.height * f, self.top * f) for f in (0.25, 0.5, 0.75, 1.0)]


def line_chart(series: list[tuple[str, float, str]], width: float = 960, height: float = 180) -> LineChart:
    """A line chart of (label, value, kind) tuples, oldest first."""
    top = max((value for _, value, _ in series), default=0) or 1
    step = width / max(len(series) - 1, 1)
    dots = [
        Dot(round(i * step, 1), round(height - (value / top) * (height - 4) - 2, 1), value, label, kind)
        for i, (label, value, kind) in enumerate(series)
    ]
    return LineChart(width, height, " ".join(f"{d.x},{d.y}" for d in dots), dots, top)


def latency_chart(fetches: list, width: float = 960, height: float = 180) -> LineChart:
    """Durations of fetch-log rows (given newest first, drawn oldest first), dots coloured by outcome."""
    series = [(when(f.started_at, seconds=True), f.duration_ms, FETCH_KINDS.get(f.status, "ok")) for f in reversed(fetches)]
    return line_chart(series, width, height)


def city_options(cities: list[tuple[str, str]], selected: str | None) -> Markup:
    """The <option>s of the table's city filter, made once per process for the same cities and choice:
    with Bavaria's 2,140 publishers they were a sizeable part of each /ops render."""
    return _city_options(tuple(cities), selected)


@lru_cache(maxsize=16)
def _city_options(cities: tuple[tuple[str, str], ...], selected: str | None) -> Markup:
    return Markup(
        "".join(f'<option value="{escape(slug)}"{" selected" if slug == selected else ""}>{escape(name)}</option>' for slug, name in cities)
    )
