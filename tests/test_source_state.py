"""One model of a source's state: the API, /ops, ``syndicate status`` and ``syndicate sources list`` say the same."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from syndicate.clock import utcnow
from syndicate.models import City, Source
from syndicate.ops.states import STATES
from syndicate.web.schemas import SourceHealth
from tests.support.api_fixtures import RSS_TYPE, add_source, rss
from tests.support.cli import json_lines, syndicate
from tests.support.ops_fixtures import client, poll, rows


@pytest.mark.slow  # starts child processes
def test_every_surface_shows_the_same_state(api, settings, runtime, session, feed_server):
    feed_server.add("/ok.xml", rss("Pressemitteilungen", ["Eine Meldung"]), headers=RSS_TYPE)
    feed_server.add("/weg.xml", b"nicht gefunden", status=404)
    feed_server.add("/kaputt.xml", b"Wartungsarbeiten", status=500)
    muenchen = session.query(City).filter_by(slug="muenchen").one()
    ids = {name: add_source(session, muenchen, feed_server.url(f"/{name}.xml")).id for name in ("ok", "weg", "kaputt", "neu")}
    for name in ("ok", "weg", "kaputt"):
        poll(runtime, session, ids[name])
    # failing for longer than the alert threshold: broken (a city saw "failing" here before)
    long_ago = utcnow() - timedelta(seconds=settings.ops_failing_alert_after + 60)
    session.execute(update(Source).where(Source.id == ids["kaputt"]).values(first_error_at=long_ago))
    session.commit()
    expected = {ids["ok"]: "ok", ids["weg"]: "gone", ids["kaputt"]: "broken", ids["neu"]: "new"}

    through_api = {row["id"]: row["health"]["status"] for row in api.call("GET", "/api/v1/cities/muenchen/sources", "muenchen").json()}
    with client(settings) as c:
        through_ops = rows(c.get("/ops").text)
    listed = syndicate(settings, "sources", "list", "--json")
    through_list = {line["id"]: line["health"] for line in json_lines(listed.stdout)}
    status = syndicate(settings, "status", "--json")
    summary = json.loads(status.stdout)

    assert through_api == through_ops == through_list == expected, listed.stderr
    assert summary["sources"] == {"ok": 1, "gone": 1, "broken": 1, "new": 1}
    assert {problem["id"]: problem["state"] for problem in summary["failing"]} == {ids["weg"]: "gone", ids["kaputt"]: "broken"}
    assert status.returncode == 1


def test_the_api_schema_names_every_state():
    schema = SourceHealth.model_json_schema()["properties"]["status"]
    assert tuple(schema["enum"]) == STATES
    assert all(f"{state}:" in schema["description"] for state in STATES)
