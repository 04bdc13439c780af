"""Peak memory of a worker that polls a 50 MiB body and decompression bombs.

Usage: .venv/bin/python bench/fetch_memory.py [--limit-mb 200] [--compare]

A loopback server (its own process) serves: a small feed, 50 MiB without Content-Length, 50 MiB
with it, a gzip bomb (50 MiB and 1 GiB of zeros), a brotli bomb (50 MiB). For each, a fresh
child process does what a worker does — refresh_source with the default limits (10 MiB on the
wire, 20 MiB decompressed) on a temporary SQLite database — and reports its own peak RSS
(``resource.getrusage``, ru_maxrss). ``--compare`` adds a child that reads the same URL with a
plain ``httpx.get`` and no limits, to show what the limits save. Exits 1 if a worker's peak RSS
reaches ``--limit-mb``. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>a</title></item></channel></rss>'


def gzip_bomb(size: int) -> bytes:
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(MIB)
    return b"".join(packer.compress(zeros) for _ in range(size // MIB)) + packer.flush()


def brotli_bomb(size: int) -> bytes:
    import brotli

    packer, zeros = brotli.Compressor(quality=5), bytes(MIB)
    return b"".join(packer.process(zeros) for _ in range(size // MIB)) + packer.finish()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict = {}

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        kind, payload, headers = self.routes[self.path]
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        if kind == "stream":
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            if kind == "stream":  # 50 × the same 1 MiB buffer: the server itself stays small
                for _ in range(payload[1]):
                    self.wfile.write(payload[0])
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = kind == "stream"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a worker hanging up mid-body is the point
        pass


ROUTES = ["/small.xml", "/huge-stream.xml", "/huge-declared.xml", "/gzip-bomb-50m.xml", "/gzip-bomb-1g.xml", "/brotli-bomb-50m.xml"]


def serve() -> tuple[ThreadingHTTPServer, str]:
    xml = {"Content-Type": "application/rss+xml"}
    Handler.routes = {
        "/small.xml": ("body", FEED, xml),
        "/huge-stream.xml": ("stream", (b"x" * MIB, 50), xml),
        "/huge-declared.xml": ("body", b"x" * (50 * MIB), xml),
        "/gzip-bomb-50m.xml": ("body", gzip_bomb(50 * MIB), {**xml, "Content-Encoding": "gzip"}),
        "/gzip-bomb-1g.xml": ("body", gzip_bomb(1024 * MIB), {**xml, "Content-Encoding": "gzip"}),
        "/brotli-bomb-50m.xml": ("body", brotli_bomb(50 * MIB), {**xml, "Content-Encoding": "br"}),
    }
    assert list(Handler.routes) == ROUTES
    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def child_worker(url: str) -> dict:
    """What a Celery worker does for one source, in this fresh process."""
    import resource

    from syndicate import db as migrate
    from syndicate.ingest.refresh import refresh_source
    from syndicate.models import City, Source
    from syndicate.reader.normalise import canonical_url
    from syndicate.runtime import Runtime
    from syndicate.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", allow_networks="127.0.0.1/32", var_dir=Path(tmp))
        migrate.upgrade(settings.database_url)
        runtime = Runtime(settings)
        with runtime.sessions() as session:
            city = City(slug="muenchen", name="München")
            session.add(city)
            session.flush()
            source = Source(city_id=city.id, url=url, canonical_url=canonical_url(url))
            session.add(source)
            session.commit()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.monotonic()
            outcome = refresh_source(session, runtime.client, source.id, runtime.refresh_config)
            elapsed = time.monotonic() - started
        runtime.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "peak_mb": round(peak, 1),
        "before_fetch_mb": round(before, 1),
        "seconds": round(elapsed, 2),
    }


def child_plain(url: str) -> dict:
    """No limits: httpx reads and decodes the whole body."""
    import resource

    import httpx

    started = time.monotonic()
    size = len(httpx.get(url, timeout=60).content)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "status": f"{size / MIB:.0f} MiB read",
        "reason": None,
        "peak_mb": round(peak, 1),
        "before_fetch_mb": None,
        "seconds": round(time.monotonic() - started, 2),
    }


def run_child(mode: str, url: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, url], capture_output=True, text=True, cwd=ROOT, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"child failed for {url}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_server() -> tuple[subprocess.Popen, str]:
    """The server runs in its own process: the children's ru_maxrss then cannot inherit its pages
    (Linux carries the RSS high-water mark of the pre-exec image over into the child)."""
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return server, server.stdout.readline().strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit-mb", type=float, default=200.0)
    parser.add_argument("--compare", action="store_true", help="also read each URL with plain httpx and no limits")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url = args.child
        print(json.dumps(child_worker(url) if mode == "worker" else child_plain(url)))
        return 0
    if args.serve:
        server, base = serve()
        print(base, flush=True)
        threading.Event().wait()  # until the parent terminates it
        return 0

    server, base = start_server()
    try:
        return report(base, args)
    finally:
        server.terminate()
        server.wait()


def report(base: str, args) -> int:
    print(f"worker = refresh_source in a fresh process, default limits (10 MiB wire, 20 MiB decoded); limit {args.limit_mb:.0f} MB")
    print(f"{'case':<22} {'who':<7} {'status':<14} {'reason':<20} {'peak RSS':>9} {'before':>8} {'time':>7}")
    worst = 0.0
    for path in ROUTES:
        modes = ["worker", "plain"] if args.compare and path != "/gzip-bomb-1g.xml" else ["worker"]
        for mode in modes:
            r = run_child(mode, base + path)
            if mode == "worker":
                worst = max(worst, r["peak_mb"])
            before = f"{r['before_fetch_mb']:.1f}" if r["before_fetch_mb"] is not None else "-"
            print(
                f"{path.strip('/').removesuffix('.xml'):<22} {mode:<7} {r['status']:<14} {str(r['reason']):<20} "
                f"{r['peak_mb']:>6.1f} MB {before:>8} {r['seconds']:>6.2f}s"
            )
    print(f"largest worker peak RSS: {worst:.1f} MB ({'under' if worst < args.limit_mb else 'NOT under'} {args.limit_mb:.0f} MB)")
    return 0 if worst < args.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
