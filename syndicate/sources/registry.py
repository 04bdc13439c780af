"""feeds/*.toml ⇄ database: cities, their file-managed sources, and topics.

Every file is validated before anything is written; an error names the file,
the key and, where it can be found, the line. ``sync`` is idempotent: a second
run with the same files changes nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.models import City, Source, Topic
from syndicate.reader.normalise import canonical_url

SLUG = r"^[a-z0-9][a-z0-9-]*$"


class RegistryError(Exception):
    reason = "registry_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CityEntry(_Strict):
    slug: str = Field(pattern=SLUG, max_length=64)
    name: str = Field(min_length=1)
    kind: Literal["city", "district", "partner"] = "city"
    contact: str | None = None
    website: str | None = None
    newsroom: str | None = None


class HtmlExtraction(_Strict):
    """``[sources.html]``: selectors for an HTML newsroom page (see syndicate.reader.html_source)."""

    item: str = Field(min_length=1)
    title: str | None = None
    link: str | None = None
    date: str | None = None
    summary: str | None = None
    image: str | None = None
    categories: str | None = None
    next: str | None = None
    max_pages: int = Field(default=5, ge=1, le=50)
    article_pages: bool = False

    @field_validator("item", "title", "link", "date", "summary", "image", "categories", "next")
    @classmethod
    def compiles(cls, value: str | None) -> str | None:
        if value is not None:
            from syndicate.reader.errors import InvalidSelector
            from syndicate.reader.html_source import check_selector

            try:
                check_selector(value)
            except InvalidSelector as exc:  # the German message as it is, without pydantic's "Value error, "
                raise PydanticCustomError("invalid_selector", "{message}", {"message": exc.message}) from exc
        return value


class SourceEntry(_Strict):
    url: str
    title: str | None = None
    kind: Literal["feed", "html"] = "feed"
    html: HtmlExtraction | None = None  # kind html without it: the article blocks are detected on each poll
    topics: list[str] = []
    enabled: bool = True
    min_interval: int | None = Field(default=None, ge=60)
    max_interval: int | None = Field(default=None, ge=60)
    urgent: bool = False  # warnings: polled at the shortest interval the host budget allows (docs/freshness.md)

    @model_validator(mode="after")
    def html_only_for_html(self) -> SourceEntry:
        if self.html is not None and self.kind != "html":
            raise ValueError('[sources.html] needs kind = "html"')
        return self

    @field_validator("url")
    @classmethod
    def http_url(cls, value: str) -> str:
        if canonical_url(value) is None:
            raise ValueError("must be an absolute http(s) URL")
        return value


class CityFile(_Strict):
    city: CityEntry
    sources: list[SourceEntry] = []


class TopicEntry(_Strict):
    slug: str = Field(pattern=SLUG, max_length=64)
    title: str = Field(min_length=1)
    description: str | None = None
    categories: list[str] = []
    keywords: list[str] = []
    exclude: list[str] = []  # keywords that veto category and keyword matches
    urgent: bool = False  # every source with this topic as a default is polled as a warnings source


class TopicsFile(_Strict):
    topics: list[TopicEntry]


@dataclass
class Registry:
    cities: dict[str, tuple[str, CityFile]] = field(default_factory=dict)  # slug → (file, content)
    topics: list[TopicEntry] = field(default_factory=list)


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    topics: int = 0
    cities: int = 0
    rules_changed: bool = False  # topic rules or a source's default topics changed: stored articles need re-classifying


def _line_of(text: str, loc: tuple) -> int | None:
    """Best effort: the line of the key named by a pydantic error location."""
    key = next((str(p) for p in reversed(loc) if isinstance(p, str)), None)
    index = next((p for p in loc if isinstance(p, int)), None)
    lines = text.splitlines()
    start, end, section = 0, len(lines), None
    if len(loc) > 1 and isinstance(loc[0], str):
        header = f"[[{loc[0]}]]" if index is not None else f"[{loc[0]}]"
        headers = [i for i, line in enumerate(lines) if line.split("#", 1)[0].strip() == header]
        position = index if index is not None else 0
        if position < len(headers):
            section = start = headers[position]
            # the table ends where the next table header begins
            end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for number in range(start, end):
        if key and re.match(rf"\s*{re.escape(key)}\s*=", lines[number]):
            return number + 1
    if section is None and key and len(loc) == 1:  # a whole table, e.g. an unknown [table]
        for number, line in enumerate(lines):
            if line.split("#", 1)[0].strip() in (f"[{key}]", f"[[{key}]]"):
                return number + 1
    return section + 1 if section is not None else None


def _load(path: Path, model: type[BaseModel]):
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
            line = _line_of(text, err["loc"])
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: key '{key}': {err['msg']}")
        raise RegistryError("\n".join(problems)) from exc


def load_registry(feeds_dir: Path) -> Registry:
    if not feeds_dir.is_dir():
        raise RegistryError(f"{feeds_dir}: the feeds directory does not exist")
    registry = Registry()
    for path in sorted(feeds_dir.glob("*.toml")):
        if path.name == "topics.toml":
            registry.topics = _load(path, TopicsFile).topics
            continue
        content: CityFile = _load(path, CityFile)
        slug = content.city.slug
        if slug in registry.cities:
            raise RegistryError(f"{path}: key 'city.slug': '{slug}' is also defined in {registry.cities[slug][0]}")
        registry.cities[slug] = (str(path), content)
    _check_references(registry)
    return registry


def _where(file: str, loc: tuple) -> str:
    line = _line_of(Path(file).read_text(encoding="utf-8"), loc)
    return f"{file}:{line}" if line else file


def _check_references(registry: Registry) -> None:
    known = {t.slug for t in registry.topics}
    seen: dict[str, str] = {}
    for file, content in registry.cities.values():
        for i, source in enumerate(content.sources):
            unknown = set(source.topics) - known
            if unknown:
                where = _where(file, ("sources", i, "topics"))
                raise RegistryError(f"{where}: key 'sources[{i}].topics': unknown topic(s) {sorted(unknown)}")
            key = _key(source)
            if key in seen:
                where = _where(file, ("sources", i, "url"))
                raise RegistryError(f"{where}: key 'sources[{i}].url': {source.url} is already listed in {seen[key]}")
            seen[key] = file


def _key(entry: SourceEntry) -> str:
    """A listed source's canonical URL; ``SourceEntry.http_url`` refused a file whose URL has none."""
    key = canonical_url(entry.url)
    if key is None:
        raise RegistryError(f"{entry.url}: not an http(s) URL")
    return key


def _assign(row, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def sync(session: Session, registry: Registry) -> SyncReport:
    """Write the registry into the database. Sources that left the files are disabled, not deleted."""
    report = SyncReport()
    for topic_entry in registry.topics:
        topic = session.scalar(select(Topic).where(Topic.slug == topic_entry.slug)) or Topic(slug=topic_entry.slug)
        session.add(topic)
        before = (topic.categories, topic.keywords, topic.exclude or [])
        _assign(topic, topic_entry.model_dump(exclude={"slug"}))
        report.rules_changed |= before != (topic_entry.categories, topic_entry.keywords, topic_entry.exclude)
        report.topics += 1
    listed: set[str] = set()
    for slug, (file, content) in registry.cities.items():
        city = session.scalar(select(City).where(City.slug == slug)) or City(slug=slug)
        session.add(city)
        _assign(city, {**content.city.model_dump(exclude={"slug"}), "registry_file": file})
        session.flush()
        report.cities += 1
        for entry in content.sources:
            key = _key(entry)
            listed.add(key)
            source = session.scalar(select(Source).where(Source.canonical_url == key))
            created = source is None
            if source is None:
                source = Source(canonical_url=key)
                session.add(source)
            report.rules_changed |= not created and source.default_topics != entry.topics
            changed = _assign(
                source,
                {
                    "city_id": city.id,
                    "url": entry.url,
                    "title": entry.title,
                    "origin": "file",
                    "registry_file": file,
                    "enabled": entry.enabled,
                    "default_topics": entry.topics,
                    "min_interval": entry.min_interval,
                    "max_interval": entry.max_interval,
                    "urgent": entry.urgent,
                    "kind": entry.kind,
                    "extraction": entry.html.model_dump(exclude_none=True) if entry.html else None,
                },
            )
            report.created += created
            report.updated += changed and not created
            report.unchanged += not changed
    for source in session.scalars(select(Source).where(Source.origin == "file", Source.enabled.is_(True))):
        if source.canonical_url not in listed:
            source.enabled = False
            report.retired += 1
    session.commit()
    return report
