"""Selectors from tenants: only node-set expressions in a restricted grammar, evaluated under a
budget (time, nodes, page size); over budget is a recorded ``selector_too_expensive``, an invalid
selector a 422 with a German message at registration and a recorded ``invalid_selector`` when it runs."""

from __future__ import annotations

import time
from dataclasses import replace

import lxml.html
import pytest
from lxml.cssselect import CSSSelector

from syndicate.models import Source
from syndicate.reader import html_source, selectors
from syndicate.reader.errors import InvalidSelector, SelectorTooExpensive
from syndicate.reader.html_source import Selectors
from syndicate.reader.selectors import Meter, SelectorBudget
from tests.test_html_source import AKDB, AUGSBURG, BSI, HTML, NUERNBERG, html_source_row, page, poll

NESTED_COUNT = "xpath://div[count(//*[count(//*[count(//*) > 0]) > 0]) > 0]"
HOSTILE = [
    NESTED_COUNT,
    "xpath:count(//a)",  # a number, not nodes
    "xpath:string(//a)",
    "xpath:1 + 1",
    "xpath://a[$x]",  # variables
    "xpath://a/following::b",  # every later node, for every node
    "xpath://a[document('x')]",
    "xpath://div[.//a[.//b]]",  # a subtree walk inside a subtree walk
    "xpath://div[.//a//b]",
    "xpath://div[a[b[c]]]",  # predicates three deep
    "xpath://svg:a",
    "xpath:(//a)[1]",
    "div:has(div:has(a))",  # CSS is held to the same grammar after cssselect translates it
    "p:only-child:nth-last-child(2)",  # three sibling scans inside one predicate
    "div[[[",
    "a" * 301,
]
ALLOWED = [
    "div.pm-liste > div.pm-eintrag",
    "h3 a@href",
    "a[rel~=next]",
    "xpath:.//h2",
    "xpath://h2|//h3",
    "xpath://div[contains(@class, 'news')]/a[1]",
    "xpath://article[.//time]",
    "xpath://a/@href",
    "xpath:./following-sibling::p[1]",
    "xpath://li[position() < 3]",
    "xpath://tr[td * 2 > 3]",
    "li:nth-child(2n+1)",
    "p:only-child",
    "div:has(> a)",
    "div:has(a)",
    "a:not(.x)",
    "div + p",
    "div ~ p",
    "p:empty",
    "a[href$=pdf]",
]


@pytest.mark.parametrize("selector", HOSTILE)
def test_hostile_selectors_are_refused_with_a_german_message(selector):
    with pytest.raises(InvalidSelector) as caught:
        selectors.check(selector)
    assert caught.value.reason == "invalid_selector"
    assert "Selektor" in caught.value.message or "XPath-Ausdruck" in caught.value.message


@pytest.mark.parametrize(
    "selector", ALLOWED + [s for sel in (NUERNBERG, AKDB, BSI, AUGSBURG) for s in sel.as_dict().values() if isinstance(s, str)]
)
def test_ordinary_selectors_are_allowed(selector):
    selectors.check(selector)


@pytest.mark.parametrize(
    "selector",
    [
        "article a",
        "ul li a",
        "div ~ p",
        "li + li",
        "*",
        "xpath://article//a|//h2",
        "xpath://*//*//a",
        "xpath:.//h2/a/@href",
        "xpath://a/@href",
    ],
)
def test_step_by_step_evaluation_matches_libxml2(selector):
    """The metered evaluation (one step, one context node at a time) finds what libxml2 finds at once."""
    doc = html_source.document(page("akdb_news.html"), "https://www.akdb.de/newsroom/")
    expression = selector[6:] if selector.startswith("xpath:") else CSSSelector(selector).path
    expected = [str(v) if isinstance(v, str) else v for v in doc.xpath(expression)]
    assert [str(v) if isinstance(v, str) else v for v in selectors.evaluate(doc, selector, Meter())] == expected
    assert expected


def _deep_page(chains: int = 8, depth: int = 250) -> bytes:
    block = "<div>" * depth + "<p>x</p>" * 50 + "</div>" * depth
    return f"<html><body>{block * chains}</body></html>".encode()


def test_budget_stops_an_allowed_but_expensive_selector_between_steps():
    """``div div p`` on a deep page: every div's subtree overlaps its ancestors'; the meter stops it."""
    content = _deep_page(chains=8)
    started = time.monotonic()
    with pytest.raises(SelectorTooExpensive) as caught:
        html_source.extract(content, "https://a.example/", Selectors(item="div div div p"), SelectorBudget(seconds=0.3))
    assert caught.value.reason == "selector_too_expensive"
    assert time.monotonic() - started < 1.5


def test_budget_caps_matched_nodes_and_page_size():
    items = "".join(f'<li><a href="/pm_{n}.html">Meldung {n}</a></li>' for n in range(2001))
    listing = f"<html><body><ul>{items}</ul></body></html>".encode()
    with pytest.raises(SelectorTooExpensive, match="2001 nodes"):
        html_source.extract(listing, "https://a.example/", Selectors(item="li"))
    assert len(html_source.extract(listing, "https://a.example/", Selectors(item="li:nth-child(-n+2000)")).entries) == 2000
    huge = ("<html><body>" + "<span>x</span>" * 10_000 + "<ul><li><a href='/a'>A</a></li></ul></body></html>").encode()
    with pytest.raises(SelectorTooExpensive, match="elements"):
        html_source.extract(huge, "https://a.example/", Selectors(item="li"))


def test_every_selector_of_a_page_shares_one_deadline():
    """Cheap per item, expensive in sum: a title selector that searches the whole page for each of many items."""
    items = "".join(f'<div class="i"><a href="/pm_{n}.html">Meldung {n}</a></div>' for n in range(1500))
    listing = f"<html><body>{items}{'<p>x</p>' * 6000}</body></html>".encode()
    hostile = Selectors(item="div.i", title="xpath://p[@id='nirgends']")
    started = time.monotonic()
    with pytest.raises(SelectorTooExpensive, match="longer than"):
        html_source.extract(listing, "https://a.example/", hostile, SelectorBudget(seconds=0.2))
    assert time.monotonic() - started < 1


def test_evaluation_checks_again_a_selector_stored_before_the_rules(runtime, session, feed_server):
    """A row written before these rules (or by hand): the poll records invalid_selector, no crash."""
    feed_server.add("/liste", page("nuernberg_list.html"), headers=HTML)
    for selector in ("xpath:count(//a)", NESTED_COUNT):
        source = html_source_row(session, feed_server.url(f"/liste?{len(selector)}"), None)
        source.extraction = {"item": selector}
        session.commit()
        started = time.monotonic()
        outcome = poll(runtime, session, source.id)
        assert time.monotonic() - started < 2
        assert (outcome.status, outcome.reason) == ("error", "invalid_selector")
        row = session.get(Source, source.id)
        assert row.error_count == 1 and row.last_error_reason == "invalid_selector"


def test_poll_over_budget_is_a_recorded_error_on_the_source_row(runtime, session, feed_server):
    feed_server.add("/tief", _deep_page(chains=8), headers=HTML)
    source = html_source_row(session, feed_server.url("/tief"), Selectors(item="div div div p"))
    runtime.refresh_config = replace(runtime.refresh_config, selector_budget=SelectorBudget(seconds=0.3))
    started = time.monotonic()
    outcome = poll(runtime, session, source.id)
    assert time.monotonic() - started < 3
    assert (outcome.status, outcome.reason) == ("error", "selector_too_expensive")
    row = session.get(Source, source.id)
    assert row.error_count == 1 and row.last_error_reason == "selector_too_expensive" and row.last_error_message


@pytest.mark.parametrize("selector", [NESTED_COUNT, "xpath:count(//a)"])
def test_api_refuses_hostile_selectors_with_422_in_german_and_quickly(settings, runtime, feed_server, selector):
    from tests.support.api_fixtures import build_api

    api = build_api(settings, runtime)
    padding = "".join(f"<div class='x'><p>Absatz {n}</p></div>" for n in range(300))  # the 10 KB page of the report
    feed_server.add("/presse/", page("nuernberg_list.html").replace(b"</body>", padding.encode() + b"</body>"), headers=HTML)
    body = {"url": feed_server.url("/presse/"), "kind": "html", "extraction": {"item": selector}}
    started = time.monotonic()
    answer = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json=body)
    assert time.monotonic() - started < 1
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert "nicht erlaubter XPath-Ausdruck" in problem["message"] and "Value error" not in problem["message"]
    assert [e["type"] for e in problem["errors"]] == ["invalid_selector"]


def test_invalid_selector_is_a_plain_field_error_in_the_registry():
    from syndicate.sources.registry import SourceEntry

    with pytest.raises(ValueError, match="ein absoluter Pfad innerhalb einer Bedingung"):
        SourceEntry.model_validate({"url": "https://a.example/", "kind": "html", "html": {"item": NESTED_COUNT}})


def test_overlapping_contexts_give_each_node_once():
    doc = lxml.html.document_fromstring(_deep_page(chains=1, depth=3))
    assert len(selectors.evaluate(doc, "div div p", Meter())) == 50
