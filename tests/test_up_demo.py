"""``syndicate up --demo`` as a newcomer runs it: sample feeds polled by the real worker,
merged feeds filled, the shared press release once, and nothing left running after SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import feedparser
import httpx
import pytest

from tests.conftest import ROOT
from tests.support import processes

pytestmark = pytest.mark.celery
SHARED_TITLE = "Gemeinsame Erklärung: Bayerische Städte starten Sicherheitsoffensive für kommunale IT"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_VAR_DIR"] = str(tmp_path / "var")
    cmd = [sys.executable, "-m", "syndicate.cli", "up", "--demo", "--port", str(port), "--concurrency", "2"]
    started = time.monotonic()
    process = processes.start(cmd, env, tmp_path / "up.log", ROOT)
    yield f"http://127.0.0.1:{port}", process, started, tmp_path / "up.log"
    processes.stop(process)


def test_demo_fills_topic_feed_and_stops_cleanly(demo):
    base, process, started, log = demo

    def topic_entries():
        try:
            response = httpx.get(f"{base}/feeds/topics/it-sicherheit.rss", timeout=5)
        except httpx.HTTPError:
            return None
        parsed = feedparser.parse(response.content)
        return parsed if response.status_code == 200 and parsed.entries else None

    parsed = processes.wait_for(topic_entries, timeout=90)
    elapsed = time.monotonic() - started
    assert parsed is not None, log.read_text(errors="replace")[-4000:]
    print(f"demo: first it-sicherheit entry after {elapsed:.1f} s")
    assert parsed.bozo == 0
    assert parsed.version == "rss20"

    index = httpx.get(f"{base}/", timeout=5).text
    for title in ("IT-Sicherheit", "Digitalisierung", "Klimaschutz", "Mobilität", "Bürgerservice"):
        assert title in index

    # all five demo sources polled, so the shared press release has arrived from all three cities
    def all_polled():
        atom = feedparser.parse(httpx.get(f"{base}/feeds/all.atom", timeout=5).content)
        titles = [e.title for e in atom.entries]
        return atom if len({e.get("author") for e in atom.entries}) >= 5 and SHARED_TITLE in titles else None

    atom = processes.wait_for(all_polled, timeout=60)
    assert atom is not None, log.read_text(errors="replace")[-4000:]
    shared = [e for e in atom.entries if e.title == SHARED_TITLE]
    assert len(shared) == 1
    assert "Auch veröffentlicht von" in shared[0].content[0].value

    # the CLI against the running demo, as the README says: `syndicate --demo …` from the same directory
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_VAR_DIR"] = str(log.parent / "var")
    listed = subprocess.run(
        [sys.executable, "-m", "syndicate.cli", "--demo", "sources", "list", "--json"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    sources = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(sources) == 6 and all(s["url"].startswith("http://127.0.0.1:") for s in sources)
    banner = log.read_text(errors="replace")
    assert "--demo status" in banner
    # up's children log as every process does (syndicate/logs.py): at the default level, one line per refresh
    assert re.search(r" INFO syndicate\.worker: refresh source=\d+ status=new new=\d+ city=\w+ duration_ms=\d+", banner), banner[-4000:]

    kids = processes.children_of(process.pid)
    assert len(kids) == 3  # api, worker, beat
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    leftovers = [pid for kid in kids for pid in processes.group_members(kid)]
    assert leftovers == [], f"processes still running after stop: {leftovers}"
