"""/api/v1 against the real app, the test database and a local feed server on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import uuid
from datetime import timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syndicate.access import tokens
from syndicate.clock import utcnow
from syndicate.ingest.refresh import refresh_source
from syndicate.models import ApiToken, Article, AuditEntry, City, FetchLog, Source
from syndicate.reader.errors import EmptyDocument, MalformedFeed
from syndicate.sources import registry
from syndicate.web.app import create_app
from tests.conftest import ROOT, cli_env
from tests.support import processes
from tests.support.api_fixtures import RSS_TYPE, add_source, build_api, make_city, rss

HTML_PAGE = """<!doctype html><html><head><title>Pressestelle</title>
<base href="/presse/">
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="rss.xml">
<link rel="alternate" type="application/atom+xml" title="Atom" href="https://muenchen.example/atom.xml">
<link rel="alternate" type="text/html" hreflang="en" href="/en/">
<link rel="alternate feed" type="application/feed+json" href="feed.json">
</head><body><a href="rss.xml">RSS</a></body></html>"""


def serve_feed(feed_server, path: str = "/presse.xml", items: list[str] | None = None, title: str = "Pressemitteilungen München"):
    items = items if items is not None else ["Erste Meldung", "Zweite Meldung", "Dritte Meldung", "Vierte Meldung"]
    return feed_server.add(path, rss(title, items), headers=RSS_TYPE)


def problem(response, status: int, reason: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["reason"] == reason and body["status"] == status and body["message"]
    return body


def city_id(session, slug: str) -> int:
    return session.scalar(select(City.id).where(City.slug == slug))


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "header, reason",
    [
        (None, "missing_token"),
        ("Bearer syn_unbekannt", "invalid_token"),
        ("Basic dXNlcjpwYXNz", "missing_token"),
        ("Bearer ", "missing_token"),
    ],
)
def test_missing_or_bad_token_is_401(api, header, reason):
    headers = {"Authorization": header} if header else {}
    answer = api.client.get("/api/v1/cities/muenchen/sources", headers=headers)
    problem(answer, 401, reason)
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_revoked_token_is_401(api, session):
    token, secret = tokens.create(session, city="muenchen")
    assert api.client.get("/api/v1/cities/muenchen/sources", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    tokens.revoke(session, token.id)
    problem(api.client.get("/api/v1/cities/muenchen/sources", headers={"Authorization": f"Bearer {secret}"}), 401, "invalid_token")


def test_rate_limit_per_token_answers_429_with_retry_after(settings, runtime, topics):
    api = build_api(settings.model_copy(update={"api_rate_limit": 3}), runtime)
    with api.client:
        for _ in range(3):
            assert api.call("GET", "/api/v1/cities/muenchen/sources", "muenchen").status_code == 200
        answer = api.call("GET", "/api/v1/cities/muenchen/sources", "muenchen")
        problem(answer, 429, "rate_limited")
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert api.call("GET", "/api/v1/cities/augsburg/sources", "augsburg").status_code == 200  # per token


# ---------------------------------------------------------------- list, read


def test_list_shows_own_sources_with_health(api, session):
    muenchen, augsburg = session.get(City, city_id(session, "muenchen")), session.get(City, city_id(session, "augsburg"))
    ok = add_source(session, muenchen, "https://muenchen.example/rss.xml", last_success_at=utcnow())
    failing = add_source(
        session,
        muenchen,
        "https://muenchen.example/kaputt.xml",
        origin="file",
        registry_file="feeds/muenchen.toml",
        error_count=3,
        last_error_reason="http_404",
        last_error_message="HTTP 404",
        last_http_status=404,
    )
    add_source(session, augsburg, "https://augsburg.example/rss.xml")
    answer = api.call("GET", "/api/v1/cities/muenchen/sources", "muenchen")
    assert answer.status_code == 200
    rows = {row["id"]: row for row in answer.json()}
    assert set(rows) == {ok.id, failing.id}
    assert rows[ok.id]["health"]["status"] == "ok" and rows[ok.id]["origin"] == "api"
    health = rows[failing.id]["health"]
    assert (health["status"], health["error_count"], health["last_error_reason"], health["last_http_status"]) == (
        "gone",  # the same state as /ops and the CLI show (syndicate.ops.states)
        3,
        "http_404",
        404,
    )
    assert health["next_check_at"] and rows[failing.id]["registry_file"] == "feeds/muenchen.toml"
    single = api.call("GET", f"/api/v1/sources/{failing.id}", "muenchen").json()
    assert single == rows[failing.id]


def test_operator_sees_and_manages_every_city(api, session):
    source = add_source(session, session.get(City, city_id(session, "augsburg")), "https://augsburg.example/rss.xml")
    assert [r["id"] for r in api.call("GET", "/api/v1/cities/augsburg/sources", "operator").json()] == [source.id]
    changed = api.call("PATCH", f"/api/v1/sources/{source.id}", "operator", json={"title": "Stadt Augsburg"})
    assert changed.status_code == 200 and changed.json()["title"] == "Stadt Augsburg"


def test_fetch_log_newest_first(api, session, runtime, feed_server):
    serve_feed(feed_server)
    source = add_source(session, session.get(City, city_id(session, "muenchen")), feed_server.url("/presse.xml"))
    refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    feed_server.routes["/presse.xml"].status = 500
    refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=utcnow() + timedelta(hours=1))
    answer = api.call("GET", f"/api/v1/sources/{source.id}/fetches", "muenchen")
    assert answer.status_code == 200
    rows = answer.json()
    assert [(r["status"], r["new_items"], r["reason"]) for r in rows] == [("error", 0, "http_5xx"), ("new", 4, None)]
    assert rows[1]["http_status"] == 200 and rows[1]["bytes"] > 0
    assert [(r["repeats"], r["last_started_at"] == r["started_at"]) for r in rows] == [(1, True), (1, True)]
    health = api.call("GET", f"/api/v1/sources/{source.id}", "muenchen").json()["health"]
    assert health["status"] == "failing" and health["last_error_reason"] == "http_5xx" and health["last_success_at"]
    feed_server.routes["/presse.xml"].status = 200
    for hours in (2, 3):  # the same body twice: one "unchanged" row, two attempts
        refresh_source(session, runtime.client, source.id, runtime.refresh_config, now=utcnow() + timedelta(hours=hours))
    newest = api.call("GET", f"/api/v1/sources/{source.id}/fetches?limit=1", "muenchen").json()
    assert [(r["status"], r["repeats"]) for r in newest] == [("unchanged", 2)]
    assert newest[0]["last_started_at"] > newest[0]["started_at"]


# ---------------------------------------------------------------- create


def test_create_validates_previews_audits_and_enqueues_after_commit(api, session, feed_server):
    route = serve_feed(feed_server)
    body = {"url": feed_server.url("/presse.xml"), "title": "Presse", "default_topics": ["digitalisierung"], "min_interval": 600}
    answer = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json=body)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["preview"] == {
        "feed_title": "Pressemitteilungen München",
        "format": "rss20",
        "item_count": 4,
        "latest_titles": ["Vierte Meldung", "Dritte Meldung", "Zweite Meldung"],
        "final_url": feed_server.url("/presse.xml"),
        "site_url": "https://pm.example/",
    }
    source = created["source"]
    assert (source["city"], source["origin"], source["title"], source["default_topics"], source["min_interval"]) == (
        "muenchen",
        "api",
        "Presse",
        ["digitalisierung"],
        600,
    )
    assert source["health"]["status"] == "new" and created["refresh_queued"] is True and created["warning"] is None
    assert route.hits == 1
    assert api.queue.sent == [source["id"]] and api.queue.visible == [True]  # enqueued after the commit
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "source.create"))
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.city_id == city_id(session, "muenchen")))
    assert (entry.target_id, entry.token_id, entry.actor) == (source["id"], token_id, f"token:{token_id} city:muenchen")
    assert entry.before is None and entry.after["url"] == body["url"] and entry.after["title"] == "Presse"


def test_create_when_the_broker_is_down_leaves_the_source_due_for_beat(api, session, feed_server):
    serve_feed(feed_server)
    api.queue.fail = True
    answer = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url("/presse.xml")})
    assert answer.status_code == 201 and answer.json()["refresh_queued"] is False
    source = session.get(Source, answer.json()["source"]["id"])
    assert source.next_check_at <= utcnow()


@pytest.mark.parametrize("variant", ["{url}", "{url}?utm_source=newsletter", "{url}#oben", "HTTP://127.0.0.1:{port}/presse.xml"])
def test_create_refuses_a_registered_canonical_url_naming_the_source(api, session, feed_server, variant):
    serve_feed(feed_server)
    url = feed_server.url("/presse.xml")
    registry_file = "/srv/syndicate/feeds/augsburg.toml"  # an absolute path on the server, as sync stores it
    existing = add_source(session, session.get(City, city_id(session, "augsburg")), url, origin="file", registry_file=registry_file)
    posted = {"url": variant.format(url=url, port=feed_server.port)}
    for_operator = problem(api.call("POST", "/api/v1/cities/muenchen/sources", "operator", json=posted), 409, "already_registered")
    for_owner = problem(api.call("POST", "/api/v1/cities/augsburg/sources", "augsburg", json=posted), 409, "already_registered")
    for_other = problem(api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json=posted), 409, "already_registered")
    for body in (for_operator, for_owner):
        assert body["existing"] == {"id": existing.id, "city": "augsburg", "url": url, "origin": "file", "registry_file": registry_file}
        assert str(existing.id) in body["message"] and registry_file in body["message"]
    # another participant learns only that the address is taken: no id, city, URL or path of the server
    assert for_other["message"] == "diese Adresse ist bereits von einem anderen Teilnehmer registriert" and "existing" not in for_other
    assert not {str(existing.id), "augsburg", url, registry_file} & set(re.findall(r"[^\s,]+", for_other["message"]))
    assert session.scalar(select(func.count(Source.id))) == 1 and api.queue.sent == []


def test_create_refuses_a_url_that_redirects_to_a_registered_feed(api, session, feed_server):
    serve_feed(feed_server)
    existing = add_source(session, session.get(City, city_id(session, "muenchen")), feed_server.url("/presse.xml"))
    feed_server.add("/alt.xml", status=301, headers={"Location": "/presse.xml"})
    body = problem(
        api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url("/alt.xml")}),
        409,
        "already_registered",
    )
    assert body["existing"]["id"] == existing.id


def test_not_a_feed_is_refused_with_its_reason_unless_forced(api, session, feed_server):
    feed_server.add("/presse/", HTML_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    url = feed_server.url("/presse/")
    body = problem(api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": url}), 422, "not_a_feed")
    assert url in body["message"] and feed_server.url("/presse/rss.xml") in body["message"]  # names the advertised feeds
    assert session.scalar(select(func.count(Source.id))) == 0
    forced = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": url, "force": True})
    assert forced.status_code == 201
    assert forced.json()["preview"] is None and forced.json()["warning"]["reason"] == "not_a_feed"


@pytest.mark.parametrize(
    "path, reason", [("/fehlt.xml", "http_404"), ("/leer.xml", EmptyDocument.reason), ("/kaputt.json", MalformedFeed.reason)]
)
def test_failing_test_fetch_is_refused_with_its_reason(api, session, feed_server, path, reason):
    feed_server.add("/leer.xml", "", headers=RSS_TYPE)
    feed_server.add("/kaputt.json", "{not json", headers={"Content-Type": "application/feed+json"})
    problem(api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url(path)}), 422, reason)
    assert session.scalar(select(func.count(Source.id))) == 0


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://127.0.0.1/feed.xml", "invalid_url"),
        ("javascript:alert(1)", "invalid_url"),
        ("/relative/feed.xml", "invalid_url"),
        ("http://127.0.0.2:{port}/presse.xml", "blocked_address"),  # loopback, but not in the allow-list
        ("http://127.0.0.1:{port}/redirect-out", "blocked_address"),  # the policy holds on every hop
    ],
)
@pytest.mark.parametrize("force", [False, True])
def test_address_policy_and_scheme_are_never_forced(api, session, feed_server, url, reason, force):
    serve_feed(feed_server)
    feed_server.add("/redirect-out", status=302, headers={"Location": f"http://127.0.0.2:{feed_server.port}/presse.xml"})
    answer = api.call(
        "POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": url.format(port=feed_server.port), "force": force}
    )
    problem(answer, 422, reason)
    assert session.scalar(select(func.count(Source.id))) == 0 and api.queue.sent == []


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"url": "URL", "default_topics": ["gibt-es-nicht"]}, "unknown_topic"),
        ({"url": "URL", "min_interval": 3600, "max_interval": 600}, "invalid_request"),
        ({"url": "URL", "min_interval": 10}, "invalid_request"),
        ({"url": "URL", "title": "Zeile\nzwei"}, "invalid_request"),
        ({"url": "URL", "colour": "blau"}, "invalid_request"),
        ({"title": "ohne URL"}, "invalid_request"),
    ],
)
def test_create_validates_the_body(api, session, feed_server, body, reason):
    serve_feed(feed_server)
    body = {k: feed_server.url("/presse.xml") if v == "URL" else v for k, v in body.items()}
    problem(api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json=body), 422, reason)
    assert session.scalar(select(func.count(Source.id))) == 0


def test_create_for_an_unknown_city_is_404(api, feed_server):
    serve_feed(feed_server)
    problem(
        api.call("POST", "/api/v1/cities/nirgendwo/sources", "operator", json={"url": feed_server.url("/presse.xml")}),
        404,
        "city_not_found",
    )
    assert feed_server.routes["/presse.xml"].hits == 0


# ---------------------------------------------------------------- update, retire, file-managed


def test_update_changes_fields_and_audits_before_and_after(api, session):
    source = add_source(session, session.get(City, city_id(session, "muenchen")), "https://muenchen.example/rss.xml", title="Alt")
    answer = api.call(
        "PATCH",
        f"/api/v1/sources/{source.id}",
        "muenchen",
        json={"title": "Neu", "default_topics": ["klimaschutz"], "min_interval": 900, "max_interval": 7200},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["title"], answer.json()["default_topics"], answer.json()["max_interval"]) == ("Neu", ["klimaschutz"], 7200)
    cleared = api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", json={"title": None, "max_interval": None}).json()
    assert cleared["title"] is None and cleared["max_interval"] is None and cleared["min_interval"] == 900
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "source.update").order_by(AuditEntry.id)).all()
    assert [(e.before["title"], e.after["title"]) for e in entries] == [("Alt", "Neu"), ("Neu", None)]
    assert entries[0].before["default_topics"] == [] and entries[0].after["default_topics"] == ["klimaschutz"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"default_topics": ["gibt-es-nicht"]}, "unknown_topic"),
        ({"max_interval": 120}, "invalid_interval"),
        ({"enabled": None}, "invalid_request"),
        ({"url": "https://anders.example/"}, "invalid_request"),
    ],
)
def test_update_validates(api, session, body, reason):
    source = add_source(session, session.get(City, city_id(session, "muenchen")), "https://muenchen.example/rss.xml", min_interval=600)
    problem(api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", json=body), 422, reason)
    session.refresh(source)
    assert (source.default_topics, source.max_interval, source.enabled) == ([], None, True)


def test_disable_and_enable_through_patch(api, session):
    source = add_source(
        session,
        session.get(City, city_id(session, "muenchen")),
        "https://muenchen.example/rss.xml",
        next_check_at=utcnow() + timedelta(days=1),
    )
    assert api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", json={"enabled": False}).json()["health"]["status"] == "disabled"
    enabled = api.call("PATCH", f"/api/v1/sources/{source.id}", "muenchen", json={"enabled": True}).json()
    assert enabled["enabled"] is True
    session.refresh(source)
    assert source.next_check_at <= utcnow()  # due with the next beat tick


def test_retire_stops_polling_and_keeps_articles(api, session, runtime, feed_server):
    serve_feed(feed_server)
    source = add_source(session, session.get(City, city_id(session, "muenchen")), feed_server.url("/presse.xml"))
    refresh_source(session, runtime.client, source.id, runtime.refresh_config)
    answer = api.call("DELETE", f"/api/v1/sources/{source.id}", "muenchen")
    assert answer.status_code == 200 and answer.json()["enabled"] is False and answer.json()["health"]["status"] == "disabled"
    assert session.scalar(select(func.count(Article.id)).where(Article.source_id == source.id)) == 4
    assert "Vierte Meldung" in api.client.get("/feeds/all.atom").text
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "source.retire"))
    assert entry.before["enabled"] is True and entry.after["enabled"] is False
    again = problem(
        api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url("/presse.xml")}),
        409,
        "already_registered",
    )
    assert again["existing"]["id"] == source.id


@pytest.mark.parametrize("method, body", [("PATCH", {"title": "Neu"}), ("DELETE", None)])
def test_file_managed_sources_are_read_only(api, session, method, body):
    source = add_source(
        session,
        session.get(City, city_id(session, "muenchen")),
        "https://muenchen.example/rss.xml",
        origin="file",
        registry_file="feeds/muenchen.toml",
        title="Aus der Datei",
    )
    answer = api.call(method, f"/api/v1/sources/{source.id}", "muenchen", json=body)
    assert problem(answer, 409, "file_managed")["registry_file"] == "feeds/muenchen.toml"
    assert "feeds/muenchen.toml" in answer.json()["message"]
    session.refresh(source)
    assert (source.title, source.enabled) == ("Aus der Datei", True)
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action.like("source.%"))) == 0


# ---------------------------------------------------------------- refresh


def test_refresh_at_most_every_five_minutes(api, session):
    source = add_source(
        session,
        session.get(City, city_id(session, "muenchen")),
        "https://muenchen.example/rss.xml",
        origin="file",
        registry_file="feeds/muenchen.toml",
        next_check_at=utcnow() + timedelta(hours=1),
    )
    answer = api.call("POST", f"/api/v1/sources/{source.id}/refresh", "muenchen")
    assert answer.status_code == 202 and answer.json()["queued"] is True
    assert api.queue.sent == [source.id] and api.queue.visible == [True]
    again = api.call("POST", f"/api/v1/sources/{source.id}/refresh", "muenchen")
    problem(again, 429, "refresh_too_soon")
    assert 290 <= int(again.headers["retry-after"]) <= 300
    assert api.queue.sent == [source.id]
    session.refresh(source)
    source.last_manual_refresh_at = utcnow() - timedelta(minutes=5, seconds=1)
    session.commit()
    assert api.call("POST", f"/api/v1/sources/{source.id}/refresh", "operator").status_code == 202
    assert api.queue.sent == [source.id, source.id]
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "source.refresh")) == 2


def test_refresh_of_a_disabled_source_is_409(api, session):
    source = add_source(session, session.get(City, city_id(session, "muenchen")), "https://muenchen.example/rss.xml", enabled=False)
    problem(api.call("POST", f"/api/v1/sources/{source.id}/refresh", "muenchen"), 409, "source_disabled")
    assert api.queue.sent == []


# ---------------------------------------------------------------- discovery


def test_discover_returns_the_advertised_feeds(api, feed_server):
    feed_server.add("/presse/", HTML_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    answer = api.call("POST", "/api/v1/discover", "muenchen", json={"url": feed_server.url("/presse/")})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "url": feed_server.url("/presse/"),
        "feeds": [
            {"url": feed_server.url("/presse/rss.xml"), "title": "Pressemitteilungen", "type": "rss"},
            {"url": "https://muenchen.example/atom.xml", "title": "Atom", "type": "atom"},
            {"url": feed_server.url("/presse/feed.json"), "title": None, "type": "json"},
        ],
    }


def test_discover_on_a_feed_returns_the_feed_itself(api, feed_server):
    serve_feed(feed_server)
    feed_server.add("/umzug", status=301, headers={"Location": "/presse.xml"})
    answer = api.call("POST", "/api/v1/discover", "augsburg", json={"url": feed_server.url("/umzug")})
    assert answer.json() == {
        "url": feed_server.url("/presse.xml"),
        "feeds": [{"url": feed_server.url("/presse.xml"), "title": "Pressemitteilungen München", "type": "rss"}],
    }


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.2:{port}/presse/", "blocked_address"),
        ("file:///etc/passwd", "invalid_url"),
        ("http://127.0.0.1:{port}/fehlt", "http_404"),
    ],
)
def test_discover_goes_through_the_fetcher_and_address_policy(api, feed_server, url, reason):
    feed_server.add("/presse/", HTML_PAGE, headers={"Content-Type": "text/html"})
    problem(api.call("POST", "/api/v1/discover", "muenchen", json={"url": url.format(port=feed_server.port)}), 422, reason)
    assert feed_server.routes["/presse/"].hits == 0


# ---------------------------------------------------------------- audit


def test_audit_is_for_operators_and_shows_who_what_when(api, session):
    source = add_source(session, session.get(City, city_id(session, "augsburg")), "https://augsburg.example/rss.xml")
    api.call("PATCH", f"/api/v1/sources/{source.id}", "augsburg", json={"title": "Augsburg aktuell"})
    problem(api.call("GET", "/api/v1/audit", "augsburg"), 403, "operator_only")
    rows = api.call("GET", "/api/v1/audit?city=augsburg&action=source.update", "operator").json()
    assert len(rows) == 1
    row = rows[0]
    assert row["actor"].endswith("city:augsburg") and row["token_id"] and row["at"]
    assert (row["city"], row["target_type"], row["target_id"]) == ("augsburg", "sources", source.id)
    assert (row["before"]["title"], row["after"]["title"]) == (None, "Augsburg aktuell")
    everything = api.call("GET", "/api/v1/audit?limit=200", "operator").json()
    assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True)
    older = api.call("GET", f"/api/v1/audit?before_id={everything[0]['id']}", "operator").json()
    assert [r["id"] for r in older] == [r["id"] for r in everything[1:]]


# ---------------------------------------------------------------- tenancy: city A's token against city B


def _state(session) -> dict:
    session.expire_all()
    columns = [c.name for c in Source.__table__.columns]
    return {
        "sources": [tuple(getattr(s, c) for c in columns) for s in session.scalars(select(Source).order_by(Source.id))],
        "audit": session.scalar(select(func.count(AuditEntry.id))),
        "fetches": session.scalar(select(func.count(FetchLog.id))),
        "articles": session.scalar(select(func.count(Article.id))),
        "tokens": [(t.id, t.revoked_at) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))],
    }


OPML_FOR = '<?xml version="1.0"?><opml version="2.0"><head/><body><outline type="rss" text="x" xmlUrl="{url}"/></body></opml>'
CROSS_TENANT = [
    ("GET", "/api/v1/cities/augsburg/sources", None),
    ("POST", "/api/v1/cities/augsburg/sources", "create"),
    ("GET", "/api/v1/sources/{api}", None),
    ("PATCH", "/api/v1/sources/{api}", {"title": "Übernommen", "enabled": False}),
    ("DELETE", "/api/v1/sources/{api}", None),
    ("POST", "/api/v1/sources/{api}/refresh", None),
    ("GET", "/api/v1/sources/{api}/fetches", None),
    ("GET", "/api/v1/sources/{file}", None),
    ("PATCH", "/api/v1/sources/{file}", {"title": "Übernommen"}),
    ("DELETE", "/api/v1/sources/{file}", None),
    ("POST", "/api/v1/sources/{file}/refresh", None),
    ("GET", "/api/v1/sources/{file}/fetches", None),
    ("GET", "/api/v1/cities/augsburg/opml", None),
    ("POST", "/api/v1/cities/augsburg/opml", "opml"),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/audit?city=augsburg", None),
]


@pytest.mark.parametrize("method, path, body", CROSS_TENANT, ids=[f"{m} {p}" for m, p, _ in CROSS_TENANT])
def test_a_city_token_never_touches_another_city(api, session, runtime, feed_server, method, path, body):
    augsburg = session.get(City, city_id(session, "augsburg"))
    serve_feed(feed_server, "/augsburg.xml")
    serve_feed(feed_server, "/neu.xml")
    own = add_source(session, augsburg, feed_server.url("/augsburg.xml"), title="Augsburg")
    managed = add_source(session, augsburg, "https://augsburg.example/rss.xml", origin="file", registry_file="feeds/augsburg.toml")
    refresh_source(session, runtime.client, own.id, runtime.refresh_config)
    before, hits = _state(session), feed_server.routes["/neu.xml"].hits
    kwargs = {}
    if body == "create":
        kwargs["json"] = {"url": feed_server.url("/neu.xml"), "force": True}
    elif body == "opml":
        kwargs.update(content=OPML_FOR.format(url=feed_server.url("/neu.xml")), headers={"Content-Type": "text/x-opml"})
    elif body is not None:
        kwargs["json"] = body
    url = path.format(api=own.id, file=managed.id)
    answer = api.call(method, url, "muenchen", **kwargs)
    assert not 200 <= answer.status_code < 300, answer.text
    assert answer.status_code == (403 if "audit" in path else 404)
    assert _state(session) == before and api.queue.sent == [] and feed_server.routes["/neu.xml"].hits == hits
    if "{" in path and "/cities/" not in path:  # another city's source looks exactly like a missing one
        missing = api.call(method, path.format(api=999999, file=999999), "muenchen", **kwargs)
        assert (missing.status_code, missing.json()["reason"]) == (answer.status_code, answer.json()["reason"])
    if "/cities/augsburg" in path:
        missing = api.call(method, url.replace("augsburg", "nirgendwo"), "muenchen", **kwargs)
        assert (missing.status_code, missing.json()["reason"]) == (404, answer.json()["reason"]) == (404, "city_not_found")
    assert api.call("GET", f"/api/v1/sources/{own.id}", "augsburg").status_code == 200  # the owner still gets it


# ---------------------------------------------------------------- sources export → feeds/ TOML


@pytest.mark.slow
def test_sources_export_writes_registry_toml_that_sync_takes_over(api, settings, session):
    muenchen = session.get(City, city_id(session, "muenchen"))
    first = add_source(
        session,
        muenchen,
        "https://muenchen.example/rss.xml",
        title='Presse "aktuell" – München',
        default_topics=["digitalisierung", "klimaschutz"],
        min_interval=600,
        max_interval=7200,
    )
    second = add_source(session, muenchen, "https://muenchen.example/verkehr.xml", enabled=False)
    add_source(session, muenchen, "https://muenchen.example/datei.xml", origin="file", registry_file="feeds/muenchen.toml")
    add_source(session, session.get(City, city_id(session, "augsburg")), "https://augsburg.example/rss.xml")
    result = subprocess.run(
        [sys.executable, "-m", "syndicate.cli", "sources", "export", "--city", "muenchen"],
        env=cli_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    parsed = registry.CityFile.model_validate(tomllib.loads(result.stdout))
    assert parsed.city.slug == "muenchen" and parsed.city.name == "München"
    assert [(s.url, s.title, s.topics, s.enabled, s.min_interval, s.max_interval) for s in parsed.sources] == [
        (first.url, first.title, ["digitalisierung", "klimaschutz"], True, 600, 7200),
        (second.url, None, [], False, None, None),
    ]
    target = settings.feeds_dir / "muenchen.toml"
    written = subprocess.run(
        [sys.executable, "-m", "syndicate.cli", "sources", "export", "--city", "muenchen", "-o", str(target)],
        env=cli_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0 and target.read_text(encoding="utf-8") == result.stdout
    again = subprocess.run(
        [sys.executable, "-m", "syndicate.cli", "sources", "export", "--city", "muenchen", "-o", str(target)],
        env=cli_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and target.read_text(encoding="utf-8") == result.stdout  # never overwritten
    registry.sync(session, registry.load_registry(settings.feeds_dir))
    session.expire_all()
    taken = session.get(Source, first.id)
    assert (taken.origin, taken.registry_file, taken.title) == ("file", str(settings.feeds_dir / "muenchen.toml"), first.title)
    problem(api.call("PATCH", f"/api/v1/sources/{first.id}", "muenchen", json={"title": "x"}), 409, "file_managed")


# ---------------------------------------------------------------- end to end with a real worker


@pytest.mark.celery
def test_source_created_through_the_api_is_polled_by_a_worker_and_published(settings, runtime, topics, feed_server, tmp_path):
    from tests.test_celery_e2e import purge

    token = uuid.uuid4().hex[:8]
    feed_server.add("/e2e.xml", rss("Stadt Testhausen", [f"Ladesäulen {token}", f"Radweg {token}"], slug=token), headers=RSS_TYPE)
    with runtime.sessions() as session:
        make_city(session, "testhausen", "Stadt Testhausen")
        secret = tokens.create(session, city="testhausen")[1]
    purge(settings.broker_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    worker = processes.start(  # a worker only, no beat: the task the API sends is the only way in
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
            f"api-{token}@%h",
            "--loglevel",
            "INFO",
        ],
        cli_env(settings),
        tmp_path / "worker.log",
        ROOT,
    )
    try:
        with TestClient(create_app(settings)) as client:  # the real task queue, from settings.broker_url
            answer = client.post(
                "/api/v1/cities/testhausen/sources",
                json={"url": feed_server.url("/e2e.xml")},
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert answer.status_code == 201 and answer.json()["refresh_queued"] is True, answer.text

            def published():
                entries = feedparser.parse(client.get("/feeds/all.atom").content).entries
                return sorted(e.title for e in entries if token in e.title)

            found = processes.wait_for(published, timeout=60)
            log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
            assert found == [f"Ladesäulen {token}", f"Radweg {token}"], log
            assert "Stadt Testhausen" in client.get("/feeds/cities/testhausen.atom").text
    finally:
        processes.stop(worker)
        purge(settings.broker_url)
    with runtime.sessions() as session:
        logs = session.scalars(select(FetchLog)).all()
    assert [(row.status, row.new_items) for row in logs] == [("new", 2)]
