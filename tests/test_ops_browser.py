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
from tests.support.browser import CHROMIUM
from tests.support.browser import HEADLESS_FLAGS as FLAGS
from tests.support.ops_fixtures import NEWS, healthy_and_failing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium; .ci/run does this)"),
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


AXE = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21aa"]


@pytest.mark.skipif(
    shutil.which("chromedriver") is None or not AXE.exists(), reason="needs chromium-driver and axe-core (npm ci --prefix tests/.axe)"
)
def test_ops_pages_have_no_axe_violations(settings, runtime, session, feed_server, topics, served_app, tmp_path):
    """FINDINGS: /ops had 6 color-contrast and 1 meta-refresh violation, a source page 1 meta-refresh."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    from selenium.webdriver.chrome.service import Service

    from syndicate.clock import utcnow
    from syndicate.models import Source
    from syndicate.ops import workers as workerinfo

    polled = healthy_and_failing(runtime, session, feed_server)
    session.get(Source, polled.ok_id).enabled = False  # every state and card style on the page
    session.commit()
    directory = workerinfo.heartbeat_dir(settings.var_dir)
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("axe@host", 0, 3, 1, utcnow(), "heartbeat"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_script_timeout(60)
    try:
        driver.get(served_app + "/")  # a reader's page on a port other than SYNDICATE_PUBLIC_URL's: /ops shows that box too
        driver.get(served_app + "/ops")
        assert 'id="public-url"' in driver.page_source
        artifacts = ROOT / "var" / "test-artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1400, 700)
        driver.save_screenshot(str(artifacts / "ops-public-url.png"))
        for url in ("/ops", f"/ops/sources/{polled.failing_id}", f"/ops/sources/{polled.ok_id}"):
            for width in (1400, 375):
                driver.set_window_size(width, 900)
                driver.get(served_app + url)
                result = driver.execute_script(
                    AXE.read_text() + "\nreturn axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}});", AXE_RULES
                )
                violations = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
                assert violations == [], (url, width, violations)
                assert result["passes"], url  # axe really ran its rules
    finally:
        driver.quit()
        workerinfo.remove_heartbeat(directory, "axe@host")
