"""Fixtures and helpers for the /api/v1 tests: the app on the test database, a recording
task queue in place of the broker, cities with tokens, feeds for the local server.
A fixture plugin (tests/conftest.py names it in ``pytest_plugins``): test modules ask for ``api``
by name and import the helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from syndicate.access import tokens
from syndicate.models import City, Source
from syndicate.reader.normalise import canonical_url
from syndicate.runtime import Runtime
from syndicate.web.app import create_app

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(title: str, items: list[str], slug: str = "pm", start: datetime | None = None) -> str:
    """An RSS 2.0 document; item i is published i hours after ``start`` (so the last is the newest)."""
    start = start or datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    entries = "".join(
        f"<item><title>{name}</title><link>https://{slug}.example/{i}</link><guid>{slug}-{i}</guid>"
        f"<pubDate>{format_datetime(start + timedelta(hours=i))}</pubDate><description>Text zu {name}</description></item>"
        for i, name in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://{slug}.example/</link>{entries}</channel></rss>"
    )


class RecordingQueue:
    """Stands in for the Celery client; checks that the source is committed when it is enqueued."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.sent: list[int] = []
        self.visible: list[bool] = []
        self.fail = False

    def refresh(self, source_id: int) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        with self.runtime.sessions() as other:  # a separate connection sees only committed rows
            self.visible.append(other.get(Source, source_id) is not None)
        self.sent.append(source_id)


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    queue: RecordingQueue
    secrets: dict[str, str] = field(default_factory=dict)  # "muenchen" / "augsburg" / "operator" → secret

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def call(self, method: str, path: str, who: str | None = None, **kwargs):
        headers = {**(self.auth(who) if who else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def make_city(session, slug: str, name: str | None = None) -> City:
    city = session.scalar(select(City).where(City.slug == slug))
    if city is None:
        city = City(slug=slug, name=name or slug.capitalize(), kind="city")
        session.add(city)
        session.commit()
    return city


def add_source(session, city: City, url: str, origin: str = "api", **values) -> Source:
    source = Source(city_id=city.id, url=url, canonical_url=canonical_url(url), origin=origin, **values)
    session.add(source)
    session.commit()
    return source


def build_api(settings, runtime) -> Api:
    app = create_app(settings)
    queue = RecordingQueue(runtime)
    app.state.task_queue = queue
    api = Api(app, TestClient(app), queue)
    with runtime.sessions() as session:
        make_city(session, "muenchen", "München")
        make_city(session, "augsburg", "Augsburg")
        for who in ("muenchen", "augsburg"):
            api.secrets[who] = tokens.create(session, city=who)[1]
        api.secrets["operator"] = tokens.create(session)[1]
    return api


@pytest.fixture
def api(settings, runtime, topics):
    api = build_api(settings, runtime)
    with api.client:
        yield api
