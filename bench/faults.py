"""Fault scenarios with real processes (issue 9, scope 5).

Usage: .venv/bin/python bench/faults.py [--sources 200] [--items 50] [--tick 5] [--kill-after 0.3]
                                        [--max-seconds 240] [--redis]

kill -9: a fixture server (bench/fixture.py, separate process, 127.0.0.1), one ``celery beat``
(beat interval ``--tick`` s) and two ``celery -A workers worker --pool solo`` processes on a fresh
SQLite database and the embedded broker. All sources are due at once; when ``--kill-after`` of
them have been polled, one worker gets SIGKILL (by its PID) and a replacement is started, as a
supervisor would. Printed: sources polled, time after the kill until the last one was polled
(in ticks; acceptance: every source polled within the round plus two ticks is not something this
bench can separate, so it prints both the remaining round time and the ticks), duplicate articles
((source, item) stored twice), lost articles (expected items not stored).

--redis (instead of kill -9): the same round on a redis-server this script starts itself on 127.0.0.1:6390
(``--save '' --daemonize no``); mid-round that redis-server (only it, by PID) is killed and
started again on the same port; printed: whether the workers reconnected and the round completed.
Never touches services on 6379/5432/5672.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402

REDIS_PORT = 6390


def start_redis(log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no"], stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    time.sleep(0.5)
    return proc


def scenario(args, fault: str) -> tuple[list[tuple[str, str]], bool]:
    tmp = Path(tempfile.mkdtemp(prefix=f"syndicate-faults-{fault}-"))
    (tmp / "var").mkdir()
    children: list[subprocess.Popen] = []
    redis = None
    if fault == "redis":
        if shutil.which("redis-server") is None:
            return [("redis restart", "skipped: no redis-server")], True
        redis = start_redis(tmp / "redis.log")
        broker = f"redis://127.0.0.1:{REDIS_PORT}/0"
    else:
        broker = None
    env = scale.env_for(tmp, broker)
    env["SYNDICATE_BEAT_INTERVAL"] = str(args.tick)
    scale.use_env(env)
    from sqlalchemy import func, select

    from syndicate import migrate
    from syndicate.models import Article
    from syndicate.runtime import Runtime

    migrate.upgrade(env["SYNDICATE_DATABASE_URL"])
    rt = Runtime()
    rows: list[tuple[str, str]] = []
    try:
        server, base = scale.start_server(args.sources, args.items, tmp / "server.log")
        children.append(server)
        with rt.sessions() as s:
            ids = scale.make_sources(s, base, args.sources)
        scale.declare_queues(env["SYNDICATE_BROKER_URL"])
        queues = "refresh,maintenance,websub"
        logs = [tmp / "worker0.log", tmp / "worker1.log"]
        workers = [scale.start_worker(env, f"fault{k}", logs[k], queues) for k in range(2)]
        children += workers
        if not scale.wait_ready(logs):
            raise SystemExit(f"workers not ready: {logs}")
        started = time.monotonic()
        beat = subprocess.Popen([scale.PY, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO",
                                 "--schedule", str(tmp / "beat-schedule")], env=env, cwd=scale.ROOT,
                                stdout=(tmp / "beat.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        children.append(beat)
        # wait for the fault point
        threshold = int(args.kill_after * len(ids))
        polled: set[int] = set()
        while len(polled) < threshold and time.monotonic() - started < args.max_seconds:
            polled, _ = scale.wait_polled(rt.sessions, set(ids), 0, 0.5)
        fault_at = time.monotonic()
        if fault == "kill":
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)  # the worker PID itself (solo pool), not a broad name
            victim.wait()
            workers[0] = scale.start_worker(env, "fault0b", tmp / "worker0b.log", queues)
            children.append(workers[0])
            what = f"kill -9 of worker PID {victim.pid} after {len(polled)}/{len(ids)} sources polled; replacement started"
        else:
            redis.send_signal(signal.SIGKILL)
            redis.wait()
            time.sleep(2)
            redis = start_redis(tmp / "redis.log")
            what = f"redis-server (PID {redis.pid}, port {REDIS_PORT}, started here) killed and restarted after {len(polled)}/{len(ids)} polled"
        polled, _ = scale.wait_polled(rt.sessions, set(ids), 0, max(1.0, args.max_seconds - (fault_at - started)))
        done_at = time.monotonic()
        with rt.sessions() as s:
            from syndicate.models import FetchLog

            total = s.scalar(select(func.count(Article.id)))
            distinct = s.scalar(select(func.count()).select_from(
                select(Article.source_id, Article.item_key).distinct().subquery()))
            polls = s.scalar(select(func.count(FetchLog.id)))
        expected = len(ids) * args.items
        duplicates = total - distinct
        lost = expected - distinct
        after = done_at - fault_at
        ok = len(polled) == len(ids) and duplicates == 0 and lost == 0
        rows += [
            (f"{fault}: fault", what),
            (f"{fault}: sources polled", f"{len(polled)}/{len(ids)} ({polls} polls in all)"),
            (f"{fault}: after the fault until all polled", f"{after:.1f} s = {after / args.tick:.1f} ticks of {args.tick:g} s"
             + ("" if len(polled) == len(ids) else f" (gave up at --max-seconds {args.max_seconds:g})")),
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
        print(f"[{fault}] logs in {tmp}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--tick", type=float, default=5.0)
    parser.add_argument("--kill-after", type=float, default=0.3)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--redis", action="store_true", help="run the Redis restart scenario instead of kill -9")
    args = parser.parse_args()
    rows, ok = scenario(args, "redis" if args.redis else "kill")  # one scenario per process: settings are read once
    width = max(len(r[0]) for r in rows)
    print(f"bench/faults.py: {args.sources} sources × {args.items} items, 127.0.0.1, beat every {args.tick:g} s, 2 worker processes")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print("acceptance:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
