"""Peak memory of an API process asked for many distinct pages of one large merged feed.

Usage: .venv/bin/python bench/feed_cache_memory.py [--pages 60] [--cache-mb 64] [--limit-mb 300]

One source with 150 long articles (about 20 KB of text each) is polled into a temporary SQLite
database; then a real uvicorn API process (loopback, free port) is asked for
``/feeds/all.{rss,atom,json}?limit=131…`` — each limit and format is another cache key, each page a
few MiB. Reports the process's peak RSS (VmHWM from /proc) before and after. ``--cache-mb`` sets
``SYNDICATE_FEED_CACHE_BYTES``; a very large value shows what an unbounded cache would hold.
Exits 1 if the peak reaches ``--limit-mb``. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "Stadtrat",
    "Haushalt",
    "Bürgerbüro",
    "Straßenbau",
    "Sitzung",
    "Beschluss",
    "Kita",
    "Bauantrag",
    "Gemeinde",
    "Landkreis",
    "Umleitung",
]


def big_feed(items: int = 150, words_per_item: int = 2500) -> bytes:
    """RSS with ``items`` long articles, each its own random text, so that none are merged as duplicates."""
    rng, start = random.Random(7), datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    entries = []
    for i in range(items):
        text = " ".join(f"{rng.choice(WORDS)}{rng.randrange(10**6)}" for _ in range(words_per_item))
        entries.append(
            f"<item><title>Meldung {i} {text[:40]}</title><link>https://gross.example/{i}</link><guid>gross-{i}</guid>"
            f"<pubDate>{format_datetime(start + timedelta(minutes=i))}</pubDate><description>{text}</description></item>"
        )
    document = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Groß</title>{"".join(entries)}</channel></rss>'
    return document.encode("utf-8")


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/gross.xml"


def populate(database_url: str, url: str) -> int:
    from syndicate import db as migrate
    from syndicate.ingest.refresh import refresh_source
    from syndicate.models import City, Source
    from syndicate.reader.normalise import canonical_url
    from syndicate.runtime import Runtime
    from syndicate.settings import Settings

    migrate.upgrade(database_url)
    runtime = Runtime(Settings(database_url=database_url, allow_networks="127.0.0.1/32"))
    with runtime.sessions() as session:
        city = City(slug="gross", name="Große Stadt", kind="city")
        session.add(city)
        session.flush()
        source = Source(city_id=city.id, url=url, canonical_url=canonical_url(url), origin="api")
        session.add(source)
        session.commit()
        new = refresh_source(session, runtime.client, source.id, runtime.refresh_config).new
    runtime.close()
    return new


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the API did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60, help="distinct pages to ask for (limit × format)")
    parser.add_argument("--cache-mb", type=float, default=64, help="SYNDICATE_FEED_CACHE_BYTES in MiB")
    parser.add_argument("--limit-mb", type=float, default=300, help="exit 1 when the peak RSS reaches this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        feed_server, url = serve(big_feed())
        print(f"polled {populate(database_url, url)} articles")
        feed_server.shutdown()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        env.update(SYNDICATE_DATABASE_URL=database_url, SYNDICATE_VAR_DIR=tmp, SYNDICATE_FEED_CACHE_BYTES=str(int(args.cache_mb * MIB)))
        command = [sys.executable, "-m", "uvicorn", "syndicate.web.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
        api = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port)
            before, served, started = peak_rss_mib(api.pid), 0, time.monotonic()
            keys = [(limit, fmt) for limit in range(131, 201) for fmt in ("rss", "atom", "json")][: args.pages]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                for limit, fmt in keys:
                    response = client.get(f"/feeds/all.{fmt}", params={"limit": limit})
                    response.raise_for_status()
                    served += len(response.content)
            peak = peak_rss_mib(api.pid)
        finally:
            api.terminate()
            api.wait(20)
    print(
        f"cache budget {args.cache_mb:.0f} MiB: {len(keys)} distinct pages, {served / MIB:.0f} MiB served in "
        f"{time.monotonic() - started:.0f} s; API peak RSS {before:.0f} MiB at start, {peak:.0f} MiB after (limit {args.limit_mb:.0f})"
    )
    return 1 if peak >= args.limit_mb else 0


if __name__ == "__main__":
    sys.exit(main())
