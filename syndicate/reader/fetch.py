"""Every outbound HTTP request of the system, with limits → one FetchResult that names the answer.

``fetch`` is the conditional GET of feeds and pages; ``send`` is one request of any method
without following redirects (WebSub verification and delivery). Nothing else in the code base
calls the HTTP client: both run under the address policy (``netguard``), the size caps and
the total deadline (``transport``), so no caller can forget one of them.

``fetch`` follows redirects itself, so that it can tell a loop from a long chain and knows
whether every hop was permanent (the source may move after it has seen that often enough).
The whole fetch — every hop, headers and body — runs under one deadline (``transport``).
The body is counted twice while it streams: the bytes on the wire against ``max_bytes``,
the decompressed bytes against ``max_decoded_bytes`` (``decode`` hands them out in small
pieces), so neither a huge body nor a gzip/deflate/brotli bomb is ever held whole.
httpx exceptions become the reader's exception tree here.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from syndicate.reader import errors
from syndicate.reader.decode import decoder_for
from syndicate.reader.transport import ACCEPT, deadline, make_client  # noqa: F401 - make_client, ACCEPT re-exported

PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_decoded_bytes: int | None = None  # None: the same as max_bytes
    max_redirects: int = 5
    deadline: float | None = None  # seconds for the whole fetch; None: only the client's timeouts
    read_body: bool = True  # False: the answer's status and headers only; the body is never read


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def retry_after(self) -> int | None:
        """Seconds the publisher asks us to wait (429/503 Retry-After), else None."""
        if self.status not in (429, 503):
            return None
        return parse_retry_after(self.headers.get("retry-after"))

    @property
    def max_age(self) -> int | None:
        return parse_max_age(self.headers)

    def text(self) -> str:
        match = re.search(r"charset=[\"']?([\w.:-]+)", self.content_type, re.I)
        try:
            return self.content.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def error(self) -> errors.SyndicateError | None:
        """The answer as an exception: RateLimited (a deferral, not a failure) or HTTPStatusError."""
        if self.ok or self.not_modified:
            return None
        if self.status == 429 or (self.status == 503 and self.retry_after is not None):
            wait = f", Retry-After {self.retry_after} s" if self.retry_after is not None else ""
            return errors.RateLimited(self.status, self.retry_after, f"HTTP {self.status} from {self.final_url}{wait}")
        return errors.HTTPStatusError(self.status, f"HTTP {self.status} from {self.final_url}")


_DIGITS = re.compile(r"[0-9]+\Z")
MAX_SECONDS = 10**12  # far past any schedule's cap, and small enough for every sum made with it


def _seconds(value: str) -> int | None:
    """A number of seconds in a header: ASCII digits only (str.isdigit() and ``\\d`` also take "²" or
    "٣"), and a very long one read as ``MAX_SECONDS`` rather than handed to int() (five thousand nines)."""
    if not _DIGITS.match(value):
        return None
    return int(value) if len(value) <= 12 else MAX_SECONDS


def _http_date(value: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # not a date, or a year past any C integer
        return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if (seconds := _seconds(value)) is not None:
        return seconds
    when = _http_date(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0, int((when - now).total_seconds()))


def parse_max_age(headers: dict[str, str], now: datetime | None = None) -> int | None:
    match = re.search(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*([0-9]+)", headers.get("cache-control", ""), re.I)
    if match:
        return _seconds(match.group(1))
    expires = headers.get("expires")
    if expires:
        when = _http_date(expires)
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        return max(0, int((when - now).total_seconds()))
    return None


def check_url(url: str) -> None:
    """Refuse anything but an absolute http(s) URL without control characters, before any connection."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise errors.InvalidURL(f"invalid URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidURL(f"not an http(s) URL: {url!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise errors.InvalidURL(f"control character in URL {url!r}")


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits | None = None,
) -> FetchResult:
    limits = limits or FetchLimits()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, visited, all_permanent = url, {url}, True
    with deadline(limits.deadline):
        for _hop in range(limits.max_redirects + 1):
            check_url(current)
            status, response_headers, content = _request(client, "GET", current, headers, None, limits)
            if status in REDIRECTS and "location" in response_headers:
                all_permanent = all_permanent and status in PERMANENT
                current = urljoin(current, response_headers["location"])
                if current in visited:
                    raise errors.RedirectLoop(f"redirect loop: {current} was already visited starting at {url}")
                visited.add(current)
                continue
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                content=content,
                headers=response_headers,
                permanent_redirect=current if current != url and all_permanent else None,
            )
    raise errors.TooManyRedirects(f"more than {limits.max_redirects} redirects starting at {url}")


def send(
    client: httpx.Client,
    url: str,
    *,
    method: str = "GET",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    limits: FetchLimits | None = None,
) -> FetchResult:
    """One request that does not follow redirects (a 3xx is the answer), under the same address policy,
    size caps and total deadline as ``fetch``; for requests that are not feed polls (WebSub)."""
    limits = limits or FetchLimits()
    check_url(url)
    with deadline(limits.deadline):
        status, response_headers, body = _request(client, method, url, headers or {}, content, limits)
    return FetchResult(url=url, final_url=url, status=status, content=body, headers=response_headers)


def fetch_ok(client: httpx.Client, url: str, *, limits: FetchLimits | None = None) -> FetchResult:
    """``fetch`` for one document that must be there: an answer other than 2xx is raised as the reader's error."""
    result = fetch(client, url, limits=limits)
    if (error := result.error()) is not None:
        raise error
    return result


def _request(
    client: httpx.Client, method: str, url: str, headers: dict, content: bytes | None, limits: FetchLimits
) -> tuple[int, dict[str, str], bytes]:
    try:
        with client.stream(method, url, headers=headers, content=content) as response:
            if response.status_code in REDIRECTS or response.status_code == 304 or not limits.read_body:
                return response.status_code, _lower(response.headers), b""
            declared = response.headers.get("content-length", "")
            if _DIGITS.match(declared) and (len(declared) > 18 or int(declared) > limits.max_bytes):
                raise errors.TooLarge(f"Content-Length {declared} exceeds the limit of {limits.max_bytes} bytes")
            return response.status_code, _lower(response.headers), _read_body(response, limits)
    except httpx.TimeoutException as exc:
        raise errors.FetchTimeout(f"timed out fetching {url}: {str(exc) or exc.__class__.__name__}") from exc
    except httpx.ConnectError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            raise errors.TLSError(f"TLS failure for {url}: {exc}") from exc
        raise errors.NetworkError(f"cannot connect to {url}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise errors.InvalidURL(f"invalid URL {url!r}: {exc}") from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise errors.NetworkError(f"connection to {url} lost: {str(exc) or exc.__class__.__name__}") from exc
    except httpx.HTTPError as exc:
        raise errors.NetworkError(f"HTTP failure for {url}: {exc}") from exc


def _read_body(response: httpx.Response, limits: FetchLimits) -> bytes:
    decoder = decoder_for(response.headers.get("content-encoding"))
    cap = limits.max_decoded_bytes or limits.max_bytes
    body, received = bytearray(), 0

    def add(pieces) -> None:
        for piece in pieces:
            body.extend(piece)
            if len(body) > cap:
                if decoder.compressed:
                    raise errors.DecompressionBomb(
                        f"{received} compressed bytes expand past the limit of {cap} bytes ({response.headers.get('content-encoding')})"
                    )
                raise errors.TooLarge(f"body exceeds the limit of {cap} bytes")

    for chunk in response.iter_raw():
        received += len(chunk)
        if received > limits.max_bytes:
            raise errors.TooLarge(f"body exceeds the limit of {limits.max_bytes} bytes")
        add(decoder.feed(chunk))
    add(decoder.flush())
    return bytes(body)


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
