"""Every public page type in a real browser (Debian's chromium and chromium-driver, driven by Selenium):
axe-core 4 finds no violation of the WCAG 2.0 A/AA and 2.1 AA rules, the page has a working skip link,
one h1, lang="de", landmarks, labelled fields and a visible focus ring, and it fits a 375 px wide
screen without sideways scrolling. A 375 px screenshot of each page type is kept in
``var/test-artifacts/portal/``.

axe-core comes from npm (``npm ci --prefix tests/.axe``, done by .ci/run); the test skips without it
or without the browser."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from syndicate.models import Article
from syndicate.web.app import create_app
from tests.support.stories import PHISHING, poll_all

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "portal"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None or not AXE.exists(),
    reason="needs Debian's chromium and chromium-driver and axe-core (npm ci --prefix tests/.axe)",
)
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
    "--window-size=375,812",
]
RULES = ["wcag2a", "wcag2aa", "wcag21aa"]


@pytest.fixture
def served(settings, runtime, topics, session, server):
    poll_all(runtime, session, server)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"public_url": base}))
    server_ = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server_.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server_.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_.started
    yield base
    server_.should_exit = True
    thread.join(timeout=10)
    sock.close()


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


def test_every_public_page_type_passes_axe_at_375px(served, browser, session):
    story = session.scalar(select(Article.cluster_id).where(Article.title == PHISHING).limit(1))
    pages = {
        "startseite": "/",
        "thema": "/themen/it-sicherheit",
        "kommune": "/kommunen/muenchen",
        "meldung": f"/meldungen/{story}",
        "suche": "/suche?q=Phishing",
        "suche-leer": "/suche?q=Stra%C3%9Fenbahn",
        "abonnieren": "/abonnieren",
        "feed-baukasten": "/abonnieren?kommune=muenchen&kommune=augsburg&thema=it-sicherheit&q=Phishing",
        "nicht-gefunden": "/themen/gibt-es-nicht",
    }
    for name, path in pages.items():
        check_page(browser, served + path, name)
    assert {p.name for p in ARTIFACTS.glob("*-375.png")} >= {f"{n}-375.png" for n in pages}


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feeds_render_as_a_german_page_in_the_browser(served, browser, fmt):
    """The feed's XSLT stylesheet turns it into a page: the feed's title, what a feed is, its address, the entries (linked to the portal)."""
    browser.set_window_size(375, 812)
    browser.get(f"{served}/feeds/topics/it-sicherheit.{fmt}")
    assert browser.find_element("tag name", "h1").text == "Thema: IT-Sicherheit – Kommunaler Feed-Verbund Bayern"
    page = browser.find_element("tag name", "main").text
    assert "Dies ist ein Feed" in page and f"{served}/feeds/topics/it-sicherheit.{fmt}" in page
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", ".story-title a")]
    titles = [a.text for a in browser.find_elements("css selector", ".story-title a")]
    assert titles == [PHISHING] and links[0].startswith(f"{served}/stories/")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / f"feed-{fmt}-375.png"))
    browser.get(links[0])  # the entry id leads to the story's page
    assert browser.current_url.startswith(f"{served}/meldungen/") and browser.find_element("tag name", "h1").text == PHISHING
