"""One press release from three cities under three URLs, served by a local feed server (a fixture
plugin): the stories that the dedupe, publish, web and WebSub tests read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.ingest.refresh import refresh_source
from syndicate.models import Source
from tests.conftest import FeedServer, make_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "refresh"
PHISHING = "Warnung vor Phishing-Mails im Namen des Freistaats"
CITIES = [  # (slug, name, fixture, path); polled in this order, the earliest publisher last
    ("muenchen", "Landeshauptstadt München", "muenchen.xml", "/muenchen.xml"),
    ("nuernberg", "Stadt Nürnberg", "nuernberg.xml", "/nuernberg.xml"),
    ("augsburg", "Stadt Augsburg", "augsburg.atom", "/augsburg.atom"),
]


def fixture(name: str) -> bytes:
    """A feed document of tests/fixtures/refresh."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def server():
    """A feed server with the three cities' feeds, one per test module."""
    server = FeedServer()
    for _slug, _name, name, path in CITIES:
        server.add(path, fixture(name), headers={"Content-Type": "application/xml"})
    yield server
    server.close()


def poll_all(runtime, session, server) -> dict[str, Source]:
    """Register and poll the three cities' feeds, in the order of ``CITIES``."""
    sources = {}
    for slug, name, _fixture, path in CITIES:
        source = make_source(session, server.url(path), city=slug, name=name)
        outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
        assert outcome.status == "new", outcome
        sources[slug] = source
    session.expire_all()
    return sources
