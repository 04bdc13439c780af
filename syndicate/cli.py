"""The ``syndicate`` command (Typer). ``--json`` prints one JSON object per line."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from syndicate import demo, migrate, registry, runner, status
from syndicate.models import City, Source
from syndicate.publish import FORMATS, FeedQuery, UnknownFeed, build_feed
from syndicate.reader import fetch as fetching
from syndicate.reader.errors import SyndicateError
from syndicate.reader.normalise import canonical_url, normalise_entry
from syndicate.reader.parse import parse as parse_document
from syndicate.refresh import refresh_source
from syndicate.runtime import Runtime
from syndicate.settings import Settings, get_settings

app = typer.Typer(help="syndicate – Kommunaler Feed-Verbund Bayern", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database", no_args_is_help=True)
sources_app = typer.Typer(help="Sources", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(sources_app, name="sources")
console = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON object per line")]


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _ready_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    migrate.upgrade(settings.database_url)
    return Runtime(settings)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]Fehler:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    migrate.upgrade(get_settings().database_url)
    console.print("database is up to date")


def _sync(rt: Runtime) -> registry.SyncReport:
    try:
        loaded = registry.load_registry(rt.settings.feeds_dir)
    except registry.RegistryError as exc:
        _fail(str(exc))
    with rt.sessions() as session:
        return registry.sync(session, loaded)


@sources_app.command("sync")
def sources_sync() -> None:
    """Read feeds/*.toml into the database (idempotent)."""
    rt = _ready_runtime()
    report = _sync(rt)
    console.print(
        f"{report.cities} cities, {report.topics} topics; sources: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.retired} retired"
    )


def _source_row(source: Source) -> dict:
    return {
        "id": source.id, "city": source.city.slug, "url": source.url, "title": source.title or source.feed_title,
        "origin": source.origin, "enabled": source.enabled, "health": source.health,
        "last_success_at": source.last_success_at, "next_check_at": source.next_check_at,
        "error_count": source.error_count, "last_error_reason": source.last_error_reason,
    }


@sources_app.command("list")
def sources_list(as_json: JsonOpt = False) -> None:
    """List sources with their health."""
    rt = _ready_runtime()
    with rt.sessions() as session:
        rows = [_source_row(s) for s in session.scalars(select(Source).order_by(Source.id))]
    if as_json:
        for row in rows:
            _emit(row)
        return
    table = Table("id", "city", "health", "url", "reason")
    for row in rows:
        table.add_row(str(row["id"]), row["city"], row["health"], row["url"], row["last_error_reason"] or "")
    console.print(table)


@sources_app.command("add")
def sources_add(
    urls: Annotated[list[str], typer.Argument(help="feed URLs")],
    city: Annotated[str, typer.Option("--city", help="city slug")],
    title: Annotated[Optional[str], typer.Option("--title")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register one or more feed URLs for a city (origin api)."""
    rt = _ready_runtime()
    with rt.sessions() as session:
        owner = session.scalar(select(City).where(City.slug == city))
        if owner is None:
            _fail(f"unknown city {city!r}; run `syndicate sources sync` or check feeds/")
        failed = False
        for url in urls:
            key = canonical_url(url)
            if key is None:
                result = {"url": url, "error": "invalid_url", "message": "not an absolute http(s) URL"}
                failed = True
            elif (existing := session.scalar(select(Source).where(Source.canonical_url == key))) is not None:
                result = {"url": url, "error": "already_registered", "id": existing.id}
                failed = True
            else:
                source = Source(city_id=owner.id, url=url, canonical_url=key, title=title, origin="api")
                session.add(source)
                session.commit()
                result = {"url": url, "id": source.id}
            _emit(result) if as_json else console.print(result)
    if failed:
        raise typer.Exit(1)


@sources_app.command("disable")
def sources_disable(source_id: int) -> None:
    """Stop polling a source (its articles stay)."""
    rt = _ready_runtime()
    with rt.sessions() as session:
        source = session.get(Source, source_id)
        if source is None:
            _fail(f"no source with id {source_id}")
        source.enabled = False
        session.commit()
    console.print(f"source {source_id} disabled")


def _select_sources(session, all_: bool, refs: list[str]) -> list[int]:
    if all_:
        return list(session.scalars(select(Source.id).where(Source.enabled.is_(True)).order_by(Source.id)))
    ids = []
    for ref in refs:
        source = session.get(Source, int(ref)) if ref.isdigit() else session.scalar(
            select(Source).where(Source.canonical_url == canonical_url(ref))
        )
        if source is None:
            _fail(f"no source {ref!r}")
        ids.append(source.id)
    return ids


@app.command()
def poll(
    all_: Annotated[bool, typer.Option("--all", help="every enabled source")] = False,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="source id or URL (repeatable)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Refresh sources now, in this process (no broker needed)."""
    if not all_ and not source:
        _fail("give --all or --source ID_OR_URL")
    rt = _ready_runtime()
    errors = 0
    with rt.sessions() as session:
        ids = _select_sources(session, all_, source or [])
    for source_id in ids:
        with rt.sessions() as session:
            outcome = refresh_source(session, rt.client, source_id, rt.refresh_config)
        errors += outcome.status == "error"
        if as_json:
            _emit(outcome.as_dict())
        else:
            console.print(
                f"{outcome.id:>4} {outcome.status:<12} new={outcome.new} updated={outcome.updated} "
                f"dup={outcome.duplicates} {outcome.reason or ''} {outcome.url}", highlight=False
            )
    rt.close()


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_one(rt: Runtime, ref: str, now: datetime) -> dict:
    from syndicate.reader import fingerprint

    content_type, base = None, None
    if ref.startswith(("http://", "https://")):
        result = fetching.fetch(rt.client, ref, max_bytes=rt.settings.max_body_bytes, max_redirects=rt.settings.max_redirects)
        if (error := result.error()) is not None:
            raise error
        content, content_type, base = result.content, result.content_type, result.final_url
    else:
        path = Path(ref)
        if not path.is_file():
            return {"file": ref, "error": {"reason": "file_not_found", "message": f"no such file: {ref}"}}
        content = path.read_bytes()
    feed = parse_document(content, url=base, content_type=content_type)
    link = feed.link if feed.link and feed.link.startswith("http") else base
    entries = []
    for raw in feed.entries:
        entry = normalise_entry(raw, base=link, now=now, future_tolerance=rt.settings.future_tolerance)
        entries.append(
            {"url": entry.url, "canonical_url": entry.canonical_url, "title": entry.title,
             "published_at": _iso(entry.published_at), "summary_html": entry.summary_html, "text": entry.text,
             "categories": entry.categories, "item_key": fingerprint.item_key(entry)}
        )
    return {"file": ref, "format": feed.format, "title": feed.title, "entries": entries}


@app.command("parse")
def parse_cmd(refs: Annotated[list[str], typer.Argument(help="files or URLs")], as_json: JsonOpt = False) -> None:
    """Fetch or read documents, parse and normalise them; no database."""
    from syndicate.clock import utcnow

    rt = Runtime()
    now, failures = utcnow(), 0
    for ref in refs:
        try:
            result = _parse_one(rt, ref, now)
        except SyndicateError as exc:
            result = {"file": ref, "error": {"reason": exc.reason, "message": exc.message}}
        except Exception as exc:  # a bug must not stop a corpus run; it is reported with its own code
            result = {"file": ref, "error": {"reason": "internal_error", "message": f"{exc.__class__.__name__}: {exc}"}}
        failures += "error" in result
        if as_json:
            _emit(result)
        elif "error" in result:
            console.print(f"{ref}: error {result['error']['reason']}: {result['error']['message']}", highlight=False)
        else:
            console.print(f"{ref}: {result['format']}, {len(result['entries'])} entries", highlight=False)
    rt.close()
    if failures == len(refs):
        raise typer.Exit(1)


@app.command()
def publish(
    feed: Annotated[str, typer.Argument(help="topic slug, city:SLUG or all")] = "all",
    fmt: Annotated[str, typer.Option("--format", help="rss, atom or json")] = "rss",
) -> None:
    """Print a merged feed."""
    rt = _ready_runtime()
    kind, slug = ("all", None) if feed == "all" else ("city", feed[5:]) if feed.startswith("city:") else ("topic", feed)
    with rt.sessions() as session:
        try:
            body = build_feed(session, FeedQuery(kind=kind, slug=slug, limit=rt.settings.feed_limit), fmt, rt.settings.public_url)
        except UnknownFeed as exc:
            _fail(str(exc))
    sys.stdout.buffer.write(body + b"\n")


@app.command()
def export(directory: Path) -> None:
    """Write every merged feed in every format into DIRECTORY (atomically, file by file)."""
    from syndicate.models import Topic

    rt = _ready_runtime()
    with rt.sessions() as session:
        queries = [("all", FeedQuery(limit=rt.settings.feed_limit))]
        queries += [(f"topics/{t}", FeedQuery("topic", t, limit=rt.settings.feed_limit)) for t in session.scalars(select(Topic.slug))]
        queries += [(f"cities/{c}", FeedQuery("city", c, limit=rt.settings.feed_limit)) for c in session.scalars(select(City.slug))]
        for name, query in queries:
            for fmt in FORMATS:
                target = directory / f"{name}.{fmt}"
                target.parent.mkdir(parents=True, exist_ok=True)
                temporary = target.with_suffix(target.suffix + ".tmp")
                temporary.write_bytes(build_feed(session, query, fmt, rt.settings.public_url))
                os.replace(temporary, target)
    console.print(f"wrote {len(queries) * len(FORMATS)} feeds to {directory}")


@app.command("status")
def status_cmd(as_json: JsonOpt = False) -> None:
    """Sources by health, articles, last beat tick, broker. Exit 1 when something is failing."""
    rt = _ready_runtime()
    with rt.sessions() as session:
        summary = status.summarise(session)
    broker_error = status.check_broker(rt.settings.broker_url)
    if as_json:
        _emit({**summary.as_dict(), "broker_error": broker_error})
    else:
        table = Table("what", "value", title="syndicate status")
        for health, count in sorted(summary.sources.items()):
            table.add_row(f"sources {health}", str(count))
        table.add_row("articles", str(summary.articles))
        table.add_row("stories (clusters)", str(summary.clusters))
        table.add_row("last beat tick", f"{summary.last_beat_tick} ({summary.beat_age_seconds}s ago)" if summary.last_beat_tick else "never")
        table.add_row("broker", broker_error or "reachable")
        console.print(table)
        for failing in summary.failing:
            console.print(f"failing: #{failing['id']} {failing['url']}: {failing['reason']} ({failing['errors']}×)", highlight=False)
    if summary.failing or broker_error:
        raise typer.Exit(1)


@app.command()
def up(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    demo_mode: Annotated[bool, typer.Option("--demo", help="serve bundled sample feeds on loopback and poll those")] = False,
    concurrency: Annotated[int, typer.Option(help="worker threads")] = 4,
) -> None:
    """Run API, Celery worker and beat together on the embedded default."""
    settings = get_settings()
    overrides: dict[str, str] = {}
    server = None
    if demo_mode:
        server = demo.serve_samples("127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        feeds_dir = demo.write_registry(settings.var_dir / "demo" / "feeds", base, settings.feeds_dir / "topics.toml")
        overrides = {
            "SYNDICATE_FEEDS_DIR": str(feeds_dir),
            "SYNDICATE_DATABASE_URL": f"sqlite:///{settings.var_dir}/demo.db",
            "SYNDICATE_BROKER_URL": f"sqla+sqlite:///{settings.var_dir}/demo-broker.db",
            "SYNDICATE_ALLOW_NETWORKS": "127.0.0.1/32",
            "SYNDICATE_BEAT_INTERVAL": "5",
            "SYNDICATE_MIN_INTERVAL": "60",
            "SYNDICATE_DEFAULT_INTERVAL": "120",
        }
        for stale in ("demo.db", "demo.db-wal", "demo.db-shm", "demo-broker.db", "celerybeat-schedule"):
            (settings.var_dir / stale).unlink(missing_ok=True)
    env = {**os.environ, **overrides, "SYNDICATE_PUBLIC_URL": f"http://{host}:{port}"}
    effective = Settings(**{k.removeprefix("SYNDICATE_").lower(): v for k, v in overrides.items()})
    rt = _ready_runtime(effective)
    report = _sync(rt)
    rt.close()
    console.print(f"registry: {report.cities} cities, {report.created + report.updated + report.unchanged} sources, {report.topics} topics")
    if demo_mode:
        console.print(f"demo feeds served at {base}/ (muenchen.xml, augsburg.atom, nuernberg.xml, akdb.atom, bsi.xml)")
    console.print(f"syndicate läuft: http://{host}:{port}/  (Ctrl-C beendet API, Worker und Beat)")
    children = runner.start(runner.commands(host, port, str(effective.var_dir), concurrency), env)
    code = runner.supervise(children)
    if server is not None:
        server.shutdown()
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
