"""Demo mode: bundled sample feeds served on loopback, and a registry that points at them."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).parent
SAMPLES = HERE / "samples"
REGISTRY = HERE / "registry"
PLACEHOLDER = "@DEMO_BASE@"


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".xml": "application/rss+xml", ".atom": "application/atom+xml"}

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


def environment(var_dir: Path) -> dict[str, str]:
    """The demo's settings as environment variables: a database, broker and registry of its own under
    ``var_dir``, so that the demo never touches the real ones. ``syndicate up --demo`` runs with them;
    ``syndicate --demo COMMAND`` points any other command at the running demo."""
    return {
        "SYNDICATE_FEEDS_DIR": str(var_dir / "demo" / "feeds"),
        "SYNDICATE_DATABASE_URL": f"sqlite:///{var_dir}/demo.db",
        "SYNDICATE_BROKER_URL": f"sqla+sqlite:///{var_dir}/demo-broker.db",
        "SYNDICATE_ALLOW_NETWORKS": "127.0.0.1/32",  # the sample feeds are served on loopback
    }


def serve_samples(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve the sample feeds from a daemon thread; ``server.server_address`` tells the port."""
    handler = functools.partial(_QuietHandler, directory=str(SAMPLES))
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True).start()
    return server


def write_registry(target: Path, base_url: str, topics_file: Path) -> Path:
    """Write the demo registry (sample sources at ``base_url``) plus the real topics into ``target``."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for template in sorted(REGISTRY.glob("*.toml")):
        (target / template.name).write_text(template.read_text(encoding="utf-8").replace(PLACEHOLDER, base_url), encoding="utf-8")
    shutil.copy(topics_file, target / "topics.toml")
    return target
