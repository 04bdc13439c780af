"""The ``syndicate`` command (Typer). ``--json`` prints one JSON object per line."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from syndicate import db, demo, logs
from syndicate.cli import up as runner
from syndicate.demo import mailbox as demo_mailbox
from syndicate.ingest.refresh import refresh_in_groups
from syndicate.models import City, Source
from syndicate.ops import status
from syndicate.publish.feeds import FORMATS, FeedQuery, UnknownFeed, render_feed
from syndicate.reader import fetch as fetching
from syndicate.reader.discover import parse_feed
from syndicate.reader.errors import SyndicateError
from syndicate.reader.normalise import canonical_url, feed_title, http_url, normalise_entry
from syndicate.runtime import Runtime
from syndicate.settings import Settings, get_settings
from syndicate.sources import registry

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
    db.upgrade(settings.database_url)
    return Runtime(settings)


def _fail(message: str, code: int = 2, *, german: bool = False) -> NoReturn:
    """Print an error whole (no wrapping, no markup: paths and keys must stay greppable) and exit.

    Operator commands speak English; ``german`` for a message of the source service, which speaks to
    cities in German, so that the line does not mix both."""
    sys.stderr.write(f"{'Fehler' if german else 'error'}: {message}\n")
    raise typer.Exit(code)


@app.callback()
def options(
    demo_mode: Annotated[
        bool, typer.Option("--demo", help="point the command at the demo that `syndicate up --demo` (make demo) runs in this directory")
    ] = False,
) -> None:
    """syndicate – Kommunaler Feed-Verbund Bayern"""
    if demo_mode:
        os.environ.update(demo.environment(get_settings().var_dir))
        get_settings.cache_clear()
    logs.configure(get_settings(), force=False)  # log lines on stderr, as every process writes them


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    before, after = db.upgrade(get_settings().database_url)
    if before is None:
        console.print(f"created the schema at revision {after}")
    elif before == after:
        console.print(f"already at revision {after}, nothing to do")
    else:
        console.print(f"upgraded from revision {before} to {after}")


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
    if report.rules_changed:
        _queue_reclassify(rt)


def _source_row(source: Source) -> dict:
    return {
        "id": source.id,
        "city": source.city.slug,
        "url": source.url,
        "title": source.title or source.feed_title,
        "origin": source.origin,
        "enabled": source.enabled,
        "health": status.source_state(source, datetime.now(UTC), get_settings().ops_failing_alert_after),
        "last_success_at": source.last_success_at,
        "next_check_at": source.next_check_at,
        "error_count": source.error_count,
        "last_error_reason": source.last_error_reason,
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
    title: Annotated[str | None, typer.Option("--title")] = None,
    force: Annotated[bool, typer.Option("--force", help="register even when the test fetch finds no feed")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register feed URLs for a city (origin api) as the API does: address policy, test fetch, audit entry, refresh queued.

    The messages are the service's German ones, as a city sees them in the API; exit 1 when any URL was refused.
    """
    from syndicate.errors import ServiceError
    from syndicate.sources import service
    from syndicate.web.tasks import TaskQueue

    rt = _ready_runtime()
    queue = TaskQueue(rt.settings.broker_url)
    refused = 0
    with rt.sessions() as session:
        owner = session.scalar(select(City).where(City.slug == city))
        if owner is None:
            _fail(f"Stadt {city!r} gibt es nicht; `syndicate sources sync` ausführen oder feeds/ prüfen", german=True)
        for url in urls:
            spec = service.SourceSpec(url=url, title=title)
            try:
                created = service.create_source(
                    session, rt.client, rt.refresh_config, owner, spec, actor=CLI_ACTOR, enqueue=queue.refresh, force=force, operator=True
                )
            except ServiceError as exc:
                session.rollback()
                refused += 1
                _emit({"url": url, "error": exc.reason, "message": exc.message, **exc.extra}) if as_json else err.print(
                    f"abgelehnt: {exc.message} ({exc.reason})", highlight=False, markup=False
                )
                continue
            _emit(_created_row(url, created)) if as_json else console.print(_created_line(created), highlight=False, markup=False)
    queue.close()
    rt.close()
    if refused:
        raise typer.Exit(1)


CLI_ACTOR = "cli"  # who the audit log names for changes made with this command


def _created_row(url: str, created) -> dict:
    preview = created.preview
    return {
        "url": url,
        "id": created.source.id,
        "kind": created.source.kind,
        "feed_title": preview.feed_title if preview else None,
        "items": preview.item_count if preview else None,
        "warning": created.warning,
        "refresh_queued": created.queued,
    }


def _created_line(created) -> str:
    source, preview = created.source, created.preview
    found = f"{preview.item_count} Meldungen" if preview else f"ohne Testabruf: {created.warning['message']}"
    kind = "HTML-Seite" if source.kind == "html" else "Feed"
    queued = "Abruf eingeplant" if created.queued else "Abruf beim nächsten Beat-Tick"
    return f"Quelle {source.id} registriert: {source.url} ({kind}, {found}; {queued})"


@sources_app.command("probe")
def sources_probe(url: Annotated[str, typer.Argument(help="a newsroom page or feed URL")], as_json: JsonOpt = False) -> None:
    """Show what would be extracted from URL and propose selectors for feeds/<city>.toml; no database."""
    from syndicate.reader import html_source
    from syndicate.sources.service import detect_source

    rt = Runtime()
    try:
        found = detect_source(rt.client, url, rt.refresh_config)
    except SyndicateError as exc:
        _fail(f"{url}: {exc.reason}: {exc.message}", 1)
    finally:
        rt.close()
    kind = "feed" if found.is_feed else "advertised_feeds" if found.feeds else "html" if found.selectors else "nothing"
    items = [
        {
            "title": e.title,
            "url": e.link,
            "published_at": _iso(e.published) if e.published else None,
            "date_text": e.date_text,
            "categories": e.categories,
        }
        for e in found.items
    ]
    toml = html_source.selectors_toml(found.url, found.selectors) if found.selectors else None
    if as_json:
        _emit(
            {
                "url": found.url,
                "kind": kind,
                "feeds": [link.url for link in found.feeds],
                "selectors": found.selectors.as_dict() if found.selectors else None,
                "items": items,
                "toml": toml,
            }
        )
    else:
        console.print(f"{found.url}: {kind}", highlight=False)
        for link in found.feeds:
            console.print(f"  feed: {link.url} ({link.type})", highlight=False)
        for item in items:
            console.print(
                f"  {item['published_at'] or item['date_text'] or '?'}  {item['title']}  {item['url']}  {item['categories']}",
                highlight=False,
            )
        if toml:
            console.print("\n# proposed for feeds/<city>.toml (check before use):\n" + toml, highlight=False, markup=False)
    if kind == "nothing":
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


@sources_app.command("export")
def sources_export(
    city: Annotated[str, typer.Option("--city", help="city slug")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here instead of stdout")] = None,
) -> None:
    """Write a city's API-registered sources as TOML in the feeds/ schema."""
    from syndicate.errors import ServiceError
    from syndicate.sources import export as registry_export

    rt = _ready_runtime()
    with rt.sessions() as session:
        try:
            text = registry_export.city_toml(session, city)
        except ServiceError as exc:
            _fail(exc.message, german=True)
    if output is None:
        sys.stdout.write(text)
    elif output.exists():
        _fail(f"{output} exists; append the [[sources]] blocks to it by hand instead")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


topics_app = typer.Typer(help="Topics", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
articles_app = typer.Typer(help="Articles", no_args_is_help=True)
app.add_typer(articles_app, name="articles")


def _queue_reclassify(rt: Runtime) -> None:
    """Topic rules changed: stored articles are re-classified in the background by a worker."""
    from syndicate.models import Article

    with rt.sessions() as session:
        if session.execute(select(Article.id).limit(1)).first() is None:
            return  # nothing stored yet
    from syndicate.web.tasks import RECLASSIFY_TASK, TaskQueue

    queue = TaskQueue(rt.settings.broker_url)
    try:
        queue.reclassify()
    except Exception as exc:  # the broker's own errors: tell the operator how to do it by hand
        err.print(f"topic rules changed, but {RECLASSIFY_TASK} could not be queued ({exc}); run `syndicate topics reclassify`")
        return
    finally:
        queue.close()
    console.print(f"topic rules changed: stored articles will be re-classified ({RECLASSIFY_TASK} queued)")


@topics_app.command("reclassify")
def topics_reclassify(as_json: JsonOpt = False) -> None:
    """Re-classify all stored articles with the current topic rules, in this process."""
    from syndicate.topics import rules as topics

    rt = _ready_runtime()
    with rt.sessions() as session:
        report = topics.reclassify(session)
    if as_json:
        _emit(report.as_dict())
    else:
        console.print(f"{report.articles} articles, {report.changed} changed (+{report.added} / -{report.removed} memberships)")


@articles_app.command("delete")
def articles_delete(
    article_ids: Annotated[list[int], typer.Argument(help="article ids")],
    reason: Annotated[str, typer.Option(help="kept on the tombstone")] = "deleted",
) -> None:
    """Delete articles; tombstones keep them from coming back on the next poll."""
    from syndicate.dedupe import tombstones
    from syndicate.models import Article

    rt = _ready_runtime()
    with rt.sessions() as session:
        for article_id in article_ids:
            article = session.get(Article, article_id)
            if article is None:
                _fail(f"no article with id {article_id}")
            tombstones.bury(session, article, reason)
        session.commit()
    console.print(f"{len(article_ids)} article(s) deleted")


@articles_app.command("purge")
def articles_purge(
    older_than: Annotated[int, typer.Option("--older-than", min=1, help="days since publication")],
) -> None:
    """Retention: delete articles published more than N days ago, with tombstones."""
    from datetime import timedelta

    from syndicate.clock import utcnow
    from syndicate.dedupe import tombstones

    rt = _ready_runtime()
    with rt.sessions() as session:
        purged = tombstones.purge(session, utcnow() - timedelta(days=older_than))
    console.print(f"{purged} article(s) purged")


maintenance_app = typer.Typer(help="Retention, pruning, database upkeep", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@maintenance_app.command("run")
def maintenance_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be deleted; change nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Retention, fetch-log pruning and database upkeep once, in this process (the syndicate.ops.maintenance task's work)."""
    from syndicate.clock import utcnow
    from syndicate.ops import maintenance

    rt = _ready_runtime()
    with rt.sessions() as session:
        report = maintenance.run(session, utcnow(), maintenance.Limits.from_settings(rt.settings), dry_run=dry_run)
    rt.close()
    if as_json:
        for step, values in report.as_dict().items():
            if values is not None:
                _emit({"step": step, **values})
    else:
        sys.stdout.write("".join(line + "\n" for line in report.lines()))  # unwrapped: operators grep it


token_app = typer.Typer(help="API tokens", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    city: Annotated[str | None, typer.Option("--city", help="a token for this city's sources")] = None,
    operator: Annotated[bool, typer.Option("--operator", help="a token for all cities and the audit log")] = False,
    name: Annotated[str | None, typer.Option("--name", help="what the token is for")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print its secret once (only its hash is stored)."""
    from syndicate.access import tokens
    from syndicate.errors import ServiceError

    if bool(city) == operator:
        _fail("give exactly one of --city SLUG or --operator")
    rt = _ready_runtime()
    with rt.sessions() as session:
        try:
            token, secret = tokens.create(session, city=city, name=name)
        except ServiceError as exc:
            _fail(exc.message, german=True)
        scope = "operator" if operator else f"city:{city}"
    if as_json:
        _emit({"id": token.id, "token": secret, "scope": scope})
    else:
        console.print(f"token {token.id} ({scope}); the secret is shown only now:", highlight=False)
        sys.stdout.write(secret + "\n")


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """List tokens (never their secrets)."""
    from syndicate.access import tokens

    rt = _ready_runtime()
    with rt.sessions() as session:
        rows = [tokens.describe(t) for t in tokens.list_tokens(session)]
    if as_json:
        for row in rows:
            _emit(row)
        return
    table = Table("id", "scope", "city", "prefix", "name", "created", "last used", "revoked")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("id", "scope", "city", "prefix", "name", "created_at", "last_used_at", "revoked_at")))
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from syndicate.access import tokens
    from syndicate.errors import ServiceError

    rt = _ready_runtime()
    with rt.sessions() as session:
        try:
            tokens.revoke(session, token_id)
        except ServiceError as exc:
            _fail(exc.message, german=True)
    console.print(f"token {token_id} revoked")


def _select_sources(session, all_: bool, refs: list[str]) -> list[int]:
    if all_:
        return list(session.scalars(select(Source.id).where(Source.enabled.is_(True)).order_by(Source.id)))
    ids = []
    for ref in refs:
        source = (
            session.get(Source, int(ref))
            if ref.isdigit()
            else session.scalar(select(Source).where(Source.canonical_url == canonical_url(ref)))
        )
        if source is None:
            _fail(f"no source {ref!r}")
        ids.append(source.id)
    return ids


@app.command()
def poll(
    all_: Annotated[bool, typer.Option("--all", help="every enabled source")] = False,
    source: Annotated[list[str] | None, typer.Option("--source", help="source id or URL (repeatable)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Refresh sources now, in this process (no broker needed). Exit 1 when any source failed."""
    if not all_ and not source:
        _fail("give --all or --source ID_OR_URL")
    rt = _ready_runtime()
    errors = 0
    with rt.sessions() as session:
        ids = _select_sources(session, all_, source or [])
    # the workers' group pipeline (fetch-ahead, one transaction per group); each line as its group completes
    for outcome in refresh_in_groups(rt.sessions, rt.client, ids, rt.refresh_config, rt.settings.refresh_group):
        errors += outcome.status == "error"
        if as_json:
            _emit(outcome.as_dict())
        else:
            console.print(
                f"{outcome.id:>4} {outcome.status:<12} new={outcome.new} updated={outcome.updated} "
                f"dup={outcome.duplicates} {outcome.reason or ''} {outcome.url}",
                highlight=False,
            )
    rt.close()
    if errors:  # a deferred source (the server asked us to wait) is not a failure; an error is, for scripts and cron
        err.print(f"[red]problem:[/red] {errors} of {len(ids)} source(s) failed", highlight=False)
        raise typer.Exit(1)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_one(rt: Runtime, ref: str, now: datetime) -> dict:
    from syndicate.reader import fingerprint

    content_type, base, page = None, None, None
    if ref.startswith(("http://", "https://")):
        result = fetching.fetch_ok(rt.client, ref, limits=rt.refresh_config.fetch_limits)
        content, content_type, base, page = result.content, result.content_type, result.final_url, result.text
    else:
        path = Path(ref)
        if not path.is_file():
            return {"file": ref, "error": {"reason": "file_not_found", "message": f"no such file: {ref}"}}
        content = path.read_bytes()
    feed = parse_feed(content, url=base, content_type=content_type, page=page)
    link = http_url(feed.link) or base
    normalised = [normalise_entry(raw, base=link, now=now, future_tolerance=rt.settings.future_tolerance) for raw in feed.entries]
    entries = [
        {
            "url": entry.url,
            "canonical_url": entry.canonical_url,
            "title": entry.title,
            "published_at": _iso(entry.published_at),
            "summary_html": entry.summary_html,
            "text": entry.text,
            "categories": entry.categories,
            "item_key": key,
        }
        for entry, key in zip(normalised, fingerprint.item_keys(normalised))
    ]
    return {"file": ref, "format": feed.format, "title": feed_title(feed.title), "entries": entries}


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
            body = render_feed(session, FeedQuery(kind=kind, slug=slug, limit=rt.settings.feed_limit), fmt, rt.settings.public_url).body
        except UnknownFeed as exc:
            _fail(str(exc), german=True)
    sys.stdout.buffer.write(body + b"\n")


@app.command()
def export(directory: Path) -> None:
    """Write every merged feed in every format, plus feeds.opml, into DIRECTORY (each file atomically: temp + rename)."""
    from syndicate.publish import index as feedindex

    rt = _ready_runtime()
    with rt.sessions() as session:
        refs = feedindex.feeds(session, limit=rt.settings.feed_limit)
        files = {
            f"{ref.path.removeprefix('/feeds/')}.{fmt}": render_feed(session, ref.query, fmt, rt.settings.public_url).body
            for ref in refs
            for fmt in FORMATS
        }
    files["feeds.opml"] = feedindex.opml(refs, rt.settings.public_url)
    for name, body in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(body)
        os.replace(temporary, target)
    console.print(f"wrote {len(files) - 1} feeds and feeds.opml to {directory}")


@app.command("status")
def status_cmd(as_json: JsonOpt = False) -> None:
    """Sources by state, articles, queues, workers, last beat tick. Exit 1 when something is failing, no worker
    is online or beat has not ticked within three intervals."""
    rt = _ready_runtime()
    with rt.sessions() as session:
        view = status.overview(session, rt.settings)
    summary = view.summary
    if as_json:
        _emit(view.as_dict())
    else:
        table = Table("what", "value", title="syndicate status")
        for state in status.STATES:
            if summary.count(state):
                table.add_row(f"sources {state}", str(summary.count(state)))
        table.add_row("articles (today)", f"{summary.articles} ({summary.articles_today})")
        table.add_row("stories (today)", f"{summary.clusters} ({summary.clusters_today})")
        table.add_row("broker", view.broker_error or "reachable")
        for queue, depth in sorted(view.queues.items()):
            table.add_row(f"queue {queue}", str(depth))
        workers = ", ".join(f"{w.hostname} (active {w.active}, processed {w.processed})" for w in view.workers.workers)
        table.add_row("workers online", f"{len(view.workers.workers)}" + (f": {workers}" if workers else ""))
        beat = (
            f"{summary.last_beat_tick:%Y-%m-%d %H:%M:%S} UTC ({summary.beat_age_seconds:.0f}s ago)" if summary.last_beat_tick else "never"
        )
        table.add_row("last beat tick", beat + (" [red]stale[/red]" if view.beat_stale else ""))
        console.print(table)
        for failing in summary.failing:
            console.print(
                f"{failing['state']}: #{failing['id']} {failing['url']}: {failing['reason']} ({failing['errors']}×)", highlight=False
            )
        for problem in view.problems:
            err.print(f"[red]problem:[/red] {problem}", highlight=False)
    if view.problems:
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
    server = mailbox = None
    if demo_mode:
        server = demo.serve_samples("127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        overrides = demo.environment(settings.var_dir)
        demo.write_registry(Path(overrides["SYNDICATE_FEEDS_DIR"]), base, settings.feeds_dir / "topics.toml")
        overrides |= {
            "SYNDICATE_BEAT_INTERVAL": "5",
            "SYNDICATE_MIN_INTERVAL": "60",
            "SYNDICATE_DEFAULT_INTERVAL": "120",
        }
        for stale in ("demo.db", "demo.db-wal", "demo.db-shm", "demo-broker.db", "celerybeat-schedule"):
            (settings.var_dir / stale).unlink(missing_ok=True)
        mail_dir = demo_mailbox.directory(settings.var_dir)
        try:
            mailbox = demo_mailbox.start(mail_dir) if not settings.smtp_url else None  # a configured server is used as it is
        except ImportError:
            err.print("the demo runs without e-mail: its capturing SMTP server needs aiosmtpd (pip install -e '.[test]')")
        if mailbox is not None:
            overrides |= {"SYNDICATE_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}", "SYNDICATE_DEMO_MAIL_DIR": str(mail_dir)}
            if not settings.mail_from:
                overrides["SYNDICATE_MAIL_FROM"] = demo_mailbox.SENDER
    env = {**os.environ, **overrides, "SYNDICATE_PUBLIC_URL": f"http://{host}:{port}"}
    fields: dict[str, Any] = {k.removeprefix("SYNDICATE_").lower(): v for k, v in overrides.items()}  # as the environment gives them: text
    effective = Settings(**fields)
    rt = _ready_runtime(effective)
    report = _sync(rt)
    if report.rules_changed:
        _queue_reclassify(rt)  # the worker started below picks it up
    rt.close()
    console.print(f"registry: {report.cities} cities, {report.created + report.updated + report.unchanged} sources, {report.topics} topics")
    if demo_mode:
        console.print(f"demo feeds served at {base}/ (muenchen.xml, augsburg.atom, nuernberg.xml, akdb.atom, bsi.xml)", soft_wrap=True)
        command = os.path.relpath(Path(sys.executable).parent / "syndicate")
        console.print(f"the CLI against this demo, from this directory: {command} --demo status", soft_wrap=True, highlight=False)
        if mailbox is not None:
            console.print(
                f"demo e-mails: caught by an SMTP server on 127.0.0.1:{mailbox.port}, saved in {mail_dir}/, "
                f"to read at http://{host}:{port}/demo/post",
                soft_wrap=True,
                highlight=False,
            )
        elif settings.smtp_url:
            console.print(f"demo e-mails go to the configured SMTP server ({settings.smtp_url.rpartition('@')[2]})", soft_wrap=True)
    console.print(f"syndicate läuft: http://{host}:{port}/  (Ctrl-C beendet API, Worker und Beat)")
    runner.declare_queues(effective.broker_url)
    children = runner.start(runner.commands(host, port, str(effective.var_dir), concurrency), env)
    code = runner.supervise(children)
    if server is not None:
        server.shutdown()
    if mailbox is not None:
        mailbox.stop()
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
