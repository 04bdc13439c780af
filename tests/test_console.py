"""The console in the browser's place: sign-in and its session, CSRF, expiry, and the source pages, against
the real app, the test database and a loopback feed server."""

from __future__ import annotations

import ast
import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from syndicate.access import tokens
from syndicate.clock import utcnow
from syndicate.errors import MESSAGES, ServiceError, reason_message
from syndicate.models import ApiToken, Article, AuditEntry, City, ConsoleSession, FetchLog, Source
from syndicate.reader.errors import HTTPStatusError, SyndicateError
from syndicate.web import consoleview
from syndicate.web.app import create_app
from tests.conftest import ROOT
from tests.support.api_fixtures import RSS_TYPE, add_source, make_city, rss
from tests.test_html_source import FIXTURES

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEWS = ["Baustelle Marienplatz", "Neue Bücherei", "Wahlergebnis", "Stadtrat tagt"]


def csrf_of(response) -> str:
    match = CSRF.search(response.text)
    assert match, response.text
    return match.group(1)


def sign_in(client: TestClient, secret: str):
    form = client.get("/verwaltung/anmelden")
    return client.post("/verwaltung/anmelden", data={"csrf": csrf_of(form), "token": secret}, follow_redirects=False)


def new_client(api) -> TestClient:
    return TestClient(api.app)


def signed_in(api, who: str) -> TestClient:
    client = new_client(api)
    answer = sign_in(client, api.secrets[who])
    assert answer.status_code == 303, answer.text
    return client


def sessions_count(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(ConsoleSession))


# ---------------------------------------------------------------- sign-in, session, CSRF


def test_sign_in_starts_a_server_side_session_with_a_strict_http_only_cookie(api, runtime):
    client = new_client(api)
    answer = sign_in(client, api.secrets["muenchen"])
    assert answer.status_code == 303 and answer.headers["location"] == "/verwaltung/quellen"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("verwaltung="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/verwaltung" in cookie
    assert "Secure" not in cookie  # the public URL is http in the tests
    secret = cookie.split(";")[0].split("=", 1)[1]
    with runtime.sessions() as s:
        stored = s.scalars(select(ConsoleSession.secret_hash)).all()
    assert len(stored) == 1 and secret not in stored[0]  # only a hash is kept
    page = client.get("/verwaltung/quellen")
    assert page.status_code == 200 and "<h1>Quellen</h1>" in page.text and "Stadt: muenchen" in page.text


def test_cookie_is_secure_when_the_public_url_is_https(settings, runtime):
    app = create_app(settings.model_copy(update={"public_url": "https://feeds.example"}))
    with runtime.sessions() as s:
        make_city(s, "muenchen", "München")
        secret = tokens.create(s, city="muenchen")[1]
    with TestClient(app, base_url="https://testserver") as client:
        answer = sign_in(client, secret)
    assert answer.status_code == 303
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("verwaltung="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_wrong_token_is_refused_in_german_and_starts_no_session(api, runtime):
    client = new_client(api)
    answer = sign_in(client, "syn_" + "x" * 43)
    assert answer.status_code == 401
    assert "unbekannt oder widerrufen" in answer.text and 'aria-invalid="true"' in answer.text
    assert sessions_count(runtime) == 0
    assert client.get("/verwaltung/quellen", follow_redirects=False).headers["location"] == "/verwaltung/anmelden"


def test_failed_sign_ins_are_throttled_per_client_and_per_token_prefix(api, runtime):
    api.app.state.console_limiters = None
    runtime.settings.console_signin_failures = 3
    client = new_client(api)
    for _ in range(3):
        assert sign_in(client, "syn_" + "x" * 43).status_code == 401
    refused = sign_in(client, api.secrets["muenchen"])  # even the right token: this client is over its limit
    assert refused.status_code == 429 and "Zu viele fehlgeschlagene Anmeldungen" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert sessions_count(runtime) == 0


def test_failures_with_one_token_prefix_are_throttled_from_any_client(api, runtime):
    api.app.state.console_limiters = None
    runtime.settings.console_signin_failures = 2
    real = api.secrets["augsburg"]
    guess = real[:12] + "y" * (len(real) - 12)  # same prefix, wrong secret
    for n in range(2):
        client = TestClient(api.app, client=(f"127.0.0.{n + 10}", 5000))
        assert sign_in(client, guess).status_code == 401
    other = TestClient(api.app, client=("127.0.0.20", 5000))
    assert sign_in(other, real).status_code == 429
    assert sign_in(other, api.secrets["muenchen"]).status_code == 303  # another prefix from a fresh client still works


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(api, runtime):
    with runtime.sessions() as s:
        city = make_city(s, "muenchen")
        source_id = add_source(s, city, "https://m.example/rss").id
    client = signed_in(api, "muenchen")
    for data in ({}, {"csrf": "falsch"}):
        answer = client.post(f"/verwaltung/quellen/{source_id}/abschalten", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "es wurde nichts geändert" in answer.text
    other = signed_in(api, "muenchen")  # another session's token is no good either
    detail = other.get(f"/verwaltung/quellen/{source_id}")
    assert client.post(f"/verwaltung/quellen/{source_id}/abschalten", data={"csrf": csrf_of(detail)}).status_code == 403
    assert client.post("/verwaltung/abmelden", data={}).status_code == 403
    with runtime.sessions() as s:
        assert s.get(Source, source_id).enabled is True
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "source.update")) == 0
    assert client.get("/verwaltung/quellen").status_code == 200  # still signed in
    fresh = new_client(api)
    fresh.get("/verwaltung/anmelden")
    refused = fresh.post("/verwaltung/anmelden", data={"token": api.secrets["muenchen"]}, follow_redirects=False)
    assert refused.status_code == 403 and sessions_count(runtime) == 2


def test_sign_out_ends_the_session_on_the_server(api, runtime):
    client = signed_in(api, "muenchen")
    secret = client.cookies["verwaltung"]
    page = client.get("/verwaltung/quellen")
    answer = client.post("/verwaltung/abmelden", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/verwaltung/anmelden?hinweis=abgemeldet"
    assert sessions_count(runtime) == 0
    replay = new_client(api)
    replay.cookies.set("verwaltung", secret, path="/verwaltung")  # the old cookie, kept by someone
    assert replay.get("/verwaltung/quellen", follow_redirects=False).headers["location"] == "/verwaltung/anmelden"


def test_revoking_the_token_ends_its_sessions(api, runtime):
    client = signed_in(api, "muenchen")
    assert client.get("/verwaltung/quellen").status_code == 200
    with runtime.sessions() as s:
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.prefix == api.secrets["muenchen"][:12]))
        tokens.revoke(s, token_id)
    assert sessions_count(runtime) == 0
    assert client.get("/verwaltung/quellen", follow_redirects=False).headers["location"] == "/verwaltung/anmelden"


def test_a_session_of_a_token_revoked_behind_the_services_back_ends_too(api, runtime):
    client = signed_in(api, "muenchen")
    with runtime.sessions() as s:
        s.execute(update(ApiToken).values(revoked_at=utcnow()))
        s.commit()
    assert client.get("/verwaltung/quellen", follow_redirects=False).status_code == 303
    assert sessions_count(runtime) == 0


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"])
def test_idle_and_absolute_expiry_end_the_session(api, runtime, column):
    client = signed_in(api, "muenchen")
    settings = runtime.settings
    age = settings.console_idle_timeout if column == "last_seen_at" else settings.console_max_age
    with runtime.sessions() as s:  # the session as it would be after that much time
        s.execute(update(ConsoleSession).values({column: utcnow() - timedelta(seconds=age + 5)}))
        s.commit()
    assert client.get("/verwaltung/quellen", follow_redirects=False).headers["location"] == "/verwaltung/anmelden"
    assert sessions_count(runtime) == 0


def test_a_session_in_use_stays_alive_past_the_idle_timeout(api, runtime):
    client = signed_in(api, "muenchen")
    with runtime.sessions() as s:
        s.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(seconds=runtime.settings.console_idle_timeout - 60)))
        s.commit()
    assert client.get("/verwaltung/quellen").status_code == 200
    with runtime.sessions() as s:
        seen = s.scalar(select(ConsoleSession.last_seen_at))
    assert utcnow() - seen < timedelta(seconds=10)


# ---------------------------------------------------------------- sources


def test_the_list_shows_the_citys_sources_with_their_state_and_the_operator_sees_all(api, runtime):
    with runtime.sessions() as s:
        m, a = make_city(s, "muenchen"), make_city(s, "augsburg")
        rathaus = add_source(s, m, "https://m.example/rss", title="Rathaus München", last_success_at=utcnow())
        for n, days in enumerate([1, 3, 9]):  # two items this week, one older
            seen = utcnow() - timedelta(days=days)
            s.add(Article(source_id=rathaus.id, item_key=f"k{n}", title=f"T{n}", content_hash="h", published_at=seen, first_seen_at=seen))
        s.commit()
        add_source(s, m, "https://m.example/alt", title="Altes Archiv", error_count=2, last_error_reason="http_404")
        add_source(s, a, "https://a.example/rss", title="Rathaus Augsburg")
    page = signed_in(api, "muenchen").get("/verwaltung/quellen").text
    assert "Rathaus München" in page and "in Ordnung" in page and "Adresse gibt es nicht mehr" in page
    assert "Rathaus Augsburg" not in page
    assert '<th scope="col">Meldungen in 7 Tagen</th>' in page and '<td data-label="Meldungen in 7 Tagen">2</td>' in page
    everything = signed_in(api, "operator").get("/verwaltung/quellen").text
    assert "Rathaus München" in everything and "Rathaus Augsburg" in everything
    assert everything.index('<h2 id="stadt-augsburg">') < everything.index('<h2 id="stadt-muenchen">')


def test_check_then_register_a_feed(api, runtime, feed_server):
    feed_server.add("/rss.xml", rss("Pressemitteilungen München", NEWS), headers=RSS_TYPE)
    client = signed_in(api, "muenchen")
    form = client.get("/verwaltung/quellen/neu")
    assert form.status_code == 200 and '<label for="adresse">Adresse</label>' in form.text
    url = feed_server.url("/rss.xml")
    checked = client.post("/verwaltung/quellen/neu/pruefen", data={"csrf": csrf_of(form), "stadt": "muenchen", "adresse": url})
    assert checked.status_code == 200
    assert "Pressemitteilungen München" in checked.text and "mit 4 Meldungen" in checked.text
    latest = re.findall(r"<li>([^<]+)</li>", checked.text.split("Die neuesten Meldungen")[1])
    assert latest[:3] == ["Stadtrat tagt", "Wahlergebnis", "Neue Bücherei"]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0  # checking registers nothing
    done = client.post(
        "/verwaltung/quellen/neu", data={"csrf": csrf_of(checked), "stadt": "muenchen", "adresse": url}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/verwaltung/quellen?hinweis=registriert"
    listing = client.get(done.headers["location"])
    assert "Die Quelle ist registriert" in listing.text and "Pressemitteilungen München" in listing.text
    with runtime.sessions() as s:
        source = s.scalar(select(Source))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "source.create"))
        assert source.city.slug == "muenchen" and source.origin == "api"
        assert entry.actor.endswith("city:muenchen console") and entry.token_id is not None
    assert api.queue.sent == [source.id] and api.queue.visible == [True]
    again = client.post("/verwaltung/quellen/neu", data={"csrf": csrf_of(checked), "stadt": "muenchen", "adresse": url})
    assert again.status_code == 409 and "bereits" in again.text  # a repeated submit registers nothing twice
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 1


def test_a_page_advertising_a_feed_offers_it(api, feed_server):
    page = '<!doctype html><html><head><title>Presse</title><link rel="alternate" type="application/rss+xml" title="Presse-RSS" href="/rss.xml"></head><body><p>Presse</p></body></html>'
    feed_server.add("/presse/", page, headers={"Content-Type": "text/html; charset=utf-8"})
    feed_server.add("/rss.xml", rss("Presse", NEWS), headers=RSS_TYPE)
    client = signed_in(api, "muenchen")
    form = client.get("/verwaltung/quellen/neu")
    checked = client.post(
        "/verwaltung/quellen/neu/pruefen", data={"csrf": csrf_of(form), "stadt": "muenchen", "adresse": feed_server.url("/presse/")}
    )
    assert "nennt aber einen Feed" in checked.text and f'value="{feed_server.url("/rss.xml")}"' in checked.text
    assert "Diesen Feed prüfen" in checked.text and ">Registrieren</button>" not in checked.text


def test_a_refused_address_says_why_and_what_to_do(api, runtime, feed_server):
    feed_server.add("/weg.xml", "nicht da", status=404)
    client = signed_in(api, "muenchen")
    form = client.get("/verwaltung/quellen/neu")
    checked = client.post(
        "/verwaltung/quellen/neu/pruefen", data={"csrf": csrf_of(form), "stadt": "muenchen", "adresse": feed_server.url("/weg.xml")}
    )
    assert "können wir nicht registrieren" in checked.text and "HTTP 404" in checked.text and "Was Sie tun können" in checked.text
    blocked = client.post(
        "/verwaltung/quellen/neu/pruefen", data={"csrf": csrf_of(form), "stadt": "muenchen", "adresse": "http://127.0.0.2/rss"}
    )
    assert "nicht erlaubt" in blocked.text and "nicht öffentlich erreichbar" in blocked.text
    registered = client.post(
        "/verwaltung/quellen/neu", data={"csrf": csrf_of(form), "stadt": "muenchen", "adresse": feed_server.url("/weg.xml")}
    )
    assert registered.status_code == 422 and 'id="adresse-fehler"' in registered.text and "HTTP 404" in registered.text
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0


def test_detail_shows_the_fetch_log_explained_and_disable_enable_refresh_work(api, runtime):
    with runtime.sessions() as s:
        city = make_city(s, "muenchen")
        source = add_source(s, city, "https://m.example/rss", title="Rathaus", error_count=1, last_error_reason="http_404")
        s.add(FetchLog(source_id=source.id, status="error", http_status=404, reason="http_404", started_at=utcnow() - timedelta(hours=1)))
        s.add(FetchLog(source_id=source.id, status="deferred", http_status=429, reason="rate_limited", started_at=utcnow()))
        s.commit()
        source_id = source.id
    client = signed_in(api, "muenchen")
    detail = client.get(f"/verwaltung/quellen/{source_id}")
    assert detail.status_code == 200 and detail.text.count("<h1>") == 1
    assert "Diese Adresse gibt es auf dem Server nicht (HTTP 404)" in detail.text and "Prüfen Sie, ob der Feed umgezogen ist" in detail.text
    # the last error is the source's own, not the later deferral; the deferral is no error in the log
    assert "<dt>Letzter Fehler</dt><dd>Diese Adresse gibt es auf dem Server nicht (HTTP 404)." in detail.text
    assert '<td data-label="Ergebnis">verschoben (HTTP 429)</td>' in detail.text
    off = client.post(f"/verwaltung/quellen/{source_id}/abschalten", data={"csrf": csrf_of(detail)}, follow_redirects=False)
    assert off.status_code == 303
    page = client.get(off.headers["location"])
    assert "Die Quelle ist abgeschaltet" in page.text and "Einschalten" in page.text
    with runtime.sessions() as s:
        assert s.get(Source, source_id).enabled is False
    on = client.post(f"/verwaltung/quellen/{source_id}/einschalten", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert on.status_code == 303
    refresh = client.post(f"/verwaltung/quellen/{source_id}/abrufen", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert refresh.status_code == 303 and api.queue.sent == [source_id]
    too_soon = client.post(f"/verwaltung/quellen/{source_id}/abrufen", data={"csrf": csrf_of(page)})
    assert too_soon.status_code == 429 and "gerade erst aktualisiert" in too_soon.text and api.queue.sent == [source_id]
    with runtime.sessions() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["source.update", "source.update", "source.refresh"]


def reader_reasons() -> set[str]:
    """Every reason code a fetch can end with: those of the reader's exception tree (syndicate/reader/errors.py), the
    HTTP statuses' and those given by name where such an error is raised (``HostBusy(..., reason="host_rate")``)."""

    def tree(cls):
        yield cls
        for sub in cls.__subclasses__():
            yield from tree(sub)

    classes = {cls.__name__: cls for cls in tree(SyndicateError) if not issubclass(cls, ServiceError)}
    codes = {cls.reason for cls in classes.values()} | {HTTPStatusError(status).reason for status in range(400, 600)}
    for path in (ROOT / "syndicate").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in classes:
                codes |= {k.value.value for k in node.keywords if k.arg == "reason" and isinstance(k.value, ast.Constant)}
    return codes


def test_every_reason_code_of_a_fetch_is_explained_with_what_the_city_can_do():
    codes = reader_reasons()
    assert {"http_404", "selectors_matched_nothing", "rate_limited", "tls", "host_rate", "http_5xx", "redirect_loop"} <= codes
    assert sorted(codes - set(consoleview.ADVICE)) == []
    assert sorted(codes - set(MESSAGES)) == []  # and what happened, in German
    for code in codes:
        text = consoleview.ADVICE[code]
        assert text.endswith(".") and "Sie" in text, code  # a sentence addressed to the city


@pytest.mark.parametrize("code", sorted(reader_reasons()))
def test_the_fetch_log_shows_each_reason_in_german_with_advice(api, runtime, code):
    with runtime.sessions() as s:
        city = make_city(s, "muenchen")
        source = add_source(s, city, "https://m.example/presse/", kind="html")
        status = {"http_5xx": 502, "http_4xx": 418, "http_error": 599, "rate_limited": 429}.get(code)
        s.add(FetchLog(source_id=source.id, status="error", http_status=status, reason=code, started_at=utcnow()))
        s.commit()
    text = html.unescape(signed_in(api, "muenchen").get(f"/verwaltung/quellen/{source.id}").text)
    explained = reason_message(code, status)
    assert explained[:1].upper() + explained[1:] in text
    assert consoleview.ADVICE[code] in text and f"(Code {code})" in re.sub(r"<[^>]+>", "", text)


def test_a_file_managed_source_is_read_only(api, runtime):
    with runtime.sessions() as s:
        city = make_city(s, "muenchen")
        source = add_source(s, city, "https://m.example/rss", origin="file", registry_file="feeds/muenchen.toml")
    client = signed_in(api, "muenchen")
    detail = client.get(f"/verwaltung/quellen/{source.id}")
    assert "feeds/muenchen.toml" in detail.text and "Abschalten" not in detail.text
    refused = client.post(f"/verwaltung/quellen/{source.id}/abschalten", data={"csrf": csrf_of(detail)})
    assert refused.status_code == 409 and "Merge-Request" in refused.text
    listed = client.get("/verwaltung/quellen")
    assert "aus <code>feeds/muenchen.toml</code>, hier nur lesbar" in listed.text


def test_a_file_managed_newsroom_shows_its_selectors_read_only(api, runtime):
    with runtime.sessions() as s:
        city = make_city(s, "muenchen")
        source = add_source(
            s,
            city,
            "https://m.example/presse/",
            origin="file",
            registry_file="feeds/muenchen.toml",
            kind="html",
            extraction={"item": "li.pm"},
        )
    client = signed_in(api, "muenchen")
    detail = client.get(f"/verwaltung/quellen/{source.id}")
    assert "<code>li.pm</code>" in detail.text and 'name="sel-item"' not in detail.text
    refused = client.post(
        f"/verwaltung/quellen/{source.id}/selektoren", data={"csrf": csrf_of(detail), "sel-item": "li", "aktion": "speichern"}
    )
    assert refused.status_code == 409
    with runtime.sessions() as s:
        assert s.get(Source, source.id).extraction == {"item": "li.pm"}


def test_a_city_cannot_see_or_change_another_citys_source(api, runtime, feed_server):
    feed_server.add("/rss.xml", rss("Augsburg", NEWS), headers=RSS_TYPE)
    with runtime.sessions() as s:
        augsburg = make_city(s, "augsburg")
        source_id = add_source(s, augsburg, "https://a.example/rss", title="Rathaus Augsburg").id
    client = signed_in(api, "muenchen")
    page = client.get(f"/verwaltung/quellen/{source_id}")
    assert page.status_code == 404 and "Rathaus Augsburg" not in page.text and "gehört nicht zu Ihrer Stadt" in page.text
    csrf = csrf_of(client.get("/verwaltung/quellen"))
    for action in ("abschalten", "einschalten", "abrufen", "bearbeiten", "selektoren", "stilllegen"):
        assert client.post(f"/verwaltung/quellen/{source_id}/{action}", data={"csrf": csrf, "aktion": "vorschau"}).status_code == 404
    form = client.get("/verwaltung/quellen/neu")
    assert 'name="stadt" value="muenchen"' in form.text and "augsburg" not in form.text
    forged = client.post("/verwaltung/quellen/neu", data={"csrf": csrf, "stadt": "augsburg", "adresse": feed_server.url("/rss.xml")})
    assert forged.status_code == 404
    for path in ("/verwaltung/quellen/neu/pruefen", "/verwaltung/opml"):
        assert client.post(path, data={"csrf": csrf, "stadt": "augsburg", "adresse": feed_server.url("/rss.xml")}).status_code == 404
    preview = client.post(
        "/verwaltung/quellen/neu", data={"csrf": csrf, "stadt": "augsburg", "adresse": feed_server.url("/rss.xml"), "art": "html"}
    )
    assert preview.status_code == 404
    with runtime.sessions() as s:
        assert s.get(Source, source_id).enabled is True
        assert s.scalar(select(func.count()).select_from(Source)) == 1
    assert api.queue.sent == []


def test_pages_need_a_session(api):
    client = new_client(api)
    for path in ("/verwaltung/quellen", "/verwaltung/quellen/neu", "/verwaltung/quellen/1", "/verwaltung"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/verwaltung")
    assert client.post("/verwaltung/quellen/1/abschalten", data={}, follow_redirects=False).status_code == 303


HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
SELECTOR_INPUT = re.compile(r'name="sel-(\w+)"[^>]* value="([^"]*)"')


def selectors_of(response) -> dict[str, str]:
    """The selector fields of a console page as the form would send them."""
    return {f"sel-{name}": html.unescape(value) for name, value in SELECTOR_INPUT.findall(response.text)}


def test_check_then_register_an_html_newsroom_by_its_detected_article_blocks(api, runtime, feed_server):
    route = feed_server.add("/archiv/", (FIXTURES / "augsburg_archiv.html").read_bytes(), headers=HTML_TYPE)
    client = signed_in(api, "augsburg")
    form = client.get("/verwaltung/quellen/neu")
    url = feed_server.url("/archiv/")
    checked = client.post("/verwaltung/quellen/neu/pruefen", data={"csrf": csrf_of(form), "stadt": "augsburg", "adresse": url})
    assert "eine Newsroom-Seite" in checked.text and "Vorschau: 3 Meldungen" in checked.text
    # the blocks with the items they yield (title, link, date) and the selectors, editable
    assert "Neue Ladesäulen in der Innenstadt" in checked.text and "13.10.2026<" in checked.text
    assert (
        feed_server.url("/buergerservice-rathaus/buergerservice/newsletter/newsletter-pressemitteilungen/presse-archiv/detail/")
        in checked.text
    )
    detected = selectors_of(checked)
    assert detected["sel-item"] == "div.article.articletype-0" and detected["sel-date"] == "time"
    assert route.hits == 1
    done = client.post(
        "/verwaltung/quellen/neu",
        data={"csrf": csrf_of(checked), "stadt": "augsburg", "adresse": url, "art": "html", "aktion": "registrieren", **detected},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with runtime.sessions() as s:
        source = s.scalar(select(Source))
        assert (source.kind, source.city.slug) == ("html", "augsburg")
        assert source.extraction["item"] == "div.article.articletype-0" and source.extraction["date"] == "time"
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "source.create")).endswith("console")
    assert api.queue.sent == [source.id]
    detail = client.get(f"/verwaltung/quellen/{source.id}")
    assert "Newsroom-Seite" in detail.text and selectors_of(detail)["sel-item"] == "div.article.articletype-0"


def test_preview_with_edited_selectors_uses_the_page_fetched_for_the_check(api, runtime, feed_server):
    route = feed_server.add("/archiv/", (FIXTURES / "augsburg_archiv.html").read_bytes(), headers=HTML_TYPE)
    client = signed_in(api, "augsburg")
    url = feed_server.url("/archiv/")
    checked = client.post(
        "/verwaltung/quellen/neu/pruefen",
        data={"csrf": csrf_of(client.get("/verwaltung/quellen/neu")), "stadt": "augsburg", "adresse": url},
    )
    fields = {**selectors_of(checked), "sel-title": "span.news-list-category"}  # a wrong title on purpose: the categories
    base = {"csrf": csrf_of(checked), "stadt": "augsburg", "adresse": url, "art": "html"}
    preview = client.post("/verwaltung/quellen/neu", data={**base, "aktion": "vorschau", **fields})
    assert preview.status_code == 200
    assert "Vorschau: 3 Meldungen" in preview.text and ">Mobilität</a>" in preview.text  # the titles are now the categories
    assert selectors_of(preview)["sel-title"] == "span.news-list-category"  # the edited value stays in the field
    assert route.hits == 1  # the page fetched for the check, kept for this session
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0  # a preview registers nothing

    narrower = client.post("/verwaltung/quellen/neu", data={**base, "aktion": "vorschau", **fields, "sel-item": "div.article:first-child"})
    assert "Vorschau: 1 Meldung<" in narrower.text and route.hits == 1

    # another session does not get this session's page
    other = signed_in(api, "augsburg")
    other_form = other.get("/verwaltung/quellen/neu")
    other.post("/verwaltung/quellen/neu", data={**base, "csrf": csrf_of(other_form), "aktion": "vorschau", **fields})
    assert route.hits == 2

    client.post("/verwaltung/quellen/neu", data={**base, "aktion": "registrieren", **fields}, follow_redirects=False)
    with runtime.sessions() as s:
        assert s.scalar(select(Source.extraction))["title"] == "span.news-list-category"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("item", "div.article[", "Kein gültiger CSS-Selektor 'div.article['; bitte prüfen Sie Klammern"),
        ("date", "xpath://time/following::span", "Nicht erlaubter XPath-Ausdruck"),
        ("item", "", "Selektor für die Meldungsblöcke"),
        ("item", "div.gibt-es-nicht", "keine Meldung mit Link"),
    ],
)
def test_bad_selectors_are_refused_next_to_their_field_and_nothing_is_stored(api, runtime, feed_server, name, value, says):
    feed_server.add("/archiv/", (FIXTURES / "augsburg_archiv.html").read_bytes(), headers=HTML_TYPE)
    client = signed_in(api, "augsburg")
    url = feed_server.url("/archiv/")
    checked = client.post(
        "/verwaltung/quellen/neu/pruefen",
        data={"csrf": csrf_of(client.get("/verwaltung/quellen/neu")), "stadt": "augsburg", "adresse": url},
    )
    fields = {**selectors_of(checked), f"sel-{name}": value}
    for aktion in ("vorschau", "registrieren"):
        answer = client.post(
            "/verwaltung/quellen/neu",
            data={"csrf": csrf_of(checked), "stadt": "augsburg", "adresse": url, "art": "html", "aktion": aktion, **fields},
            follow_redirects=False,
        )
        assert answer.status_code == 422, answer.text
        error = re.search(rf'<p id="sel-{name}-fehler" class="notice" role="alert">([^<]+)</p>', answer.text)
        assert error and says in html.unescape(error.group(1)), answer.text
        assert f'aria-describedby="sel-{name}-hinweis sel-{name}-fehler" aria-invalid="true"' in answer.text
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("source.%"))) == 0


def test_a_refused_registration_keeps_the_edited_selectors_on_the_page(api, runtime, feed_server):
    feed_server.add("/archiv/", (FIXTURES / "augsburg_archiv.html").read_bytes(), headers=HTML_TYPE)
    url = feed_server.url("/archiv/")
    with runtime.sessions() as s:
        add_source(s, make_city(s, "muenchen"), url)
    client = signed_in(api, "augsburg")
    checked = client.post(
        "/verwaltung/quellen/neu/pruefen",
        data={"csrf": csrf_of(client.get("/verwaltung/quellen/neu")), "stadt": "augsburg", "adresse": url},
    )
    fields = {**selectors_of(checked), "sel-summary": "div.teaser-text"}
    data = {
        "csrf": csrf_of(checked),
        "stadt": "augsburg",
        "adresse": url,
        "art": "html",
        "aktion": "registrieren",
        "titel": "Archiv",
        **fields,
    }
    refused = client.post("/verwaltung/quellen/neu", data=data, follow_redirects=False)
    assert refused.status_code == 409 and "bereits von einem anderen Teilnehmer registriert" in refused.text
    assert selectors_of(refused)["sel-summary"] == "div.teaser-text" and 'value="Archiv"' in refused.text
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 1


def test_the_source_page_edits_an_html_sources_selectors_with_a_preview(api, runtime, feed_server):
    route = feed_server.add("/archiv/", (FIXTURES / "augsburg_archiv.html").read_bytes(), headers=HTML_TYPE)
    with runtime.sessions() as s:
        city = s.scalar(select(City).where(City.slug == "augsburg"))
        source = add_source(s, city, feed_server.url("/archiv/"), kind="html", extraction={"item": "div.article", "max_pages": 5})
    client = signed_in(api, "augsburg")
    detail = client.get(f"/verwaltung/quellen/{source.id}")
    assert selectors_of(detail)["sel-item"] == "div.article" and route.hits == 0  # showing the page fetches nothing
    path = f"/verwaltung/quellen/{source.id}/selektoren"
    fields = {**selectors_of(detail), "sel-date": "time@datetime", "sel-summary": "div.teaser-text"}
    preview = client.post(path, data={"csrf": csrf_of(detail), "aktion": "vorschau", **fields})
    assert preview.status_code == 200 and "Vorschau: 3 Meldungen" in preview.text and "14.10.2026<" in preview.text
    client.post(path, data={"csrf": csrf_of(detail), "aktion": "vorschau", **fields})
    assert route.hits == 1
    with runtime.sessions() as s:
        assert s.get(Source, source.id).extraction == {"item": "div.article", "max_pages": 5}  # a preview changes nothing

    bad = client.post(path, data={"csrf": csrf_of(detail), "aktion": "speichern", **fields, "sel-link": "a[href"}, follow_redirects=False)
    assert bad.status_code == 422 and 'id="sel-link-fehler"' in bad.text
    with runtime.sessions() as s:
        assert s.get(Source, source.id).extraction == {"item": "div.article", "max_pages": 5}

    saved = client.post(path, data={"csrf": csrf_of(detail), "aktion": "speichern", **fields}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?hinweis=selektoren")
    with runtime.sessions() as s:
        stored = s.get(Source, source.id).extraction
        assert (stored["item"], stored["date"], stored["summary"]) == ("div.article", "time@datetime", "div.teaser-text")
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "source.update"))
        assert entry.actor.endswith("console") and entry.after["extraction"]["date"] == "time@datetime"
    assert "Die Selektoren sind gespeichert" in client.get(saved.headers["location"]).text

    # all fields empty: the article blocks are detected on each poll again
    cleared = client.post(path, data={"csrf": csrf_of(detail), "aktion": "speichern"}, follow_redirects=False)
    assert cleared.status_code == 303
    with runtime.sessions() as s:
        assert s.get(Source, source.id).extraction is None


def test_the_api_patch_takes_the_same_extraction_through_the_same_service(api, runtime, feed_server):
    with runtime.sessions() as s:
        city = s.scalar(select(City).where(City.slug == "augsburg"))
        page = add_source(s, city, "https://augsburg.example/presse/", kind="html")
        feed = add_source(s, city, "https://augsburg.example/rss.xml")
    answer = api.call("PATCH", f"/api/v1/sources/{page.id}", "augsburg", json={"extraction": {"item": "div.article", "date": "time"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["extraction"] == {"item": "div.article", "date": "time", "max_pages": 5, "article_pages": False}
    refused = api.call("PATCH", f"/api/v1/sources/{page.id}", "augsburg", json={"extraction": {"item": "div["}})
    assert refused.status_code == 422 and "kein gültiger CSS-Selektor" in refused.text
    not_html = api.call("PATCH", f"/api/v1/sources/{feed.id}", "augsburg", json={"extraction": {"item": "div.article"}})
    assert not_html.status_code == 422 and not_html.json()["reason"] == "not_html"
    other = api.call("PATCH", f"/api/v1/sources/{page.id}", "muenchen", json={"extraction": {"item": "div.x"}})
    assert other.status_code == 404
    cleared = api.call("PATCH", f"/api/v1/sources/{page.id}", "augsburg", json={"extraction": None})
    assert cleared.status_code == 200 and cleared.json()["extraction"] is None
    with runtime.sessions() as s:
        assert s.get(Source, page.id).extraction is None and s.get(Source, feed.id).extraction is None
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "source.update")) == 2


def test_edit_title_topics_and_intervals_then_retire(api, runtime):
    with runtime.sessions() as s:
        source_id = add_source(s, make_city(s, "muenchen"), "https://m.example/rss", feed_title="PM").id
    client = signed_in(api, "muenchen")
    detail = client.get(f"/verwaltung/quellen/{source_id}")
    assert '<label for="thema-it-sicherheit">' in detail.text and '<label for="mindestens">' in detail.text
    data = {
        "csrf": csrf_of(detail),
        "titel": "Rathaus-Presse",
        "thema": ["it-sicherheit", "mobilitaet"],
        "mindestens": "10",
        "hoechstens": "120",
    }
    saved = client.post(f"/verwaltung/quellen/{source_id}/bearbeiten", data=data, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("hinweis=gespeichert")
    with runtime.sessions() as s:
        source = s.get(Source, source_id)
        assert (source.title, sorted(source.default_topics), source.min_interval, source.max_interval) == (
            "Rathaus-Presse",
            ["it-sicherheit", "mobilitaet"],
            600,
            7200,
        )
    bad = client.post(f"/verwaltung/quellen/{source_id}/bearbeiten", data={**data, "mindestens": "zehn"})
    assert bad.status_code == 422 and 'id="mindestens-fehler"' in bad.text and "ganze Zahl" in bad.text
    crossed = client.post(f"/verwaltung/quellen/{source_id}/bearbeiten", data={**data, "mindestens": "200", "hoechstens": "100"})
    assert crossed.status_code == 422 and "größer als" in crossed.text
    unknown = client.post(f"/verwaltung/quellen/{source_id}/bearbeiten", data={**data, "thema": ["gibt-es-nicht"]})
    assert unknown.status_code == 422 and "Unbekannte Themen: gibt-es-nicht." in unknown.text
    with runtime.sessions() as s:
        assert s.get(Source, source_id).min_interval == 600  # nothing of the refused edits was stored
    retired = client.post(f"/verwaltung/quellen/{source_id}/stilllegen", data={"csrf": csrf_of(detail)}, follow_redirects=False)
    assert retired.status_code == 303
    assert "Die Quelle ist stillgelegt" in client.get(retired.headers["location"]).text
    with runtime.sessions() as s:
        assert s.get(Source, source_id).enabled is False
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["token.create"] * 3 + ["source.update", "source.retire"]


def test_an_operator_creates_and_revokes_a_token_and_its_session_ends(api, runtime):
    assert signed_in(api, "muenchen").get("/verwaltung/tokens").status_code == 404  # not for cities
    operator = signed_in(api, "operator")
    page = operator.get("/verwaltung/tokens")
    assert page.status_code == 200 and '<label for="fuer">Für</label>' in page.text
    created = operator.post("/verwaltung/tokens", data={"csrf": csrf_of(page), "fuer": "augsburg", "name": "Pressestelle"})
    assert created.status_code == 201 and "nur dieses eine Mal angezeigt" in created.text
    secret = re.search(r'id="token-neu" readonly value="([^"]+)"', created.text).group(1)
    assert operator.get("/verwaltung/tokens").text.count(secret) == 0  # shown once, never again
    press = new_client(api)
    assert sign_in(press, secret).status_code == 303
    assert "Stadt: augsburg" in press.get("/verwaltung/quellen").text
    with runtime.sessions() as s:
        token = s.scalar(select(ApiToken).where(ApiToken.name == "Pressestelle"))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "token.create").order_by(AuditEntry.id.desc()))
        assert token.city.slug == "augsburg" and entry.actor.endswith("operator console")
    revoked = operator.post(f"/verwaltung/tokens/{token.id}/widerrufen", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert revoked.status_code == 303 and "Das Token ist widerrufen" in operator.get(revoked.headers["location"]).text
    assert press.get("/verwaltung/quellen", follow_redirects=False).headers["location"] == "/verwaltung/anmelden"
    assert sign_in(new_client(api), secret).status_code == 401
    forged = operator.post(f"/verwaltung/tokens/{token.id}/widerrufen", data={})
    assert forged.status_code == 403
    city_session = signed_in(api, "muenchen")
    csrf = csrf_of(city_session.get("/verwaltung/quellen"))
    assert city_session.post("/verwaltung/tokens", data={"csrf": csrf, "fuer": "muenchen"}).status_code == 404
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 4


def test_the_operator_reads_the_audit_log_filtered_by_city_and_action(api, runtime):
    with runtime.sessions() as s:
        source_id = add_source(s, make_city(s, "muenchen"), "https://m.example/rss").id
    city = signed_in(api, "muenchen")
    assert city.get("/verwaltung/protokoll").status_code == 404
    detail = city.get(f"/verwaltung/quellen/{source_id}")
    city.post(f"/verwaltung/quellen/{source_id}/abschalten", data={"csrf": csrf_of(detail)})
    operator = signed_in(api, "operator")
    everything = operator.get("/verwaltung/protokoll").text
    assert "Quelle geändert" in everything and "Token angelegt" in everything and "city:muenchen console" in everything
    only = operator.get("/verwaltung/protokoll", params={"stadt": "muenchen", "aktion": "source.update"}).text
    assert "Quelle geändert" in only and '<td data-label="Aktion">Token angelegt</td>' not in only
    assert f'href="/verwaltung/quellen/{source_id}"' in only
    none = operator.get("/verwaltung/protokoll", params={"stadt": "augsburg", "aktion": "source.update"}).text
    assert "Keine Einträge für diese Auswahl" in none


def test_an_operator_creates_a_city_and_a_token_for_it(api, runtime):
    assert signed_in(api, "augsburg").get("/verwaltung/staedte").status_code == 404
    operator = signed_in(api, "operator")
    page = operator.get("/verwaltung/staedte")
    assert '<label for="kurzname">Kurzname</label>' in page.text and "München" in page.text
    csrf = csrf_of(page)
    done = operator.post("/verwaltung/staedte", data={"csrf": csrf, "kurzname": "bad-toelz", "name": "Bad Tölz"}, follow_redirects=False)
    assert done.status_code == 303 and "Die Stadt ist angelegt" in operator.get(done.headers["location"]).text
    again = operator.post("/verwaltung/staedte", data={"csrf": csrf, "kurzname": "bad-toelz", "name": "Bad Tölz"})
    assert again.status_code == 409 and 'id="kurzname-fehler"' in again.text and "gibt es schon" in again.text
    bad = operator.post("/verwaltung/staedte", data={"csrf": csrf, "kurzname": "Bad Tölz", "name": "Bad Tölz"})
    assert bad.status_code == 422 and "nur Kleinbuchstaben" in bad.text
    nameless = operator.post("/verwaltung/staedte", data={"csrf": csrf, "kurzname": "lenggries", "name": " "})
    assert nameless.status_code == 422 and 'id="name-fehler"' in nameless.text
    created = operator.post("/verwaltung/tokens", data={"csrf": csrf, "fuer": "bad-toelz"})
    secret = re.search(r'id="token-neu" readonly value="([^"]+)"', created.text).group(1)
    assert "Stadt: bad-toelz" in signed_in_with(api, secret).get("/verwaltung/quellen").text
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(City).where(City.slug.in_(["bad-toelz", "lenggries"]))) == 1
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "city.create")).endswith("operator console")


def signed_in_with(api, secret: str) -> TestClient:
    client = new_client(api)
    assert sign_in(client, secret).status_code == 303
    return client


def test_opml_export_and_import_stay_within_the_city(api, runtime, feed_server):
    feed_server.add("/rss.xml", rss("Presse", NEWS), headers=RSS_TYPE)
    feed_server.add("/weg.xml", "nicht da", status=404)
    with runtime.sessions() as s:
        add_source(s, make_city(s, "muenchen"), "https://m.example/rss", title="Rathaus München")
        add_source(s, make_city(s, "augsburg"), "https://a.example/rss", title="Rathaus Augsburg")
    client = signed_in(api, "muenchen")
    exported = client.get("/verwaltung/opml/muenchen.opml")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/x-opml")
    assert "https://m.example/rss" in exported.text and "a.example" not in exported.text
    assert client.get("/verwaltung/opml/augsburg.opml").status_code == 404
    page = client.get("/verwaltung/opml")
    document = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        f'<outline type="rss" text="Presse" xmlUrl="{feed_server.url("/rss.xml")}"/>'
        f'<outline type="rss" text="Weg" xmlUrl="{feed_server.url("/weg.xml")}"/></body></opml>'
    )
    forged = client.post("/verwaltung/opml", data={"csrf": csrf_of(page), "stadt": "augsburg", "dokument": document})
    assert forged.status_code == 404
    imported = client.post("/verwaltung/opml", data={"csrf": csrf_of(page), "stadt": "muenchen", "dokument": document})
    assert imported.status_code == 200 and "1 registriert, 1 abgelehnt." in imported.text and "HTTP 404" in imported.text
    again = client.post("/verwaltung/opml", data={"csrf": csrf_of(page), "stadt": "muenchen", "dokument": document})
    assert "0 registriert, 2 abgelehnt." in again.text
    broken = client.post("/verwaltung/opml", data={"csrf": csrf_of(page), "stadt": "muenchen", "dokument": "kein OPML"})
    assert broken.status_code == 422 and 'id="dokument-fehler"' in broken.text
    with runtime.sessions() as s:
        urls = set(s.scalars(select(Source.url).join(Source.city).where(Source.city.has(slug="muenchen"))))
    assert urls == {"https://m.example/rss", feed_server.url("/rss.xml")}
