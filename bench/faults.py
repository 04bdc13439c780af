"""Fault scenarios with real processes (issue "workers at scale", scope 5).

Usage: .venv/bin/python bench/faults.py [--scenario kill|redis|postgres|all] [--sources 200] [--items 50]
                                        [--tick 5] [--run-lease 6] [--fault-after 0.3] [--outage 3]
                                        [--max-seconds 240]

Every scenario: a fixture server (bench/fixture.py, separate process, 127.0.0.1), one ``celery beat``
(tick ``--tick`` s) and two ``celery -A workers worker --pool solo`` processes with
``SYNDICATE_RUN_LEASE=--run-lease``, on a fresh database. All sources are due at once; when
``--fault-after`` of them have been polled, the fault happens:

kill      SQLite + the embedded broker. One worker gets SIGKILL (by its PID) and a replacement is
          started, as a supervisor would. Its source's run lease is no longer renewed and runs out;
          the next tick claims it again. Acceptance: every source polled within two ticks after the
          later of (the refresh queue drained, the killed run's lease ran out).
redis     SQLite + a redis-server this script starts on 127.0.0.1:6390 (``--save '' --appendonly no``):
          killed (by its PID) mid-round and started again on the same port, so every queued message is
          lost. Workers reconnect; the first tick that sees the refresh queue empty claims the lost
          claims again. Acceptance: the round completes.
postgres  A throwaway PostgreSQL cluster (initdb in a temp dir, 127.0.0.1, a free port from 5440,
          run as the ``postgres`` user when this runs as root) + the embedded broker: its postmaster is
          shut down hard (SIGQUIT to its PID: immediate shutdown, crash recovery on start), left down
          ``--outage`` s, started again. Tasks fail on the database, retry, and the round completes.
          Printed "skipped: <why>" when the PostgreSQL binaries cannot be run.

Each scenario prints: sources polled, sources polled twice at once (overlapping fetch-log
intervals), duplicate articles ((source, item) stored twice), lost articles (expected items not
stored) and PASS/FAIL; the script exits 1 when any scenario fails. Never touches the services on
6379/5432/5672; every process it starts it stops by its own PID.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402

SCENARIOS = ("kill", "redis", "postgres")
REDIS_PORT = 6390
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORTS = range(5440, 5450)


# ---------------------------------------------------------------- servers started and stopped here


def start_redis(log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    time.sleep(0.5)
    return proc


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class PostgresCluster:
    """A throwaway cluster in its own temp dir, listening on 127.0.0.1 only, trust auth for local use."""

    def __init__(self) -> None:
        self.port = next((p for p in PG_PORTS if port_free(p)), None)
        self.dir = Path(tempfile.mkdtemp(prefix="syndicate-faults-pg-"))
        self.data, self.log = self.dir / "data", self.dir / "postgres.log"
        self.as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/syndicate"

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120, cwd=self.dir, check=False)

    def create(self) -> str | None:
        """Set the cluster up and start it; the reason when that is not possible."""
        if not (PG_BIN / "initdb").exists():
            return f"no PostgreSQL binaries in {PG_BIN}"
        if self.port is None:
            return f"no free port in {PG_PORTS.start}-{PG_PORTS.stop - 1}"
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
        done = self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if done.returncode != 0:
            return f"initdb failed: {done.stderr.strip()[-300:]}"
        if (reason := self.start()) is not None:
            return reason
        made = self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "syndicate")
        return None if made.returncode == 0 else f"createdb failed: {made.stderr.strip()[-300:]}"

    def start(self) -> str | None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        done = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return None if done.returncode == 0 else f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-300:]}"

    def postmaster_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def crash(self) -> int:
        """Immediate shutdown of the postmaster (by its PID): backends quit at once, no checkpoint."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    def remove(self) -> None:
        if self.postmaster_pid() is not None:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- watching the round


@dataclass
class Watch:
    """First poll of each source after the fault, and when the refresh queue first drained."""

    ids: set[int]  # the sources not polled (no poll committed) at the fault
    fault_at: float
    polled: dict[int, float] = field(default_factory=dict)  # source id → seconds after the fault (first poll)
    drained: float | None = None  # seconds after the fault

    def step(self, rt, broker_url: str) -> None:
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from syndicate.models import Source
        from syndicate.ops import queues

        now = time.monotonic() - self.fault_at
        try:
            with rt.sessions() as s:
                checked = set(s.scalars(select(Source.id).where(Source.last_checked_at.is_not(None))))
        except SQLAlchemyError:  # the database is down (postgres scenario)
            checked = set()
        for source_id in (checked & self.ids) - self.polled.keys():
            self.polled[source_id] = now
        if self.drained is None:
            try:
                if queues.depth(broker_url, names=("refresh",))["refresh"] == 0:
                    self.drained = now
            except queues.QueueError:  # the broker is down (redis scenario)
                pass

    def done(self) -> bool:
        return len(self.polled) == len(self.ids)


def polled_ids(rt) -> set[int]:
    from sqlalchemy import select

    from syndicate.models import Source

    with rt.sessions() as s:
        return set(s.scalars(select(Source.id).where(Source.last_checked_at.is_not(None))))


def running_leases(rt) -> set[int]:
    from sqlalchemy import select

    from syndicate.models import Source

    with rt.sessions() as s:
        return set(s.scalars(select(Source.id).where(Source.lease_state == "running")))


def overlapping_polls(rt) -> int:
    """Sources polled twice at once: a fetch that started before the previous one of the same source ended."""
    from datetime import timedelta

    from sqlalchemy import select

    from syndicate.models import FetchLog

    with rt.sessions() as s:
        rows = s.execute(
            select(FetchLog.source_id, FetchLog.started_at, FetchLog.duration_ms).order_by(FetchLog.source_id, FetchLog.started_at)
        ).all()
    overlaps, previous = set(), None
    for source_id, started, duration in rows:
        if previous and previous[0] == source_id and started < previous[1] + timedelta(milliseconds=previous[2]):
            overlaps.add(source_id)
        previous = (source_id, started, duration)
    return len(overlaps)


def article_counts(rt) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from syndicate.models import Article, FetchLog

    with rt.sessions() as s:
        total = s.scalar(select(func.count(Article.id)))
        distinct = s.scalar(select(func.count()).select_from(select(Article.source_id, Article.item_key).distinct().subquery()))
        polls = s.scalar(select(func.sum(FetchLog.repeats)))
    return total, distinct, polls


def log_count(paths: list[Path], pattern: str) -> int:
    return sum(len(re.findall(pattern, p.read_text(errors="replace"))) for p in paths if p.exists())


# ---------------------------------------------------------------- one scenario


def scenario(args, fault: str) -> tuple[list[tuple[str, str]], bool]:
    tmp = Path(tempfile.mkdtemp(prefix=f"syndicate-faults-{fault}-"))
    (tmp / "var").mkdir()
    children: list[subprocess.Popen] = []
    redis, cluster, broker = None, None, None
    if fault == "redis":
        if shutil.which("redis-server") is None:
            return [("redis: result", "skipped: no redis-server")], True
        if not port_free(REDIS_PORT):
            return [("redis: result", f"skipped: port {REDIS_PORT} is in use")], True
        redis = start_redis(tmp / "redis.log")
        broker = f"redis://127.0.0.1:{REDIS_PORT}/0"
    env = scale.env_for(tmp, broker)
    env["SYNDICATE_BEAT_INTERVAL"] = str(args.tick)
    env["SYNDICATE_RUN_LEASE"] = str(args.run_lease)
    if fault == "postgres":
        cluster = PostgresCluster()
        if (reason := cluster.create()) is not None:
            cluster.remove()
            return [("postgres: result", f"skipped: {reason}")], True
        env["SYNDICATE_DATABASE_URL"] = cluster.url
    scale.use_env(env)
    from syndicate import db as migrate
    from syndicate.runtime import Runtime
    from syndicate.settings import Settings

    migrate.upgrade(env["SYNDICATE_DATABASE_URL"])
    rt = Runtime(Settings())
    logs = [tmp / "worker0.log", tmp / "worker1.log"]
    try:
        server, base = scale.start_server(args.sources, args.items, tmp / "server.log")
        children.append(server)
        with rt.sessions() as s:
            ids = scale.make_sources(s, base, args.sources)
        scale.declare_queues(env["SYNDICATE_BROKER_URL"])
        queues = "refresh,maintenance,websub"
        workers = [scale.start_worker(env, f"fault{k}", logs[k], queues) for k in range(2)]
        children += workers
        if not scale.wait_ready(logs):
            raise SystemExit(f"workers not ready: {logs}")
        started = time.monotonic()
        beat = subprocess.Popen(
            [scale.PY, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO", "--schedule", str(tmp / "beat-schedule")],
            env=env,
            cwd=scale.ROOT,
            stdout=(tmp / "beat.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        children.append(beat)
        threshold, before = int(args.fault_after * len(ids)), set()
        while len(before) < threshold and time.monotonic() - started < args.max_seconds:
            time.sleep(0.2)
            before = polled_ids(rt)
        fault_at = time.monotonic()
        victims: set[int] = set()
        if fault == "kill":
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)  # the worker PID itself (solo pool), not a broad name
            victim.wait()
            victims = running_leases(rt)  # the killed worker's source, and perhaps the other worker's
            logs.append(tmp / "worker0b.log")
            workers[0] = scale.start_worker(env, "fault0b", logs[-1], queues)
            children.append(workers[0])
            what = f"kill -9 of worker PID {victim.pid} after {len(before)}/{len(ids)} sources polled; replacement started"
        elif fault == "redis":
            pid = redis.pid
            redis.send_signal(signal.SIGKILL)
            redis.wait()
            time.sleep(args.outage)
            redis = start_redis(tmp / "redis.log")
            what = f"redis-server PID {pid} (port {REDIS_PORT}, started here) killed after {len(before)}/{len(ids)} polled, down {args.outage:g} s, restarted"
        else:
            pid = cluster.crash()
            time.sleep(args.outage)
            if (reason := cluster.start()) is not None:
                raise SystemExit(reason)
            what = (
                f"postgres PID {pid} (port {cluster.port}, started here) shut down hard after {len(before)}/{len(ids)} polled, "
                f"down {args.outage:g} s, restarted"
            )
        watch = Watch(set(ids) - before, fault_at)
        while not watch.done() and time.monotonic() - started < args.max_seconds:
            watch.step(rt, env["SYNDICATE_BROKER_URL"])
            time.sleep(0.25)
        polled = before | set(watch.polled)
        total, distinct, polls = article_counts(rt)
        served = scale.server_stats(base)
        twice = overlapping_polls(rt)
        expected = len(ids) * args.items
        duplicates, lost = total - distinct, expected - distinct
        complete = len(polled) == len(ids)
        after = max(watch.polled.values(), default=0.0)
        rows = [
            (f"{fault}: fault", what),
            (f"{fault}: sources polled", f"{len(polled)}/{len(ids)} ({polls} polls in all)"),
            (
                f"{fault}: after the fault until all polled",
                f"{after:.1f} s = {after / args.tick:.1f} ticks of {args.tick:g} s"
                + ("" if complete else f" (gave up at --max-seconds {args.max_seconds:g})"),
            ),
        ]
        ok = complete and duplicates == 0 and lost == 0 and twice == 0 and served["overlaps"] == 0
        if fault == "kill":
            rerun = {sid: watch.polled[sid] for sid in victims if sid in watch.polled}
            rows.append(
                (
                    f"{fault}: running at the kill",
                    ", ".join(f"source {sid} polled {t:.1f} s after it" for sid, t in sorted(rerun.items())) or "none running",
                )
            )
            start = max(watch.drained if watch.drained is not None else after, args.run_lease)
            late = (after - start) / args.tick
            rows.append(
                (
                    f"{fault}: after max(queue drained {watch.drained or 0:.1f} s, lease ran out {args.run_lease:g} s)",
                    f"all polled {max(late, 0):.1f} ticks later (acceptance ≤ 2)",
                )
            )
            ok = ok and late <= 2
        if fault in ("redis", "postgres"):
            seen = (
                f"{log_count(logs, r'Retry in')} task retries, {log_count(logs, r'status=skipped')} messages skipped "
                f"(lease held), {log_count(logs, r'[Cc]onnection to broker lost')} broker connections lost"
            )
            rows.append((f"{fault}: worker logs", seen))
        rows += [
            (
                f"{fault}: sources polled twice at once",
                f"{twice} in the fetch log; the server saw {served['overlaps']} requests "
                f"for a feed already being fetched ({served['requests']} requests in all)",
            ),
            (f"{fault}: duplicate articles", str(duplicates)),
            (f"{fault}: lost articles", f"{lost} (stored {distinct} of {expected})"),
            (f"{fault}: result", "PASS" if ok else "FAIL"),
        ]
        return rows, ok
    finally:
        for child in reversed(children):
            scale.stop(child)
        if redis is not None:
            scale.stop(redis)
        rt.close()
        if cluster is not None:
            cluster.remove()
        print(f"[{fault}] logs in {tmp}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--tick", type=float, default=5.0)
    parser.add_argument("--run-lease", type=float, default=6.0, help="SYNDICATE_RUN_LEASE for the workers (s)")
    parser.add_argument("--fault-after", type=float, default=0.3, help="share of the sources polled before the fault")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds redis/postgres stay down")
    parser.add_argument("--max-seconds", type=float, default=240)
    args = parser.parse_args()
    if args.scenario == "all":  # one process per scenario: settings are read once per process
        options = [f"--{name.replace('_', '-')}={value}" for name, value in vars(args).items() if name != "scenario"]
        codes = [subprocess.run([sys.executable, __file__, f"--scenario={name}", *options], check=False).returncode for name in SCENARIOS]
        print("all scenarios:", "PASS" if not any(codes) else "FAIL")
        return 1 if any(codes) else 0
    rows, ok = scenario(args, args.scenario)
    width = max(len(r[0]) for r in rows)
    print(
        f"bench/faults.py {args.scenario}: {args.sources} sources × {args.items} items, 127.0.0.1, beat every {args.tick:g} s, "
        f"run lease {args.run_lease:g} s, 2 worker processes"
    )
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
