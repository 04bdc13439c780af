"""Shared fixtures: a real database (SQLite file, or PostgreSQL when SYNDICATE_TEST_DATABASE_URL
is set), a real local HTTP server on loopback that serves and misbehaves, and helpers to make
cities and sources."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syndicate import db as migrate
from syndicate.db import is_sqlite, make_engine
from syndicate.models import Base, City, Source
from syndicate.reader.normalise import canonical_url
from syndicate.runtime import Runtime
from syndicate.settings import Settings, get_settings

# fixtures of tests/support that many modules ask for by name
pytest_plugins = [
    "tests.support.api_fixtures",
    "tests.support.stories",
    "tests.support.topic_rules",
    "tests.support.fuerth",
    "tests.support.browser",
]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(os.environ.get("SYNDICATE_TEST_CORPUS") or ROOT.parent / "shared" / "corpus")  # the shared corpus beside the checkout


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """The pytest-xdist worker running this session ("gw0", …), or "master" without xdist: the
    same answer as xdist's fixture of this name, also where xdist is not installed."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


# modules whose every test drives a browser or runs the documented commands as child processes
SLOW_MODULES = {"test_container", "test_deploy", "test_monitoring", "test_production_docs", "test_production_path"}


def pytest_collection_modifyitems(items) -> None:
    """A test that starts Celery workers, drives a browser or runs commands as child processes is slow too:
    ``make test-fast`` (``-m "not slow"``) leaves it out."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        browser = module.endswith("_browser")
        if (item.get_closest_marker("celery") or browser or module in SLOW_MODULES) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------- local HTTP server


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # when set, If-None-Match with this value gets a 304
    delay: float = 0.0  # seconds before the answer
    chunks: list[bytes] | None = None  # streamed without Content-Length instead of ``body``
    drip: float = 0.0  # when set: the body (its Content-Length announced) one byte per ``drip`` seconds
    drip_headers: bool = False  # with ``drip``: the status line and headers drip too
    reset_after: int | None = None  # send this many body bytes of the announced length, then reset the connection
    hits: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer.HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.server.owner.opened()

    def finish(self):
        self.server.owner.closed()
        super().finish()

    def do_GET(self):  # noqa: N802 - http.server's naming
        owner = self.server.owner
        owner.request_started()
        try:
            self._answer()
        finally:
            owner.request_finished()

    def _answer(self):
        route = self.server.owner.routes.get(self.path) or self.server.owner.routes.get(self.path.split("?")[0])
        if route is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        route.hits += 1
        route.seen_headers.append({k.lower(): v for k, v in self.headers.items()})
        if route.delay:
            self.server.owner.stopping.wait(route.delay)  # a sleep that ends when the server closes
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            kept = {k: v for k, v in route.headers.items() if k.lower() in ("last-modified", "cache-control", "expires")}
            self._send(304, {"ETag": route.etag, **kept}, b"")
            return
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.drip or route.reset_after is not None:
            self._misbehave(route, headers)
            return
        if route.chunks is not None:
            self.send_response(route.status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for chunk in route.chunks:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        self._send(route.status, headers, route.body)

    def _misbehave(self, route: Route, headers: dict[str, str]) -> None:
        """Drip (headers and/or body) one byte at a time, or reset the connection mid-body."""
        head = f"HTTP/1.1 {route.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (head + f"Content-Length: {len(route.body)}\r\n\r\n").encode("latin-1")
        body = route.body if route.reset_after is None else route.body[: route.reset_after]
        self.close_connection = True
        try:
            if route.drip and route.drip_headers:
                self._drip(head + body, route.drip)
            elif route.drip:
                self.wfile.write(head)
                self._drip(body, route.drip)
            else:
                self.wfile.write(head + body)
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()  # with linger 0: an RST once the handler's files are closed
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _drip(self, data: bytes, interval: float) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            if self.server.owner.stopping.wait(interval):
                return

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FeedServer:
    """A real HTTP server on loopback with per-path behaviour."""

    class HTTPServer(ThreadingHTTPServer):
        daemon_threads = True
        owner: FeedServer

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, Route] = {}
        self.stopping = threading.Event()
        self.active = self.max_active = 0  # connections open at once, as this server saw them
        self.in_flight = self.max_in_flight = 0  # requests being answered at once (request line → answer written)
        self._count_lock = threading.Lock()
        self.httpd = self.HTTPServer((host, 0), _Handler)
        self.httpd.owner = self
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, body: bytes | str = b"", **kwargs) -> Route:
        route = Route(body=body.encode("utf-8") if isinstance(body, str) else body, **kwargs)
        self.routes[path] = route
        return route

    def opened(self) -> None:
        with self._count_lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def closed(self) -> None:
        with self._count_lock:
            self.active -= 1

    def request_started(self) -> None:
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_finished(self) -> None:
        with self._count_lock:
            self.in_flight -= 1

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


# ---------------------------------------------------------------- database


def _database_of_worker(url: str, worker: str) -> str:
    """Under pytest-xdist (``make test-fast``) each worker needs a database of its own: the given
    server database with the worker's name appended, created when it does not exist yet."""
    if worker in ("", "master") or is_sqlite(url):
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    server = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}) is None:
                connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        server.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> Iterator[str]:
    # tmp_path_factory gives every xdist worker a directory of its own, so a SQLite file is per worker already
    url = get_settings().test_database_url or f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db"
    url = _database_of_worker(url, worker_id)
    engine = make_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    migrate.upgrade(url)
    if not is_sqlite(url):
        yield url
        return
    # One connection held open for the whole session: while it is open, a test's engine closing the
    # last of its own connections does not checkpoint the WAL into the file and delete it again.
    keeper = sqlite3.connect(make_url(url).database)
    try:
        yield url
    finally:
        keeper.close()


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory) -> str:
    return get_settings().test_broker_url or f"sqla+sqlite:///{tmp_path_factory.mktemp('broker')}/broker.db"


@pytest.fixture
def settings(database_url, broker_url, tmp_path) -> Settings:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    shutil.copy(ROOT / "feeds" / "topics.toml", feeds / "topics.toml")
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        allow_networks="127.0.0.1/32",
        feeds_dir=feeds,
        var_dir=tmp_path / "var",
        public_url="http://127.0.0.1:8000",
        min_interval=60,
        default_interval=600,
        fetch_timeout=5.0,
        feed_cache_seconds=0.0,  # tests look at a feed right after changing it
        ops_watch_interval=0.0,  # no watcher thread in a test's app: tests call syndicate.ops.watch themselves
    )


def _wipe(runtime: Runtime) -> None:
    """Empty every table, children first; one statement finds the tables that hold rows, so that
    only those get a DELETE (most tests touch a few of the many tables)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with runtime.engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        probe = " UNION ALL ".join(f"SELECT {n} WHERE EXISTS (SELECT 1 FROM {quote(table.name)})" for n, table in enumerate(tables))
        filled = {row[0] for row in connection.execute(text(probe))}
        for n, table in enumerate(tables):
            if n in filled:
                connection.execute(table.delete())


@pytest.fixture
def runtime(settings):
    rt = Runtime(settings)
    _wipe(rt)
    yield rt
    _wipe(rt)
    rt.close()


@pytest.fixture
def session(runtime):
    with runtime.sessions() as s:
        yield s


@pytest.fixture
def topics(runtime, settings):
    """The real topics.toml synced into the database."""
    from syndicate.sources import registry

    loaded = registry.load_registry(settings.feeds_dir)
    with runtime.sessions() as s:
        registry.sync(s, loaded)
    return loaded.topics


def make_source(session, url: str, city: str = "muenchen", name: str | None = None, topics: list[str] | None = None) -> Source:
    owner = session.query(City).filter_by(slug=city).one_or_none()
    if owner is None:
        owner = City(slug=city, name=name or city.capitalize(), kind="city")
        session.add(owner)
        session.flush()
    source = Source(city_id=owner.id, url=url, canonical_url=canonical_url(url), origin="api", default_topics=topics or [])
    session.add(source)
    session.commit()
    return source


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a ``syndicate``/``celery`` child process using the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env.update(
        SYNDICATE_DATABASE_URL=settings.database_url,
        SYNDICATE_BROKER_URL=settings.broker_url,
        SYNDICATE_ALLOW_NETWORKS=settings.allow_networks,
        SYNDICATE_FEEDS_DIR=str(settings.feeds_dir),
        SYNDICATE_VAR_DIR=str(settings.var_dir),
        SYNDICATE_MIN_INTERVAL=str(settings.min_interval),
    )
    env.update(extra)
    return env


def purge_queues(broker_url: str) -> None:
    """Empty syndicate's queues on the test broker (earlier tests may have enqueued work)."""
    from kombu import Connection

    from syndicate.ops.queues import QUEUES

    with Connection(broker_url) as connection:
        channel = connection.channel()
        for queue in QUEUES:
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - the queue does not exist yet on this broker
                pass
