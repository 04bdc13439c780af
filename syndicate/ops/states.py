"""The one model of a source's state, derived from its row (failure is state on the row, see DESIGN.md).

The API (``health.status``), ``/ops``, ``/metrics``, ``syndicate status`` and ``syndicate sources list``
all show this state, so a city and the operator always see the same word for the same source:

    ok         the last check succeeded
    new        never fetched successfully yet
    deferred   the server asked us to come back later (429/503 with Retry-After)
    failing    the last check failed (``error_count`` > 0)
    broken     failing for longer than ``ops_failing_alert_after`` (raises an alert)
    gone       failing with 404 or 410: the feed's address no longer exists
    disabled   not enabled (retired from the registry or switched off)

gone, broken and failing are problems: ``syndicate status`` exits 1 when any source is in one.
This module needs only the row, so the web layer can use it without the broker clients of ``status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

State = Literal["ok", "new", "deferred", "failing", "broken", "gone", "disabled"]
STATES: tuple[State, ...] = get_args(State)
PROBLEM_STATES = frozenset({"failing", "broken", "gone"})
GONE_REASONS = frozenset({"http_404", "http_410"})
DESCRIPTION = (
    "ok: letzter Abruf erfolgreich · new: noch nie erfolgreich abgerufen · deferred: der Server bat um eine Pause (429/503) · "
    "failing: letzter Abruf fehlgeschlagen · broken: scheitert länger als die Alarmschwelle · "
    "gone: die Adresse gibt es nicht mehr (404/410) · disabled: abgeschaltet"
)

# The states in plain German, for the console's pages.
LABELS: dict[str, str] = {
    "ok": "in Ordnung",
    "new": "neu, noch nie erfolgreich abgerufen",
    "deferred": "pausiert auf Bitte des Servers",
    "failing": "letzter Abruf fehlgeschlagen",
    "broken": "gestört, scheitert seit längerem",
    "gone": "Adresse gibt es nicht mehr",
    "disabled": "abgeschaltet",
}


def source_state(source, now: datetime, broken_after: float) -> State:
    """The state of a source: a ``Source``, or any row with the columns used here (``status.SOURCE_COLUMNS``)."""
    return state_of(
        source.enabled,
        source.error_count,
        source.last_error_reason,
        source.first_error_at or source.last_checked_at,
        source.last_http_status,
        source.last_success_at is not None,
        now,
        broken_after,
    )


def state_of(
    enabled: bool,
    error_count: int,
    reason: str | None,
    failing_since: datetime | None,
    http_status: int | None,
    succeeded: bool,
    now: datetime,
    broken_after: float,
) -> State:
    """``source_state`` from the values it needs (``failing_since``: the first error, else the last check),
    for callers that read only those (``/ops`` reads its 5,928 rows without their timestamps)."""
    if not enabled:
        return "disabled"
    if error_count:
        if reason in GONE_REASONS:
            return "gone"
        if failing_since is not None and (now - failing_since).total_seconds() >= broken_after:
            return "broken"
        return "failing"
    if http_status is not None and http_status >= 400:
        return "deferred"
    return "ok" if succeeded else "new"
