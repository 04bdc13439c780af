"""The e-mail subscription pages in a real browser (chromium via Selenium, as tests/test_portal_browser.py):
the form on /abonnieren filled in and sent, the answer page, the confirmation page, the unsubscribe page
with its button and its answer, the form at the foot of portal pages and the demo's /demo/post — each with axe-core's WCAG 2.0
A/AA and 2.1 AA rules and no violation. After a click the test waits for the next page (the old document
stale, the new one loaded, its heading), never reads the page the click left."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import select

from syndicate.mail.subscriptions import unsubscribe_token
from syndicate.models import MailSubscription
from syndicate.web.app import create_app
from tests.support.browser import check_page, needs_browser
from tests.test_mail import Inbox, free_port

pytestmark = needs_browser


@pytest.fixture
def served_mail(settings, runtime, topics, tmp_path):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    mail_settings = settings.model_copy(
        update={
            "public_url": base,
            "smtp_url": f"smtp://127.0.0.1:{controller.port}",
            "mail_from": "Feed-Verbund <nachrichten@verbund.example>",
            "mail_secret": "test-secret",
            "demo_mail_dir": str(tmp_path / "post"),  # as in the demo: /demo/post shows what lies there
        }
    )
    server = uvicorn.Server(uvicorn.Config(create_app(mail_settings), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield base, inbox, mail_settings
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    controller.stop()


def click_and_wait(browser, css: str, heading: str, timeout: float = 20) -> None:
    """Click, then wait for the NEXT page (tests.support.browser.click_and_wait: told by a mark on the window, as
    chromedriver may answer a stale element with an inspector error) and its h1 as expected."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    from tests.support.browser import click_and_wait as click_to_next_page

    click_to_next_page(browser, css)
    WebDriverWait(browser, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: d.find_element("tag name", "h1").text == heading
    )


def test_subscription_pages_pass_axe_and_work_in_the_browser(served_mail, browser, session):
    base, inbox, mail_settings = served_mail
    check_page(browser, base + "/abonnieren", "abo-formular")
    browser.find_element("id", "abo-email-alle").send_keys("xaver@beispiel.de")
    click_and_wait(browser, "main form.mailform button[type=submit]", "Fast geschafft")
    # the answer of the POST is mail_page.html, the template of every page checked below
    deadline = time.monotonic() + 10
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    confirm = re.search(r"(/abo/bestaetigen/\S+)", inbox.messages[0].get_body(("plain",)).get_content()).group(1)
    check_page(browser, base + confirm, "abo-bestaetigt")
    assert browser.find_element("tag name", "h1").text == "Abo bestätigt"
    sub_id = session.scalar(select(MailSubscription.id).where(MailSubscription.address == "xaver@beispiel.de"))
    check_page(browser, base + "/abo/abmelden/" + unsubscribe_token(mail_settings, session.get(MailSubscription, sub_id)), "abo-abmelden")
    click_and_wait(browser, "main form button", "Abo abbestellt")
    session.expire_all()
    assert session.get(MailSubscription, sub_id) is None
    check_page(browser, base + "/abo/bestaetigen/ungueltig", "abo-link-ungueltig")


def test_the_form_at_the_foot_of_portal_pages_passes_axe_and_signs_up(served_mail, browser, session, tmp_path):
    """With e-mail configured every portal page ends with a sign-up form for its own feed."""
    base, inbox, _ = served_mail
    check_page(browser, base + "/", "abo-fuss-startseite")
    check_page(browser, base + "/themen/it-sicherheit", "abo-fuss-thema")
    check_page(browser, base + "/suche?q=Radweg", "abo-fuss-suche")
    browser.find_element("id", "abo-email-fuss").send_keys("yvonne@beispiel.de")
    click_and_wait(browser, "footer form.mailform button[type=submit]", "Fast geschafft")
    deadline = time.monotonic() + 10
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m["To"] for m in inbox.messages] == ["yvonne@beispiel.de"]
    assert session.scalar(select(MailSubscription.feed)) == "/feeds/search.atom?q=Radweg"
    post = tmp_path / "post"
    post.mkdir()
    (post / "20300101-070000-00001.eml").write_bytes(inbox.messages[0].as_bytes())
    check_page(browser, base + "/demo/post", "demo-post")
    assert browser.find_element("css selector", "main pre a").get_attribute("href").startswith(base + "/abo/bestaetigen/")
