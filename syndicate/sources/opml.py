"""OPML 2.0 export and import of a city's sources.

Export writes one ``<outline type="rss">`` per source with its title and, as OPML's
``category`` attribute, its default topics (``/it-sicherheit,/klimaschutz``). Import reads
every outline with an ``xmlUrl`` (nested folders too) and registers it through
``sources_service.create_source``: the same validation, test fetch and audit as one POST.
The document is parsed with defusedxml, so entity tricks are refused, not expanded.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.access import audit
from syndicate.clock import utcnow
from syndicate.errors import Invalid, ServiceError
from syndicate.ingest.refresh import RefreshConfig
from syndicate.models import City, Source, Topic
from syndicate.sources import service as sources_service

MAX_BYTES = 1024 * 1024
MAX_OUTLINES = 200


@dataclass(frozen=True)
class Outline:
    url: str
    title: str | None
    topics: list[str]


def render(city: City, sources: list[Source]) -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"Quellen von {city.name}"
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(utcnow(), usegmt=True)
    body = ET.SubElement(root, "body")
    for source in sources:
        title = source.title or source.feed_title or source.url
        attributes = {"type": "rss", "text": title, "title": title, "xmlUrl": source.url}
        if source.site_url:
            attributes["htmlUrl"] = source.site_url
        if source.default_topics:
            attributes["category"] = ",".join(f"/{slug}" for slug in source.default_topics)
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def parse(document: bytes) -> list[Outline]:
    if len(document) > MAX_BYTES:
        raise Invalid(f"das OPML-Dokument ist größer als {MAX_BYTES} Bytes", reason="invalid_opml")
    try:
        root = fromstring(document, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise Invalid(f"kein lesbares OPML: {exc.__class__.__name__}: {exc}", reason="invalid_opml") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise Invalid("kein OPML-Dokument (<opml><body> fehlt)", reason="invalid_opml")
    outlines = []
    for element in body.iter("outline"):
        url = (element.get("xmlUrl") or element.get("xmlurl") or "").strip()
        if not url:
            continue
        categories = [c.strip().strip("/") for c in (element.get("category") or "").split(",")]
        outlines.append(Outline(url, element.get("title") or element.get("text") or None, [c for c in categories if c]))
    if len(outlines) > MAX_OUTLINES:
        raise Invalid(f"höchstens {MAX_OUTLINES} Feeds pro Import (gefunden: {len(outlines)})", reason="too_many_outlines")
    return outlines


def import_document(
    session: Session,
    client: httpx.Client,
    config: RefreshConfig,
    city: City,
    document: bytes,
    *,
    actor: str,
    enqueue: sources_service.Enqueue,
    force: bool = False,
) -> list[dict]:
    """Register every feed of the document for ``city``; one result per outline, in document order."""
    outlines = parse(document)
    known = set(session.scalars(select(Topic.slug)))
    results: list[dict[str, str | int | None]] = []
    for outline in outlines:
        spec = sources_service.SourceSpec(url=outline.url, title=outline.title, default_topics=[t for t in outline.topics if t in known])
        try:
            created = sources_service.create_source(session, client, config, city, spec, actor=actor, enqueue=enqueue, force=force)
        except ServiceError as exc:
            session.rollback()
            results.append({"url": outline.url, "status": "refused", "reason": exc.reason, "message": exc.message, "id": None})
            continue
        results.append({"url": outline.url, "status": "created", "reason": None, "message": None, "id": created.source.id})
    counts = {"created": sum(r["status"] == "created" for r in results), "refused": sum(r["status"] == "refused" for r in results)}
    audit.record(session, actor=actor, action="city.opml_import", city_id=city.id, target=city, after=counts)
    session.commit()
    return results
