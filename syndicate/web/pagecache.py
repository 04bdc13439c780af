"""Pages the console fetched for a preview, kept per console session for a while (``console_page_cache``),
so that "Vorschau" with edited selectors extracts again from the same bytes instead of fetching the
newsroom page once more.

In memory of one process, bounded in entries and in bytes: a request that lands in another process, or after the
time, simply fetches the page again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from syndicate.reader.fetch import FetchResult

MAX_ENTRIES = 64  # pages kept at once, over all sessions
MAX_BYTES = 64 * 1024 * 1024  # their bodies together; the least recently used go first


class PageCache:
    def __init__(
        self, seconds: float, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.monotonic
    ):
        self.seconds = seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._bytes = 0
        self._pages: OrderedDict[tuple[str, str], tuple[float, FetchResult]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: str, url: str) -> FetchResult | None:
        """The page ``owner`` (a console session) fetched from ``url`` within the time, or None."""
        with self._lock:
            found = self._pages.get((owner, url))
            if found is None:
                return None
            if self.clock() - found[0] > self.seconds:
                self._drop((owner, url))
                return None
            self._pages.move_to_end((owner, url))
            return found[1]

    def put(self, owner: str, url: str, page: FetchResult) -> None:
        if len(page.content) > self.max_bytes:
            return
        with self._lock:
            self._drop((owner, url))
            self._pages[(owner, url)] = (self.clock(), page)
            self._bytes += len(page.content)
            while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple[str, str]) -> None:
        found = self._pages.pop(key, None)
        if found is not None:
            self._bytes -= len(found[1].content)

    def fetch(self, owner: str, url: str, load: Callable[[str], FetchResult]) -> FetchResult:
        """The kept page, or ``load(url)`` kept for next time (errors are not kept)."""
        page = self.get(owner, url)
        if page is None:
            page = load(url)
            self.put(owner, url, page)
        return page
