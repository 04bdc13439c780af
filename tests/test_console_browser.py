"""The console in a real browser (Debian's chromium and chromium-driver, driven by Selenium).

Every console page, in each of its states, passes axe-core's WCAG 2.0 A/AA and 2.1 AA rules and the portal's page
checks at 375 px and at 1280 px (screenshots in ``var/test-artifacts/console/``). The acceptance run works with a
real Celery worker: a city adds a feed and an HTML newsroom, sees their items on the topic page and feed, edits,
pauses and retires; another city cannot reach them; a POST without CSRF token changes nothing; an operator creates
a city and a token and revokes it, which ends the token's session in another browser."""

from __future__ import annotations

import sys
import uuid

import feedparser
import httpx
import pytest
from sqlalchemy import func, select

from syndicate.access import tokens
from syndicate.clock import utcnow
from syndicate.models import Article, AuditEntry, FetchLog, Source
from syndicate.web.app import create_app
from tests.conftest import ROOT, cli_env, purge_queues
from tests.support import processes
from tests.support.api_fixtures import RSS_TYPE, RecordingQueue, add_source, make_city, rss
from tests.support.browser import check_here, click_and_wait, needs_browser, serve, start_browser
from tests.test_html_source import FIXTURES

pytestmark = needs_browser
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
NEWSROOM = (FIXTURES / "augsburg_archiv.html").read_bytes()


def console_app(settings, runtime, recording: bool):
    """The app for ``serve``: its public URL is the served one; with ``recording`` the task queue only records."""

    def make(base: str):
        app = create_app(settings.model_copy(update={"public_url": base}))
        if recording:
            app.state.task_queue = RecordingQueue(runtime)
        return app

    return make


def submit(driver, action: str, value: str | None = None) -> None:
    """Press the submit button of the form posting to ``action`` (the one with ``value``, if given)."""
    which = f'[value="{value}"]' if value else ""
    click_and_wait(driver, f'form[action="{action}"] button[type=submit]{which}')


def sign_in(driver, base: str, secret: str) -> None:
    driver.get(f"{base}/verwaltung/anmelden")
    driver.find_element("id", "token").send_keys(secret)
    submit(driver, "/verwaltung/anmelden")
    assert driver.current_url == f"{base}/verwaltung/quellen", driver.current_url


def check_address(driver, base: str, address: str) -> None:
    driver.get(f"{base}/verwaltung/quellen/neu")
    driver.find_element("id", "adresse").send_keys(address)
    submit(driver, "/verwaltung/quellen/neu/pruefen")


def main_text(driver) -> str:
    return driver.find_element("tag name", "main").text


def test_every_console_page_in_each_state_passes_axe_at_375_and_1280(settings, runtime, topics, browser, feed_server):
    feed_server.add("/rss.xml", rss("Pressemitteilungen Augsburg", ["Baustelle", "Bücherei", "Wahl", "Stadtrat"]), headers=RSS_TYPE)
    feed_server.add("/weg.xml", "nicht da", status=404)
    feed_server.add("/archiv/", NEWSROOM, headers=HTML_TYPE)
    page = '<html lang="de"><head><title>Presse</title><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body></body></html>'
    feed_server.add("/presse/", page, headers=HTML_TYPE)
    with runtime.sessions() as s:
        city = make_city(s, "augsburg", "Augsburg")
        secret = tokens.create(s, city="augsburg")[1]
        operator = tokens.create(s, name="Betrieb")[1]
        old = add_source(s, city, "https://a.example/alt.xml", title="Altes Archiv", error_count=1, last_error_reason="http_404")
        s.add(FetchLog(source_id=old.id, status="error", http_status=404, reason="http_404", started_at=utcnow()))
        s.add(FetchLog(source_id=old.id, status="deferred", reason="rate_limited", http_status=429, started_at=utcnow()))
        newsroom = add_source(s, city, "https://a.example/presse/", kind="html", extraction={"item": "div.article", "date": "time"})
        s.add(FetchLog(source_id=newsroom.id, status="error", reason="selectors_matched_nothing", started_at=utcnow()))
        s.commit()

    with serve(console_app(settings, runtime, recording=True)) as base:
        browser.get(f"{base}/verwaltung/anmelden")
        check_here(browser, "anmelden")
        browser.find_element("id", "token").send_keys("syn_falsch")
        submit(browser, "/verwaltung/anmelden")
        assert "unbekannt oder widerrufen" in browser.find_element("id", "token-fehler").text
        check_here(browser, "anmelden-fehler")
        sign_in(browser, base, secret)
        check_here(browser, "quellen")

        browser.get(f"{base}/verwaltung/quellen/neu")
        check_here(browser, "neu")
        check_address(browser, base, feed_server.url("/weg.xml"))
        assert "Was Sie tun können" in main_text(browser)
        check_here(browser, "neu-abgelehnt")
        check_address(browser, base, feed_server.url("/presse/"))
        assert "nennt aber einen Feed" in main_text(browser)
        check_here(browser, "neu-feed-angeboten")
        check_address(browser, base, feed_server.url("/rss.xml"))
        assert "Pressemitteilungen Augsburg" in main_text(browser)
        check_here(browser, "neu-feed")
        check_address(browser, base, feed_server.url("/archiv/"))
        assert "Vorschau: 3 Meldungen" in main_text(browser)
        check_here(browser, "neu-newsroom")
        browser.find_element("id", "sel-item").clear()
        browser.find_element("id", "sel-item").send_keys("div.article[")
        submit(browser, "/verwaltung/quellen/neu", "vorschau")
        assert "Kein gültiger CSS-Selektor" in browser.find_element("id", "sel-item-fehler").text
        check_here(browser, "neu-newsroom-selektorfehler")

        browser.get(f"{base}/verwaltung/quellen/{old.id}")
        assert "Die Adresse gibt es nicht mehr" in main_text(browser) and "verschoben (HTTP 429)" in main_text(browser)
        check_here(browser, "quelle-feed")
        browser.get(f"{base}/verwaltung/quellen/{newsroom.id}")
        assert "Passen Sie unten die Selektoren an" in main_text(browser)
        check_here(browser, "quelle-newsroom")
        browser.get(f"{base}/verwaltung/opml")
        check_here(browser, "opml")
        outline = f'<outline type="rss" text="Augsburg" xmlUrl="{feed_server.url("/rss.xml")}"/>'
        document = f'<?xml version="1.0"?><opml version="2.0"><head><title>A</title></head><body>{outline}</body></opml>'
        browser.execute_script("document.getElementById('dokument').value = arguments[0]", document)
        submit(browser, "/verwaltung/opml")
        assert "1 registriert, 0 abgelehnt" in main_text(browser)
        check_here(browser, "opml-import")
        browser.get(f"{base}/verwaltung/quellen/999999")
        check_here(browser, "fehler-404")
        browser.get(f"{base}/verwaltung/quellen/{old.id}")
        browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(f => f.remove())")
        submit(browser, f"/verwaltung/quellen/{old.id}/abschalten")
        assert "Anfrage abgelehnt" in main_text(browser)
        check_here(browser, "fehler-403")
        browser.get(f"{base}/verwaltung/quellen")
        submit(browser, "/verwaltung/abmelden")
        check_here(browser, "abgemeldet")

        sign_in(browser, base, operator)
        browser.get(f"{base}/verwaltung/staedte")
        check_here(browser, "staedte")
        browser.find_element("id", "kurzname").send_keys("Bad Tölz")
        browser.find_element("id", "name").send_keys("Bad Tölz")
        submit(browser, "/verwaltung/staedte")
        check_here(browser, "staedte-fehler")
        browser.get(f"{base}/verwaltung/tokens")
        check_here(browser, "tokens")
        browser.find_element("id", "name").send_keys("Pressestelle")
        submit(browser, "/verwaltung/tokens")
        assert browser.find_element("id", "token-neu").get_attribute("value").startswith("syn_")
        assert browser.find_element("id", "token-kopieren").is_displayed()  # the copy button, with JavaScript
        check_here(browser, "tokens-neu")
        browser.find_element("id", "token-kopieren").click()
        assert processes.wait_for(lambda: browser.find_element("id", "token-kopiert").text, timeout=10) == (
            "Das Token ist in der Zwischenablage."
        )
        browser.get(f"{base}/verwaltung/protokoll?aktion=token.create")
        check_here(browser, "protokoll")
        browser.get(f"{base}/verwaltung/quellen")
        check_here(browser, "quellen-betrieb")


# ---------------------------------------------------------------- acceptance, with a real Celery worker


@pytest.fixture
def celery_worker(settings, tmp_path):
    """A real Celery worker on the test broker and database (as tests/test_celery_e2e.py starts one)."""
    purge_queues(settings.broker_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    name = f"console-{uuid.uuid4().hex[:8]}@%h"
    worker = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads", "-c", "2", "-n", name, "--loglevel", "INFO"],
        cli_env(settings),
        tmp_path / "worker.log",
        ROOT,
    )
    yield tmp_path / "worker.log"
    processes.stop(worker)
    purge_queues(settings.broker_url)


FEED_ITEMS = ["Neuer Radweg an der Wertach", "Carsharing am Bahnhof"]


def feed_with_category(title: str, items: list[str]) -> str:
    """An RSS feed whose items carry the category Mobilität (so they land on the topic mobilitaet)."""
    return rss(title, items, slug="augsburg-presse").replace("</description>", "</description><category>Mobilität</category>")


@pytest.mark.celery
def test_acceptance_cities_and_operators_work_in_the_console_with_a_real_worker(
    settings, runtime, topics, browser, feed_server, celery_worker, tmp_path
):
    feed_server.add("/presse.xml", feed_with_category("Pressemitteilungen Augsburg", FEED_ITEMS), headers=RSS_TYPE)
    feed_server.add("/archiv/", NEWSROOM, headers=HTML_TYPE)
    with runtime.sessions() as s:
        make_city(s, "augsburg", "Augsburg")
        muenchen = make_city(s, "muenchen", "München")
        augsburg_token = tokens.create(s, city="augsburg")[1]
        muenchen_token = tokens.create(s, city="muenchen")[1]
        operator = tokens.create(s, name="Betrieb")[1]
        theirs = add_source(s, muenchen, "https://m.example/rss.xml", title="München Presse")

    def source_at(url: str) -> Source:
        with runtime.sessions() as s:
            return s.scalar(select(Source).where(Source.url == url))

    def articles(source_id: int) -> int:
        with runtime.sessions() as s:
            return s.scalar(select(func.count(Article.id)).where(Article.source_id == source_id))

    with serve(console_app(settings, runtime, recording=False)) as base:
        # a city signs in, adds a feed and an HTML newsroom by its detected selectors (the item's title edited)
        sign_in(browser, base, augsburg_token)
        check_address(browser, base, feed_server.url("/presse.xml"))
        assert "Pressemitteilungen Augsburg" in main_text(browser)
        submit(browser, "/verwaltung/quellen/neu")
        assert "Die Quelle ist registriert" in main_text(browser)
        check_address(browser, base, feed_server.url("/archiv/"))
        assert browser.find_element("id", "sel-item").get_attribute("value") == "div.article.articletype-0"
        browser.find_element("id", "sel-title").clear()
        browser.find_element("id", "sel-title").send_keys("h3 span")
        submit(browser, "/verwaltung/quellen/neu", "vorschau")
        assert "Vorschau: 3 Meldungen" in main_text(browser) and "Neue Ladesäulen in der Innenstadt" in main_text(browser)
        submit(browser, "/verwaltung/quellen/neu", "registrieren")
        assert "Die Quelle ist registriert" in main_text(browser)
        feed, newsroom = source_at(feed_server.url("/presse.xml")), source_at(feed_server.url("/archiv/"))
        assert (feed.kind, newsroom.kind, newsroom.extraction["title"]) == ("feed", "html", "h3 span")

        # the worker polls both; their items are on the topic page and in the topic's feed
        polled = processes.wait_for(lambda: articles(feed.id) == 2 and articles(newsroom.id) == 3, timeout=120)
        assert polled, celery_worker.read_text(errors="replace")[-3000:]
        browser.get(f"{base}/themen/mobilitaet")
        shown = main_text(browser)
        assert all(title in shown for title in FEED_ITEMS) and "Neue Ladesäulen in der Innenstadt" in shown
        merged = feedparser.parse(httpx.get(f"{base}/feeds/topics/mobilitaet.rss").content)
        assert {*FEED_ITEMS, "Neue Ladesäulen in der Innenstadt"} <= {entry.title for entry in merged.entries}
        browser.get(f"{base}/verwaltung/quellen/{feed.id}")
        assert "erfolgreich" in browser.find_element("tag name", "table").text  # the worker's fetch, in the fetch log

        # edit, pause, retire
        browser.find_element("id", "titel").send_keys("Presse der Stadt Augsburg")
        browser.find_element("id", "mindestens").send_keys("30")
        submit(browser, f"/verwaltung/quellen/{feed.id}/bearbeiten")
        assert "Die Änderungen sind gespeichert" in main_text(browser)
        submit(browser, f"/verwaltung/quellen/{feed.id}/abschalten")
        assert "Die Quelle ist abgeschaltet" in main_text(browser)
        browser.get(f"{base}/verwaltung/quellen/{newsroom.id}")
        submit(browser, f"/verwaltung/quellen/{newsroom.id}/stilllegen")
        assert "Die Quelle ist stillgelegt" in main_text(browser)
        feed, newsroom = source_at(feed.url), source_at(newsroom.url)
        assert (feed.title, feed.min_interval, feed.enabled, newsroom.enabled) == ("Presse der Stadt Augsburg", 1800, False, False)
        with runtime.sessions() as s:
            actions = s.scalars(select(AuditEntry.action).where(AuditEntry.actor.like("% console"))).all()
        assert actions.count("source.create") == 2 and actions.count("source.update") == 2 and "source.retire" in actions

        # sign out, and be refused
        submit(browser, "/verwaltung/abmelden")
        browser.get(f"{base}/verwaltung/quellen/{feed.id}")
        assert browser.current_url == f"{base}/verwaltung/anmelden"

        # a second city reaches none of the first city's source pages, by id or by form field
        sign_in(browser, base, muenchen_token)
        for path in (f"/verwaltung/quellen/{feed.id}", f"/verwaltung/quellen/{newsroom.id}"):
            browser.get(base + path)
            assert "Quelle nicht gefunden" in main_text(browser) and "Presse der Stadt Augsburg" not in browser.page_source
        browser.get(f"{base}/verwaltung/quellen/{theirs.id}")
        browser.execute_script(
            "document.querySelector(arguments[0]).setAttribute('action', arguments[1])",
            f'form[action="/verwaltung/quellen/{theirs.id}/bearbeiten"]',
            f"/verwaltung/quellen/{feed.id}/bearbeiten",
        )
        browser.find_element("id", "titel").send_keys("Übernommen")
        submit(browser, f"/verwaltung/quellen/{feed.id}/bearbeiten")
        assert "Quelle nicht gefunden" in main_text(browser)
        check_address(browser, base, feed_server.url("/presse.xml"))  # the same address, for another city: refused
        submit(browser, "/verwaltung/quellen/neu")
        assert "bereits von einem anderen Teilnehmer registriert" in browser.find_element("id", "adresse-fehler").text
        browser.get(f"{base}/verwaltung/quellen/neu")
        browser.execute_script("document.querySelector('input[name=stadt]').value = 'augsburg'")
        browser.find_element("id", "adresse").send_keys("https://augsburg.example/neu.xml")
        submit(browser, "/verwaltung/quellen/neu/pruefen")
        assert "Stadt nicht gefunden" in main_text(browser)

        # a POST without CSRF token is refused and changes nothing
        browser.get(f"{base}/verwaltung/quellen/{theirs.id}")
        browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(f => f.remove())")
        submit(browser, f"/verwaltung/quellen/{theirs.id}/abschalten")
        assert "Anfrage abgelehnt" in main_text(browser)
        status = browser.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")
        assert status in (403, None)  # older Chromium does not report it; the page text says it
        assert source_at(theirs.url).enabled is True and source_at(feed.url).title == "Presse der Stadt Augsburg"
        submit(browser, "/verwaltung/abmelden")

        # an operator creates a city and a token for it, which signs in elsewhere; revoking it ends that session
        sign_in(browser, base, operator)
        browser.get(f"{base}/verwaltung/staedte")
        browser.find_element("id", "kurzname").send_keys("bamberg")
        browser.find_element("id", "name").send_keys("Bamberg")
        submit(browser, "/verwaltung/staedte")
        assert "Die Stadt ist angelegt" in main_text(browser)
        browser.get(f"{base}/verwaltung/tokens")
        browser.find_element("css selector", '#fuer option[value="bamberg"]').click()
        browser.find_element("id", "name").send_keys("Pressestelle Bamberg")
        submit(browser, "/verwaltung/tokens")
        secret = browser.find_element("id", "token-neu").get_attribute("value")
        assert secret.startswith("syn_")
        other = start_browser(tmp_path / "zweiter-browser")
        try:
            sign_in(other, base, secret)
            assert "Stadt: bamberg" in other.find_element("tag name", "header").text
            browser.get(f"{base}/verwaltung/tokens")
            revoke = browser.find_element("css selector", f'button[aria-label="Token {secret[:12]} widerrufen"]')
            action = revoke.find_element("xpath", "..").get_attribute("action")
            submit(browser, action.removeprefix(base))
            assert "Das Token ist widerrufen" in main_text(browser)
            other.get(f"{base}/verwaltung/quellen")
            assert other.current_url == f"{base}/verwaltung/anmelden"
            sign_in_again = other.find_element("id", "token")
            sign_in_again.send_keys(secret)
            submit(other, "/verwaltung/anmelden")
            assert "unbekannt oder widerrufen" in other.find_element("id", "token-fehler").text
        finally:
            other.quit()
