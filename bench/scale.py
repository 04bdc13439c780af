"""Shared plumbing for bench/ingest.py and bench/faults.py: a fixture server process, a fresh
SQLite database, real ``celery -A workers worker`` processes, VmRSS, row counts.

Loopback only; every child is started here and stopped by its own PID (process group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def env_for(tmp: Path, broker_url: str | None = None, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env.update(
        SYNDICATE_DATABASE_URL=database_url or f"sqlite:///{tmp}/syndicate.db",
        SYNDICATE_BROKER_URL=broker_url or f"sqla+sqlite:///{tmp}/broker.db",
        SYNDICATE_ALLOW_NETWORKS="127.0.0.1/32",
        SYNDICATE_HOST_LIMITS="127.0.0.1=0/0",  # the fixture is one host; the politeness budget is not measured here
        SYNDICATE_VAR_DIR=str(tmp / "var"),
        SYNDICATE_FEEDS_DIR=str(tmp / "feeds"),
        SYNDICATE_MIN_INTERVAL="60",
        SYNDICATE_FETCH_DEADLINE="20",
        PYTHONPATH=str(ROOT),
    )
    return env


def use_env(env: dict[str, str]) -> None:
    """Point this process's syndicate imports at the bench database and broker (before importing them)."""
    for key in [k for k in os.environ if k.startswith("SYNDICATE_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("SYNDICATE_")})


def start_server(feeds: int, items: int, log: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [PY, str(ROOT / "bench" / "fixture.py"), "serve", "--feeds", str(feeds), "--items", str(items)],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        start_new_session=True,
        text=True,
    )
    line = proc.stdout.readline().split()
    return proc, f"http://127.0.0.1:{line[1]}"


def start_worker(env: dict[str, str], name: str, log: Path, queues: str = "refresh") -> subprocess.Popen:
    """One worker process with the solo pool: the PID does the work, so its VmRSS is the worker's."""
    return subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queues,
            "-n",
            f"{name}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(logs: list[Path], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and " ready." in p.read_text(errors="replace") for p in logs):
            return True
        time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def db_bytes(engine) -> int:
    """Bytes of the database in use: SQLite's pages less its free list after a checkpoint; on
    PostgreSQL the files of its tables (with their indexes and TOAST) after a plain VACUUM, which
    makes the old row versions of the last round's updates free space that the next round reuses."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            return int(
                conn.exec_driver_sql(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                ).scalar()
            )
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        size = conn.exec_driver_sql("PRAGMA page_size").scalar()
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
    return (pages - free) * size


def pages_by_object(engine) -> dict[str, int]:
    """Pages per table and index (SQLite's dbstat, empty where it is not compiled in; PostgreSQL's
    relation sizes in 8 KiB pages)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return dict(
                conn.exec_driver_sql(
                    "SELECT c.relname, pg_relation_size(c.oid) / 8192 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')"
                ).all()
            )
    try:
        with engine.connect() as conn:
            return dict(conn.exec_driver_sql("SELECT name, count(*) FROM dbstat GROUP BY name").all())
    except Exception:  # no dbstat, or not SQLite
        return {}


def row_counts(engine) -> dict[str, int]:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar()
            for t in inspect(engine).get_table_names()
            if t != "alembic_version"
        }


def make_sources(session, base: str, n: int, cities: int = 20) -> list[int]:
    from syndicate.models import City, Source
    from syndicate.reader.normalise import canonical_url

    city_ids = []
    for c in range(cities):
        city = session.query(City).filter_by(slug=f"c{c}").one_or_none() or City(slug=f"c{c}", name=f"Stadt {c}", kind="city")
        session.add(city)
        session.flush()
        city_ids.append(city.id)
    sources = [
        Source(city_id=city_ids[i % cities], url=f"{base}/f/{i}.xml", canonical_url=canonical_url(f"{base}/f/{i}.xml")) for i in range(n)
    ]
    session.add_all(sources)
    session.commit()
    return [s.id for s in sources]


def mark():
    """Now, as the workers' clock reads it: a source whose ``last_checked_at`` is at or after it was polled since."""
    from syndicate.clock import utcnow

    return utcnow()


def wait_polled(sessions, ids: set[int], since, timeout: float) -> tuple[set[int], float]:
    """Wait until every id was checked at or after ``since`` (any outcome); returns the polled ids and the time.

    The watch shares the machine with the workers it times, so each look is cheap: a count of all
    sources checked since (one Core statement on one connection, ~0.1 ms) and only once that count
    reaches ``len(ids)`` the ids themselves (the ORM query it replaced took ~1 ms of CPU every 20 ms)."""
    from sqlalchemy import func, select

    from syndicate.models import Source

    started = time.monotonic()
    seen: set[int] = set()
    checked = Source.last_checked_at >= since
    count, which = select(func.count()).select_from(Source).where(checked), select(Source.id).where(checked)
    with sessions() as s:
        while time.monotonic() - started < timeout:
            connection = s.connection()
            if connection.execute(count).scalar_one() >= len(ids):
                seen = set(connection.execute(which).scalars()) & ids
            s.rollback()  # the next look starts a new read transaction: it sees what was committed since
            if seen >= ids:
                break
            time.sleep(0.02)  # the wall time measured ends at most this late
        else:  # out of time: which ones were polled
            seen = set(s.connection().execute(which).scalars()) & ids
    return seen, time.monotonic() - started


def beat_round() -> int:
    """What beat's enqueue_due does, tick after tick until nothing due is left unclaimed: claim the
    due sources and send them as refresh batches (workers/tasks.py). Returns the sources claimed."""
    from workers.tasks import enqueue_due

    total = 0
    while claimed := enqueue_due():
        total += claimed
    return total


def server_stats(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/stats", timeout=10).json()


def declare_queues(broker_url: str, names=("refresh", "websub", "maintenance")) -> None:
    """Create the queues before workers start: two workers starting at once on a fresh embedded
    (sqla) broker race to INSERT the same kombu_queue row and one dies (UNIQUE constraint failed)."""
    from kombu import Connection

    with Connection(broker_url) as connection:
        channel = connection.channel()
        for name in names:
            channel.queue_declare(queue=name, durable=True, auto_delete=False)
            channel.queue_purge(name)  # a shared Redis or RabbitMQ may hold an earlier run's messages
