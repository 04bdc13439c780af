"""One exception tree for the reader, each class with a stable ``reason`` code.

    SyndicateError                      reason
    ├── FetchError                      fetch_error
    │   ├── InvalidURL                  invalid_url
    │   ├── BlockedAddress              blocked_address
    │   ├── NetworkError                network_error
    │   │   └── FetchTimeout            timeout
    │   ├── TLSError                    tls_error
    │   ├── TooManyRedirects            too_many_redirects
    │   ├── BodyTooLarge                body_too_large
    │   └── HTTPStatusError             http_error (http_404, http_410, http_429, http_5xx … per status)
    └── ParseError                      parse_error
        ├── EmptyDocument               empty_document
        ├── NotAFeed                    not_a_feed
        └── MalformedFeed               malformed_feed

httpx and feedparser exceptions are translated into this tree where they enter
(``fetch.py``, ``parse.py``); everything above the reader sees only these classes.
The API, the dashboard, the fetch log and the CLI all show ``reason``.
"""

from __future__ import annotations


class SyndicateError(Exception):
    reason = "error"

    def __init__(self, message: str = "", *, reason: str | None = None):
        super().__init__(message or self.__class__.__name__)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self)


class FetchError(SyndicateError):
    reason = "fetch_error"


class InvalidURL(FetchError):
    reason = "invalid_url"


class BlockedAddress(FetchError):
    reason = "blocked_address"


class NetworkError(FetchError):
    reason = "network_error"


class FetchTimeout(NetworkError):
    reason = "timeout"


class TLSError(FetchError):
    reason = "tls_error"


class TooManyRedirects(FetchError):
    reason = "too_many_redirects"


class BodyTooLarge(FetchError):
    reason = "body_too_large"


class HTTPStatusError(FetchError):
    reason = "http_error"

    def __init__(self, status: int, message: str = ""):
        self.status = status
        kind = f"http_{status}" if status in (401, 403, 404, 410, 429) else f"http_{status // 100}xx"
        super().__init__(message or f"HTTP {status}", reason=kind)


class ParseError(SyndicateError):
    reason = "parse_error"


class EmptyDocument(ParseError):
    reason = "empty_document"


class NotAFeed(ParseError):
    reason = "not_a_feed"


class MalformedFeed(ParseError):
    reason = "malformed_feed"
