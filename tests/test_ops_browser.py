"""/ops in a real browser: headless Chromium (Debian's ``chromium``) loads the dashboard from
uvicorn on 127.0.0.1 (allowed by the default operator network, loopback), the summary and the
failing source are checked in the rendered DOM, and a screenshot is kept as a test artifact
(in pytest's tmp dir and in ``var/test-artifacts/``)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from html.parser import HTMLParser

import pytest
import uvicorn

from syndicate.web.app import create_app
from tests.conftest import ROOT
from tests.support.ops_fixtures import NEWS, healthy_and_failing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium; .ci/run does this)"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


@pytest.fixture
def served_app(settings, runtime):
    """The app (default ops_allow_networks: loopback) under uvicorn on a free 127.0.0.1 port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"  # a fresh profile for every run
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=60)


class DomIndex(HTMLParser):
    """Text of the summary cards (by data-key) and state of each source row (by data-source)."""

    def __init__(self):
        super().__init__()
        self.cards: dict[str, str] = {}
        self.rows: dict[str, str] = {}
        self.row_text: dict[str, str] = {}
        self._card = self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-key" in attrs:
            self._card = attrs["data-key"]
            self.cards[self._card] = ""
        if tag == "tr" and "data-source" in attrs:
            self._row = attrs["data-source"]
            self.rows[self._row], self.row_text[self._row] = attrs["data-state"], ""

    def handle_endtag(self, tag):
        if tag == "div":
            self._card = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._card:
            self.cards[self._card] += " " + data
        if self._row:
            self.row_text[self._row] += " " + data


def test_dashboard_in_headless_chromium(settings, runtime, session, feed_server, topics, served_app, tmp_path):
    polled = healthy_and_failing(runtime, session, feed_server)

    dom = chromium(tmp_path, "--dump-dom", f"{served_app}/ops")
    assert dom.returncode == 0, dom.stderr[-2000:]
    index = DomIndex()
    index.feed(dom.stdout)
    assert "Betrieb" in dom.stdout and 'id="summary"' in dom.stdout
    assert re.sub(r"\s+", " ", index.cards["failing"]).strip() == "1 Quellen fehlerhaft"
    assert re.sub(r"\s+", " ", index.cards["ok"]).strip() == "1 Quellen in Ordnung"
    assert index.cards["articles_today"].split()[0] == str(len(NEWS))
    assert index.rows == {str(polled.failing_id): "failing", str(polled.ok_id): "ok"}
    assert "fehlerhaft" in index.row_text[str(polled.failing_id)] and "http_5xx" in index.row_text[str(polled.failing_id)]

    screenshot = tmp_path / "ops-dashboard.png"
    shot = chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1400,1100", f"{served_app}/ops")
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    artifacts = ROOT / "var" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, artifacts / screenshot.name)
