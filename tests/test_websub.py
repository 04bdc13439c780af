"""WebSub hub end to end with a real subscriber on 127.0.0.1: subscription request → verification of intent
(GET with hub.challenge) → lease and renewal → a changed feed is delivered, signed with the subscriber's
secret (X-Hub-Signature: sha256=…), through the Celery task that retries a refused delivery → unsubscribe."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from syndicate.clock import utcnow
from syndicate.models import WebSubSubscription
from syndicate.publish import websub
from syndicate.runtime import Runtime
from syndicate.web.app import create_app
from syndicate.web.ratelimit import Coalescer
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
        self.verify, self.fanouts, self.countdowns = [], 0, []

    def websub_verify(self, subscription_id):
        self.verify.append(subscription_id)

    def websub_fanout(self, countdown=None):
        self.fanouts += 1
        self.countdowns.append(countdown)


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
def limited_hub(settings, runtime, topics):
    """A hub app with some settings changed: ``with limited_hub(websub_max_total=3) as (client, queue): …``."""

    @contextmanager
    def make(**overrides):
        app = create_app(settings.model_copy(update=overrides))
        app.state.task_queue = RecordingQueue()
        with TestClient(app) as client:
            yield client, app.state.task_queue

    return make


@pytest.fixture
def worker_runtime(runtime, monkeypatch):
    """The Celery tasks run in this process (Task.apply) with the test runtime."""
    import workers.tasks

    monkeypatch.setattr(workers.tasks, "_runtime", runtime)
    monkeypatch.setattr(workers.tasks, "_topic_versions", websub.TopicVersions())  # what an earlier test's fan-out learnt
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


def test_one_topic_that_cannot_be_rendered_does_not_stop_the_others(
    hub,
    runtime,
    session,
    topics,
    server,
    subscriber,
    worker_runtime,
    monkeypatch,
    caplog,
):
    client, queue = hub
    poll_all(runtime, session, server)
    request(client, "subscribe", subscriber.url)  # IT-Sicherheit: its rendering fails below
    request(client, "subscribe", subscriber.url, topic=ALL)
    for sub_id in queue.verify:
        assert websub.verify(session, runtime.client, sub_id) == "active"
    render = websub.render_feed

    def failing_for_topics(session, query, fmt, public_url, meta=None):  # a fault in one feed's rendering, injected
        if query.kind == "topic":
            raise ValueError("invalid literal for int() with base 10: '²'")
        return render(session, query, fmt, public_url, meta)

    monkeypatch.setattr(websub, "render_feed", failing_for_topics)
    assert worker_runtime.websub_fanout.apply().get() == 1
    assert len(subscriber.deliveries) == 1 and b"<rss" in subscriber.deliveries[0][1]
    assert "it-sicherheit.atom cannot be rendered" in caplog.text

    monkeypatch.setattr(websub, "render_feed", render)  # repaired: the waiting subscriber gets its feed
    assert worker_runtime.websub_fanout.apply().get() == 1
    assert b"<feed" in subscriber.deliveries[-1][1]


# ---------------------------------------------------------------- limits: anyone may call the hub


def test_open_subscriptions_are_capped_per_callback_host_and_in_total(limited_hub, session):
    with limited_hub(websub_max_per_host=2, websub_max_total=3, websub_rate_limit=0) as (client, queue):

        def ask(callback, q, mode="subscribe"):
            return request(client, mode, callback, topic=f"{ALL}?q={q}")

        assert ask("http://hooks.example.invalid/a", "eins").status_code == 202
        assert ask("http://HOOKS.example.invalid:8080/b", "zwei").status_code == 202  # the same host, however written
        refused = ask("http://user@hooks.example.invalid/c", "drei")
        assert refused.status_code == 429 and refused.json()["detail"]["reason"] == "too_many_for_host"
        assert "Callback-Host hooks.example.invalid" in refused.json()["detail"]["message"]
        assert ask("http://hooks.example.invalid/a", "eins").status_code == 202  # a renewal is no new subscription
        assert ask("http://other.example.invalid/", "eins").status_code == 202  # another host: the third of three
        full = ask("http://third.example.invalid/", "eins")
        assert full.status_code == 503 and full.json()["detail"]["reason"] == "hub_full"
        assert ask("http://hooks.example.invalid/a", "eins", mode="unsubscribe").status_code == 202  # leaving is always possible

        # refused requests hold no place: a denied one frees its host's slot, and expire() clears it after a day
        denied = session.get(WebSubSubscription, queue.verify[1])
        denied.state, denied.pending_mode, denied.created_at = "denied", None, utcnow() - timedelta(days=2)
        session.commit()
        assert ask("http://third.example.invalid/", "eins").status_code == 202
        assert websub.expire(session) == 1 and session.get(WebSubSubscription, queue.verify[1]) is None
    assert session.query(WebSubSubscription).count() == 3


def test_each_client_address_has_a_request_budget(limited_hub, subscriber):
    with limited_hub(websub_rate_limit=3) as (client, _queue):
        for _ in range(3):
            assert request(client, "subscribe", subscriber.url, topic=ALL).status_code == 202
        refused = request(client, "subscribe", subscriber.url, topic=ALL)
        assert refused.status_code == 429 and refused.json()["detail"]["reason"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1 and "zu viele Anfragen" in refused.json()["detail"]["message"]
        other = TestClient(client.app, client=("127.0.0.9", 40000))  # another client address, in process (no connection)
        assert request(other, "subscribe", subscriber.url, topic=ALL).status_code == 202


def test_publish_pings_are_coalesced_into_one_fanout_per_interval(limited_hub):
    with limited_hub(websub_publish_interval=30.0, websub_rate_limit=0) as (client, queue):
        for _ in range(50):
            assert client.post("/websub", data={"hub.mode": "publish", "hub.url": ALL}).status_code == 202
    # the first ping's fan-out runs now; the other 49 share one fan-out when the interval has passed
    assert queue.fanouts == 2 and queue.countdowns[0] == 0 and 29 < queue.countdowns[1] <= 30


def test_coalescer_runs_at_most_once_per_interval_and_loses_no_trigger():
    now = [100.0]
    throttle = Coalescer(10.0, clock=lambda: now[0])
    assert throttle.trigger() == 0  # runs at 100
    now[0] = 103
    assert throttle.trigger() == 7  # runs at 110, after this trigger
    now[0] = 105
    assert throttle.trigger() is None  # the run at 110 covers it
    now[0] = 111
    assert throttle.trigger() == 9  # the run at 110 may have started before this change: one more at 120
    now[0] = 200
    assert throttle.trigger() == 0


def test_fanout_renders_only_the_feeds_that_changed(runtime, session, topics, server):
    """The fan-out's cost follows the changed feeds: twenty idle search topics cost nothing per tick."""
    poll_all(runtime, session, server)
    later = utcnow() + timedelta(days=1)
    searches = [f"{ALL}?q=nirgends-{i}" for i in range(20)]
    for topic in [ALL, *searches]:
        session.add(
            WebSubSubscription(callback="http://hooks.example.invalid/", topic=topic, state="active", lease_seconds=600, expires_at=later)
        )
    session.commit()
    statements = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    versions = websub.TopicVersions()
    public_url = runtime.settings.public_url

    started = time.perf_counter()
    assert len(websub.changed(session, public_url, versions)) == 21 and versions.renders == 21  # nothing known yet
    first = time.perf_counter() - started
    statements.clear()
    started = time.perf_counter()
    assert len(websub.changed(session, public_url, versions)) == 21 and versions.renders == 21  # still undelivered, but not rendered
    print(f"fan-out over 21 topics: {first * 1000:.0f} ms rendering each, {(time.perf_counter() - started) * 1000:.1f} ms unchanged")
    assert len(statements) <= 3, statements  # the archive's stamp and the subscriptions: no query per topic

    add_regensburg(runtime, session, server)  # changes the all feed; no search matches it
    statements.clear()
    assert len(websub.changed(session, public_url, versions)) == 21
    assert versions.renders == 22  # only the all feed is rendered again; each search is one aggregate query


# ---------------------------------------------------------------- malformed requests: a 4xx up front, never a 500 or a stuck row


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"hub.lease_seconds": "²"}, "invalid_lease"),  # str.isdigit() says yes, int() says no
        ({"hub.lease_seconds": "9" * 5000}, "invalid_lease"),  # more digits than int() converts
        ({"hub.lease_seconds": "１２"}, "invalid_lease"),  # fullwidth digits
        ({"hub.callback": "http://127.0.0.1:9/hook\x00x"}, "invalid_callback"),  # the fetcher would refuse it later: pending for ever
        ({"hub.callback": "http://127.0.0.1:99999/hook"}, "invalid_callback"),
        ({"hub.callback": "http://[::1/hook"}, "invalid_callback"),
        ({"hub.callback": "http://127.0.0.1:9/" + "x" * 2000}, "too_long"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/all.xyz"}, "unknown_topic"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/all"}, "unknown_topic"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/all.rss?before=20261124T100000.000000Z-7"}, "unknown_topic"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/all.rss?utm=" + "x" * 50}, "unknown_topic"),
        ({"hub.topic": "http://127.0.0.1:8000/feeds/topics/it-sicherheit.atom#oben"}, "unknown_topic"),
    ],
)
def test_malformed_requests_are_refused_up_front_in_german(hub, session, subscriber, data, reason):
    client, queue = hub
    response = client.post("/websub", data={"hub.mode": "subscribe", "hub.callback": subscriber.url, "hub.topic": TOPIC, **data})
    assert response.status_code == 400 and response.json()["detail"]["reason"] == reason, response.text
    message = response.json()["detail"]["message"]
    assert any(word in message for word in ("muss", "dürfen")) and " is " not in message, message
    assert queue.verify == [] and session.query(WebSubSubscription).count() == 0


def test_real_feed_urls_with_their_filters_are_topics(hub):
    client, queue = hub
    for topic in [
        ALL,
        TOPIC,
        "http://127.0.0.1:8000/feeds/all.json?city=muenchen,augsburg&q=Rathaus",
        "http://127.0.0.1:8000/feeds/all.atom?topic=it-sicherheit",
    ]:
        assert request(client, "subscribe", "http://hooks.example.invalid/", topic=topic).status_code == 202, topic
    assert len(queue.verify) == 4
