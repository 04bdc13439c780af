"""OPML export and import per city, through the API."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import delete, func, select

from syndicate.errors import Invalid
from syndicate.models import AuditEntry, City, Source
from syndicate.sources import opml
from tests.support.api_fixtures import RSS_TYPE, add_source, make_city, rss

OPML_TYPE = {"Content-Type": "text/x-opml"}


def outlines(document: bytes) -> list[dict]:
    root = ET.fromstring(document)
    return [dict(element.attrib) for element in root.iter("outline")]


def test_export_lists_every_source_of_the_city(api, session):
    muenchen = session.scalar(select(City).where(City.slug == "muenchen"))
    add_source(
        session,
        muenchen,
        "https://muenchen.example/rss.xml?a=1&b=2",
        title="Presse & Medien",
        site_url="https://muenchen.example/",
        default_topics=["digitalisierung", "klimaschutz"],
    )
    add_source(
        session,
        muenchen,
        "https://muenchen.example/datei.xml",
        origin="file",
        registry_file="feeds/muenchen.toml",
        feed_title="Aus der Datei",
    )
    add_source(session, session.scalar(select(City).where(City.slug == "augsburg")), "https://augsburg.example/rss.xml")
    answer = api.call("GET", "/api/v1/cities/muenchen/opml", "muenchen")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/x-opml") and "muenchen.opml" in answer.headers["content-disposition"]
    root = ET.fromstring(answer.content)
    assert root.tag == "opml" and root.get("version") == "2.0" and "München" in root.findtext("head/title")
    assert outlines(answer.content) == [
        {
            "type": "rss",
            "text": "Presse & Medien",
            "title": "Presse & Medien",
            "xmlUrl": "https://muenchen.example/rss.xml?a=1&b=2",
            "htmlUrl": "https://muenchen.example/",
            "category": "/digitalisierung,/klimaschutz",
        },
        {"type": "rss", "text": "Aus der Datei", "title": "Aus der Datei", "xmlUrl": "https://muenchen.example/datei.xml"},
    ]


def test_round_trip_into_an_empty_city_keeps_every_source(api, session, feed_server):
    specs = [
        ("/presse.xml", {"title": "Presse", "default_topics": ["digitalisierung"]}),
        ("/klima.xml", {"default_topics": ["klimaschutz", "mobilitaet"]}),
        ("/rathaus.xml?rubrik=1&seite=2", {"title": "Rathaus <Umschau> & mehr"}),
    ]
    for path, _ in specs:
        feed_server.add(path.split("?")[0], rss(f"Feed {path}", ["Eins", "Zwei"]), headers=RSS_TYPE)
    for path, extra in specs:
        created = api.call("POST", "/api/v1/cities/muenchen/sources", "muenchen", json={"url": feed_server.url(path), **extra})
        assert created.status_code == 201, created.text
    exported = api.call("GET", "/api/v1/cities/muenchen/opml", "muenchen").content

    def kept(city: str) -> list[tuple]:
        session.expire_all()
        rows = session.scalars(select(Source).join(City).where(City.slug == city).order_by(Source.url))
        return [(s.url, s.title, s.feed_title, s.default_topics, s.enabled, s.origin) for s in rows]

    original = kept("muenchen")
    assert len(original) == 3
    session.execute(delete(Source))  # a new installation: the URLs are free again
    session.commit()
    make_city(session, "neustadt", "Neustadt")
    imported = api.call("POST", "/api/v1/cities/neustadt/opml", "operator", content=exported, headers=OPML_TYPE)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["created"], imported.json()["refused"]) == (3, 0)
    assert kept("neustadt") == original
    again = api.call("GET", "/api/v1/cities/neustadt/opml", "operator").content
    assert outlines(again) == outlines(exported)
    assert len(api.queue.sent) == 6 and all(api.queue.visible)  # 3 creates + 3 imports, each after its commit


def test_import_reports_each_outline_and_goes_on(api, session, feed_server):
    feed_server.add("/gut.xml", rss("Gut", ["Eins"]), headers=RSS_TYPE)
    feed_server.add("/seite.html", "<html><body>kein Feed</body></html>", headers={"Content-Type": "text/html"})
    existing = add_source(session, session.scalar(select(City).where(City.slug == "augsburg")), feed_server.url("/schon-da.xml"))
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Export aus einem Feedreader</title></head><body>
  <outline text="Ordner">
    <outline text="Gute Nachrichten" type="rss" xmlUrl="{feed_server.url("/gut.xml")}" category="/digitalisierung,/Kultur,Sport"/>
    <outline text="Seite" type="rss" xmlUrl="{feed_server.url("/seite.html")}"/>
  </outline>
  <outline text="ohne URL"/>
  <outline text="Schon da" type="rss" xmlUrl="{feed_server.url("/schon-da.xml")}"/>
  <outline text="Gesperrt" type="rss" xmlUrl="http://127.0.0.2:{feed_server.port}/gut.xml"/>
  <outline text="Gut doppelt" type="rss" xmlUrl="{feed_server.url("/gut.xml")}?utm_source=x"/>
</body></opml>"""
    answer = api.call("POST", "/api/v1/cities/muenchen/opml", "muenchen", content=document.encode(), headers=OPML_TYPE)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["status"], r["reason"]) for r in results] == [
        ("created", None),
        ("refused", "not_a_feed"),
        ("refused", "already_registered"),
        ("refused", "blocked_address"),
        ("refused", "already_registered"),
    ]
    created = session.get(Source, results[0]["id"])
    assert (created.title, created.default_topics, created.city.slug) == ("Gute Nachrichten", ["digitalisierung"], "muenchen")
    assert (
        results[2]["message"] == "diese Adresse ist bereits von einem anderen Teilnehmer registriert"
        and str(existing.id) not in results[2]["message"]
    )
    assert api.queue.sent == [created.id]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "city.opml_import"))
    assert entry.after == {"created": 1, "refused": 4} and entry.actor.endswith("city:muenchen")

    forced = api.call("POST", "/api/v1/cities/muenchen/opml?force=true", "muenchen", content=document.encode(), headers=OPML_TYPE).json()
    assert [(r["status"], r["reason"]) for r in forced["results"]][:4] == [
        ("refused", "already_registered"),
        ("created", None),
        ("refused", "already_registered"),
        ("refused", "blocked_address"),
    ]


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml at all",
        b"<rss version='2.0'><channel/></rss>",
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="http://127.0.0.1/x"/></body></opml>',
        b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml version="2.0"><body/></opml>',
    ],
    ids=["empty", "not-xml", "not-opml", "entity-expansion", "external-dtd"],
)
def test_import_refuses_documents_that_are_not_safe_opml(api, session, document):
    answer = api.call("POST", "/api/v1/cities/muenchen/opml", "muenchen", content=document, headers=OPML_TYPE)
    assert answer.status_code == 422 and answer.json()["reason"] == "invalid_opml", answer.text
    assert session.scalar(select(func.count(Source.id))) == 0


def test_import_limits_size_and_number_of_outlines(api):
    many = "".join(f'<outline xmlUrl="http://127.0.0.2/{i}.xml"/>' for i in range(opml.MAX_OUTLINES + 1))
    answer = api.call("POST", "/api/v1/cities/muenchen/opml", "muenchen", content=f"<opml><body>{many}</body></opml>", headers=OPML_TYPE)
    assert answer.json()["reason"] == "too_many_outlines"
    huge = b"<opml><body>" + b" " * (opml.MAX_BYTES + 1) + b"</body></opml>"
    answer = api.call("POST", "/api/v1/cities/muenchen/opml", "muenchen", content=huge, headers=OPML_TYPE)
    assert answer.status_code == 422 and answer.json()["reason"] == "invalid_opml"


def test_parse_reads_nested_outlines_and_categories():
    document = b"""<opml version="2.0"><body><outline text="A"><outline text="B" title="Titel B" xmlUrl=" https://b.example/feed "
        category="/x, /y"/></outline></body></opml>"""
    assert opml.parse(document) == [opml.Outline("https://b.example/feed", "Titel B", ["x", "y"])]
    with pytest.raises(Invalid):
        opml.parse(b"<opml/>")
