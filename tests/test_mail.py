"""E-mail subscriptions (issue 26) against a real SMTP server on loopback (aiosmtpd in a thread):
double opt-in, the same answer for known addresses, rate limits, confirmation and its expiry, the
delivery mail (multipart, German, List-Id and RFC 8058 one-click unsubscribe), each story once per
subscription across repeated and crashed runs, a refused recipient suspending, SMTP down and back,
digests at their hour, and the 48-hour cleanup of unconfirmed sign-ups."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.dedupe.store import store_documents
from syndicate.mail import delivery
from syndicate.models import MailSent, MailSubscription
from syndicate.ops import maintenance, status
from syndicate.reader.normalise import Entry, html_to_text
from syndicate.web.app import create_app
from tests.conftest import make_source

FEED = "/feeds/all.atom"


class Inbox:
    """An SMTP server's handler: keeps every message; refuses the recipients in ``refused`` with 550."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.controller = controller
    yield inbox
    controller.stop()


@pytest.fixture
def mail_settings(settings, smtp):
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{smtp.controller.port}",
            "mail_from": "Feed-Verbund <nachrichten@verbund.example>",
            "mail_secret": "test-secret",
            "mail_timeout": 5.0,
        }
    )


@pytest.fixture
def client(mail_settings, runtime, topics):
    with TestClient(create_app(mail_settings), follow_redirects=False) as client:
        yield client


def sign_up(client, address: str, feed: str = FEED, rhythm: str = "sofort", status_code: int = 200):
    response = client.post("/abo", data={"email": address, "feed": feed, "rhythmus": rhythm})
    assert response.status_code == status_code, response.text
    return response


def link_in(message, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"http://127\.0\.0\.1:8000({path}/[^\s]+)", text).group(1)


def subscribe_and_confirm(client, smtp, address: str, **kwargs) -> int:
    sign_up(client, address, **kwargs)
    confirm = link_in(smtp.to(address)[-1], "/abo/bestaetigen")
    assert client.get(confirm).status_code == 200
    return int(client.app.state.runtime.engine.connect().scalar(select(MailSubscription.id).where(MailSubscription.address == address)))


def add_story(session, title: str, url: str | None = None):
    source = make_source(session, url or f"https://stadt.example/rss/{abs(hash(title))}")
    url = f"https://stadt.example/meldung/{abs(hash(title))}"
    html = f"<p>{title}: Die Stadt informiert über Neuigkeiten.</p>"
    item = Entry(title, url, url, url, html, "", html_to_text(html), utcnow() - timedelta(hours=1), None, None)
    store_documents(session, [(source, [item])], [], utcnow())
    session.commit()


def test_sign_up_sends_one_confirmation_and_nothing_else(client, smtp, session, mail_settings):
    page = sign_up(client, "anna@beispiel.de")
    assert "Bestätigungslink" in page.text and 'lang="de"' in page.text
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "anna@beispiel.de" and "bestätigen" in message["Subject"]
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    sub = session.scalar(select(MailSubscription))
    assert sub.state == "pending" and sub.confirm_hash and link_in(message, "/abo/bestaetigen").rsplit("/", 1)[1] not in sub.confirm_hash
    add_story(session, "Neue Radwege in der Innenstadt")
    assert delivery.deliver(session, sub.id, utcnow(), mail_settings).status == "gone"  # pending: nothing before confirmation
    assert len(smtp.messages) == 1


def test_the_answer_is_the_same_for_a_subscribed_address(client, smtp, session):
    first = sign_up(client, "ben@beispiel.de")
    confirm = link_in(smtp.messages[0], "/abo/bestaetigen")
    client.get(confirm)
    again = sign_up(client, "ben@beispiel.de")
    assert again.text == first.text
    assert len(smtp.messages) == 1  # the active subscriber gets no second confirmation
    assert session.scalar(select(func.count()).select_from(MailSubscription)) == 1


@pytest.mark.parametrize(
    ("address", "feed", "rhythm"),
    [
        ("kein-at-zeichen", FEED, "sofort"),
        ("a@b.de\r\nBcc: opfer@beispiel.de", FEED, "sofort"),
        ("anna@beispiel.de", "/feeds/topics/gibt-es-nicht.atom", "sofort"),
        ("anna@beispiel.de", "https://anderswo.example/feed.xml", "sofort"),
        ("anna@beispiel.de", FEED + "\r\nX: y", "sofort"),
        ("anna@beispiel.de", FEED, "stuendlich"),
    ],
)
def test_bad_input_gets_a_german_message_and_nothing_is_stored_or_sent(client, smtp, session, address, feed, rhythm):
    page = sign_up(client, address, feed, rhythm, status_code=400)
    assert "Anmeldung nicht möglich" in page.text
    assert smtp.messages == []
    assert session.scalar(select(func.count()).select_from(MailSubscription)) == 0


def test_sign_up_is_rate_limited_per_address(mail_settings, runtime, topics, smtp):
    limited = mail_settings.model_copy(update={"mail_signup_per_address": 2})
    with TestClient(create_app(limited)) as client:
        sign_up(client, "carla@beispiel.de")
        sign_up(client, "carla@beispiel.de", "/feeds/all.json")
        page = sign_up(client, "carla@beispiel.de", "/feeds/all.rss", status_code=429)
        assert "Zu viele Anmeldungen" in page.text
        sign_up(client, "dora@beispiel.de")  # another address from the same client is still welcome
    assert len(smtp.messages) == 3


def test_sign_up_is_rate_limited_per_client(mail_settings, runtime, topics, smtp):
    limited = mail_settings.model_copy(update={"mail_signup_per_client": 2})
    with TestClient(create_app(limited)) as client:
        sign_up(client, "a1@beispiel.de")
        sign_up(client, "a2@beispiel.de")
        sign_up(client, "a3@beispiel.de", status_code=429)
    assert len(smtp.messages) == 2


def test_confirmation_activates_once_and_expires_after_48_hours(client, smtp, session):
    sign_up(client, "eva@beispiel.de")
    confirm = link_in(smtp.messages[0], "/abo/bestaetigen")
    assert "Abo bestätigt" in client.get(confirm).text
    assert session.scalar(select(MailSubscription.state)) == "active"
    used = client.get(confirm)
    assert used.status_code == 404 and "abgelaufen oder wurde schon benutzt" in used.text

    sign_up(client, "fritz@beispiel.de")
    late = link_in(smtp.to("fritz@beispiel.de")[0], "/abo/bestaetigen")
    sub = session.scalar(select(MailSubscription).where(MailSubscription.address == "fritz@beispiel.de"))
    sub.created_at = utcnow() - timedelta(hours=49)
    session.commit()
    assert client.get(late).status_code == 404
    session.expire_all()
    assert session.scalar(select(MailSubscription.state).where(MailSubscription.address == "fritz@beispiel.de")) == "pending"


def test_delivery_is_a_german_multipart_mail_with_list_headers(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "gina@beispiel.de")
    add_story(session, "Neue Radwege in der Innenstadt")
    outcome = delivery.deliver(session, sub_id, utcnow(), mail_settings)
    assert outcome.status == "sent" and outcome.stories == 1
    message = smtp.to("gina@beispiel.de")[-1]
    assert message["Subject"] == "Alle Meldungen: eine neue Meldung"
    assert message["Message-ID"] == outcome.message_id and message["Message-ID"].endswith("@verbund.example>")
    assert message["Date"] and message["List-Id"].endswith(".verbund.example>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://127\.0\.0\.1:8000/abo/abmelden/\S+)>", message["List-Unsubscribe"].strip()).group(1)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Neue Radwege in der Innenstadt" in text and "Neue Radwege in der Innenstadt" in html
    assert 'lang="de"' in html and "Abo abbestellen" in html and "Abbestellen: " + unsubscribe in text
    assert "/stories/" in text


def test_each_story_is_sent_once_however_often_delivery_runs(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "hans@beispiel.de")
    add_story(session, "Baustelle am Marktplatz")
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "sent"
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "nothing"
    add_story(session, "Sommerfest im Stadtpark")
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).stories == 1
    mails = smtp.to("hans@beispiel.de")[1:]  # after the confirmation
    assert [m["Subject"] for m in mails] == ["Alle Meldungen: eine neue Meldung"] * 2
    assert "Baustelle" in mails[0].get_body(("plain",)).get_content() and "Baustelle" not in mails[1].get_body(("plain",)).get_content()


def test_a_crashed_run_is_completed_once_after_the_lease_and_a_running_one_is_left_alone(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "ida@beispiel.de")
    add_story(session, "Wahlergebnisse veröffentlicht")
    now = utcnow()
    batch = delivery.Batch(mail_settings, now)
    [mail], _ = delivery.plan(session, batch, [session.get(MailSubscription, sub_id)])
    assert delivery.claim(session, mail, now, mail_settings)  # a worker claimed the mail …
    session.commit()  # … and was killed before the server accepted it
    assert delivery.deliver(session, sub_id, now + timedelta(minutes=1), mail_settings).status == "busy"
    assert len(smtp.to("ida@beispiel.de")) == 1
    later = delivery.deliver(session, sub_id, now + delivery.claim_lease(mail_settings) + timedelta(minutes=1), mail_settings)
    assert later.status == "sent" and later.message_id == mail.message_id and later.stories == len(mail.cluster_ids) == 1
    assert delivery.deliver(session, sub_id, now + timedelta(hours=2), mail_settings).status == "nothing"
    assert len(smtp.to("ida@beispiel.de")) == 2


def test_smtp_down_releases_the_batch_and_it_arrives_once_when_back(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "jan@beispiel.de")
    add_story(session, "Neuer Bürgerservice online")
    down = mail_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    with pytest.raises(delivery.TemporaryMailError):
        delivery.deliver(session, sub_id, utcnow(), down)
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "sent"  # the retry, at once
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "nothing"
    assert len(smtp.to("jan@beispiel.de")) == 2


def test_a_refused_recipient_suspends_the_subscription_and_operators_see_a_count(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "karl@beispiel.de")
    subscribe_and_confirm(client, smtp, "lena@beispiel.de")
    add_story(session, "Hochwasserschutz verbessert")
    smtp.refused.add("karl@beispiel.de")
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "suspended"
    session.expire_all()
    assert session.get(MailSubscription, sub_id).state == "suspended"
    assert delivery.deliver(session, sub_id, utcnow(), mail_settings).status == "gone"
    assert delivery.due(session, utcnow(), mail_settings) == [
        session.scalar(select(MailSubscription.id).where(MailSubscription.state == "active"))
    ]
    summary = status.summarise(session).as_dict()
    assert summary["mail_subscriptions"] == {"active": 1, "suspended": 1}
    assert "beispiel.de" not in str(summary)


def test_one_click_unsubscribe_deletes_the_address(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "mia@beispiel.de")
    add_story(session, "Stadtbibliothek verlängert Öffnungszeiten")
    delivery.deliver(session, sub_id, utcnow(), mail_settings)
    url = re.fullmatch(r"<http://127\.0\.0\.1:8000(\S+)>", smtp.to("mia@beispiel.de")[-1]["List-Unsubscribe"].strip()).group(1)
    page = client.get(url)
    assert "Abo abbestellen" in page.text and f'action="{url}"' in page.text
    assert session.scalar(select(func.count()).select_from(MailSubscription)) == 1  # GET only asks
    response = client.post(url, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and "Adresse ist gelöscht" in response.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(MailSubscription)) == 0
    assert session.scalar(select(func.count()).select_from(MailSent)) == 0
    assert client.post(url).status_code == 404
    assert client.post(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 404  # a forged token deletes nothing


def test_digests_go_out_in_their_hour_in_berlin(client, smtp, session, mail_settings):
    daily = subscribe_and_confirm(client, smtp, "nina@beispiel.de", rhythm="taeglich")
    weekly = subscribe_and_confirm(client, smtp, "otto@beispiel.de", rhythm="woechentlich")
    monday_7 = datetime(2030, 1, 7, 6, 30, tzinfo=UTC)  # 07:30 in Berlin (CET), a Monday
    assert delivery.due(session, monday_7 - timedelta(hours=1), mail_settings) == []
    assert delivery.due(session, monday_7, mail_settings) == [daily, weekly]
    assert delivery.due(session, monday_7 + timedelta(days=1), mail_settings) == [daily]
    session.get(MailSubscription, daily).last_sent_at = monday_7
    session.commit()
    assert delivery.due(session, monday_7 + timedelta(minutes=20), mail_settings) == [weekly]  # once a day


def test_unconfirmed_sign_ups_are_deleted_after_48_hours(client, smtp, session):
    sign_up(client, "paul@beispiel.de")
    subscribe_and_confirm(client, smtp, "quirin@beispiel.de")
    now = utcnow()
    limits = maintenance.Limits(0, 0, 0, 0)
    assert maintenance.run(session, now + timedelta(hours=47), limits).prune.mail_signups == 0
    report = maintenance.run(session, now + timedelta(hours=49), limits)
    assert report.prune.mail_signups == 1
    assert session.scalars(select(MailSubscription.address)).all() == ["quirin@beispiel.de"]


def test_without_smtp_settings_the_form_says_so_and_nothing_is_stored(settings, runtime, topics, session):
    with TestClient(create_app(settings)) as client:
        page = client.post("/abo", data={"email": "rita@beispiel.de", "feed": FEED, "rhythmus": "sofort"})
    assert page.status_code == 404 and "keine E-Mails" in page.text
    assert session.scalar(select(func.count()).select_from(MailSubscription)) == 0


def test_the_subscribe_page_offers_the_form_and_the_builders_feed_can_be_followed(client, smtp, session, settings, runtime, topics):
    page = client.get("/abonnieren", params={"thema": "it-sicherheit", "q": "Phishing"})
    assert page.status_code == 200 and 'action="/abo"' in page.text
    feed = re.search(r'<input type="hidden" name="feed" value="([^"]+)">', page.text).group(1).replace("&amp;", "&")
    assert feed.startswith("/feeds/search.atom?") and "q=Phishing" in feed
    sign_up(client, "sara@beispiel.de", feed)
    assert "Phishing" in smtp.to("sara@beispiel.de")[0]["Subject"]
    sign_up(client, "sara@beispiel.de", "/feeds/search.atom", status_code=400)  # no words: no feed
    with TestClient(create_app(settings)) as plain:
        assert "E-Mail-Abos bietet dieser Dienst nicht an" in plain.get("/abonnieren").text


E2E_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Stadt Testhausen</title><link>https://testhausen.example/</link>
<item><title>Neue Ladesäulen am Rathausplatz {token}</title><link>https://testhausen.example/pm/{token}</link>
<guid>pm-{token}</guid><pubDate>{date}</pubDate>
<description>&lt;p&gt;Die Stadt eröffnet zwölf neue Ladesäulen für Elektroautos.&lt;/p&gt;</description></item>
</channel></rss>"""


@pytest.mark.celery
def test_a_story_polled_by_a_real_worker_arrives_once_in_a_sofort_mail(client, smtp, session, mail_settings, feed_server, tmp_path):
    """Real Celery worker and beat: sign-up → confirmation → confirm → the worker polls a new story → the
    mail tick queues a delivery on the mail queue → one mail; further ticks send nothing more."""
    import sys
    import time
    import uuid
    from email.utils import format_datetime

    from tests.conftest import ROOT, cli_env, purge_queues
    from tests.support import processes

    sub_id = subscribe_and_confirm(client, smtp, "tom@beispiel.de")
    token = uuid.uuid4().hex[:10]
    feed_server.add(
        "/testhausen.xml", E2E_FEED.format(token=token, date=format_datetime(utcnow())), headers={"Content-Type": "application/rss+xml"}
    )
    make_source(session, feed_server.url("/testhausen.xml"), city="testhausen", name="Stadt Testhausen")
    purge_queues(mail_settings.broker_url)
    env = cli_env(
        mail_settings,
        SYNDICATE_BEAT_INTERVAL="1",
        SYNDICATE_SMTP_URL=mail_settings.smtp_url,
        SYNDICATE_MAIL_FROM=mail_settings.mail_from,
        SYNDICATE_MAIL_SECRET=mail_settings.mail_secret,
    )
    mail_settings.var_dir.mkdir(parents=True, exist_ok=True)
    worker = processes.start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "--pool",
            "threads",
            "-c",
            "2",
            "-n",
            f"mail-{token}@%h",
            "--loglevel",
            "INFO",
        ],
        env,
        tmp_path / "worker.log",
        ROOT,
    )
    beat = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
        env,
        tmp_path / "beat.log",
        ROOT,
    )
    try:
        arrived = processes.wait_for(lambda: len(smtp.to("tom@beispiel.de")) >= 2, timeout=90)
        logs = {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        assert arrived, f"no delivery mail; logs: {logs}"
        time.sleep(5)  # several more beat ticks, each queueing a delivery for the subscriber
    finally:
        processes.stop(beat)
        processes.stop(worker)
        purge_queues(mail_settings.broker_url)
    mails = smtp.to("tom@beispiel.de")[1:]
    assert len(mails) == 1 and f"Neue Ladesäulen am Rathausplatz {token}" in mails[0].get_body(("plain",)).get_content()
    session.expire_all()
    assert (
        session.scalar(select(func.count()).select_from(MailSent).where(MailSent.subscription_id == sub_id, MailSent.sent_at.is_not(None)))
        == 1
    )


def test_sofort_subscribers_are_due_only_when_a_story_came_after_their_last_mail(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "uwe@beispiel.de")
    assert delivery.due(session, utcnow(), mail_settings) == []  # nothing stored yet: an idle tick queues nothing
    add_story(session, "Neue Spielplätze")
    assert delivery.due(session, utcnow(), mail_settings) == [sub_id]
    delivery.deliver(session, sub_id, utcnow(), mail_settings)
    assert delivery.due(session, utcnow(), mail_settings) == []


def test_smtp_url_user_and_password_log_in(session, mail_settings):
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox()

    def authenticator(server, session_, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"verbund" and auth_data.password == b"geheim:1")

    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
    controller.start()
    try:
        from syndicate.mail import messages

        message = messages.confirmation(
            mail_settings.mail_from, "vera@beispiel.de", "Alle Meldungen", "sofort", "http://x/", utcnow(), "verbund.example"
        )
        good = mail_settings.model_copy(update={"smtp_url": f"smtp://verbund:geheim%3A1@127.0.0.1:{controller.port}"})
        delivery.send(good, message)
        assert len(inbox.messages) == 1
        bad = mail_settings.model_copy(update={"smtp_url": f"smtp://verbund:falsch@127.0.0.1:{controller.port}"})
        with pytest.raises(delivery.TemporaryMailError):  # the operator's to fix; the batch waits in the retries
            delivery.send(bad, message)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_a_confirmation_the_server_refused_for_the_moment_is_queued_and_sent_when_it_is_back(mail_settings, runtime, topics, smtp, session):
    from kombu import Connection

    from tests.conftest import purge_queues

    purge_queues(mail_settings.broker_url)
    down = mail_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    with TestClient(create_app(down)) as client:
        assert "Fast geschafft" in sign_up(client, "wim@beispiel.de").text
    with Connection(mail_settings.broker_url) as connection:
        queued = connection.SimpleQueue("mail").get(timeout=10)
        args, _, _ = queued.payload
        assert queued.headers["task"] == "syndicate.mail_confirmation"
        queued.ack()
    assert smtp.messages == []
    assert delivery.send_confirmation(session, mail_settings, *args)  # what the worker's retry does, the server back
    link = link_in(smtp.to("wim@beispiel.de")[0], "/abo/bestaetigen")
    with TestClient(create_app(mail_settings)) as client:
        assert client.get(link).status_code == 200
    session.expire_all()
    assert not delivery.send_confirmation(session, mail_settings, *args)  # confirmed meanwhile: a redelivery sends nothing
    assert len(smtp.messages) == 1


def test_an_old_unsubscribe_link_cannot_touch_a_new_subscription_with_the_same_id(client, smtp, session, mail_settings):
    sub_id = subscribe_and_confirm(client, smtp, "xenia@beispiel.de")
    add_story(session, "Neue Buslinie")
    delivery.deliver(session, sub_id, utcnow(), mail_settings)
    old_link = re.fullmatch(r"<http://127\.0\.0\.1:8000(\S+)>", smtp.to("xenia@beispiel.de")[-1]["List-Unsubscribe"].strip()).group(1)
    assert client.post(old_link).status_code == 200
    session.add(MailSubscription(id=sub_id, address="yusuf@beispiel.de", feed=FEED, rhythm="sofort", state="active", created_at=utcnow()))
    session.commit()  # the id handed out again, as SQLite does after deleting the highest
    assert client.post(old_link).status_code == 404
    session.expire_all()
    assert session.get(MailSubscription, sub_id).address == "yusuf@beispiel.de"


def test_a_daily_digest_at_its_hour_holds_every_new_story_in_one_mail(client, smtp, session, mail_settings):
    daily = subscribe_and_confirm(client, smtp, "zora@beispiel.de", rhythm="taeglich")
    add_story(session, "Neue Öffnungszeiten im Bürgerbüro")
    add_story(session, "Sperrung der Ludwigsbrücke")
    seven = datetime(2030, 1, 8, 6, 5, tzinfo=UTC)  # 07:05 in Berlin
    for tick in range(3):  # three ticks in the digest hour, as the beat runs them
        for sub_id in delivery.due(session, seven + timedelta(minutes=tick), mail_settings):
            delivery.deliver(session, sub_id, seven + timedelta(minutes=tick), mail_settings)
    mails = smtp.to("zora@beispiel.de")[1:]
    assert [m["Subject"] for m in mails] == ["Alle Meldungen: 2 neue Meldungen"]
    text = mails[0].get_body(("plain",)).get_content()
    assert "Ludwigsbrücke" in text and "Bürgerbüro" in text
    assert delivery.due(session, seven + timedelta(days=1), mail_settings) == [daily]  # tomorrow's digest


def test_every_portal_page_offers_the_form_for_its_own_feed_and_it_signs_up(client, smtp, session, settings, runtime, topics):
    from syndicate.models import Cluster

    add_story(session, "Neue Radwege in der Innenstadt")
    story = session.scalar(select(Cluster.id))
    pages = {
        "/": "/feeds/all.atom",
        "/themen/it-sicherheit": "/feeds/topics/it-sicherheit.atom",
        "/kommunen/muenchen": "/feeds/cities/muenchen.atom",
        f"/meldungen/{story}": "/feeds/all.atom",
        "/suche?q=Radwege&kommune=muenchen": "/feeds/search.atom?q=Radwege&city=muenchen",
        "/suche": "/feeds/all.atom",
        "/gibt-es-nicht": None,  # the app's 404 is not a portal page
        "/themen/gibt-es-nicht": "/feeds/all.atom",
        "/abo/bestaetigen/ungueltig": "/feeds/all.atom",
    }
    for number, (path, feed) in enumerate(pages.items()):
        page = client.get(path)
        forms = re.findall(
            r'<form class="mailform" action="/abo" method="post">\s*<input type="hidden" name="feed" value="([^"]+)">', page.text
        )
        if feed is None:
            assert forms == [], path
            continue
        assert [f.replace("&amp;", "&") for f in forms] == [feed], path
        assert 'id="abo-email-fuss"' in page.text and 'for="abo-email-fuss"' in page.text, path
        sign_up(client, f"leser{number}@beispiel.de", feed)
    assert len(smtp.messages) == len([f for f in pages.values() if f])  # each form's feed is one we deliver
    subscribe_page = client.get("/abonnieren").text
    assert subscribe_page.count('class="mailform"') == 1 and "abo-email-fuss" not in subscribe_page  # its own form, not a second
    with TestClient(create_app(settings)) as plain:  # no SMTP configured: no form anywhere
        for path in ("/", "/themen/it-sicherheit", f"/meldungen/{story}", "/abonnieren", "/abonnieren?q=Radwege"):
            text = plain.get(path).text
            assert 'action="/abo"' not in text and "Per E-Mail abonnieren" not in text, path
