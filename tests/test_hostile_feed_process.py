"""A hostile feed polled by the real ``syndicate up`` processes (API, worker, beat) on loopback: the
merged JSON Feed keeps answering 200 with every other article, and no process grows past 300 MB."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, cli_env, make_source, purge_queues
from tests.support import processes
from tests.support.api_fixtures import RSS_TYPE, rss
from tests.test_feed_values import HOSTILE
from tests.test_up_demo import free_port

pytestmark = pytest.mark.celery
PEAK_LIMIT_KB = 300 * 1024


def peak_kb(pid: int) -> int:
    """The peak resident memory (VmHWM) of a live process, in kB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


@pytest.fixture
def up(settings, runtime, tmp_path):
    purge_queues(settings.broker_url)
    port = free_port()
    env = cli_env(settings, SYNDICATE_BEAT_INTERVAL="1")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "syndicate.cli", "up", "--port", str(port), "--concurrency", "2"]
    process = processes.start(cmd, env, tmp_path / "up.log", ROOT)
    yield f"http://127.0.0.1:{port}", process, tmp_path / "up.log"
    processes.stop(process)
    purge_queues(settings.broker_url)


def test_hostile_enclosures_leave_the_json_feed_answering(up, session, topics, feed_server):
    base, process, log = up
    feed_server.add("/fuerth.xml", HOSTILE, headers=RSS_TYPE)
    feed_server.add("/erlangen.xml", rss("Stadt Erlangen", ["Neue Radwege", "Haushalt beschlossen"], slug="erlangen"), headers=RSS_TYPE)
    make_source(session, feed_server.url("/fuerth.xml"), city="fuerth", name="Stadt Fürth")
    make_source(session, feed_server.url("/erlangen.xml"), city="erlangen", name="Stadt Erlangen")
    expected = {"Hochgestellt", "Viele Neunen", "Gutes Bild", "Neue Radwege", "Haushalt beschlossen"}
    answers: list[int] = []
    started = time.monotonic()

    def all_there():
        try:
            response = httpx.get(f"{base}/feeds/all.json", timeout=5)
        except httpx.HTTPError:
            return None
        answers.append(response.status_code)
        return response if response.status_code == 200 and {i["title"] for i in response.json()["items"]} >= expected else None

    response = processes.wait_for(all_there, timeout=120)
    elapsed = time.monotonic() - started
    assert response is not None, f"answers {answers[-5:]}; log: {log.read_text(errors='replace')[-4000:]}"
    assert not [status for status in answers if status >= 500]
    sizes = {i["title"]: [a.get("size_in_bytes") for a in i.get("attachments", [])] for i in response.json()["items"]}
    assert sizes["Hochgestellt"] == [None] and sizes["Viele Neunen"] == [None] and sizes["Gutes Bild"] == [48213]
    for fmt in ("rss", "atom"):
        assert httpx.get(f"{base}/feeds/cities/fuerth.{fmt}", timeout=5).status_code == 200

    peaks = {pid: peak_kb(pid) for child in processes.children_of(process.pid) for pid in processes.group_members(child)}
    print(f"hostile feed: all five articles in /feeds/all.json after {elapsed:.1f} s; peak kB per process {peaks}")
    assert peaks and max(peaks.values()) < PEAK_LIMIT_KB
