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

Messages for cities are German (``MESSAGES``). The reader's own messages are English, for logs
and operators, and may name internals such as the addresses a host name resolves to; ``german``
is where a reader error crosses into text that a city reads (API answers, a source's health,
its fetch log), so no reader message reaches a city as it is.
"""

from __future__ import annotations

from syndicate.reader.discover import advertised_feeds_message
from syndicate.reader.errors import NotAFeed, SyndicateError

# Every reason the reader (and the politeness budget) can give, in German for cities.
MESSAGES = {
    "error": "der Abruf ist fehlgeschlagen",
    "deferred": "der Abruf wurde verschoben und wird später wiederholt",
    "rate_limited": "der Server bittet um eine Pause (HTTP 429 oder 503); der Abruf wird später wiederholt",
    "host_busy": "gerade laufen zu viele Abrufe bei diesem Server; der Abruf wird gleich wiederholt",
    "host_rate": "in der letzten Minute gab es zu viele Abrufe bei diesem Server; der Abruf wird gleich wiederholt",
    "fetch_error": "der Abruf ist fehlgeschlagen",
    "invalid_url": "die Adresse ist keine gültige http(s)-URL",
    "blocked_address": "die Adresse ist nicht erlaubt",
    "connect": "keine Verbindung zum Server (abgelehnt oder abgebrochen)",
    "dns": "den Servernamen gibt es nicht (DNS)",
    "timeout": "der Server hat nicht rechtzeitig geantwortet",
    "tls": "die verschlüsselte Verbindung (TLS) kam nicht zustande, etwa wegen eines ungültigen Zertifikats",
    "too_many_redirects": "zu viele Weiterleitungen",
    "redirect_loop": "die Weiterleitungen führen im Kreis",
    "too_large": "das Dokument ist zu groß",
    "decompression_bomb": "das komprimierte Dokument wird beim Entpacken zu groß",
    "decoding": "die Komprimierung des Dokuments (Content-Encoding) ist beschädigt oder unbekannt",
    "http_error": "der Server antwortet mit einem Fehler",
    "http_401": "der Server verlangt eine Anmeldung (HTTP 401)",
    "http_403": "der Server verweigert den Zugriff (HTTP 403)",
    "http_404": "diese Adresse gibt es auf dem Server nicht (HTTP 404)",
    "http_410": "diese Adresse gibt es auf dem Server nicht mehr (HTTP 410)",
    "http_4xx": "der Server lehnt die Anfrage ab",
    "http_5xx": "der Server meldet einen eigenen Fehler",
    "parse_error": "das Dokument ist kein lesbarer Feed",
    "invalid_selector": "ein Selektor der Quelle ist nicht erlaubt (nur einfache CSS-Selektoren oder XPath-Pfade); bitte die Selektoren der Quelle ändern",
    "selector_too_expensive": "die Selektoren der Quelle sind für diese Seite zu aufwendig; bitte einfachere Selektoren wählen",
    "not_a_feed": "das Dokument ist kein Feed, sondern zum Beispiel eine Webseite",
    "selectors_matched_nothing": "die Selektoren finden auf der Seite keine Meldung (wurde die Seite umgebaut?)",
}
STATUS_REASONS = frozenset({"http_4xx", "http_5xx", "http_error", "rate_limited"})  # the status code itself says more


def reason_message(reason: str | None, http_status: int | None = None) -> str:
    """The German sentence for a reader reason code, with the HTTP status where the code leaves it open."""
    text = MESSAGES.get(reason or "error", MESSAGES["error"])
    if reason in STATUS_REASONS and http_status:
        text = f"{text} (HTTP {http_status})" if "(HTTP" not in text else text
    return text


def german(error: SyndicateError) -> str:
    """A reader error as a city reads it: ``reason_message``, plus the feeds an HTML page advertises."""
    if isinstance(error, ServiceError):
        return error.message  # the service layer writes German already
    if isinstance(error, NotAFeed) and error.advertised:
        return advertised_feeds_message(error.advertised)
    return reason_message(error.reason, getattr(error, "status", None))


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
