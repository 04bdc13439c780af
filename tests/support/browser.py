"""A real browser for the accessibility tests (a fixture plugin): Debian's chromium and chromium-driver
driven by Selenium, and axe-core 4 from npm (``npm ci --prefix tests/.axe``, done by .ci/run).

``check_page`` runs axe-core's WCAG 2.0 A/AA and 2.1 AA rules on a page and checks what axe cannot:
lang, one h1, the skip link and its focus ring, landmarks, labelled fields, no sideways scrolling at
375 px; it keeps a 375 px screenshot in ``var/test-artifacts/portal/``. Tests that need the browser
carry ``needs_browser``: they skip without chromium, chromedriver, selenium or axe-core."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

try:
    from selenium import webdriver
except ImportError:  # selenium is in the test extra; without it the browser tests skip
    webdriver = None

ROOT = Path(__file__).resolve().parent.parent.parent
AXE = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "portal"
needs_browser = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or CHROMEDRIVER is None or not AXE.exists(),
    reason="needs selenium, Debian's chromium and chromium-driver and axe-core (npm ci --prefix tests/.axe)",
)
# Chromium as a test browser on a machine without a screen or a network beyond loopback
HEADLESS_FLAGS = [
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
FLAGS = [*HEADLESS_FLAGS, "--window-size=375,812"]
RULES = ["wcag2a", "wcag2aa", "wcag21aa"]


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


def check_page(driver, url: str, name: str) -> None:
    driver.get(url)
    driver.set_window_size(375, 812)
    result = driver.execute_script(AXE.read_text() + "\nreturn axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}});", RULES)
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert violations == [], (name, violations)
    assert result["passes"], name  # axe really ran its rules
    facts = driver.execute_script(
        """return {
             lang: document.documentElement.lang,
             h1: document.querySelectorAll('h1').length,
             skip: document.querySelector('body a') && document.querySelector('body a').getAttribute('href'),
             main: !!document.querySelector('main#inhalt'), nav: !!document.querySelector('nav'),
             header: !!document.querySelector('header'), footer: !!document.querySelector('footer'),
             unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select')].filter(f => !f.labels.length).length,
             wide: document.documentElement.scrollWidth > window.innerWidth};"""
    )
    assert facts == {
        "lang": "de",
        "h1": 1,
        "skip": "#inhalt",
        "main": True,
        "nav": True,
        "header": True,
        "footer": True,
        "unlabelled": 0,
        "wide": False,
    }, (name, facts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}-375.png"))
    # keyboard: the first Tab reaches the skip link, which becomes visible with a focus ring
    from selenium.webdriver.common.keys import Keys

    driver.find_element("tag name", "body").send_keys(Keys.TAB)
    focused = driver.execute_script(
        """const a = document.activeElement, s = getComputedStyle(a), r = a.getBoundingClientRect();
           return {href: a.getAttribute('href'), outline: s.outlineStyle, width: parseFloat(s.outlineWidth), left: r.left};"""
    )
    assert focused["href"] == "#inhalt" and focused["outline"] != "none" and focused["width"] >= 2 and focused["left"] >= 0, (name, focused)


# ---------------------------------------------------------------- the console: pages checked at two widths, apps served, more browsers

CONSOLE_ARTIFACTS = ROOT / "var" / "test-artifacts" / "console"
WIDTHS = ((375, 812), (1280, 900))


def start_browser(profile: Path):
    """One more Chromium like the ``browser`` fixture's (a second person at another desk); the caller quits it."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver


def check_here(driver, name: str, folder: Path = CONSOLE_ARTIFACTS) -> None:
    """``check_page``'s checks on the page the browser shows now (the answer to a POST cannot be loaded again), at
    375 px and at 1280 px, with a screenshot of each in ``folder``/<name>-<width>.png; the skip link is the first
    thing to focus and shows a focus ring."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for width, height in WIDTHS:
            driver.set_window_size(width, height)
            result = driver.execute_script(
                AXE.read_text() + "\nreturn axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}});", RULES
            )
            violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
            assert violations == [], (name, width, violations)
            assert result["passes"], name
            facts = driver.execute_script(
                """const first = document.querySelector('a[href], button, input:not([type=hidden]), select, textarea');
                   return {lang: document.documentElement.lang, h1: document.querySelectorAll('h1').length,
                     first: first && first.getAttribute('href'), main: !!document.querySelector('main#inhalt'),
                     nav: !!document.querySelector('nav'), header: !!document.querySelector('header'),
                     footer: !!document.querySelector('footer'),
                     unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select')].filter(f => !f.labels.length).length,
                     wide: document.documentElement.scrollWidth > window.innerWidth};"""
            )
            expected = {"lang": "de", "h1": 1, "first": "#inhalt", "main": True, "nav": True, "header": True, "footer": True}
            assert facts == {**expected, "unlabelled": 0, "wide": False}, (name, width, facts)
            save_full_page(driver, folder / f"{name}-{width}.png")
        focused = driver.execute_script(
            """const a = document.querySelector('a[href="#inhalt"]'); a.focus();
               const s = getComputedStyle(a), r = a.getBoundingClientRect(); const shown = {outline: s.outlineStyle,
               width: parseFloat(s.outlineWidth), left: r.left, top: r.top}; a.blur(); return shown;"""
        )
        assert focused["outline"] != "none" and focused["width"] >= 2 and focused["left"] >= 0 and focused["top"] >= 0, (name, focused)
    finally:
        driver.set_window_size(*WIDTHS[0])


def save_full_page(driver, path: Path, max_height: int = 8000) -> None:
    """A screenshot of the whole page at the window's width, not only of what the window shows."""
    import base64

    height = min(max_height, driver.execute_script("return document.documentElement.scrollHeight"))
    width = driver.execute_script("return document.documentElement.clientWidth")
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))


def click_and_wait(driver, css: str) -> None:
    """Press the button ``css`` names and wait for the next page, loaded in full (a click may return before the browser
    has left this one, and the next page's document exists before it is parsed). The page is told from the next by a
    mark on its window, not by an element reference: chromedriver may answer for a stale element with an inspector
    error ("does not belong to the document") instead of StaleElementReferenceException."""
    import uuid

    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def loaded(d) -> bool:
        return d.execute_script("return document.readyState") == "complete"

    mark = uuid.uuid4().hex

    def left(d) -> bool:
        try:
            return d.execute_script("return window.clickAndWaitMark") != mark and loaded(d)
        except WebDriverException:  # between two documents
            return False

    WebDriverWait(driver, 60).until(loaded)  # this page whole, before its button is looked up
    driver.execute_script("window.clickAndWaitMark = arguments[0]", mark)
    try:
        driver.find_element("css selector", css).click()
    except WebDriverException as exc:
        # chromedriver may report the page it was clicking on as gone when the click's navigation was quick;
        # the click was delivered then, and the wait below sees the next page (or times out if there was none)
        if "does not belong to the document" not in str(exc):
            raise
    WebDriverWait(driver, 60).until(left)


def serve(make_app):
    """Serve ``make_app(base_url)`` with uvicorn on a free loopback port in a thread; a context manager that yields the base URL."""
    import contextlib
    import socket
    import threading
    import time

    import uvicorn

    @contextlib.contextmanager
    def served():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(make_app(base), log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        try:
            yield base
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()

    return served()
