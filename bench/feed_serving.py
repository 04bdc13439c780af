"""A cached 100-entry topic feed served by uvicorn, side by side with a static server serving the same
bytes as a file, in the same run; plus the uncached render time of that feed.

Usage: .venv/bin/python bench/feed_serving.py [--entries 100] [--seconds 4] [--threads 8] [--max-requests 20000]

Builds a fresh SQLite database with one topic of ``--entries`` stories (three cities, HTML bodies,
categories), then
  1. times render_feed (query + feedgen, no cache) for RSS, Atom and JSON: median of 15 (target < 50 ms);
  2. starts ``uvicorn syndicate.web.app:create_app --factory`` (one process) and fetches
     /feeds/topics/klimaschutz.atom once (fills the render cache); writes those bytes to a file;
  3. starts a static server for that file: nginx when installed, otherwise Python's ThreadingHTTPServer
     with HTTP/1.1 keep-alive (the same connection reuse as uvicorn gets);
  4. drives each server in turn with the same loopback load generator: ``--threads`` threads, each with
     a keep-alive httpx client, bounded by ``--seconds`` and ``--max-requests``; prints requests/s and
     p50/p99 latency for both and the ratio (target: uvicorn ≥ 50 % of the static server's rate).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.clock import utcnow  # noqa: E402
from syndicate.db import make_engine, make_session_factory  # noqa: E402
from syndicate.models import Article, ArticleTopic, City, Cluster, Source, Topic  # noqa: E402
from syndicate.publish.feeds import FeedQuery, render_feed  # noqa: E402

PUBLIC = "http://127.0.0.1:8000"
PATH = "/feeds/topics/klimaschutz.atom"


def populate(url: str, entries: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = utcnow()
    with sessions() as session:
        topic = Topic(
            slug="klimaschutz", title="Klimaschutz", description="Klimaschutz in bayerischen Kommunen", categories=[], keywords=[]
        )
        session.add(topic)
        cities = [
            City(slug=s, name=n, kind="city")
            for s, n in (("muenchen", "Landeshauptstadt München"), ("augsburg", "Stadt Augsburg"), ("nuernberg", "Stadt Nürnberg"))
        ]
        session.add_all(cities)
        session.flush()
        sources = [
            Source(city_id=c.id, url=f"https://{c.slug}.example/rss", canonical_url=f"https://{c.slug}.example/rss", origin="file")
            for c in cities
        ]
        session.add_all(sources)
        session.flush()
        for i in range(entries):
            published = now - timedelta(hours=i)
            cluster = Cluster(published_at=published, updated_at=published)
            session.add(cluster)
            session.flush()
            members = sources[: 1 + i % 3]  # some stories published by two or three cities
            for k, source in enumerate(members):
                text = f"Die Stadt fördert Photovoltaik auf {i} Schuldächern und spart so {i * 17} Tonnen CO₂ im Jahr. " * 6
                article = Article(
                    source_id=source.id,
                    cluster_id=cluster.id,
                    item_key=f"{i}-{k}",
                    url=f"https://{source.url.split('/')[2]}/presse/{i}",
                    canonical_url=f"https://{source.url.split('/')[2]}/presse/{i}",
                    title=f"Förderprogramm Photovoltaik, Teil {i}",
                    summary_html=f"<p>{text[:200]}</p>",
                    content_html=f"<p>{text}</p><p><a href='https://example.org/{i}'>Mehr</a></p>",
                    text=text,
                    content_hash=f"{i}-{k}",
                    categories=["Klimaschutz", "Energie"],
                    published_at=published + timedelta(minutes=k),
                    changed_at=published,
                )
                session.add(article)
                session.flush()
                if k == 0:
                    cluster.representative_id = article.id
                session.add(ArticleTopic(article_id=article.id, topic_id=topic.id, reason="category"))
        session.commit()
    engine.dispose()


def time_render(url: str) -> dict[str, float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    figures = {}
    with sessions() as session:
        for fmt in ("rss", "atom", "json"):
            query = FeedQuery("topic", "klimaschutz", limit=100)
            render_feed(session, query, fmt, PUBLIC)  # warm-up
            runs = []
            for _ in range(15):
                started = time.perf_counter()
                feed = render_feed(session, query, fmt, PUBLIC)
                runs.append((time.perf_counter() - started) * 1000)
            figures[fmt] = statistics.median(runs)
            print(f"uncached render {fmt:4}: median {figures[fmt]:6.1f} ms  ({len(feed.body):,} bytes)")
    engine.dispose()
    return figures


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


STATIC_SERVER = """
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), partial(Handler, directory=sys.argv[2])).serve_forever()
"""

NGINX_CONF = """
worker_processes 1; daemon off; pid {dir}/nginx.pid; error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{ access_log off; default_type application/atom+xml; keepalive_requests 100000;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp; uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  server {{ listen 127.0.0.1:{port}; root {dir}/www; }} }}
"""


def start_static(directory: Path, port: int) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        (directory / "tmp").mkdir(exist_ok=True)
        for path in (directory, *directory.rglob("*")):  # nginx's worker may run as another user
            path.chmod(0o755 if path.is_dir() else 0o644)
        conf = directory / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=directory, port=port))
        return subprocess.Popen([nginx, "-c", str(conf), "-p", str(directory)], stderr=subprocess.DEVNULL), "nginx (1 worker)"
    return (
        subprocess.Popen([sys.executable, "-c", STATIC_SERVER, str(port), str(directory / "www")]),
        "python ThreadingHTTPServer (HTTP/1.1 keep-alive)",
    )


def load(url: str, threads: int, seconds: float, max_requests: int) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms, errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_thread = max_requests // threads
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        mine = []
        with httpx.Client(timeout=10, headers={"Accept-Encoding": "identity"}) as client:
            client.get(url)  # connect before the clock matters
            for _ in range(per_thread):
                if time.monotonic() > stop_at:
                    break
                started = time.perf_counter()
                response = client.get(url)
                mine.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.content:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return len(latencies) / elapsed, p(0.50), p(0.99), errors[0]


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--cache-seconds", type=float, default=1.0, help="SYNDICATE_FEED_CACHE_SECONDS for the second uvicorn run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work}/bench.db"
        migrate.upgrade(url)
        populate(url, args.entries)
        renders = time_render(url)

        static_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        env.update(
            SYNDICATE_DATABASE_URL=url,
            SYNDICATE_BROKER_URL=f"sqla+sqlite:///{work}/broker.db",
            SYNDICATE_VAR_DIR=str(work / "var"),
            SYNDICATE_PUBLIC_URL=PUBLIC,
            SYNDICATE_FEED_LIMIT=str(args.entries),
            SYNDICATE_FEED_LIMIT_MAX=str(max(200, args.entries)),
        )
        apps = {
            "uvicorn, cache checked per request": {"SYNDICATE_FEED_CACHE_SECONDS": "0"},
            f"uvicorn, cache fresh for {args.cache_seconds:g} s (default)": {"SYNDICATE_FEED_CACHE_SECONDS": str(args.cache_seconds)},
        }
        results, static, body = {}, None, None
        try:
            for name, extra in apps.items():
                port = free_port()
                app = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "syndicate.web.app:create_app",
                        "--factory",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    env={**env, **extra},
                    cwd=ROOT,
                )
                try:
                    app_url = f"http://127.0.0.1:{port}{PATH}"
                    wait_up(app_url)
                    served = httpx.get(app_url, headers={"Accept-Encoding": "identity"}).content
                    assert body is None or served == body
                    body = served
                    rate, p50, p99, errors = load(app_url, args.threads, args.seconds, args.max_requests)
                finally:
                    stop(app)
                results[name] = rate
                print(f"{name:58} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   errors {errors}")
            target = work / "www" / PATH.lstrip("/")
            target.parent.mkdir(parents=True)
            target.write_bytes(body)
            static, static_name = start_static(work, static_port)
            static_url = f"http://127.0.0.1:{static_port}{PATH}"
            wait_up(static_url)
            assert httpx.get(static_url).content == body, "the static server must serve the same bytes"
            rate, p50, p99, errors = load(static_url, args.threads, args.seconds, args.max_requests)
            results["static"] = rate
            print(f"{'static: ' + static_name:58} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   errors {errors}")
            print(
                f"feed: {PATH}, {body.count(b'<entry>'):d} entries, {len(body):,} bytes; load per server: {args.threads} threads "
                f"(keep-alive httpx), ≤ {args.seconds:g} s, ≤ {args.max_requests} requests"
            )
        finally:
            if static is not None:
                stop(static)
    static_rate = results.pop("static")
    for name, rate in results.items():
        print(f"{name}: {rate / static_rate:.0%} of the static server's rate (target ≥ 50 %)")
    print(f"uncached render of {args.entries} entries: max {max(renders.values()):.1f} ms over the three formats (target < 50 ms)")
    return 0 if max(results.values()) / static_rate >= 0.5 and max(renders.values()) < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
