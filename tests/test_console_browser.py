"""The console in a real browser (Debian's chromium and chromium-driver, driven by Selenium): a city signs in
with its token, checks and registers a feed, opens the source and switches it off, and signs out; every page
on the way passes axe-core's WCAG 2.0 A/AA and 2.1 AA rules and the portal's page checks (one h1, skip link,
landmarks, labelled fields, focus ring, 375 px). Screenshots go to ``var/test-artifacts/portal/``."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from sqlalchemy import select

from syndicate.access import tokens
from syndicate.clock import utcnow
from syndicate.models import FetchLog, Source
from syndicate.web.app import create_app
from tests.support.api_fixtures import RSS_TYPE, RecordingQueue, add_source, make_city, rss
from tests.support.browser import check_page, needs_browser

pytestmark = needs_browser


@pytest.fixture
def console(settings, runtime, topics):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"public_url": base}))
    app.state.task_queue = RecordingQueue(runtime)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def submit(driver, form_action: str) -> None:
    """Press the form's button and wait for the next page (a click may return before the browser has left this one)."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element("tag name", "html")
    driver.find_element("css selector", f'form[action="{form_action}"] button[type=submit]').click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))


def test_a_city_works_through_the_console_and_every_page_passes_axe(console, browser, runtime, feed_server):
    feed_server.add("/rss.xml", rss("Pressemitteilungen Augsburg", ["Baustelle", "Bücherei", "Wahl", "Stadtrat"]), headers=RSS_TYPE)
    feed_server.add("/weg.xml", "nicht da", status=404)
    with runtime.sessions() as s:
        city = make_city(s, "augsburg", "Augsburg")
        secret = tokens.create(s, city="augsburg")[1]
        operator = tokens.create(s, name="Betrieb")[1]
        old = add_source(s, city, "https://a.example/alt.xml", title="Altes Archiv", error_count=1, last_error_reason="http_404")
        s.add(FetchLog(source_id=old.id, status="error", http_status=404, reason="http_404", started_at=utcnow()))
        s.commit()

    check_page(browser, f"{console}/verwaltung/anmelden", "verwaltung-anmelden")
    browser.find_element("id", "token").send_keys("syn_falsch")
    submit(browser, "/verwaltung/anmelden")
    assert "unbekannt oder widerrufen" in browser.find_element("id", "token-fehler").text
    browser.find_element("id", "token").send_keys(secret)
    submit(browser, "/verwaltung/anmelden")
    assert browser.current_url == f"{console}/verwaltung/quellen"
    check_page(browser, browser.current_url, "verwaltung-quellen")

    browser.get(f"{console}/verwaltung/quellen/neu")
    check_page(browser, browser.current_url, "verwaltung-neu")
    browser.find_element("id", "adresse").send_keys(feed_server.url("/weg.xml"))
    submit(browser, "/verwaltung/quellen/neu/pruefen")
    assert "Was Sie tun können" in browser.find_element("id", "ergebnis").find_element("xpath", "..").text
    browser.find_element("id", "adresse").clear()
    browser.find_element("id", "adresse").send_keys(feed_server.url("/rss.xml"))
    submit(browser, "/verwaltung/quellen/neu/pruefen")
    assert "Pressemitteilungen Augsburg" in browser.find_element("tag name", "main").text
    submit(browser, "/verwaltung/quellen/neu")
    assert browser.current_url.endswith("/verwaltung/quellen?hinweis=registriert")
    assert "Die Quelle ist registriert" in browser.find_element("tag name", "main").text

    check_page(browser, f"{console}/verwaltung/quellen/{old.id}", "verwaltung-quelle")
    submit(browser, f"/verwaltung/quellen/{old.id}/abschalten")
    assert "Die Quelle ist abgeschaltet" in browser.find_element("tag name", "main").text
    with runtime.sessions() as s:
        assert s.get(Source, old.id).enabled is False
        assert s.scalar(select(Source.title).where(Source.url == feed_server.url("/rss.xml"))) is None  # the feed's own title is kept

    check_page(browser, f"{console}/verwaltung/quellen/999999", "verwaltung-nicht-gefunden")
    submit(browser, "/verwaltung/abmelden")
    assert "Sie sind abgemeldet" in browser.find_element("tag name", "main").text
    browser.get(f"{console}/verwaltung/quellen")
    assert browser.current_url == f"{console}/verwaltung/anmelden"

    browser.find_element("id", "token").send_keys(operator)
    submit(browser, "/verwaltung/anmelden")
    check_page(browser, f"{console}/verwaltung/tokens", "verwaltung-tokens")
    browser.find_element("id", "name").send_keys("Pressestelle")
    submit(browser, "/verwaltung/tokens")
    assert browser.find_element("id", "token-neu").get_attribute("value").startswith("syn_")
    check_page(browser, f"{console}/verwaltung/protokoll?aktion=token.create", "verwaltung-protokoll")
    check_page(browser, f"{console}/verwaltung/staedte", "verwaltung-staedte")
    check_page(browser, f"{console}/verwaltung/opml", "verwaltung-opml")
