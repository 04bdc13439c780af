"""Every public page type in a real browser (Debian's chromium and chromium-driver, driven by Selenium):
axe-core 4 finds no violation of the WCAG 2.0 A/AA and 2.1 AA rules, the page has a working skip link,
one h1, lang="de", landmarks, labelled fields and a visible focus ring, and it fits a 375 px wide
screen without sideways scrolling. A 375 px screenshot of each page type is kept in
``var/test-artifacts/portal/``.

axe-core comes from npm (``npm ci --prefix tests/.axe``, done by .ci/run); the test skips without it
or without the browser."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from sqlalchemy import select

from syndicate.models import Article
from syndicate.web.app import create_app
from tests.support.browser import ARTIFACTS, check_page, needs_browser
from tests.support.stories import PHISHING, poll_all

pytestmark = needs_browser


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
