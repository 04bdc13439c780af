"""What the console's source pages show: a principal's sources grouped by city with their state from the
one state model (ops.states), and the fetch log with each reason explained for a city, with what to do."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from syndicate.access.tokens import Principal
from syndicate.errors import Invalid, german, reason_message
from syndicate.ingest.refresh import RefreshConfig
from syndicate.models import Article, City, FetchLog, Source, Topic
from syndicate.ops.states import LABELS, source_state
from syndicate.reader.discover import FeedLink
from syndicate.reader.errors import InvalidSelector, NotAFeed, SelectorsMatchedNothing, SyndicateError
from syndicate.reader.fetch import FetchResult
from syndicate.reader.parse import RawEntry
from syndicate.sources import service

# What a city can do about a failed or deferred check, for every reason code of the reader's exception tree
# (syndicate/reader/errors.py; tests/test_console.py fails when one is missing). GENERIC_ADVICE is only for codes
# written by older versions.
MOVED = "Die Adresse gibt es nicht mehr. Prüfen Sie, ob der Feed umgezogen ist, und registrieren Sie die neue Adresse; die alte Quelle können Sie stilllegen."
ADVICE = {
    "error": "Wir versuchen es automatisch wieder. Wenn der Fehler bleibt, wenden Sie sich an den Betrieb.",
    "deferred": "Sie müssen nichts tun: Der Abruf wird automatisch wiederholt.",
    "rate_limited": "Ihr Server bittet um Pausen. Wir halten uns daran; wenn das oft vorkommt, bitten Sie Ihre Web-Redaktion, unseren Abruf nicht zu bremsen.",
    "host_busy": "Sie müssen nichts tun: Wir rufen bei Ihrem Server nur wenig gleichzeitig ab und holen den Abruf gleich nach.",
    "host_rate": "Sie müssen nichts tun: Wir schonen Ihren Server und holen den Abruf gleich nach.",
    "fetch_error": "Wir versuchen es automatisch wieder. Wenn der Fehler bleibt, wenden Sie sich an Ihre IT oder an den Betrieb.",
    "invalid_url": "Die Adresse ist ungültig. Registrieren Sie die vollständige Adresse, die mit https:// beginnt, und legen Sie diese Quelle still.",
    "blocked_address": "Die Adresse zeigt auf ein internes Netz, das wir nicht abrufen. Registrieren Sie die öffentliche Adresse Ihres Newsrooms.",
    "connect": "Ihr Server ist nicht erreichbar. Wenn das anhält, sprechen Sie mit Ihrer IT.",
    "dns": "Den Servernamen gibt es nicht. Prüfen Sie die Adresse auf Tippfehler oder fragen Sie Ihre IT, ob die Domain umgezogen ist.",
    "timeout": "Ihr Server antwortet zu langsam. Wenn das anhält, sprechen Sie mit Ihrer IT.",
    "tls": "Das Zertifikat Ihres Servers ist ungültig oder abgelaufen. Bitten Sie Ihre IT, es zu erneuern.",
    "too_many_redirects": "Die Adresse leitet zu oft weiter. Registrieren Sie die Adresse, bei der die Weiterleitungen enden, oder fragen Sie Ihre IT.",
    "redirect_loop": "Die Weiterleitungen Ihres Servers führen im Kreis. Bitten Sie Ihre IT, sie zu prüfen.",
    "too_large": "Der Feed oder die Seite ist zu groß. Bitten Sie Ihre Web-Redaktion, weniger Meldungen darin aufzuführen.",
    "decompression_bomb": "Der Feed oder die Seite wird beim Entpacken zu groß. Bitten Sie Ihre Web-Redaktion, weniger Meldungen darin aufzuführen.",
    "decoding": "Ihr Server schickt die Daten beschädigt komprimiert. Bitten Sie Ihre IT, die Komprimierung (Content-Encoding) zu prüfen.",
    "http_error": "Ihr Server antwortet mit einem Fehler. Wenn das anhält, sprechen Sie mit Ihrer IT.",
    "http_401": "Der Feed ist nicht öffentlich. Bitten Sie Ihre Web-Redaktion, ihn ohne Anmeldung freizugeben.",
    "http_403": "Der Server lässt uns nicht zu. Bitten Sie Ihre Web-Redaktion, unseren Abruf nicht zu sperren.",
    "http_404": MOVED,
    "http_410": MOVED,
    "http_4xx": "Ihr Server lehnt unseren Abruf ab. Bitten Sie Ihre IT, den genannten HTTP-Status zu prüfen.",
    "http_5xx": "Ihr Server hat einen eigenen Fehler. Wir versuchen es automatisch wieder; wenn das anhält, sprechen Sie mit Ihrer IT.",
    "parse_error": "Der Feed ist fehlerhaft. Bitten Sie Ihre Web-Redaktion, ihn zu prüfen (etwa mit einem Feed-Validator).",
    "not_a_feed": "Unter der Adresse steht kein Feed mehr. Prüfen Sie, ob der Feed umgezogen ist, und registrieren Sie die neue Adresse.",
    "selectors_matched_nothing": "Die Seite wurde umgestaltet. Passen Sie unten die Selektoren an und prüfen Sie sie mit „Vorschau“.",
    "invalid_selector": "Ein Selektor ist nicht erlaubt. Ändern Sie ihn unten und prüfen Sie ihn mit „Vorschau“.",
    "selector_too_expensive": "Die Selektoren sind für diese Seite zu aufwendig. Wählen Sie unten einfachere und prüfen Sie sie mit „Vorschau“.",
}
WEEK = timedelta(days=7)
GENERIC_ADVICE = "Wir versuchen es automatisch wieder. Wenn der Fehler bleibt, wenden Sie sich an den Betrieb."


@dataclass(frozen=True)
class SourceRow:
    source: Source
    state: str
    label: str
    per_week: int = 0  # items first seen in the last seven days


@dataclass(frozen=True)
class CityGroup:
    city: City
    sources: list[SourceRow]


@dataclass(frozen=True)
class FetchRow:
    entry: FetchLog
    explanation: str | None
    advice: str | None

    @property
    def outcome(self) -> str:
        if self.explanation is None:
            return "erfolgreich"
        status = f" (HTTP {self.entry.http_status})" if self.entry.http_status else ""
        return ("verschoben" if self.entry.status == "deferred" else "Fehler") + status


def row(source: Source, now: datetime, broken_after: float, per_week: int = 0) -> SourceRow:
    state = source_state(source, now, broken_after)
    return SourceRow(source, state, LABELS[state], per_week)


def items_per_week(session: Session, source_ids: list[int], now: datetime) -> dict[int, int]:
    """Items first seen in the last seven days, per source."""
    if not source_ids:
        return {}
    query = (
        select(Article.source_id, func.count())
        .where(Article.source_id.in_(source_ids), Article.first_seen_at >= now - WEEK)
        .group_by(Article.source_id)
    )
    return {row[0]: row[1] for row in session.execute(query).all()}


def overview(session: Session, principal: Principal, now: datetime, broken_after: float) -> list[CityGroup]:
    """The sources the principal may see (a city: its own; an operator: all), grouped by city."""
    query = select(Source).options(joinedload(Source.city)).order_by(Source.city_id, Source.id)
    if not principal.is_operator:
        query = query.where(Source.city_id == principal.city_id)
    groups: dict[int, CityGroup] = {}
    sources = list(session.scalars(query))
    counts = items_per_week(session, [source.id for source in sources], now)
    for source in sources:
        group = groups.setdefault(source.city_id, CityGroup(source.city, []))
        group.sources.append(row(source, now, broken_after, counts.get(source.id, 0)))
    return sorted(groups.values(), key=lambda group: group.city.name)


def cities(session: Session, principal: Principal) -> list[City]:
    """The cities the principal may register sources for."""
    query = select(City).order_by(City.name)
    if not principal.is_operator:
        query = query.where(City.id == principal.city_id)
    return list(session.scalars(query))


def source_counts(session: Session) -> dict[int, int]:
    """Sources per city id."""
    query = select(Source.city_id, func.count()).group_by(Source.city_id)
    return {row[0]: row[1] for row in session.execute(query).all()}


def topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.title)))


SELECTOR_REASONS = frozenset({"selectors_matched_nothing", "invalid_selector", "selector_too_expensive"})


def advice(reason: str, registry_file: str | None = None) -> str:
    """What the city can do about ``reason``; a source from ``registry_file`` is changed in that file, not here."""
    if registry_file and reason in SELECTOR_REASONS:
        return f"Die Selektoren dieser Quelle stehen in {registry_file}. Bitten Sie den Betrieb, sie dort anzupassen."
    return ADVICE.get(reason, GENERIC_ADVICE)


def last_error(source: Source) -> tuple[str, str] | None:
    """Why the source's checks fail (its last error, not a later deferral), in German, and what the city can do."""
    if not source.error_count or not source.last_error_reason:
        return None
    registry_file = source.registry_file if source.origin == "file" else None
    text = reason_message(source.last_error_reason, source.last_http_status)
    return text[:1].upper() + text[1:] + ".", advice(source.last_error_reason, registry_file)


def explain(entries: list[FetchLog], registry_file: str | None = None) -> list[FetchRow]:
    """The fetch log with each failure or deferral explained in German, with what the city can do."""
    rows = []
    for entry in entries:
        if entry.status == "ok" or entry.reason is None:
            rows.append(FetchRow(entry, None, None))
        else:
            rows.append(FetchRow(entry, reason_message(entry.reason, entry.http_status), advice(entry.reason, registry_file)))
    return rows


# ---------------------------------------------------------------- "Prüfen": what an address offers, before registering

REFUSED_ADVICE = {
    "invalid_url": "Bitte geben Sie eine vollständige Adresse an, die mit https:// beginnt.",
    "blocked_address": "Diese Adresse ist nicht öffentlich erreichbar. Bitte geben Sie die öffentliche Adresse Ihres Newsrooms an.",
    "not_a_feed": "Geben Sie die Adresse Ihrer Pressemitteilungen an, am besten die des RSS-Feeds.",
}


# The selector fields of the forms: (name, label, hint); each field is ``sel-<name>`` in the form.
SELECTOR_FIELDS = [
    ("item", "Meldungsblock", "Ein Element je Meldung, zum Beispiel article.teaser oder li.news."),
    ("title", "Titel", "Innerhalb des Blocks; leer: die erste Überschrift."),
    ("link", "Link", "Innerhalb des Blocks, zum Beispiel a@href; leer: der Link der Überschrift."),
    ("date", "Datum", "Innerhalb des Blocks, zum Beispiel time@datetime; leer: ein Datum im Text."),
    ("summary", "Anrisstext", "Innerhalb des Blocks; leer: kein Anrisstext."),
    ("image", "Bild", "Innerhalb des Blocks, zum Beispiel img@src; leer: kein Bild."),
    ("categories", "Kategorien", "Innerhalb des Blocks; leer: keine Kategorien."),
    ("next", "Nächste Seite", "Auf der Seite, zum Beispiel a.weiter@href; leer: ein Link mit rel=next."),
]
SHOWN_ITEMS = 10  # items of the preview listed with their link and date
LoadPage = Callable[[str], FetchResult]


def selector_values(form: dict[str, str], checked: set[str] | frozenset[str] = frozenset()) -> dict:
    """The selectors of a form (fields ``sel-<name>``, the checkbox ``sel-article_pages``), as typed."""
    values: dict = {name: form.get(f"sel-{name}", "").strip()[:500] for name, _label, _hint in SELECTOR_FIELDS}
    values["article_pages"] = "sel-article_pages" in checked
    return values


def sentence(message: str) -> str:
    """A message written to follow a colon, as a sentence of its own."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


SYNTAX = re.compile(r"(kein gültiger (?:CSS-Selektor|XPath-Ausdruck) (?:'[^']*'|\"[^\"]*\")): .*", re.S)
FIELD_PREFIX = re.compile(r"^Selektor \w+: ")


def field_message(message: str) -> str:
    """A selector's refusal as shown next to its field: without the field's name, and without the parser's
    own (English) account of a syntax error."""
    text = SYNTAX.sub(r"\1; bitte prüfen Sie Klammern, Anführungszeichen und Schreibweise", FIELD_PREFIX.sub("", message))
    return sentence(text)


@dataclass(frozen=True)
class Extraction:
    """What selectors yield on an HTML newsroom page: the preview and its items, or why not (by field, or for the page)."""

    values: dict  # the selectors as typed (shown in the form again)
    checked: dict | None = None  # as they would be stored (None: the article blocks are detected on each poll)
    preview: service.Preview | None = None
    items: list[RawEntry] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # selector field → German message
    message: str | None = None  # the page could not be fetched or read
    advice: str | None = None

    @property
    def ok(self) -> bool:
        return self.preview is not None and not self.errors and self.message is None

    @property
    def shown(self) -> list[RawEntry]:
        return self.items[:SHOWN_ITEMS]


def try_selectors(load: LoadPage, url: str, config: RefreshConfig, values: dict) -> Extraction:
    """Check ``values`` as the service stores them and extract the page's items with them, changing nothing."""
    try:
        checked = service.check_extraction(values)
    except Invalid as exc:
        return Extraction(values, errors={exc.extra.get("field", "item"): field_message(exc.message)})
    try:
        shown, items = service.preview_html(load(url), config, checked)
    except SelectorsMatchedNothing:
        text = "Mit diesen Selektoren finden wir auf der Seite keine Meldung mit Link. Bitte prüfen Sie die Selektoren für den Meldungsblock und den Link."
        return Extraction(values, checked, errors={"item": text})
    except InvalidSelector as exc:  # refused while evaluating: the field whose selector the message names
        name = next((name for name, value in (checked or {}).items() if isinstance(value, str) and value in exc.message), "item")
        return Extraction(values, checked, errors={name: field_message(exc.message)})
    except SyndicateError as exc:
        return Extraction(values, checked, message=sentence(german(exc)), advice=ADVICE.get(exc.reason, GENERIC_ADVICE))
    return Extraction(values, checked, shown, items)


@dataclass(frozen=True)
class Finding:
    """What the test fetch found: ``kind`` is feed, html (a newsroom page with article blocks), advertises, or refused."""

    kind: str
    url: str
    preview: service.Preview | None = None
    feeds: list[FeedLink] = field(default_factory=list)
    extraction: Extraction | None = None  # html: the selectors and what they yield
    reason: str | None = None
    message: str | None = None
    advice: str | None = None


def refused(url: str, exc: SyndicateError) -> Finding:
    advice = REFUSED_ADVICE.get(exc.reason) or ADVICE.get(exc.reason, GENERIC_ADVICE)
    return Finding("refused", url, reason=exc.reason, message=german(exc), advice=advice)


def examine(load: LoadPage, url: str, config: RefreshConfig) -> Finding:
    """Look at ``url`` as registering it would (the service's detection and test fetch), changing nothing;
    ``load`` fetches the page once (syndicate.web.pagecache keeps it for the next preview)."""
    try:
        page = load(url)
        found = service.detect_page(page)
        if found.is_feed:
            return Finding("feed", found.url, preview=service.preview_page(page, config))
        if found.feeds:
            return Finding("advertises", found.url, feeds=found.feeds)
        if found.selectors is None:
            raise NotAFeed("no feed and no article blocks")
    except SyndicateError as exc:
        return refused(url, exc)
    values = {name: value for name, value in found.selectors.as_dict().items() if name != "max_pages"}
    extraction = try_selectors(load, url, config, values)
    return Finding("html", url, preview=extraction.preview, extraction=extraction)
