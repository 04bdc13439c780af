"""Merged feeds written as static files (syndicate.publish.static) and served by nginx with deploy/nginx.conf.

The nginx tests start Debian's nginx-light on a free loopback port in front of the app (uvicorn in a
thread, also on loopback); they skip where nginx is not installed (CI installs it)."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import brotli
import feedparser
import httpx
import pytest
import uvicorn

from syndicate.models import Topic
from syndicate.publish import static
from syndicate.publish.feeds import FORMATS, FeedQuery, render_feed
from syndicate.web.app import create_app
from tests.conftest import ROOT

PUBLIC = "http://127.0.0.1:8000"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_every_feed_in_every_format_with_compressed_twins(session, fuerth, tmp_path):
    result = static.write_all(session, tmp_path, PUBLIC, limit=50)

    plain = {f"feeds/{name}.{fmt}" for name in ("all", "cities/fuerth") for fmt in FORMATS}
    assert files(tmp_path) == plain | {f"{p}.gz" for p in plain} | {f"{p}.br" for p in plain}
    assert sorted(result.written) == sorted(plain) and result.failed == []
    for path in plain:
        body = (tmp_path / path).read_bytes()
        assert gzip.decompress((tmp_path / f"{path}.gz").read_bytes()) == body
        assert brotli.decompress((tmp_path / f"{path}.br").read_bytes()) == body
    # the same bytes the app serves for the feed without a query
    assert (tmp_path / "feeds/all.atom").read_bytes() == render_feed(session, FeedQuery(limit=50), "atom", PUBLIC).body
    assert [e.title for e in feedparser.parse((tmp_path / "feeds/cities/fuerth.rss").read_bytes()).entries] == [
        "Stadtrat tagt",
        "Neue Radwege",
    ]


def test_unchanged_feeds_are_not_rewritten_and_a_change_rewrites_only_its_feeds(session, fuerth, tmp_path):
    static.write_all(session, tmp_path, PUBLIC, limit=50)
    mtimes = {p: (tmp_path / p).stat().st_mtime_ns for p in files(tmp_path)}

    again = static.write_all(session, tmp_path, PUBLIC, limit=50)
    assert again.written == [] and again.unchanged == 2
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in files(tmp_path)} == mtimes

    session.add(Topic(slug="radverkehr", title="Radverkehr", description="", categories=[], keywords=[]))
    session.commit()
    fuerth()
    changed = static.write_all(session, tmp_path, PUBLIC, limit=50)
    assert {p.rsplit(".", 1)[0] for p in changed.written} == {"feeds/all", "feeds/cities/fuerth", "feeds/topics/radverkehr"}
    assert "Bürgerbüro geschlossen" in (tmp_path / "feeds/all.json").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.rglob(".*") if p.name != static.STAMPS]  # no temporary file left behind


def test_files_of_a_removed_feed_are_deleted(session, fuerth, tmp_path):
    session.add(Topic(slug="radverkehr", title="Radverkehr", description="", categories=[], keywords=[]))
    session.commit()
    static.write_all(session, tmp_path, PUBLIC, limit=50)
    assert (tmp_path / "feeds/topics/radverkehr.atom.gz").exists()

    session.delete(session.query(Topic).filter_by(slug="radverkehr").one())
    session.commit()
    result = static.write_all(session, tmp_path, PUBLIC, limit=50)
    assert not any(p.startswith("feeds/topics/") for p in files(tmp_path))
    assert len(result.removed) == 9


def test_one_feed_that_cannot_be_rendered_does_not_stop_the_others(session, fuerth, tmp_path, monkeypatch):
    real = static.render_feed

    def failing(session_, query, fmt, public_url, meta=None):
        if query.kind == "city":
            raise RuntimeError("broken template")
        return real(session_, query, fmt, public_url, meta)

    monkeypatch.setattr(static, "render_feed", failing)
    result = static.write_all(session, tmp_path, PUBLIC, limit=50)
    assert result.failed == ["/feeds/cities/fuerth"]
    assert (tmp_path / "feeds/all.atom").exists() and not (tmp_path / "feeds/cities/fuerth.atom").exists()


# ---------------------------------------------------------------- nginx with deploy/nginx.conf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_server(settings, runtime):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings.model_copy(update={"public_url": PUBLIC})), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def nginx_config(static_dir: Path, app_port: int, port: int, prefix: Path) -> str:
    """deploy/nginx.conf with its three marked lines set for this test, its pid and temporary files under ``prefix``."""
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    text, listens = re.subn(r"^(\s*)listen \d+;", rf"\g<1>listen 127.0.0.1:{port};", text, flags=re.M)
    text, roots = re.subn(r"^(\s*)root [^;\n]+;", rf"\g<1>root {static_dir};", text, flags=re.M)
    text, upstreams = re.subn(r"^(\s*)server 127\.0\.0\.1:8000;", rf"\g<1>server 127.0.0.1:{app_port};", text, flags=re.M)
    text, pids = re.subn(r"^pid [^;\n]+;", f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;", text, flags=re.M)
    assert (listens, roots, upstreams, pids) == (1, 1, 1, 1), "deploy/nginx.conf lost a line the operator adjusts"
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return text.replace("http {\n", "http {\n" + temp, 1)


@pytest.fixture
def nginx(tmp_path, app_server):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian package nginx-light; .ci/run installs it)")
    static_dir, prefix = tmp_path / "static", tmp_path / "nginx"
    static_dir.mkdir()
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(static_dir, app_server, port, prefix), encoding="utf-8")
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            time.sleep(0.05)
    yield base, static_dir
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.slow  # starts child processes
def test_nginx_serves_the_static_files_and_passes_the_rest_to_the_app(session, fuerth, nginx):
    base, static_dir = nginx
    static.write_all(session, static_dir, PUBLIC, limit=50)

    first = httpx.get(f"{base}/feeds/all.atom")
    assert first.status_code == 200 and first.content == (static_dir / "feeds/all.atom").read_bytes()
    assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert first.headers["cache-control"] == "public, max-age=300"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert httpx.get(f"{base}/feeds/all.atom", headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(f"{base}/feeds/all.atom", headers={"If-Modified-Since": modified}).status_code == 304
    zipped = httpx.get(f"{base}/feeds/cities/fuerth.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["content-type"].startswith("application/feed+json")
    assert zipped.content == (static_dir / "feeds/cities/fuerth.json").read_bytes()  # httpx decompressed it

    # a change reaches the file, and nginx serves it with a new ETag
    time.sleep(1.1)  # nginx's ETag and Last-Modified have whole seconds
    fuerth()
    static.write_all(session, static_dir, PUBLIC, limit=50)
    second = httpx.get(f"{base}/feeds/all.atom", headers={"If-None-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag
    assert "Bürgerbüro geschlossen" in [e.title for e in feedparser.parse(second.content).entries]

    # a query string, a feed without a file and every other path go to the app
    paged = httpx.get(f"{base}/feeds/all.atom?limit=1")
    assert paged.status_code == 200 and len(feedparser.parse(paged.content).entries) == 1
    assert httpx.get(f"{base}/feeds/topics/gibt-es-nicht.atom").status_code == 404
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/api/v1/audit").status_code == 401
