"""The console's page cache: a page fetched for one session's preview is reused by that session for a while, and
by no other session."""

from __future__ import annotations

from syndicate.reader.fetch import FetchResult
from syndicate.web.pagecache import PageCache


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def page(url: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, content=b"<html></html>")


def test_a_session_gets_its_page_again_within_the_time_and_fetches_anew_after_it():
    clock, loads = Clock(), []
    cache = PageCache(900, clock=clock)

    def load(url: str) -> FetchResult:
        loads.append(url)
        return page(url)

    first = cache.fetch("sitzung-a", "https://a.example/presse/", load)
    clock.now += 899
    assert cache.fetch("sitzung-a", "https://a.example/presse/", load) is first and len(loads) == 1
    cache.fetch("sitzung-b", "https://a.example/presse/", load)  # another session fetches its own
    assert len(loads) == 2
    clock.now += 2
    assert cache.fetch("sitzung-a", "https://a.example/presse/", load) is not first and len(loads) == 3


def test_the_cache_holds_a_bounded_number_of_pages_the_least_recently_used_go_first():
    cache = PageCache(900, max_entries=2, clock=Clock())
    for n in range(3):
        cache.put("s", f"https://a.example/{n}", page(f"https://a.example/{n}"))
    assert cache.get("s", "https://a.example/0") is None
    assert cache.get("s", "https://a.example/1") is not None and cache.get("s", "https://a.example/2") is not None


def test_the_cache_holds_a_bounded_number_of_bytes():
    cache = PageCache(900, max_bytes=30, clock=Clock())
    for n in range(3):  # 13 bytes each
        cache.put("s", f"https://a.example/{n}", page(f"https://a.example/{n}"))
    assert cache.get("s", "https://a.example/0") is None and cache.get("s", "https://a.example/2") is not None
    big = FetchResult(url="https://a.example/gross", final_url="https://a.example/gross", status=200, content=b"x" * 31)
    cache.put("s", big.url, big)
    assert cache.get("s", big.url) is None and cache.get("s", "https://a.example/2") is not None


def test_a_failed_fetch_is_not_kept():
    cache, calls = PageCache(900, clock=Clock()), []

    def failing(url: str) -> FetchResult:
        calls.append(url)
        raise ConnectionError("down")

    for _ in range(2):
        try:
            cache.fetch("s", "https://a.example/", failing)
        except ConnectionError:
            pass
    assert len(calls) == 2
