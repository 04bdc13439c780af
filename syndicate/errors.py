"""Errors of the service layer (tokens, sources, OPML), each with a stable ``reason`` code.

They are one branch of the project's single exception tree, whose root ``SyndicateError``
and reader branches are drawn in ``reader/errors.py``:

    SyndicateError (reader/errors.py)
    └── ServiceError        HTTP   reasons
        ├── NotFound        404    city_not_found, source_not_found, token_not_found
        ├── Forbidden       403    operator_only
        ├── Conflict        409    already_registered, file_managed, source_disabled
        ├── Invalid         422    invalid_url, blocked_address, not_a_feed, http_404, … (reader reasons),
        │                          unknown_topic, invalid_interval, invalid_opml, too_many_outlines
        └── TooSoon         429    refresh_too_soon, rate_limited (with ``retry_after`` seconds)

The web layer turns each class into its status code and an ``application/problem+json``
body; the CLI prints ``reason`` and ``message``. Reader errors (``reader/errors.py``) that
refuse a URL arrive here as ``Invalid`` with the reader's own reason.
"""

from __future__ import annotations

from syndicate.reader.errors import SyndicateError


class ServiceError(SyndicateError):
    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None, **extra):
        super().__init__(message, reason=reason)
        self.extra = extra  # more members for the problem body, e.g. the existing source


class NotFound(ServiceError):
    reason = "not_found"


class Forbidden(ServiceError):
    reason = "forbidden"


class Conflict(ServiceError):
    reason = "conflict"


class Invalid(ServiceError):
    reason = "invalid"


class TooSoon(ServiceError):
    reason = "too_soon"

    def __init__(self, message: str, *, retry_after: int, reason: str | None = None, **extra):
        super().__init__(message, reason=reason, **extra)
        self.retry_after = max(1, int(retry_after))
