"""Helpers for the operator tests: a healthy and a failing source polled for real against the
local feed server, the app with chosen settings, and a reader for the Prometheus text format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from syndicate.clock import utcnow
from syndicate.ingest.refresh import refresh_source
from syndicate.web.app import create_app
from tests.conftest import make_source
from tests.support.api_fixtures import rss

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
NEWS = ["Neue Radwege in der Altstadt", "Bürgerbüro mit längeren Öffnungszeiten", "Stadtrat tagt öffentlich"]


@dataclass
class Polled:
    ok_id: int
    failing_id: int


def serve(feed_server) -> None:
    start = (utcnow() - timedelta(hours=len(NEWS) + 1)).replace(microsecond=0)
    feed_server.add("/rathaus.xml", rss("Stadt Fürth – Pressemitteilungen", NEWS, "fuerth", start=start), headers=RSS, etag='"v1"')
    feed_server.add("/kaputt.xml", b"Wartungsarbeiten", status=500)


def poll(runtime, session, source_id: int):
    return refresh_source(session, runtime.client, source_id, runtime.refresh_config)


def healthy_and_failing(runtime, session, feed_server) -> Polled:
    """Two sources of Fürth: one polled fine (3 articles), one answering 500."""
    serve(feed_server)
    ok = make_source(session, feed_server.url("/rathaus.xml"), city="fuerth", name="Stadt Fürth")
    failing = make_source(session, feed_server.url("/kaputt.xml"), city="fuerth", name="Stadt Fürth")
    assert poll(runtime, session, ok.id).status == "new"
    assert poll(runtime, session, failing.id).reason == "http_5xx"
    return Polled(ok.id, failing.id)


def client(settings, **overrides) -> TestClient:
    """The app on these settings; TestClient's client address is "testclient", allowed unless overridden."""
    values = {"ops_allow_networks": "testclient", **overrides}
    return TestClient(create_app(settings.model_copy(update=values)))


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, keyed by (sample name, labels); parsed by prometheus_client."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float | None:
    return found.get((name, frozenset(labels.items())))


def rows(html: str) -> dict[int, str]:
    """Source id → state, from the dashboard's table rows."""
    return {int(i): state for i, state in re.findall(r'<tr data-source="(\d+)" data-state="(\w+)"', html)}


def card(html: str, key: str) -> str:
    match = re.search(rf'data-key="{key}"><span class="num">([^<]*)</span>', html)
    assert match, f"no summary card {key}"
    return match.group(1)
