"""Conditional GET with limits and manual redirects → one FetchResult that names the answer.

``fetch`` follows redirects itself so that it knows whether every hop was
permanent (the source's URL should then be updated), caps the decoded body at
``max_bytes`` (gzip bombs stop there), and turns httpx exceptions into the
reader's exception tree. Connections go through ``netguard`` on every hop.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import httpx

from syndicate.reader import errors
from syndicate.reader.netguard import AddressPolicy, GuardedBackend

PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)


def make_client(policy: AddressPolicy, *, timeout: float, user_agent: str) -> httpx.Client:
    """An httpx client whose every connection is checked by ``policy``."""
    transport = httpx.HTTPTransport(retries=0)
    transport._pool._network_backend = GuardedBackend(policy)  # httpx exposes no public hook for this
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None
    elapsed_ms: int = 0

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

    def error(self) -> errors.HTTPStatusError | None:
        if self.ok or self.not_modified:
            return None
        return errors.HTTPStatusError(self.status, f"HTTP {self.status} from {self.final_url}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0, int((when - now).total_seconds()))


def parse_max_age(headers: dict[str, str], now: datetime | None = None) -> int | None:
    match = re.search(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*(\d+)", headers.get("cache-control", ""), re.I)
    if match:
        return int(match.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        now = now or datetime.now(timezone.utc)
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
    max_bytes: int,
    max_redirects: int,
) -> FetchResult:
    started = time.monotonic()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, all_permanent = url, True
    for _hop in range(max_redirects + 1):
        check_url(current)
        status, response_headers, content = _request(client, current, headers, max_bytes)
        if status in REDIRECTS and "location" in response_headers:
            all_permanent = all_permanent and status in PERMANENT
            current = urljoin(current, response_headers["location"])
            continue
        return FetchResult(
            url=url,
            final_url=current,
            status=status,
            content=content,
            headers=response_headers,
            permanent_redirect=current if current != url and all_permanent else None,
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )
    raise errors.TooManyRedirects(f"more than {max_redirects} redirects starting at {url}")


def _request(client: httpx.Client, url: str, headers: dict, max_bytes: int) -> tuple[int, dict[str, str], bytes]:
    try:
        with client.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise errors.BodyTooLarge(f"Content-Length {declared} exceeds the limit of {max_bytes} bytes")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise errors.BodyTooLarge(f"body exceeds the limit of {max_bytes} bytes")
            return response.status_code, {k.lower(): v for k, v in response.headers.items()}, bytes(body)
    except httpx.TimeoutException as exc:
        raise errors.FetchTimeout(f"timed out fetching {url}: {exc}") from exc
    except httpx.ConnectError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            raise errors.TLSError(f"TLS failure for {url}: {exc}") from exc
        raise errors.NetworkError(f"cannot connect to {url}: {exc}") from exc
    except httpx.DecodingError as exc:
        raise errors.NetworkError(f"cannot decode the body of {url}: {exc}", reason="decoding_error") from exc
    except httpx.InvalidURL as exc:
        raise errors.InvalidURL(f"invalid URL {url!r}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise errors.NetworkError(f"HTTP failure for {url}: {exc}") from exc
