"""Time from `syndicate up --demo` to the first entry in /feeds/topics/it-sicherheit.rss.

Usage: .venv/bin/python bench/demo_startup.py [--runs 3]
Prints one line per run and the median. Loopback only; stops every process it starts.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser
import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(timeout: float = 120.0) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        env["SYNDICATE_VAR_DIR"] = str(Path(tmp) / "var")
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicate.cli", "up", "--demo", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while time.monotonic() - started < timeout:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/feeds/topics/it-sicherheit.rss", timeout=5)
                    if response.status_code == 200 and feedparser.parse(response.content).entries:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
            raise SystemExit("no entry within the timeout")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = []
    for run in range(args.runs):
        figures.append(one_run())
        print(f"run {run + 1}: first it-sicherheit entry after {figures[-1]:.2f} s")
    print(f"median {statistics.median(figures):.2f} s over {len(figures)} runs (target: < 30 s)")


if __name__ == "__main__":
    main()
