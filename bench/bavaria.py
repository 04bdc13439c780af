"""A year of Bavaria: a seeded generator of publishers, sources and 365 days of articles, bulk-loaded
into SQLite or PostgreSQL in the shapes the pipeline writes, and a day's delta through the real pipeline.

Usage:
    .venv/bin/python bench/bavaria.py load --url URL [--scale 1.0] [--seed 27]
    .venv/bin/python bench/bavaria.py delta --url URL [--scale 1.0] [--seed 27]
    .venv/bin/python bench/bavaria.py serve DIR         (the loopback feed server of ``delta``)

What is generated (``--scale`` scales the articles; publishers and sources stay at Bavaria's size, so
that /ops and /metrics are measured with ~6,000 sources at every scale):
  * 2,056 municipalities (the 25 largest cities by name, the rest with generated names and a
    population drawn from a heavy-tailed distribution), 71 Landkreise, 7 Bezirke and 6 partners
    (AKDB, state ministries): ~2,140 publishers;
  * ~6,000 sources: big cities run a dozen (press releases, departments, events), villages one or
    two; ~40 % RSS/Atom feeds, ~60 % HTML newsrooms (with selectors), a few disabled or failing;
  * ~1,000,000 articles at scale 1 over 365 days: a source's rate follows its publisher's size
    (München daily and more, a village monthly), weekdays and office hours; ~15 % of the articles
    are republications of another publisher's story (Landkreis, AKDB and ministry news taken up by
    their municipalities), stored as one cluster of several articles as the deduplication stores
    them; German text of municipal vocabulary with the topic keywords of feeds/topics.toml;
  * every table the pipeline fills: articles, clusters, article_topics (keyword memberships with the
    rule that matched), article_buckets (25 LSH rows per article, shared by republished copies),
    source_passages (each article's sentences and its source's boilerplate, counted), fetch_log (the
    last 15 days: fetches that found items, runs of unchanged polls folded into one row), sources'
    schedule and error columns, and the search index (SQLite: FTS5 filled by ``search.index.catch_up``;
    PostgreSQL: the generated tsvector column and its GIN index).

Bulk load: PostgreSQL through COPY (psycopg), with the secondary indexes dropped before and built
after; SQLite through executemany in large transactions. Then ``delta`` serves the next day's items
from a loopback HTTP server (feeds as RSS, newsrooms as HTML pages; unchanged sources answer 304 to
the ETag stored by the load) and refreshes every enabled source once through
``syndicate.ingest.refresh.refresh_sources`` in groups, as a worker's batch task does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import resource
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 27
DAYS = 365
ARTICLES_PER_YEAR = 1_000_000  # at scale 1
REPUBLISHED_SHARE = 0.15
FETCH_LOG_DAYS = 15
BUCKETS = 25  # neardup: 24 bands + the title
# the year ends here: fixed, so that a seed always gives the same database (the delta is the day after)
END = datetime(2026, 11, 30, tzinfo=UTC)
BIG_CITIES = [
    ("muenchen", "Landeshauptstadt München", 1_510_000),
    ("nuernberg", "Stadt Nürnberg", 523_000),
    ("augsburg", "Stadt Augsburg", 301_000),
    ("regensburg", "Stadt Regensburg", 159_000),
    ("ingolstadt", "Stadt Ingolstadt", 142_000),
    ("wuerzburg", "Stadt Würzburg", 128_000),
    ("fuerth", "Stadt Fürth", 132_000),
    ("erlangen", "Stadt Erlangen", 116_000),
    ("bamberg", "Stadt Bamberg", 79_000),
    ("bayreuth", "Stadt Bayreuth", 74_000),
    ("landshut", "Stadt Landshut", 75_000),
    ("aschaffenburg", "Stadt Aschaffenburg", 71_000),
    ("kempten", "Stadt Kempten (Allgäu)", 70_000),
    ("rosenheim", "Stadt Rosenheim", 64_000),
    ("neu-ulm", "Stadt Neu-Ulm", 60_000),
    ("schweinfurt", "Stadt Schweinfurt", 54_000),
    ("passau", "Stadt Passau", 53_000),
    ("freising", "Große Kreisstadt Freising", 49_000),
    ("straubing", "Stadt Straubing", 48_000),
    ("dachau", "Große Kreisstadt Dachau", 48_000),
    ("hof", "Stadt Hof", 46_000),
    ("kaufbeuren", "Stadt Kaufbeuren", 45_000),
    ("memmingen", "Stadt Memmingen", 45_000),
    ("amberg", "Stadt Amberg", 42_000),
    ("weiden", "Stadt Weiden i.d.OPf.", 43_000),
]
MUNICIPALITIES = 2056
BEZIRKE = ["Oberbayern", "Niederbayern", "Oberpfalz", "Oberfranken", "Mittelfranken", "Unterfranken", "Schwaben"]
LANDKREISE = 71
PARTNERS = [
    ("akdb", "AKDB – Anstalt für Kommunale Datenverarbeitung in Bayern"),
    ("stmd", "Bayerisches Staatsministerium für Digitales"),
    ("stmi", "Bayerisches Staatsministerium des Innern"),
    ("stmuv", "Bayerisches Staatsministerium für Umwelt und Verbraucherschutz"),
    ("lsi", "Landesamt für Sicherheit in der Informationstechnik"),
    ("gemeindetag", "Bayerischer Gemeindetag"),
]
PREFIXES = ["", "", "", "Ober", "Unter", "Nieder", "Groß", "Klein", "Neu", "Alt", "Hohen", "Bad ", "Markt ", "Sankt "]
ROOTS = [
    "Ach", "Bach", "Berg", "Burg", "Eich", "Fels", "Hasel", "Kirch", "Lind", "Moos", "Reich", "Rot", "Sulz", "Tann",
    "Wald", "Weiden", "Wind", "Zell", "Egg", "Holz", "Brunn", "Stein", "Mühl", "Schön", "Wolf", "Eber", "Ering", "Peißen",
    "Fürsten", "Königs", "Herren", "Frauen", "Gunzen", "Ebers", "Wald", "Hof", "Au", "Thal",
]  # fmt: skip
SUFFIXES = [
    "hausen",
    "dorf",
    "heim",
    "kirchen",
    "feld",
    "ach",
    "bach",
    "berg",
    "ing",
    "ried",
    "stetten",
    "au",
    "reuth",
    "stadt",
    "brunn",
    "hofen",
]
# source kinds of a publisher: (path, title); a big city runs many, a village one or two
SOURCE_KINDS = [
    ("presse", "Pressemitteilungen"),
    ("aktuelles", "Aktuelles"),
    ("amtsblatt", "Amtsblatt"),
    ("veranstaltungen", "Veranstaltungen"),
    ("bauamt", "Bauamt und Stadtplanung"),
    ("umwelt", "Umwelt und Klimaschutz"),
    ("verkehr", "Verkehr und Baustellen"),
    ("buergerservice", "Bürgerservice"),
    ("schulen", "Schulen und Kitas"),
    ("kultur", "Kultur und Museen"),
    ("sport", "Sport und Freizeit"),
    ("wirtschaft", "Wirtschaft"),
    ("feuerwehr", "Feuerwehr"),
    ("stadtrat", "Sitzungen des Rates"),
]
WORDS = [
    "Gemeinderat", "Stadtrat", "Bürgermeister", "Bürgermeisterin", "Haushalt", "Sitzung", "Bebauungsplan", "Baugebiet",
    "Kindergarten", "Grundschule", "Mittagsbetreuung", "Feuerwehr", "Feuerwehrhaus", "Kläranlage", "Wasserversorgung",
    "Straßensanierung", "Umleitung", "Sperrung", "Bauarbeiten", "Friedhof", "Wertstoffhof", "Müllabfuhr", "Sperrmüll",
    "Bibliothek", "Musikschule", "Volkshochschule", "Ferienprogramm", "Seniorennachmittag", "Jugendtreff", "Sportverein",
    "Hallenbad", "Freibad", "Spielplatz", "Dorfplatz", "Rathaus", "Bürgerversammlung", "Vereine", "Ehrenamt", "Kirchweih",
    "Maibaum", "Christkindlmarkt", "Ausstellung", "Konzert", "Theater", "Gemeindeblatt", "Förderprogramm", "Zuschuss",
    "Grundsteuer", "Gewerbegebiet", "Breitbandausbau", "Nahwärmenetz", "Hochwasserschutz", "Winterdienst", "Streupflicht",
    "Landratsamt", "Kreistag", "Bezirkstag", "Jubiläum", "Ehrung", "Einweihung", "Spatenstich", "Richtfest",
]  # fmt: skip
FILLER = [
    "die", "der", "das", "und", "in", "mit", "für", "auf", "am", "im", "zum", "zur", "von", "den", "dem", "wird", "werden",
    "hat", "haben", "ab", "bis", "nach", "ist", "sind", "alle", "neue", "neuen", "bereits", "heute", "ab sofort", "wieder",
]  # fmt: skip
VERBS = [
    "beschlossen",
    "eröffnet",
    "vorgestellt",
    "informiert",
    "begonnen",
    "abgeschlossen",
    "geplant",
    "gefördert",
    "gewählt",
    "verschoben",
]
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"]


def _keywords() -> list[tuple[str, str, list[str]]]:
    """(slug, title, keywords as written) of feeds/topics.toml; a keyword's trailing * dropped for the text."""
    topics = tomllib.loads((ROOT / "feeds" / "topics.toml").read_text())["topics"]
    return [(t["slug"], t["title"], [k for k in t["keywords"] if len(k.rstrip("*")) >= 4]) for t in topics]


TOPICS = _keywords()


@dataclass
class Publisher:
    id: int
    slug: str
    name: str
    kind: str  # city | district | partner
    size: float  # population, or a partner's weight
    parent: int | None = None  # the Landkreis of a municipality


@dataclass
class SourcePlan:
    id: int
    publisher: Publisher
    path: str
    title: str
    kind: str  # feed | html
    rate: float  # articles per year
    enabled: bool = True
    failing: bool = False
    topics: list[str] = field(default_factory=list)


@dataclass
class World:
    publishers: list[Publisher]
    sources: list[SourcePlan]
    by_publisher: dict[int, list[SourcePlan]]


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choice(PREFIXES) + rng.choice(ROOTS) + rng.choice(SUFFIXES)
        name = name[0].upper() + name[1:]
        if name.lower() not in used:
            used.add(name.lower())
            return name


def slugify(name: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "-", ".": "", "(": "", ")": ""})
    return name.lower().translate(table)


def world(seed: int = SEED) -> World:
    """Publishers and sources, the same for a seed whatever the scale."""
    rng = random.Random(seed)
    publishers: list[Publisher] = []
    used = {slug for slug, _n, _p in BIG_CITIES}
    for slug, name, population in BIG_CITIES:
        publishers.append(Publisher(len(publishers) + 1, slug, name, "city", population))
    while len(publishers) < MUNICIPALITIES:
        name = _name(rng, used)
        # Pareto-like: most municipalities have 1,000–5,000 inhabitants, a few towns 20,000–40,000
        population = min(40_000, 900 * rng.paretovariate(1.3))
        kind = "Markt" if population > 4000 and rng.random() < 0.3 else ("Stadt" if population > 8000 else "Gemeinde")
        publishers.append(Publisher(len(publishers) + 1, slugify(name), f"{kind} {name}", "city", population))
    landkreise = []
    for _ in range(LANDKREISE):
        name = _name(rng, used)
        landkreise.append(Publisher(len(publishers) + 1, "landkreis-" + slugify(name), f"Landkreis {name}", "district", 130_000))
        publishers.append(landkreise[-1])
    for name in BEZIRKE:
        publishers.append(Publisher(len(publishers) + 1, "bezirk-" + slugify(name), f"Bezirk {name}", "district", 60_000))
    for slug, name in PARTNERS:
        publishers.append(Publisher(len(publishers) + 1, slug, name, "partner", 200_000))
    for p in publishers[:MUNICIPALITIES]:
        p.parent = landkreise[p.id % LANDKREISE].id
    sources: list[SourcePlan] = []
    by_publisher: dict[int, list[SourcePlan]] = {}
    for p in publishers:
        # sources per publisher: ~log of size; München 14, a town 4–6, a village 1–3 (≈ 6,000 in all)
        n = max(1, min(len(SOURCE_KINDS), int(math.log10(max(p.size, 500)) * 1.6 - 3.05 + rng.random() * 2.0)))
        if p.kind != "city":
            n = rng.randint(2, 5)
        html_share = 0.7 if p.size < 10_000 else 0.35  # villages mostly run a CMS news page without a feed
        for k in range(n):
            path, title = SOURCE_KINDS[k]
            roll = rng.random()
            plan = SourcePlan(
                id=len(sources) + 1,
                publisher=p,
                path=path,
                title=f"{p.name} – {title}",
                kind="html" if rng.random() < html_share else "feed",
                rate=0.0,
                enabled=roll > 0.01,
                failing=0.01 < roll < 0.04,
                topics=[TOPICS[k % len(TOPICS)][0]] if path in ("umwelt", "verkehr", "buergerservice") and rng.random() < 0.5 else [],
            )
            sources.append(plan)
            by_publisher.setdefault(p.id, []).append(plan)
    # rates: a publisher's yearly output ∝ size^0.8, its first sources the busiest; normalised to the total
    weights = []
    for s in sources:
        k = by_publisher[s.publisher.id].index(s)
        weights.append((s.publisher.size**0.8) / (1 + k) if s.enabled else 0.0)
    total = sum(weights)
    for s, w in zip(sources, weights):
        s.rate = w / total
    return World(publishers, sources, by_publisher)


# ---------------------------------------------------------------- articles


@dataclass
class Story:
    """An original article and its republications (as (source id, delay in minutes) pairs)."""

    id: int
    source: SourcePlan
    published_at: datetime
    title: str
    sentences: list[str]
    topic: int | None  # index into TOPICS
    keyword: str | None
    copies: list[tuple[int, int]]


def _sentence(rng: random.Random, words: list[str], place: str) -> str:
    picked = [rng.choice(FILLER), rng.choice(words), rng.choice(FILLER), rng.choice(WORDS), rng.choice(FILLER), rng.choice(words)]
    if rng.random() < 0.3:
        picked += ["in", place]
    picked += [rng.choice(FILLER), rng.choice(VERBS)]
    text = " ".join(picked)
    return text[0].upper() + text[1:] + "."


def _story(rng: random.Random, story_id: int, source: SourcePlan, published: datetime) -> tuple[str, list[str], int | None, str | None]:
    place = source.publisher.name.split(" ", 1)[-1]
    topic: int | None = None
    keyword = None
    words = rng.sample(WORDS, 6)
    if rng.random() < 0.45:  # about half the articles belong to one of the topics
        topic = rng.randrange(len(TOPICS))
        keyword = rng.choice(TOPICS[topic][2]).rstrip("*")
        words = [keyword, *words]
    head = words[0] if keyword else rng.choice(words)
    title = f"{head}: {rng.choice(words[1:])} {rng.choice(VERBS)}"
    if rng.random() < 0.3:
        title += f" ({published.day}. {MONTHS[published.month - 1]})"
    sentences = [_sentence(rng, words, place) for _ in range(rng.randint(4, 9))]
    if keyword and keyword not in sentences[0]:
        sentences[0] = f"{keyword}: " + sentences[0]
    return title, sentences, topic, keyword


def _when(rng: random.Random, day: datetime) -> datetime:
    """Office hours, Berlin time (≈ UTC+1): 07:00–16:00 UTC, weekdays mostly."""
    return day + timedelta(hours=6 + rng.random() * 10, seconds=rng.randrange(60))


def days_of(scale: float) -> Iterator[datetime]:
    first = END - timedelta(days=DAYS)
    for n in range(DAYS):
        yield first + timedelta(days=n)


def stories(w: World, scale: float, seed: int, day_from: int = 0, day_to: int = DAYS) -> Iterator[Story]:
    """The stories of days [day_from, day_to) (0 = END − 365 days), in order of days; deterministic per day."""
    originals_per_year = ARTICLES_PER_YEAR * scale / (1 + REPUBLISHED_SHARE / (1 - REPUBLISHED_SHARE))
    enabled = [s for s in w.sources if s.rate > 0]
    rates = numpy.array([s.rate for s in enabled])
    spreaders = [s for s in enabled if s.publisher.kind != "city"]
    municipalities_of: dict[int, list[SourcePlan]] = {}
    for s in enabled:
        if s.publisher.parent is not None:
            municipalities_of.setdefault(s.publisher.parent, []).append(s)
    all_municipal = [s for s in enabled if s.publisher.kind == "city"]
    story_id = day_from * 100_000  # ids unique per day (bounded by 100,000 stories a day)
    for n in range(day_from, day_to):
        day = END - timedelta(days=DAYS) + timedelta(days=n)
        rng = random.Random(f"{seed}-{n}")
        nrng = numpy.random.default_rng([seed, n])
        weekday = day.weekday() < 5
        expected = rates * originals_per_year / DAYS * (1.25 if weekday else 0.35)
        counts = nrng.poisson(expected)
        for index in numpy.nonzero(counts)[0]:
            source = enabled[int(index)]
            for _ in range(int(counts[index])):
                story_id += 1
                published = _when(rng, day)
                title, sentences, topic, keyword = _story(rng, story_id, source, published)
                yield Story(story_id, source, published, title, sentences, topic, keyword, [])
        # republications: stories of Landkreise, Bezirke and partners taken up by municipalities
        # (≈ 15 % of all articles are such copies)
        copies_wanted = nrng.poisson(originals_per_year / DAYS * REPUBLISHED_SHARE / (1 - REPUBLISHED_SHARE) * (1.25 if weekday else 0.35))
        while copies_wanted > 0:
            source = rng.choice(spreaders)
            story_id += 1
            published = _when(rng, day)
            title, sentences, topic, keyword = _story(rng, story_id, source, published)
            takers = municipalities_of.get(source.publisher.id) or all_municipal
            k = min(copies_wanted, rng.randint(2, 8), len(takers))
            chosen = rng.sample(takers, k)
            copies_wanted -= k
            yield Story(story_id, source, published, title, sentences, topic, keyword, [(c.id, rng.randint(30, 60 * 48)) for c in chosen])


# ---------------------------------------------------------------- rows


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def boilerplate_of(source_id: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"boilerplate-{source_id}".encode(), digest_size=8).digest(), "big", signed=True)


def article_url(source: SourcePlan, story_id: int, copy: bool) -> str:
    base = f"https://www.{source.publisher.slug}.de/{source.path}"
    return f"{base}/{'uebernommen-' if copy else ''}meldung-{story_id}"


def item_key(guid: str) -> str:
    """``reader.fingerprint.item_key`` of an entry whose GUID is usable."""
    return _sha("guid:" + guid)


@dataclass
class Rows:
    articles: list[tuple] = field(default_factory=list)
    clusters: list[tuple] = field(default_factory=list)
    topics: list[tuple] = field(default_factory=list)
    buckets: list[tuple] = field(default_factory=list)

    def clear(self) -> None:
        self.articles.clear()
        self.clusters.clear()
        self.topics.clear()
        self.buckets.clear()


ARTICLE_COLUMNS = (
    "id", "source_id", "cluster_id", "item_key", "guid", "url", "canonical_url", "title", "summary_html", "content_html",
    "text", "content_hash", "author", "categories", "enclosures", "language", "published_at", "updated_at", "first_seen_at",
    "changed_at",
)  # fmt: skip
CLUSTER_COLUMNS = ("id", "representative_id", "published_at", "updated_at", "created_at")
TOPIC_COLUMNS = ("article_id", "topic_id", "reason", "rule")
BUCKET_COLUMNS = ("bucket", "published", "article_id")


def rows_of(story: Story, next_id: int, sources: dict[int, SourcePlan], topic_ids: dict[str, int], out: Rows, passages: dict) -> int:
    """The rows the pipeline writes for a story and its copies; returns the next free article id."""
    from syndicate.reader.fingerprint import _content_hash

    text = " ".join(story.sentences)
    html = "".join(f"<p>{escape(s)}</p>" for s in story.sentences)
    content_hash = _content_hash(story.title, text)
    rng = random.Random(story.id)
    buckets = [rng.getrandbits(63) - (1 << 62) for _ in range(BUCKETS)]
    sentence_hashes = [rng.getrandbits(63) - (1 << 62) for _ in story.sentences]
    epoch = int(story.published_at.timestamp())
    cluster_id = next_id
    members = [(story.source, 0, False)] + [(sources[sid], delay, True) for sid, delay in story.copies]
    last_seen = story.published_at
    for source, delay, copy in members:
        article_id = next_id
        next_id += 1
        url = article_url(source, story.id, copy)
        seen = story.published_at + timedelta(minutes=delay + 5 + (story.id % 55))
        last_seen = max(last_seen, seen)
        category = [TOPICS[story.topic][1]] if story.topic is not None and source.kind == "feed" and story.id % 3 == 0 else []
        out.articles.append(
            (
                article_id,
                source.id,
                cluster_id,
                item_key(url),
                url,
                url,
                url,
                story.title,
                f"<p>{escape(story.sentences[0])}</p>",
                html if source.kind == "feed" else None,
                text,
                content_hash,
                None,
                json.dumps(category),
                "[]",
                "de",
                story.published_at + timedelta(minutes=delay),
                None,
                seen,
                seen,
            )
        )
        if story.topic is not None:
            slug = TOPICS[story.topic][0]
            rule = next((k for k in TOPICS[story.topic][2] if k.rstrip("*") == story.keyword), story.keyword)
            out.topics.append((article_id, topic_ids[slug], "keyword", rule))
        for slug in source.topics:
            if story.topic is None or TOPICS[story.topic][0] != slug:
                out.topics.append((article_id, topic_ids[slug], "source", "Standardthema der Quelle"))
        out.buckets.extend((b, epoch, article_id) for b in buckets)
        for h in sentence_hashes:
            passages[(source.id, h)] = passages.get((source.id, h), 0) + 1
        key = (source.id, boilerplate_of(source.id))
        passages[key] = passages.get(key, 0) + 1
    out.clusters.append((cluster_id, cluster_id, story.published_at, last_seen, story.published_at + timedelta(minutes=5 + story.id % 55)))
    return next_id


def fetch_log_rows(w: World, per_day: dict[tuple[int, int], int], seed: int) -> Iterator[tuple]:
    """The last FETCH_LOG_DAYS days of each enabled source: a row per fetch that found items, the quiet
    polls between them folded into one row each (not_modified for feeds, unchanged for pages)."""
    rng = random.Random(seed + 1)
    first_day = DAYS - FETCH_LOG_DAYS
    for s in w.sources:
        if not s.enabled:
            continue
        for n in range(first_day, DAYS):
            day = END - timedelta(days=DAYS - n)
            new = per_day.get((s.id, n), 0)
            quiet = "not_modified" if s.kind == "feed" else "unchanged"
            start = day + timedelta(minutes=rng.randrange(30))
            if s.failing and n >= DAYS - 3:
                yield (
                    s.id,
                    start,
                    rng.randint(200, 20000),
                    "error",
                    503,
                    0,
                    0,
                    0,
                    0,
                    "http_5xx",
                    "HTTP 503 beim Abruf",
                    30,
                    start + timedelta(hours=23),
                )
                continue
            repeats = rng.randint(10, 40)
            yield (
                s.id,
                start,
                rng.randint(20, 400),
                quiet,
                304 if s.kind == "feed" else 200,
                0,
                0,
                0,
                0,
                None,
                None,
                repeats,
                start + timedelta(hours=12),
            )
            if new:
                at = day + timedelta(hours=12, minutes=rng.randrange(300))
                yield (s.id, at, rng.randint(40, 900), "new", 200, rng.randint(8_000, 90_000), new, 0, 0, None, None, 1, at)
                yield (
                    s.id,
                    at + timedelta(minutes=20),
                    rng.randint(20, 400),
                    quiet,
                    304 if s.kind == "feed" else 200,
                    0,
                    0,
                    0,
                    0,
                    None,
                    None,
                    repeats,
                    day + timedelta(hours=23, minutes=50),
                )


FETCH_COLUMNS = (
    "source_id", "started_at", "duration_ms", "status", "http_status", "bytes", "new_items", "updated_items", "duplicates", "reason",
    "message", "repeats", "last_started_at",
)  # fmt: skip


# ---------------------------------------------------------------- writing


class Writer:
    """Rows into the tables: COPY on PostgreSQL, executemany on SQLite; one transaction per flush."""

    def __init__(self, engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        self.connection = self.raw.driver_connection

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple] | Iterator[tuple]) -> None:
        if self.dialect == "postgresql":
            with self.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", (_sqlite_row(r) for r in rows))

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.commit()
        self.raw.close()


def _sqlite_value(value):
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DateTime: naive UTC as text
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _sqlite_row(row: tuple) -> tuple:
    return tuple(_sqlite_value(v) for v in row)


def _pg_secondary_indexes(connection, tables: list[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of ``tables`` that back no constraint."""
    return [
        (name, definition)
        for name, definition in connection.exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (tables,),
        )
    ]


def create_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` when the server does not have it yet (a fresh machine)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    if not name:
        return
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()


def reset(url: str) -> None:
    """An empty database at the newest revision."""
    from sqlalchemy import text

    from syndicate import db as migrate
    from syndicate.db import make_engine
    from syndicate.models import Base

    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        create_database(url)
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    migrate.upgrade(url)


@dataclass
class LoadReport:
    seconds: float
    articles: int
    clusters: int
    sources: int
    publishers: int
    copies: int


def load(url: str, scale: float, seed: int = SEED, log=print) -> LoadReport:
    from sqlalchemy import insert, text

    from syndicate.db import make_engine
    from syndicate.models import City, Source, Topic

    started = time.perf_counter()
    reset(url)
    w = world(seed)
    engine = make_engine(url)
    dialect = engine.dialect.name
    topics = tomllib.loads((ROOT / "feeds" / "topics.toml").read_text())["topics"]
    topic_ids = {t["slug"]: n + 1 for n, t in enumerate(topics)}
    created = END - timedelta(days=DAYS + 30)
    with engine.begin() as connection:
        connection.execute(
            insert(Topic),
            [
                {
                    "id": topic_ids[t["slug"]],
                    "slug": t["slug"],
                    "title": t["title"],
                    "description": t.get("description"),
                    "categories": t.get("categories", []),
                    "keywords": t.get("keywords", []),
                    "exclude": t.get("exclude", []),
                }
                for t in topics
            ],
        )
        connection.execute(
            insert(City),
            [
                {
                    "id": p.id,
                    "slug": p.slug,
                    "name": p.name,
                    "kind": p.kind,
                    "website": f"https://www.{p.slug}.de/",
                    "newsroom": f"https://www.{p.slug}.de/presse",
                    "registry_file": f"{p.slug}.toml",
                }
                for p in w.publishers
            ],
        )
        rng = random.Random(seed + 2)
        rows = []
        for s in w.sources:
            interval = 900 if s.rate * ARTICLES_PER_YEAR > 700 else (3600 if s.rate * ARTICLES_PER_YEAR > 50 else 4 * 3600)
            checked = END + timedelta(hours=23) - timedelta(seconds=rng.randrange(interval))
            rows.append(
                {
                    "id": s.id,
                    "city_id": s.publisher.id,
                    "url": source_url(s, "http://127.0.0.1:1"),
                    "canonical_url": f"https://www.{s.publisher.slug}.de/{s.path}{'/feed.rss' if s.kind == 'feed' else '/'}",
                    "title": s.title,
                    "feed_title": s.title,
                    "site_url": f"https://www.{s.publisher.slug}.de/{s.path}/",
                    "origin": "file",
                    "registry_file": f"{s.publisher.slug}.toml",
                    "enabled": s.enabled,
                    "default_topics": s.topics,
                    "kind": s.kind,
                    "extraction": HTML_SELECTORS if s.kind == "html" else None,
                    "etag": f'"pre-{s.id}"',
                    "body_hash": None,
                    "next_check_at": checked + timedelta(seconds=interval),
                    "last_checked_at": checked,
                    "last_success_at": None if s.failing else checked,
                    "first_error_at": checked - timedelta(days=3) if s.failing else None,
                    "error_count": 30 if s.failing else 0,
                    "last_error_reason": "http_5xx" if s.failing else None,
                    "last_error_message": "HTTP 503 beim Abruf" if s.failing else None,
                    "last_http_status": 503 if s.failing else (304 if s.kind == "feed" else 200),
                    "current_interval": interval,
                    "created_at": created,
                }
            )
        connection.execute(insert(Source), rows)
    sources = {s.id: s for s in w.sources}
    secondary: list[tuple[str, str]] = []
    if dialect == "postgresql":
        with engine.begin() as connection:
            secondary = _pg_secondary_indexes(connection, ["articles", "clusters", "article_topics", "fetch_log", "article_buckets"])
            for name, _definition in secondary:
                connection.exec_driver_sql(f"DROP INDEX {name}")
    writer = Writer(engine)
    out, passages, per_day = Rows(), {}, {}
    next_id, copies, n_stories = 1, 0, 0
    for story in stories(w, scale, seed):
        next_id = rows_of(story, next_id, sources, topic_ids, out, passages)
        n_stories += 1
        copies += len(story.copies)
        day = (story.published_at - (END - timedelta(days=DAYS))).days
        for sid in [story.source.id] + [c for c, _d in story.copies]:
            per_day[(sid, day)] = per_day.get((sid, day), 0) + 1
        if len(out.articles) >= 20_000:
            _flush(writer, out)
    _flush(writer, out)
    log(
        f"  articles written: {next_id - 1:,} ({n_stories:,} stories, {copies:,} republished copies) in {time.perf_counter() - started:.0f} s"
    )
    writer.write("source_passages", ("source_id", "passage", "articles"), ((s, h, n) for (s, h), n in passages.items()))
    writer.write("fetch_log", FETCH_COLUMNS, fetch_log_rows(w, per_day, seed))
    writer.close()
    del passages
    log(f"  passages and fetch log written at {time.perf_counter() - started:.0f} s")
    with engine.begin() as connection:
        if dialect == "postgresql":
            for _name, definition in secondary:
                connection.exec_driver_sql(definition)
            for table in ("articles", "clusters", "fetch_log", "topics", "cities", "sources"):
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    log(f"  indexes built at {time.perf_counter() - started:.0f} s")
    trimmed = trim(engine)
    log(f"  {trimmed:,} articles beyond a source's newest {RETAINED_PER_SOURCE:,} left out at {time.perf_counter() - started:.0f} s")
    if dialect == "sqlite":
        from syndicate.db import make_session_factory
        from syndicate.search import index as search_index

        with make_session_factory(engine)() as session:
            search_index.catch_up(session)
        log(f"  search index built at {time.perf_counter() - started:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    engine.dispose()
    return LoadReport(time.perf_counter() - started, next_id - 1 - trimmed, n_stories, len(w.sources), len(w.publishers), copies)


RETAINED_PER_SOURCE = 1000  # SYNDICATE_RETENTION_PER_SOURCE's default


def trim(engine, keep: int = RETAINED_PER_SOURCE) -> int:
    """Delete each source's articles beyond its newest ``keep`` (with their bucket rows and emptied stories):
    a year in service has been through retention every hour, so the database holds no such backlog (a
    first maintenance run burying 126,000 articles one by one at scale 1 is not the run being measured)."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TEMP TABLE doomed AS SELECT id FROM (SELECT id, row_number() OVER "
            f"(PARTITION BY source_id ORDER BY published_at DESC, id DESC) AS n FROM articles) AS ranked WHERE n > {int(keep)}"
        )
        doomed = connection.exec_driver_sql("SELECT count(*) FROM doomed").scalar()
        connection.exec_driver_sql("DELETE FROM article_buckets WHERE article_id IN (SELECT id FROM doomed)")
        connection.exec_driver_sql("DELETE FROM article_topics WHERE article_id IN (SELECT id FROM doomed)")
        connection.exec_driver_sql("DELETE FROM articles WHERE id IN (SELECT id FROM doomed)")
        connection.exec_driver_sql("DELETE FROM clusters WHERE NOT EXISTS (SELECT 1 FROM articles WHERE articles.cluster_id = clusters.id)")
        connection.exec_driver_sql("DROP TABLE doomed")
    return doomed


def _flush(writer: Writer, out: Rows) -> None:
    writer.write("clusters", CLUSTER_COLUMNS, out.clusters)
    writer.write("articles", ARTICLE_COLUMNS, out.articles)
    writer.write("article_topics", TOPIC_COLUMNS, out.topics)
    writer.write("article_buckets", BUCKET_COLUMNS, out.buckets)
    writer.commit()
    out.clear()


# ---------------------------------------------------------------- the day's delta through the real pipeline

HTML_SELECTORS = {"item": "article.news", "title": "h2", "link": "h2 a@href", "date": "time", "summary": "p.teaser"}


def source_url(s: SourcePlan, base: str) -> str:
    return f"{base}/s/{s.id}.{'xml' if s.kind == 'feed' else 'html'}"


def render_feed(s: SourcePlan, items: list[Story]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>{escape(s.title)}</title><link>https://www.{s.publisher.slug}.de/{s.path}/</link><language>de</language>",
    ]
    for story in items:
        url = article_url(s, story.id, s.id != story.source.id)
        parts.append(
            f"<item><title>{escape(story.title)}</title><link>{url}</link><guid>{url}</guid>"
            f"<pubDate>{format_datetime(story.published_at, usegmt=True)}</pubDate>"
            f"<description>{escape(''.join(f'<p>{escape(x)}</p>' for x in story.sentences))}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def render_page(s: SourcePlan, items: list[Story]) -> bytes:
    parts = [
        f"<!doctype html><html lang=de><head><meta charset=utf-8><title>{escape(s.title)}</title></head><body><main><h1>Aktuelles</h1>"
    ]
    for story in items:
        url = article_url(s, story.id, s.id != story.source.id)
        parts.append(
            f'<article class="news"><h2><a href="{url}">{escape(story.title)}</a></h2>'
            f'<time datetime="{story.published_at.isoformat()}">{story.published_at:%d.%m.%Y}</time>'
            f'<p class="teaser">{escape(" ".join(story.sentences))}</p></article>'
        )
    parts.append("</main></body></html>")
    return "".join(parts).encode()


def write_delta(directory: Path, w: World, scale: float, seed: int, day: int) -> tuple[int, int]:
    """The documents of the sources that published on ``day`` (≥ DAYS: after the loaded year); returns
    (sources changed, items)."""
    directory.mkdir(parents=True, exist_ok=True)
    items: dict[int, list[Story]] = {}
    sources = {s.id: s for s in w.sources}
    n = 0
    for story in stories(w, scale, seed, day, day + 1):
        for sid in [story.source.id] + [c for c, _d in story.copies]:
            items.setdefault(sid, []).append(story)
            n += 1
    for sid, found in items.items():
        s = sources[sid]
        body = render_feed(s, found) if s.kind == "feed" else render_page(s, found)
        (directory / f"{sid}").write_bytes(body)
    return len(items), n


class _Handler(BaseHTTPRequestHandler):
    directory: Path
    served = {"200": 0, "304": 0, "503": 0}
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802 (http.server's name)
        sid = self.path.rsplit("/", 1)[-1].split(".")[0]
        path = self.directory / sid
        failing = self.directory / f"failing-{sid}"
        if failing.exists():
            self._count("503")
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not path.exists():
            self._count("304")
            self.send_response(304)
            self.send_header("ETag", f'"pre-{sid}"')
            self.end_headers()
            return
        body = path.read_bytes()
        self._count("200")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml" if self.path.endswith(".xml") else "text/html; charset=utf-8")
        self.send_header("ETag", f'"day-{sid}-{len(body)}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _count(self, key: str) -> None:
        with self.lock:
            self.served[key] += 1

    def log_message(self, *_args):
        pass


def serve(directory: Path) -> None:
    _Handler.directory = directory
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


@dataclass
class DeltaReport:
    seconds: float
    sources_polled: int
    sources_changed: int
    items_served: int
    articles_added: int
    peak_rss_mb: float


def delta(url: str, scale: float, seed: int = SEED, tmp: Path | None = None, log=print) -> DeltaReport:
    """The next day after the newest stored one, through ``refresh_sources`` in groups (this process is the worker)."""
    import subprocess
    import tempfile

    tmp = tmp or Path(tempfile.mkdtemp(prefix="syndicate-bavaria-"))
    sys.path.insert(0, str(ROOT / "bench"))
    import scale as plumbing

    plumbing.use_env(plumbing.env_for(tmp, database_url=url))
    from sqlalchemy import func, select, update

    from syndicate.ingest import refresh
    from syndicate.models import Article, Source
    from syndicate.runtime import Runtime

    rt = Runtime()
    w = world(seed)
    with rt.sessions() as session:
        newest = session.scalar(select(func.max(Article.published_at)))
    day = max(DAYS, (newest - (END - timedelta(days=DAYS))).days + 1) if newest else DAYS
    documents = tmp / "documents"
    changed, items = write_delta(documents, w, scale, seed, day)
    for s in w.sources:
        if s.failing:
            (documents / f"failing-{s.id}").touch()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(documents)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        port = int(server.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}"
        with rt.sessions() as session:
            ids = [i for (i,) in session.execute(select(Source.id).where(Source.enabled).order_by(Source.id))]
            stop = END + timedelta(days=day - DAYS + 1)
            for s in w.sources:  # the loopback server's address, and every source due (a day has passed)
                session.execute(update(Source).where(Source.id == s.id).values(url=source_url(s, base)))
            session.execute(update(Source).values(next_check_at=stop - timedelta(hours=1), lease_state=None))
            session.commit()
            before = session.scalar(select(func.count(Article.id)))
        group = rt.settings.refresh_group
        started = time.perf_counter()
        for start in range(0, len(ids), group):
            with rt.sessions() as session:
                refresh.refresh_sources(session, rt.client, ids[start : start + group], rt.refresh_config, now=stop)
        seconds = time.perf_counter() - started
        with rt.sessions() as session:
            after = session.scalar(select(func.count(Article.id)))
    finally:
        os.killpg(server.pid, 15)
        server.wait()
        rt.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(
        f"  delta (day {day}): {len(ids):,} sources polled, {changed:,} with new items ({items:,}), {after - before:,} articles stored in {seconds:.1f} s"
    )
    return DeltaReport(seconds, len(ids), changed, items, after - before, peak)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("load", "delta"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--scale", type=float, default=1.0)
        p.add_argument("--seed", type=int, default=SEED)
    p = sub.add_parser("serve")
    p.add_argument("directory", type=Path)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.directory)
        return 0
    if args.command == "load":
        report = load(args.url, args.scale, args.seed)
        print(json.dumps(report.__dict__))
        return 0
    print(json.dumps(delta(args.url, args.scale, args.seed).__dict__))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
