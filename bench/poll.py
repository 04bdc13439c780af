"""``syndicate poll --all`` against the `reader` library, whole processes, in one run.

Setup (reader is a bench-only peer, never a dependency of syndicate):
    .venv/bin/pip install -e '.[bench]'
Usage:
    .venv/bin/python bench/poll.py [--feeds 200] [--items 50] [--pairs 3]

A fixture server (bench/fixture.py, 127.0.0.1) serves ``--feeds`` feeds × ``--items`` items. Each pair
runs, on fresh files: ``python -m syndicate.cli poll --all --json`` (one process, no broker, on a
fresh SQLite database with the sources registered) and a `reader` process that adds the same feeds
and calls ``update_feeds()``; both timed as whole processes (start-up included) with their CPU time
(children's rusage). Pairs alternate which runs first; the ratio judged is the median of the pairs'
entries/s ratios (target ≥ 1.0× reader). The per-host politeness budget is switched off for the
single fixture host (SYNDICATE_HOST_LIMITS), as in bench/ingest.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402

READER = """
import sys
from reader import make_reader
reader = make_reader(sys.argv[1])
for i in range(int(sys.argv[3])):
    reader.add_feed(f"{sys.argv[2]}/f/{i}.xml")
reader.update_feeds()
print(reader.get_entry_counts().total)
reader.close()
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=scale.ROOT)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def run_syndicate(base: str, feeds: int, tmp: Path) -> tuple[int, float, float]:
    env = scale.env_for(tmp)
    scale.use_env(env)
    from syndicate import db as migrate
    from syndicate.db import make_engine, make_session_factory

    migrate.upgrade(env["SYNDICATE_DATABASE_URL"])
    engine = make_engine(env["SYNDICATE_DATABASE_URL"])
    with make_session_factory(engine)() as session:
        scale.make_sources(session, base, feeds)
    engine.dispose()
    wall, cpu, out = timed([scale.PY, "-m", "syndicate.cli", "poll", "--all", "--json"], env)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    failed = [line for line in lines if line["status"] not in ("new",)]
    if len(lines) != feeds or failed:
        raise SystemExit(f"syndicate poll: {len(lines)} lines, {len(failed)} not new: {failed[:3]}")
    return sum(line["new"] for line in lines), wall, cpu


def run_reader(base: str, feeds: int, tmp: Path) -> tuple[int, float, float]:
    wall, cpu, out = timed([scale.PY, "-c", READER, str(tmp / "reader.sqlite"), base, str(feeds)], dict(os.environ))
    return int(out.split()[-1]), wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="syndicate-poll-") as tmp_name:
        tmp = Path(tmp_name)
        server, base = scale.start_server(args.feeds, args.items, tmp / "fixture.log")
        try:
            print(f"{args.feeds} feeds × {args.items} items on {base}; whole processes, {args.pairs} pairs, order alternating")
            for pair in range(args.pairs):
                work = tmp / f"pair{pair}"
                (work / "var").mkdir(parents=True)
                runs = {}
                order = ["syndicate", "reader"] if pair % 2 == 0 else ["reader", "syndicate"]
                for name in order:
                    runs[name] = (run_syndicate if name == "syndicate" else run_reader)(base, args.feeds, work)
                (s_entries, s_wall, s_cpu), (r_entries, r_wall, r_cpu) = runs["syndicate"], runs["reader"]
                ratio = (s_entries / s_wall) / (r_entries / r_wall)
                ratios.append(ratio)
                print(
                    f"  pair {pair + 1} ({order[0]} first): syndicate poll {s_entries:,} entries in {s_wall:5.1f} s "
                    f"({s_entries / s_wall:6,.0f}/s, CPU {s_cpu:5.1f} s) | reader {r_entries:,} in {r_wall:5.1f} s "
                    f"({r_entries / r_wall:6,.0f}/s, CPU {r_cpu:5.1f} s) | {ratio:.2f}×"
                )
        finally:
            scale.stop(server)
    median = statistics.median(ratios)
    print(
        f"syndicate poll --all vs reader, median of {len(ratios)} pairs: {median:.2f}× (target ≥ 1.0×; range {min(ratios):.2f}–{max(ratios):.2f}×)"
    )
    return 0 if median >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
