"""Conditional GET with limits and manual redirects → one FetchResult that names the answer.

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
import time
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None
    elapsed_ms: int = 0
    wire_bytes: int = 0

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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidURL(f"not an http(s) URL: {url!r}")


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int | None = None,
    max_redirects: int | None = None,
    limits: FetchLimits | None = None,
) -> FetchResult:
    limits = limits or FetchLimits()
    if max_bytes is not None:  # the keyword form, for one-off fetches
        limits = replace(limits, max_bytes=max_bytes)
    if max_redirects is not None:
        limits = replace(limits, max_redirects=max_redirects)
    started = time.monotonic()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, visited, all_permanent = url, {url}, True
    with deadline(limits.deadline):
        for _hop in range(limits.max_redirects + 1):
            check_url(current)
            status, response_headers, content, wire = _request(client, current, headers, limits)
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
                elapsed_ms=int((time.monotonic() - started) * 1000),
                wire_bytes=wire,
            )
    raise errors.TooManyRedirects(f"more than {limits.max_redirects} redirects starting at {url}")


def _request(client: httpx.Client, url: str, headers: dict, limits: FetchLimits) -> tuple[int, dict[str, str], bytes, int]:
    received = 0
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code in REDIRECTS or response.status_code == 304:
                return response.status_code, _lower(response.headers), b"", 0
            declared = response.headers.get("content-length", "")
            if _DIGITS.match(declared) and (len(declared) > 18 or int(declared) > limits.max_bytes):
                raise errors.TooLarge(f"Content-Length {declared} exceeds the limit of {limits.max_bytes} bytes")
            body, received = _read_body(response, limits)
            return response.status_code, _lower(response.headers), body, received
    except httpx.TimeoutException as exc:
        raise errors.FetchTimeout(f"timed out fetching {url}: {exc or exc.__class__.__name__}") from exc
    except httpx.ConnectError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            raise errors.TLSError(f"TLS failure for {url}: {exc}") from exc
        raise errors.NetworkError(f"cannot connect to {url}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise errors.InvalidURL(f"invalid URL {url!r}: {exc}") from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise errors.NetworkError(f"connection to {url} lost: {exc or exc.__class__.__name__}") from exc
    except httpx.HTTPError as exc:
        raise errors.NetworkError(f"HTTP failure for {url}: {exc}") from exc


def _read_body(response: httpx.Response, limits: FetchLimits) -> tuple[bytes, int]:
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
    return bytes(body), received


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
