"""Fixture generator for the scale benches: N feeds × M items, ~15 % cross-city republications,
served on 127.0.0.1 by a separate server process.

Usage: .venv/bin/python bench/fixture.py serve [--feeds 200] [--items 50] [--republished 0.15]
       (renders every feed first, then prints "PORT <n>" on stdout once listening; feed i is at
       /f/<i>.xml; stop it with SIGTERM)
       GET /stats answers JSON: requests, 304s and "overlaps" — requests for a feed that arrived while
       another request for the same feed was still being answered (a source polled twice at once).

Feed i belongs to city ``c<i % 20>``. An item is, with probability ``--republished`` (deterministic),
a republication of the same-numbered item of feed i+1 (another city): same title and text,
the other city's URL and guid. Every feed has a fixed ETag, so a conditional re-poll gets 304;
feeds whose number is odd send no ETag (a re-poll gets the same body, 200).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CITIES = 20
BASE = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
WORDS = [
    "Stadtrat",
    "Haushalt",
    "Klimaschutz",
    "Radweg",
    "Digitalisierung",
    "Schule",
    "Bürgerbüro",
    "Ladesäule",
    "Förderung",
    "Sicherheit",
    "Wohnungsbau",
    "Kita",
    "Verkehr",
    "Energie",
    "Bibliothek",
    "Feuerwehr",
    "Park",
    "Sanierung",
    "Wahl",
    "Kultur",
]


def republished(feed: int, item: int, share: float) -> bool:
    return int(hashlib.sha1(f"{feed}:{item}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def story(feed: int, item: int) -> tuple[str, str]:
    h = hashlib.sha1(f"story:{feed}:{item}".encode()).digest()
    words = [WORDS[b % len(WORDS)] for b in h[:12]]
    title = f"{' '.join(words[:4])} — Meldung {feed}-{item}"
    text = f"<p>{' '.join(words)} in der Stadt {feed}, Meldung {item}. " + " ".join(WORDS[b % len(WORDS)] for b in h) + "</p>"
    return title, text


def feed_xml(i: int, n_feeds: int, items: int, share: float) -> bytes:
    city = i % CITIES
    parts = []
    for n in range(items):
        origin = (i + 1) % n_feeds if republished(i, n, share) else i
        title, text = story(origin, n)
        date = format_datetime(BASE - timedelta(hours=n * 7 + i % 5), usegmt=True)
        parts.append(
            f"<item><guid>c{city}-f{i}-{n}</guid><title>{title}</title>"
            f"<link>https://stadt{city}.example/f{i}/meldung-{n}</link><pubDate>{date}</pubDate>"
            f"<category>Digitalisierung</category><description><![CDATA[{text}]]></description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Stadt {city} Quelle {i}</title>'
        f"<link>https://stadt{city}.example/</link>{''.join(parts)}</channel></rss>"
    ).encode()


def make_handler(n_feeds: int, items: int, share: float):
    # every body rendered before the server answers: the first client measured does not pay for
    # rendering that a second one, served from the cache, would not
    cache: dict[int, bytes] = {i: feed_xml(i, n_feeds, items, share) for i in range(n_feeds)}
    lock = threading.Lock()
    in_flight: dict[int, int] = {}
    stats = {"requests": 0, "not_modified": 0, "overlaps": 0, "overlapping_feeds": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            if self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                return self._answer(200, {"Content-Type": "application/json"}, body)
            try:
                i = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            except ValueError:
                i = -1
            if not 0 <= i < n_feeds:
                return self._answer(404, {}, b"")
            with lock:
                stats["requests"] += 1
                if in_flight.get(i):
                    stats["overlaps"] += 1
                    stats["overlapping_feeds"] = sorted({*stats["overlapping_feeds"], i})[:50]
                in_flight[i] = in_flight.get(i, 0) + 1
            try:
                self._feed(i)
            finally:
                with lock:
                    in_flight[i] -= 1

        def _feed(self, i: int) -> None:
            etag = f'"f{i}"' if i % 2 == 0 else None
            if etag and self.headers.get("If-None-Match") == etag:
                with lock:
                    stats["not_modified"] += 1
                return self._answer(304, {"ETag": etag}, b"")
            body = cache[i]
            self._answer(200, {"Content-Type": "application/rss+xml", **({"ETag": etag} if etag else {})}, body)

        def _answer(self, status, headers, body):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--republished", type=float, default=0.15)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args.feeds, args.items, args.republished))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
