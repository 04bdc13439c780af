"""The first page of every merged feed as files, for nginx or a CDN to serve like any static file.

A merged feed without a query is the same bytes for every reader until a story changes, so it
should cost what a static file costs. With ``SYNDICATE_STATIC_DIR`` set, the beat's ``write_static``
task calls ``write_all`` once per tick: each feed whose version stamp moved since the last tick is
rendered again, in every format, and written next to its ``.gz`` and ``.br`` twins. Writes are
atomic (a temporary file in the same directory, then ``os.replace``), so a server never sends a
half-written feed; a file is rewritten only when its bytes change, so its mtime, and with it the
ETag and Last-Modified that nginx derives, move only with the content.

Layout (the URL paths of the app): ``feeds/all.atom``, ``feeds/topics/{slug}.rss``,
``feeds/cities/{slug}.json`` …; ``deploy/nginx.conf`` serves it and passes anything with a
query string, and anything missing, to the app.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from sqlalchemy.orm import Session

from syndicate.publish.feeds import FORMATS, UnknownFeed, describe, render_feed, version_stamp
from syndicate.publish.index import feeds

log = logging.getLogger("syndicate.static")

STAMPS = ".stamps.json"  # path → digest of the version stamp the files were rendered from


@dataclass
class Written:
    """What one ``write_all`` did: files (re)written, feeds left as they were, files removed."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def write_all(session: Session, static_dir: Path, public_url: str, limit: int) -> Written:
    """Bring ``static_dir`` in step with the database: every merged feed's first page in every format.

    One feed that cannot be rendered is logged and skipped; the others are still written."""
    static_dir.mkdir(parents=True, exist_ok=True)
    stamps = _read_stamps(static_dir)
    result, wanted = Written(), set[str]()
    for ref in feeds(session, limit=limit):
        relative = ref.path.lstrip("/")
        wanted.update(f"{relative}.{fmt}" for fmt in FORMATS)
        try:
            meta = describe(session, ref.query)
            digest = _digest((meta, version_stamp(session, ref.query), public_url))
            if stamps.get(relative) == digest and all((static_dir / f"{relative}.{fmt}").exists() for fmt in FORMATS):
                result.unchanged += 1
                continue
            for fmt in FORMATS:
                body = render_feed(session, ref.query, fmt, public_url, meta).body
                if write_file(static_dir / f"{relative}.{fmt}", body):
                    result.written.append(f"{relative}.{fmt}")
            stamps[relative] = digest
        except UnknownFeed:
            continue  # removed between listing and rendering: the next tick drops its files
        except Exception:  # noqa: BLE001 - one feed must never stop the others
            log.exception("static feed %s could not be written", ref.path)
            result.failed.append(ref.path)
    result.removed = _remove_stale(static_dir, wanted)
    _write_stamps(static_dir, {path: stamp for path, stamp in stamps.items() if f"{path}.atom" in wanted})
    return result


def write_file(path: Path, body: bytes) -> bool:
    """``body`` at ``path`` with its ``.gz`` and ``.br`` twins, atomically; False when the bytes are already there."""
    try:
        if path.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # the compressed twins first: nginx's gzip_static must never pair a new file with an old .gz
    _atomic(path.with_name(path.name + ".gz"), gzip.compress(body, compresslevel=9, mtime=0))
    _atomic(path.with_name(path.name + ".br"), brotli.compress(body, quality=11))
    _atomic(path, body)
    return True


def _atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # readable by a web server running as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale(static_dir: Path, wanted: set[str]) -> list[str]:
    """Files of feeds that no longer exist (a topic or city removed), so the server passes them to the app's 404."""
    removed: list[str] = []
    feeds_dir = static_dir / "feeds"
    if not feeds_dir.is_dir():
        return removed
    for path in feeds_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        relative = path.relative_to(static_dir).as_posix()
        plain = relative.removesuffix(".gz").removesuffix(".br")
        if plain not in wanted:
            path.unlink(missing_ok=True)
            removed.append(relative)
    return removed


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode("utf-8")).hexdigest()


def _read_stamps(static_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((static_dir / STAMPS).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_stamps(static_dir: Path, stamps: dict[str, str]) -> None:
    _atomic(static_dir / STAMPS, json.dumps(stamps, sort_keys=True).encode("utf-8"))
