"""Push from publishers (syndicate/ingest/push.py): a feed advertising a WebSub hub is subscribed to, the hub's
verification is answered, a signed delivery refreshes the source at once and polling slows to a safety net."""

from __future__ import annotations

import hashlib
import hmac
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.ingest import freshness, push
from syndicate.ingest.refresh import refresh_source
from syndicate.ingest.schedule import Profile, plan
from syndicate.models import Article, PushSubscription, Source
from syndicate.reader.hints import push_links
from tests.conftest import ROOT, cli_env, make_source
from tests.support import processes

SECRET = "geheim"


@pytest.mark.parametrize(
    "signature, expected",
    [
        ("sha256=" + hmac.new(SECRET.encode(), b"body", hashlib.sha256).hexdigest(), True),
        ("sha1=" + hmac.new(SECRET.encode(), b"body", hashlib.sha1).hexdigest(), True),
        ("SHA512=" + hmac.new(SECRET.encode(), b"body", hashlib.sha512).hexdigest().upper(), True),
        ("sha256=" + hmac.new(b"anders", b"body", hashlib.sha256).hexdigest(), False),
        ("sha256=" + hmac.new(SECRET.encode(), b"bodY", hashlib.sha256).hexdigest(), False),
        ("md5=" + hashlib.md5(b"body").hexdigest(), False),
        ("sha256=", False),
        (None, False),
    ],
    ids=["sha256", "sha1", "sha512-upper", "other-secret", "tampered-body", "unknown-method", "empty", "missing"],
)
def test_signature(signature, expected):
    assert push.signed(b"body", signature, SECRET) is expected


@pytest.mark.parametrize(
    "head, expected",
    [
        ('<atom:link rel="hub" href="https://hub.example/"/><atom:link rel="self" href="https://a.example/rss"/>', True),
        ("<link href='https://hub.example/' rel='hub'/><link rel='self' href='https://a.example/rss'/>", True),
        ('<atom:link rel="self" href="https://a.example/rss"/>', False),  # no hub
        ('<atom:link rel="hub" href="https://hub.example/"/>', False),  # no topic to subscribe to
        ('<atom:link rel="hub" href="javascript:x"/><atom:link rel="self" href="https://a.example/rss"/>', False),
    ],
    ids=["atom-link", "single-quotes", "no-hub", "no-self", "not-http"],
)
def test_push_links(head, expected):
    doc = f'<rss><channel><title>t</title>{head}<item><atom:link rel="hub" href="https://item.example/"/></item></channel></rss>'
    found = push_links(doc.encode())
    assert (found == ("https://hub.example/", "https://a.example/rss")) is expected


def test_a_pushed_source_is_polled_at_the_safety_net_rate():
    now = utcnow()
    assert plan(Profile(), now, low=300, high=86400, pushed=True) == (4 * 3600, "pushed")
    assert plan(Profile(), now, low=300, high=3600, pushed=True).interval == 3600  # the source's maximum still holds


# ---------------------------------------------------------------- a loopback publisher with its own hub, end to end


class Hub:
    """A WebSub hub on loopback: verifies a subscription through the callback, then delivers signed content."""

    def __init__(self):
        hub = self
        self.subscriptions: dict[str, tuple[str, str]] = {}  # topic → (callback, secret)
        self.verified = threading.Event()
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                hub.requests.append(form)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _verify(self, form: dict) -> None:
        challenge = uuid.uuid4().hex
        query = urllib.parse.urlencode(
            {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": challenge, "hub.lease_seconds": "600"}
        )
        with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=10) as answer:
            if answer.status == 200 and answer.read().decode() == challenge:
                self.subscriptions[form["hub.topic"]] = (form["hub.callback"], form["hub.secret"])
                self.verified.set()

    def publish(self, topic: str, content: bytes, secret: str | None = None) -> int:
        callback, subscribed_secret = self.subscriptions[topic]
        signature = hmac.new((secret or subscribed_secret).encode(), content, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            callback, data=content, method="POST", headers={"Content-Type": "application/rss+xml", "X-Hub-Signature": f"sha256={signature}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _feed(hub: str, self_url: str, items: list[str]) -> bytes:
    entries = "".join(
        f"<item><guid>wp-{n}</guid><title>{title}</title><link>https://gemeinde.example/{n}</link>"
        f"<description>{title}: die Gemeinde informiert.</description></item>"
        for n, title in enumerate(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Gemeinde</title>'
        f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{self_url}"/>{entries}</channel></rss>'
    ).encode()


@pytest.fixture
def app_and_worker(settings, tmp_path):
    """The web app on a loopback port (uvicorn, in this process) and a real Celery worker process, on the test broker."""
    import uvicorn

    from syndicate.web.app import create_app
    from tests.test_celery_e2e import purge

    port = _free_port()
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    purge(settings.broker_url)
    env = cli_env(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    name = f"push-{uuid.uuid4().hex[:8]}@%h"
    worker = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "refresh", "--pool", "threads", "-c", "2", "-n", name],
        env,
        tmp_path / "worker.log",
        ROOT,
    )
    assert processes.wait_for(lambda: server.started, timeout=20)
    yield settings, tmp_path
    processes.stop(worker)
    server.should_exit = True
    thread.join(timeout=10)
    purge(settings.broker_url)


@pytest.mark.celery
def test_a_push_from_the_publishers_hub_brings_the_item_into_the_merged_feed_without_a_poll(
    runtime, session, topics, feed_server, app_and_worker
):
    from syndicate.publish.feeds import FeedQuery, render_feed

    settings, logs = app_and_worker
    hub = Hub()
    try:
        topic = feed_server.url("/gemeinde.xml")
        route = feed_server.add(
            "/gemeinde.xml", _feed(hub.url, topic, ["Sperrung der Ortsdurchfahrt"]), headers={"Content-Type": "application/rss+xml"}
        )
        source = make_source(session, topic, city="gemeinde")
        assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).status == "new"
        assert session.scalar(select(PushSubscription.state).where(PushSubscription.source_id == source.id)) == "wanted"

        # the beat's push_subscribe: the hub is asked, verifies through our callback, the lease runs
        assert push.subscribe_due(session, runtime.client, settings.public_url, 600, timedelta(days=1), utcnow()) == 1
        assert hub.verified.wait(15) and hub.requests[0]["hub.lease_seconds"] == "600"
        session.expire_all()
        subscription = session.scalar(select(PushSubscription).where(PushSubscription.source_id == source.id))
        assert subscription.state == "active" and subscription.lease_until > utcnow() + timedelta(minutes=9)

        # polling continues as a safety net only
        assert refresh_source(session, runtime.client, source.id, runtime.refresh_config).status == "unchanged"
        session.expire_all()
        row = session.get(Source, source.id)
        assert row.current_interval == settings.push_interval and row.next_check_at > utcnow() + timedelta(hours=3)
        hits = route.hits

        # a delivery with a wrong signature is acknowledged and ignored
        assert hub.publish(topic, route.body, secret="falsch") == 202
        time.sleep(2)
        assert route.hits == hits

        # the publisher posts; its hub pushes; the item is in the merged feed within seconds, with one fetch
        route.body = _feed(hub.url, topic, ["Sperrung der Ortsdurchfahrt", "Warnung vor gefälschten E-Mails der Gemeindekasse"])
        pushed_at = time.monotonic()
        assert hub.publish(topic, route.body) == 202

        def stored():
            with runtime.sessions() as s:
                return s.scalar(select(func.count(Article.id)).where(Article.source_id == source.id)) == 2

        arrived = processes.wait_for(stored, timeout=30, interval=0.2)
        worker_log = (logs / "worker.log").read_text(errors="replace")[-3000:]
        assert arrived, f"the push did not bring the item; worker log: {worker_log}"
        seconds = time.monotonic() - pushed_at
        with runtime.sessions() as s:
            body = render_feed(s, FeedQuery(kind="all"), "rss", settings.public_url).body
        assert "Warnung vor gefälschten E-Mails der Gemeindekasse" in body.decode()
        assert route.hits == hits + 1  # the refresh the push asked for, and no poll
        assert seconds < 15
        print(f"push → stored in {seconds:.1f} s")
    finally:
        hub.close()


def _subscription(session, state: str, **values) -> PushSubscription:
    source = make_source(session, f"https://gemeinde.example/{uuid.uuid4().hex[:6]}.xml", city="gemeinde")
    row = PushSubscription(
        source_id=source.id, hub="http://127.0.0.1:9/hub", topic=source.url, token=uuid.uuid4().hex, secret=SECRET, state=state, failures=0
    )
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.commit()
    return row


def test_which_subscriptions_are_asked_for_new_renewals_and_unverified(runtime, session):
    now = utcnow()
    wanted = _subscription(session, "wanted")
    ending = _subscription(session, "active", lease_until=now + timedelta(hours=5))
    running = _subscription(session, "active", lease_until=now + timedelta(days=3))
    stale = _subscription(session, "pending", requested_at=now - timedelta(hours=2))
    fresh = _subscription(session, "pending", requested_at=now - timedelta(minutes=2))
    denied = _subscription(session, "denied")
    due = {s.id for s in push.due(session, now, timedelta(days=1))}
    assert due == {wanted.id, ending.id, stale.id}
    assert not due & {running.id, fresh.id, denied.id}


def test_a_hub_that_refuses_is_counted_and_the_running_lease_kept(runtime, session, feed_server):
    row = _subscription(session, "active", lease_until=utcnow() + timedelta(hours=1), hub=feed_server.url("/hub"))
    assert push.subscribe_due(session, runtime.client, "http://127.0.0.1:8000", 600, timedelta(days=1), utcnow()) == 1
    session.refresh(row)
    assert (row.state, row.failures, row.last_error) == ("active", 1, "hub answered HTTP 501")  # this server takes no POST


def test_the_callback_answers_only_what_we_asked_for(settings, runtime, session):
    from tests.support.ops_fixtures import client

    row = _subscription(session, "pending")
    challenge = {"hub.mode": "subscribe", "hub.topic": row.topic, "hub.challenge": "c-123", "hub.lease_seconds": "3600"}
    with client(settings) as c:
        assert c.get("/websub/callback/unbekannt", params=challenge).status_code == 404
        assert c.get(f"/websub/callback/{row.token}", params={**challenge, "hub.topic": "https://anders.example/"}).status_code == 404
        before = freshness.expected(session, [session.get(Source, row.source_id)], runtime.refresh_config)[row.source_id]
        answer = c.get(f"/websub/callback/{row.token}", params=challenge)
        assert (answer.status_code, answer.text) == (200, "c-123")
        session.refresh(row)
        assert row.state == "active" and row.lease_until > utcnow() + timedelta(minutes=59)
        after = freshness.expected(session, [session.get(Source, row.source_id)], runtime.refresh_config)[row.source_id]
        assert (before.seconds, after.seconds, after.text) == (600, 60, "Neue Meldungen erscheinen meist innerhalb einer Minute.")
        assert c.post("/websub/callback/unbekannt", content=b"x", headers={"X-Hub-Signature": "sha256=00"}).status_code == 202
        denied = c.get(f"/websub/callback/{row.token}", params={"hub.mode": "denied", "hub.topic": row.topic})
        assert denied.status_code == 404
        session.refresh(row)
        assert row.state == "denied"
