"""WebSub hub end to end with a real subscriber on 127.0.0.1: subscription request → verification of intent
(GET with hub.challenge) → lease and renewal → a changed feed is delivered, signed with the subscriber's
secret (X-Hub-Signature: sha256=…), through the Celery task that retries a refused delivery → unsubscribe."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndicate.clock import utcnow
from syndicate.models import WebSubSubscription
from syndicate.publish import websub
from syndicate.runtime import Runtime
from syndicate.web.app import create_app
from tests.support.stories import PHISHING, poll_all
from tests.test_feed_http import add_regensburg

TOPIC = "http://127.0.0.1:8000/feeds/topics/it-sicherheit.atom"
ALL = "http://127.0.0.1:8000/feeds/all.rss"
SECRET = "geheim-für-den-test"


class Subscriber:
    """A WebSub subscriber on loopback: echoes challenges (unless told not to), records deliveries and
    refuses the first ``fail`` of them with 500."""

    def __init__(self):
        self.verifications: list[dict] = []
        self.deliveries: list[tuple[dict, bytes]] = []
        self.echo, self.fail = True, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                owner.verifications.append(params)
                body = params.get("hub.challenge", "").encode() if owner.echo else b"nein"
                self.send_response(200 if owner.echo else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if owner.fail > 0 else 204
                owner.fail -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?from=test"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingQueue:
    def __init__(self):
        self.verify, self.fanouts = [], 0

    def websub_verify(self, subscription_id):
        self.verify.append(subscription_id)

    def websub_fanout(self):
        self.fanouts += 1


@pytest.fixture
def subscriber():
    s = Subscriber()
    yield s
    s.close()


@pytest.fixture
def hub(settings, runtime, topics):
    app = create_app(settings)
    app.state.task_queue = RecordingQueue()
    with TestClient(app) as client:
        yield client, app.state.task_queue


@pytest.fixture
def worker_runtime(runtime, monkeypatch):
    """The Celery tasks run in this process (Task.apply) with the test runtime."""
    import workers.tasks

    monkeypatch.setattr(workers.tasks, "_runtime", runtime)
    conf = workers.tasks.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = True  # fan-out's apply_async runs here too, not through a broker
    yield workers.tasks
    conf.task_always_eager = eager


def request(client, mode, callback, topic=TOPIC, **extra):
    return client.post("/websub", data={"hub.mode": mode, "hub.callback": callback, "hub.topic": topic, **extra})


def test_subscribe_verify_deliver_signed_retry_renew_unsubscribe(hub, runtime, session, topics, server, subscriber, worker_runtime):
    client, queue = hub
    poll_all(runtime, session, server)
    assert request(client, "subscribe", subscriber.url, **{"hub.secret": SECRET, "hub.lease_seconds": "600"}).status_code == 202
    (sub_id,) = queue.verify
    assert session.get(WebSubSubscription, sub_id).state == "pending"
    assert websub.changed(session, runtime.settings.public_url) == []  # nothing goes to unverified callbacks

    assert worker_runtime.websub_verify.apply(args=(sub_id,)).get() == "active"
    check = subscriber.verifications[-1]
    assert (
        check["hub.mode"] == "subscribe" and check["hub.topic"] == TOPIC and check["hub.lease_seconds"] == "600" and check["from"] == "test"
    )
    session.expire_all()
    sub = session.get(WebSubSubscription, sub_id)
    assert sub.state == "active" and abs((sub.expires_at - utcnow()) - timedelta(seconds=600)) < timedelta(seconds=10)

    # the first delivery is refused; the task's retry delivers it
    subscriber.fail = 1
    assert websub.changed(session, runtime.settings.public_url) == [sub_id]
    assert worker_runtime.websub_deliver.apply(args=(sub_id,)).get() == "delivered"
    assert len(subscriber.deliveries) == 2
    headers, body = subscriber.deliveries[-1]
    assert headers["x-hub-signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["content-type"].startswith("application/atom+xml")
    assert '<http://127.0.0.1:8000/websub>; rel="hub"' in headers["link"] and f'<{TOPIC}>; rel="self"' in headers["link"]
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and [e.title for e in parsed.entries] == [PHISHING]
    session.expire_all()
    assert session.get(WebSubSubscription, sub_id).failures == 0
    assert websub.changed(session, runtime.settings.public_url) == []  # delivered: nothing new
    assert worker_runtime.websub_deliver.apply(args=(sub_id,)).get() == "unchanged"  # a duplicate task is harmless
    assert worker_runtime.websub_fanout.apply().get() == 0

    # renewal extends the lease; the old one holds until the new one is verified
    assert request(client, "subscribe", subscriber.url, **{"hub.secret": SECRET, "hub.lease_seconds": "7200"}).status_code == 202
    assert queue.verify[-1] == sub_id
    assert worker_runtime.websub_verify.apply(args=(sub_id,)).get() == "active"
    session.expire_all()
    assert session.get(WebSubSubscription, sub_id).expires_at - utcnow() > timedelta(seconds=7000)

    # unsubscribe, verified as well
    assert request(client, "unsubscribe", subscriber.url).status_code == 202
    assert worker_runtime.websub_verify.apply(args=(queue.verify[-1],)).get() == "unsubscribed"
    assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
    session.expire_all()
    assert session.get(WebSubSubscription, sub_id) is None


def test_a_changed_feed_is_delivered_again_and_unchanged_feeds_are_not(hub, runtime, session, topics, server, subscriber, worker_runtime):
    client, queue = hub
    poll_all(runtime, session, server)
    request(client, "subscribe", subscriber.url, topic=ALL)
    request(client, "subscribe", subscriber.url)  # IT-Sicherheit
    for sub_id in queue.verify:
        assert websub.verify(session, runtime.client, sub_id) == "active"
    assert worker_runtime.websub_fanout.apply().get() == 2
    assert len(subscriber.deliveries) == 2 and all("x-hub-signature" not in h for h, _ in subscriber.deliveries)  # no secret, no signature

    add_regensburg(runtime, session, server)  # changes the all feed only
    assert websub.changed(session, runtime.settings.public_url) == [queue.verify[0]]
    assert worker_runtime.websub_fanout.apply().get() == 1
    assert b"Christkindlmarkt" in subscriber.deliveries[-1][1]


def test_refused_verification_and_bad_requests(hub, session, subscriber):
    client, queue = hub
    subscriber.echo = False
    assert request(client, "subscribe", subscriber.url).status_code == 202
    assert websub.verify(session, hub[0].app.state.runtime.client, queue.verify[-1]) == "denied"
    session.expire_all()
    assert session.get(WebSubSubscription, queue.verify[-1]).state == "denied"

    for data, reason in [
        ({"hub.topic": "https://example.org/feed"}, "unknown_topic"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/topics/raumfahrt.atom"}, "unknown_topic"),
        ({"hub.callback": "ftp://127.0.0.1/x"}, "invalid_callback"),
        ({"hub.mode": "subscribe", "hub.secret": "x" * 200}, "invalid_secret"),
        ({"hub.mode": "abonnieren"}, "unsupported_mode"),
        ({"hub.mode": "unsubscribe", "hub.callback": "http://127.0.0.1:9/never"}, "not_subscribed"),
    ]:
        response = client.post("/websub", data={"hub.mode": "subscribe", "hub.callback": subscriber.url, "hub.topic": TOPIC, **data})
        assert response.status_code == 400 and response.json()["detail"]["reason"] == reason, data
    assert client.post("/websub", data={"hub.mode": "publish", "hub.url": TOPIC}).status_code == 202 and queue.fanouts == 1


def test_callbacks_pass_the_address_policy(hub, settings, session, subscriber):
    """Without 127.0.0.1 in SYNDICATE_ALLOW_NETWORKS the hub does not call a loopback callback."""
    client, queue = hub
    request(client, "subscribe", subscriber.url)
    strict = Runtime(settings.model_copy(update={"allow_networks": ""}))
    try:
        assert websub.verify(session, strict.client, queue.verify[-1]) == "denied"
    finally:
        strict.close()
    assert subscriber.verifications == []
    session.expire_all()
    assert "verification failed" in session.get(WebSubSubscription, queue.verify[-1]).last_error
