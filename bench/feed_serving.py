"""Serving a merged feed: nginx on the static directory (deploy/nginx.conf), plain nginx on the same
bytes, and the app's own cached path, all driven by ``wrk`` (a native load generator) in one run.

Usage: .venv/bin/python bench/feed_serving.py [--entries 100] [--seconds 5] [--rounds 3] [--connections 16]
                                             [--baseline-root DIR]

Builds a fresh SQLite database with one topic of ``--entries`` stories (three cities, HTML bodies,
categories), then
  1. times render_feed (query + feedgen, no cache) for RSS, Atom and JSON: median of 15 (target < 50 ms);
  2. starts the app (``uvicorn syndicate.web.app:create_app --factory``, one process, as ``syndicate up``
     runs it), fetches /feeds/topics/klimaschutz.atom and writes every feed's first page into a static
     directory with syndicate.publish.static (the bytes must equal the app's);
  3. starts nginx twice, one worker each: with deploy/nginx.conf on that directory (proxying the rest to
     the app), and a plain nginx serving the same bytes as one file;
  4. runs ``wrk -t1 -c16 -d5s --latency`` against each server in turn, ``--rounds`` times, the order
     rotating each round; prints requests/s and p50/p99 of each run and the medians.
``--baseline-root`` also measures the app of another checkout (e.g. a ``git worktree`` of an older
commit) on the same database, in the same rounds.
Targets: the static path ≥ 90 % of plain nginx; the app's own path reported beside them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
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
from syndicate.publish import static  # noqa: E402
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


def wait_up(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up: {httpx.get(url, timeout=5)}")


PLAIN_NGINX = """
worker_processes 1; pid {dir}/nginx.pid; error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; default_type application/atom+xml; keepalive_requests 10000; sendfile on; tcp_nopush on;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp; uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  server {{ listen 127.0.0.1:{port}; root {dir}/www; }} }}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise SystemExit("nginx is not installed (Debian package nginx-light)")
    return found


def deploy_config(directory: Path, static_dir: Path, port: int, app_port: int) -> str:
    """deploy/nginx.conf with its adjustable lines set, one worker (like the app), files under ``directory``."""
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    text = re.sub(r"^worker_processes [^;\n]+;", "worker_processes 1;", text, flags=re.M)
    text = re.sub(r"^(\s*)listen \d+;", rf"\g<1>listen 127.0.0.1:{port};", text, flags=re.M)
    text = re.sub(r"^(\s*)root [^;\n]+;", rf"\g<1>root {static_dir};", text, flags=re.M)
    text = re.sub(r"^(\s*)server 127\.0\.0\.1:8000;", rf"\g<1>server 127.0.0.1:{app_port};", text, flags=re.M)
    text = re.sub(r"^pid [^;\n]+;", f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;", text, flags=re.M)
    temp = "".join(f"    {kind}_temp_path {directory}/tmp;\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return text.replace("http {\n", "http {\n" + temp, 1)


def start_nginx(directory: Path, config: str) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(config, encoding="utf-8")
    return subprocess.Popen([nginx_binary(), "-p", str(directory), "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)


def baseline_database(work: Path, url: str) -> str:
    """A copy of the bench database for an older checkout's app: the same rows, plus the columns that
    later migrations dropped and older code still reads (articles.simhash, dropped by 0014)."""
    import shutil
    import sqlite3

    source = Path(url.removeprefix("sqlite:///"))
    copy = work / "baseline.db"
    shutil.copyfile(source, copy)
    with sqlite3.connect(copy) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(articles)")}
        if "simhash" not in columns:
            connection.execute("ALTER TABLE articles ADD COLUMN simhash BIGINT NOT NULL DEFAULT 0")
    return f"sqlite:///{copy}"


def start_app(root: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "syndicate.web.app:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, env={**env, "PYTHONPATH": str(root)}, cwd=root)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: float, connections: int) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms, non-2xx-or-3xx answers and socket errors, from one ``wrk --latency`` run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentile = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", out, flags=re.M)}
    errors = sum(
        int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|Socket errors: connect \d+, read \d+, write \d+, timeout):\s+(\d+)", out)
    )
    return rate, percentile["50"], percentile["99"], errors


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
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--baseline-root", type=Path, help="another checkout whose app is measured beside this one")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian package wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # nginx's worker may run as another user
        url = f"sqlite:///{work}/bench.db"
        migrate.upgrade(url)
        populate(url, args.entries)
        renders = time_render(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        env.update(
            SYNDICATE_DATABASE_URL=url,
            SYNDICATE_BROKER_URL=f"sqla+sqlite:///{work}/broker.db",
            SYNDICATE_VAR_DIR=str(work / "var"),
            SYNDICATE_PUBLIC_URL=PUBLIC,
            SYNDICATE_FEED_LIMIT=str(args.entries),
            SYNDICATE_FEED_LIMIT_MAX=str(max(200, args.entries)),
        )
        processes: list[subprocess.Popen] = []
        try:
            app_port = free_port()
            processes.append(start_app(ROOT, app_port, env))
            targets = {"app (uvicorn, its own cached path)": f"http://127.0.0.1:{app_port}{PATH}"}
            if args.baseline_root:
                baseline_port = free_port()
                baseline_url = baseline_database(work, url)
                processes.append(start_app(args.baseline_root.resolve(), baseline_port, {**env, "SYNDICATE_DATABASE_URL": baseline_url}))
                targets[f"baseline app ({args.baseline_root})"] = f"http://127.0.0.1:{baseline_port}{PATH}"
            for target in targets.values():
                wait_up(target)
            body = httpx.get(targets["app (uvicorn, its own cached path)"], headers={"Accept-Encoding": "identity"}).content

            static_dir = work / "static"
            engine = make_engine(url)
            with make_session_factory(engine)() as session:
                static.write_all(session, static_dir, PUBLIC, limit=args.entries)
            engine.dispose()
            assert (static_dir / PATH.lstrip("/")).read_bytes() == body, "the static file must be the app's bytes"
            plain = work / "plain"
            (plain / "www" / PATH.lstrip("/")).parent.mkdir(parents=True)
            (plain / "www" / PATH.lstrip("/")).write_bytes(body)
            for path in (work, *work.rglob("*")):
                path.chmod(0o755 if path.is_dir() else 0o644)
            static_port, plain_port = free_port(), free_port()
            processes.append(start_nginx(work / "deploy", deploy_config(work / "deploy", static_dir, static_port, app_port)))
            processes.append(start_nginx(plain, PLAIN_NGINX.format(dir=plain, port=plain_port)))
            targets = {
                "nginx + deploy/nginx.conf, static dir": f"http://127.0.0.1:{static_port}{PATH}",
                "plain nginx, same bytes": f"http://127.0.0.1:{plain_port}{PATH}",
                **targets,
            }
            for name, target in targets.items():
                wait_up(target)
                served = httpx.get(target, headers={"Accept-Encoding": "identity"}).content
                # an older checkout renders the same stories with its own details; the servers here must agree
                assert name.startswith("baseline") or served == body, f"{target}: other bytes"

            runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
            names = list(targets)
            print(f"wrk -t1 -c{args.connections} -d{args.seconds:g}s --latency, {args.rounds} rounds, order rotating:")
            for round_ in range(args.rounds):
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    figures = wrk(targets[name], args.seconds, args.connections)
                    runs[name].append(figures)
                    rate, p50, p99, errors = figures
                    print(f"  round {round_ + 1}  {name:44} {rate:9,.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}")
        finally:
            for process in processes:
                stop(process)
    print(f"feed: {PATH}, {body.count(b'<entry>'):d} entries, {len(body):,} bytes")
    medians = {name: statistics.median(r[0] for r in found) for name, found in runs.items()}
    print(f"{'server':46} {'median req/s':>13} {'p50 ms':>8} {'p99 ms':>8}")
    for name, found in runs.items():
        p50 = statistics.median(r[1] for r in found)
        p99 = statistics.median(r[2] for r in found)
        print(f"{name:46} {medians[name]:13,.0f} {p50:8.2f} {p99:8.2f}")
    plain_rate = medians["plain nginx, same bytes"]
    static_share = medians["nginx + deploy/nginx.conf, static dir"] / plain_rate
    print(f"static path: {static_share:.0%} of plain nginx (target ≥ 90 %)")
    print(f"app's own path: {medians['app (uvicorn, its own cached path)'] / plain_rate:.1%} of plain nginx")
    for name in medians:
        if name.startswith("baseline"):
            print(f"app's own path: {medians['app (uvicorn, its own cached path)'] / medians[name]:.2f}× the {name}")
    print(f"uncached render of {args.entries} entries: max {max(renders.values()):.1f} ms over the three formats (target < 50 ms)")
    return 0 if static_share >= 0.9 and max(renders.values()) < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
