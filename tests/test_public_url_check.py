"""The check that SYNDICATE_PUBLIC_URL is how the API is reached (syndicate/web/publicurl.py): logged once per
process, shown on /ops; the operator's own paths (/ops, /metrics) reached on a loopback port do not count."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from syndicate.web.app import create_app
from syndicate.web.publicurl import PublicUrlCheck, origin


def test_origins_compare_scheme_host_and_port():
    assert origin("https", "Feeds.Example.org") == origin("https", "feeds.example.org:443")
    assert origin("http", "127.0.0.1:8000") != origin("http", "127.0.0.1:8201")
    assert origin("http", "feeds.example.org") != origin("https", "feeds.example.org")


def test_a_reader_reaching_another_address_is_logged_once_and_shown_on_ops(settings, runtime, caplog):
    app = create_app(settings.model_copy(update={"public_url": "http://127.0.0.1:8000", "ops_allow_networks": "testclient"}))
    with caplog.at_level(logging.WARNING, logger="syndicate.web"):
        with TestClient(app, base_url="http://127.0.0.1:8000") as right:
            right.get("/")
            assert 'id="public-url"' not in right.get("/ops").text
        with TestClient(app, base_url="http://127.0.0.1:8201") as wrong:
            wrong.get("/ops")  # the operator's path: not counted
            assert app.state.public_url_check.mismatch is None
            for _ in range(3):
                wrong.get("/")
            page = wrong.get("/ops").text
    lines = [r.getMessage() for r in caplog.records if "SYNDICATE_PUBLIC_URL=" in r.getMessage()]
    assert len(lines) == 1 and "does not match how this API is reached: http://127.0.0.1:8201" in lines[0], lines
    assert 'id="public-url"' in page and "http://127.0.0.1:8201" in page and "SYNDICATE_PUBLIC_URL" in page


def test_behind_a_proxy_the_forwarded_scheme_and_host_count():
    check = PublicUrlCheck("https://feeds.example.org")
    check.observe("https", "feeds.example.org")
    assert check.mismatch is None
    check.observe("http", "feeds.example.org")
    assert check.mismatch == "http://feeds.example.org"
