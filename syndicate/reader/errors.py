"""One exception tree for the reader, each class with a stable ``reason`` code.

    SyndicateError                      reason
    ├── Deferral                        deferred            not a failure: tried again later, no error counted
    │   ├── RateLimited                 rate_limited        429, or 503 with Retry-After (``retry_after`` seconds)
    │   └── HostBusy                    host_busy, host_rate  our own per-host budget is spent (syndicate.ingest.politeness)
    ├── FetchError                      fetch_error
    │   ├── InvalidURL                  invalid_url         not http(s), no host
    │   ├── BlockedAddress              blocked_address     the address policy (netguard) refused every address
    │   ├── NetworkError                connect             refused, reset or closed before the answer was complete
    │   │   ├── DNSError                dns
    │   │   └── FetchTimeout            timeout             connect or read timeout, or the total deadline
    │   ├── TLSError                    tls
    │   ├── TooManyRedirects            too_many_redirects  more hops than allowed
    │   │   └── RedirectLoop            redirect_loop       a hop leads back to a URL already visited
    │   ├── TooLarge                    too_large           body (or its declared length) over the limit
    │   │   └── DecompressionBomb       decompression_bomb  a compressed body that expands past the limit
    │   ├── DecodingError               decoding            corrupt or unknown Content-Encoding
    │   └── HTTPStatusError             http_404, http_410, http_5xx, http_401, http_403, http_4xx
    └── ParseError                      parse_error
        ├── NotAFeed                    not_a_feed          (an HTML page: the message lists the feeds it advertises)
        │   └── EmptyDocument           not_a_feed
        ├── MalformedFeed               parse_error
        ├── SelectorsMatchedNothing     selectors_matched_nothing  an HTML source's selectors found no article (redesign?)
        ├── InvalidSelector             invalid_selector    a selector outside what a city may write (syndicate.reader.selectors)
        └── SelectorTooExpensive        selector_too_expensive  a page too large, or selectors over their time or node budget
    (ServiceError and its HTTP-facing subclasses: syndicate/errors.py)

httpx and feedparser exceptions are translated into this tree where they enter
(``transport.py``/``fetch.py``, ``parse.py``); everything above the reader sees only these classes.
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


class Deferral(SyndicateError):
    """Not now, but no failure either: the source is tried again after ``retry_after`` seconds."""

    reason = "deferred"

    def __init__(self, message: str = "", *, retry_after: float | None = None, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class RateLimited(Deferral):
    reason = "rate_limited"

    def __init__(self, status: int, retry_after: int | None, message: str = ""):
        self.status = status
        super().__init__(message or f"HTTP {status}", retry_after=retry_after)


class HostBusy(Deferral):
    reason = "host_busy"


class FetchError(SyndicateError):
    reason = "fetch_error"


class InvalidURL(FetchError):
    reason = "invalid_url"


class BlockedAddress(FetchError):
    reason = "blocked_address"


class NetworkError(FetchError):
    reason = "connect"


class DNSError(NetworkError):
    reason = "dns"


class FetchTimeout(NetworkError):
    reason = "timeout"


class TLSError(FetchError):
    reason = "tls"


class TooManyRedirects(FetchError):
    reason = "too_many_redirects"


class RedirectLoop(TooManyRedirects):
    reason = "redirect_loop"


class TooLarge(FetchError):
    reason = "too_large"


class DecompressionBomb(TooLarge):
    reason = "decompression_bomb"


class DecodingError(FetchError):
    reason = "decoding"


class HTTPStatusError(FetchError):
    reason = "http_error"

    def __init__(self, status: int, message: str = ""):
        self.status = status
        kind = f"http_{status}" if status in (401, 403, 404, 410) else f"http_{status // 100}xx"
        super().__init__(message or f"HTTP {status}", reason=kind)


class ParseError(SyndicateError):
    reason = "parse_error"


class NotAFeed(ParseError):
    reason = "not_a_feed"

    def __init__(self, message: str = "", *, advertised: tuple[str, ...] = ()):
        super().__init__(message)
        self.advertised = advertised  # the feeds an HTML page names with <link rel="alternate">, when they were looked for


class EmptyDocument(NotAFeed):
    reason = "not_a_feed"


class MalformedFeed(ParseError):
    reason = "parse_error"


class SelectorsMatchedNothing(ParseError):
    reason = "selectors_matched_nothing"


class InvalidSelector(ParseError, ValueError):
    """Also a ValueError, so that pydantic validators turn it into a field error."""

    reason = "invalid_selector"


class SelectorTooExpensive(ParseError):
    reason = "selector_too_expensive"
