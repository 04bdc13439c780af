"""The widget in a real browser (Debian's chromium and chromium-driver, driven by Selenium): axe-core
finds no violation of the WCAG 2.0 A/AA and 2.1 AA rules in its light, dark and system-following
styles and on its 404, and Chromium enforces SYNDICATE_EMBED_ORIGINS: a page on an allowed origin
shows the widget in its iframe, a page on another origin does not. Screenshots go to
``var/test-artifacts/portal/``. Skips without the browser or axe-core (``npm ci --prefix tests/.axe``)."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvicorn

from syndicate.web.app import create_app
from tests.support.browser import ARTIFACTS, AXE, CHROMEDRIVER, CHROMIUM, FLAGS, RULES, needs_browser, webdriver
from tests.support.stories import PHISHING, poll_all

pytestmark = needs_browser

HOST_PAGE = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Gemeinde</title></head>
<body><h1>Nachrichten unserer Partner</h1>
<iframe id="widget" src="{src}" title="Alle Meldungen – Kommunaler Feed-Verbund Bayern" width="360" height="500" style="border:0"></iframe>
</body></html>"""


class HostPage:
    """A city's web page on a loopback port of its own (another origin than the widget's), framing ``src``."""

    def __init__(self, src: str):
        body = HOST_PAGE.format(src=src).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server interface
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def host_pages():
    """Two city pages, their origins known before the app starts; they frame the widget once it is up."""
    pages: list[HostPage] = []
    yield pages
    for page in pages:
        page.close()


def serve(settings, embed_origins: str):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"public_url": base, "embed_origins": embed_origins}))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return base, server, thread, sock


@pytest.fixture
def seeded(runtime, topics, session, server):
    poll_all(runtime, session, server)


def axe(driver, url: str, name: str) -> None:
    driver.get(url)
    result = driver.execute_script(AXE.read_text() + "\nreturn axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}});", RULES)
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert violations == [], (name, violations)
    assert any(p["id"] == "color-contrast" for p in result["passes"]), name  # the colours were really checked
    facts = driver.execute_script(
        """return {lang: document.documentElement.lang, h1: document.querySelectorAll('h1').length,
                   wide: document.documentElement.scrollWidth > window.innerWidth};"""
    )
    assert facts == {"lang": "de", "h1": 1, "wide": False}, (name, facts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}-375.png"))


def test_widget_passes_axe_light_dark_and_as_404(settings, seeded, browser):
    base, server, thread, sock = serve(settings, "*")
    try:
        browser.set_window_size(375, 600)
        axe(browser, f"{base}/einbetten/all", "widget")
        axe(browser, f"{base}/einbetten/topics/it-sicherheit?stil=hell", "widget-hell")
        axe(browser, f"{base}/einbetten/cities/muenchen?stil=dunkel&anzahl=20", "widget-dunkel")
        axe(browser, f"{base}/einbetten/topics/gibt-es-nicht", "widget-404")
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        axe(browser, f"{base}/einbetten/all", "widget-auto-dunkel")
        background = browser.execute_script("return getComputedStyle(document.documentElement).backgroundColor")
        assert background == "rgb(22, 24, 29)"  # the system's dark setting is followed
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def framed_heading(driver, host: str) -> str | None:
    """The h1 inside the host page's iframe, or None when the browser shows no widget there within 5 s."""
    driver.get(host)
    frame = driver.find_element("id", "widget")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the frame loads after the host page
        driver.switch_to.frame(frame)
        # Chromium's page for a refused frame has an h1 of its own, without visible text
        headings = [h.text for h in driver.find_elements("tag name", "h1") if h.text]
        driver.switch_to.default_content()
        if headings:
            return headings[0]
        time.sleep(0.2)
    return None


def test_the_browser_shows_the_widget_only_on_allowed_origins(settings, seeded, browser, host_pages):
    # the two host pages need the widget's address and the app needs their origins: reserve the app's port first
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    src = f"http://127.0.0.1:{port}/einbetten/all"
    allowed, other = HostPage(src), HostPage(src)
    host_pages.extend([allowed, other])
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"public_url": base, "embed_origins": allowed.url}))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        browser.set_window_size(375, 700)
        assert framed_heading(browser, allowed.url) == "Alle Meldungen"
        browser.switch_to.frame(browser.find_element("id", "widget"))
        assert PHISHING in browser.find_element("tag name", "ol").text
        browser.switch_to.default_content()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "widget-eingebettet-375.png"))
        assert framed_heading(browser, other.url) is None  # refused by frame-ancestors
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
