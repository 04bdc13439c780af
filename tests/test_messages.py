"""Every text a city reads is German: each reason code of the reader has a German message, and the
API's problem answers, warnings, health and fetch log use them instead of the reader's English."""

from __future__ import annotations

import re

import pytest

from syndicate.errors import MESSAGES, german
from syndicate.reader import errors as reader_errors
from syndicate.reader.errors import HostBusy, HTTPStatusError, NotAFeed, RateLimited, SyndicateError
from tests.support.api_fixtures import add_source, make_city, rss
from tests.support.ops_fixtures import poll

# words that give an English sentence away (the reader's messages use them all)
ENGLISH = re.compile(r"\b(the|is|not|from|of|to|and|which|resolves|page|document|exceeds|timed|cannot|no such)\b", re.I)


def _subclasses(cls: type) -> list[type]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _subclasses(child)]


def _instances() -> list[SyndicateError]:
    """One error of every class of the reader's tree, with the reasons its constructors choose at run time."""
    found: list[SyndicateError] = []
    for cls in _subclasses(SyndicateError):
        if cls.__module__ != reader_errors.__name__:
            continue  # the service layer's classes carry German messages of their own
        if cls is HTTPStatusError:
            found += [HTTPStatusError(status, f"HTTP {status} from https://x.example/") for status in (401, 403, 404, 410, 418, 500, 503)]
        elif cls is RateLimited:
            found.append(RateLimited(429, 60, "HTTP 429 from https://x.example/, Retry-After 60 s"))
        else:
            found.append(cls("an English message from the reader"))
    found.append(HostBusy("x.example: 30 requests in the last minute (limit 30)", reason="host_rate"))  # politeness
    return found


@pytest.mark.parametrize("error", _instances(), ids=lambda e: f"{e.__class__.__name__}-{e.reason}")
def test_every_reason_code_has_a_german_message(error):
    assert error.reason in MESSAGES, f"no German message for {error.reason}"
    text = german(error)
    assert text and not ENGLISH.search(text), text
    assert error.message not in text


def test_an_html_page_names_the_feeds_it_advertises_in_german():
    error = NotAFeed("the document is an HTML page, not a feed", advertised=("https://x.example/rss.xml",))
    assert german(error) == "Die Adresse liefert eine Webseite, keinen Feed. Die Seite bietet diese Feeds an: https://x.example/rss.xml"


def test_refusals_warnings_health_and_fetch_log_speak_german(api, session, runtime, feed_server):
    feed_server.add("/presse/", "<html><head><title>Presse</title></head><body>Hallo</body></html>", headers={"Content-Type": "text/html"})
    missing = feed_server.url("/weg.xml")

    refused = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": missing}).json()
    page = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url("/presse/")}).json()
    forced = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": missing, "force": True}).json()
    poll(runtime, session, forced["source"]["id"])
    health = api.call("GET", f"/api/v1/sources/{forced['source']['id']}", "muenchen").json()["health"]
    fetches = api.call("GET", f"/api/v1/sources/{forced['source']['id']}/fetches", "muenchen").json()

    assert (refused["reason"], page["reason"]) == ("http_404", "not_a_feed")
    assert refused["message"] == f"{missing} wurde abgelehnt: {MESSAGES['http_404']} (mit force: true trotzdem registrieren)"
    assert page["message"].startswith(f"{feed_server.url('/presse/')} wurde abgelehnt: {MESSAGES['not_a_feed']}")
    assert forced["warning"] == {"reason": "http_404", "message": MESSAGES["http_404"]}
    assert (health["status"], health["last_error_message"]) == ("gone", MESSAGES["http_404"])
    assert [(row["reason"], row["message"]) for row in fetches] == [("http_404", MESSAGES["http_404"])]
    for text in (refused["message"], page["message"], health["last_error_message"]):
        assert not ENGLISH.search(text.split("wurde abgelehnt:")[-1]), text


def test_the_api_answers_its_own_errors_in_german(api):
    unknown = api.call("GET", "/api/v1/gibt-es-nicht", "muenchen").json()
    wrong_method = api.call("PUT", "/api/v1/cities/muenchen/sources", "muenchen").json()
    invalid = api.call(
        "POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": "", "min_interval": 600, "max_interval": 60, "farbe": "rot"}
    ).json()

    assert unknown["message"] == "diese Adresse gibt es in der API nicht"
    assert wrong_method["message"] == "diese Methode ist für diese Adresse nicht erlaubt"
    assert invalid["reason"] == "invalid_request" and invalid["message"].startswith("ungültige Anfrage: ")
    assert "body.url: ist zu kurz" in invalid["message"] and "body.farbe: ist hier nicht vorgesehen" in invalid["message"]
    assert not ENGLISH.search(invalid["message"]), invalid["message"]


def test_a_blocked_address_is_named_not_allowed_without_what_it_resolves_to(api, session, runtime, feed_server):
    feed_server.add("/presse.xml", rss("Presse", ["Eine Meldung"]), headers={"Content-Type": "application/rss+xml"})
    url = feed_server.url("/presse.xml").replace("127.0.0.1", "127.0.0.2")  # only 127.0.0.1/32 is allowed
    stored = add_source(session, make_city(session, "muenchen"), url)  # registered when the name still pointed elsewhere
    poll(runtime, session, stored.id)

    refused = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": url + "?neu", "force": True}).json()
    discovered = api.call("POST", "/api/v1/discover", "muenchen", json={"url": url}).json()
    health = api.call("GET", f"/api/v1/sources/{stored.id}", "muenchen").json()["health"]
    fetches = api.call("GET", f"/api/v1/sources/{stored.id}/fetches", "muenchen").json()

    assert (refused["reason"], discovered["reason"], health["last_error_reason"]) == ("blocked_address",) * 3
    assert refused["message"] == f"{url}?neu wurde abgelehnt: die Adresse ist nicht erlaubt"
    assert discovered["message"] == f"{url}: die Adresse ist nicht erlaubt"
    assert health["last_error_message"] == fetches[0]["message"] == "die Adresse ist nicht erlaubt"
    with runtime.sessions() as other:  # the operator's view keeps the details
        assert "resolves to 127.0.0.2" in other.get(type(stored), stored.id).last_error_message
