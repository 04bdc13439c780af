"""The German subscription page (/abonnieren) in a real browser: headless Chromium (Debian's ``chromium``) loads it from
uvicorn on 127.0.0.1; in the rendered DOM every topic and city has RSS, Atom and JSON links with copy
buttons and autodiscovery tags, the OPML download is there, and every link really serves its feed.
A phone-sized screenshot is kept in pytest's tmp dir."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest
import uvicorn

from syndicate.web.app import create_app
from tests.support.browser import CHROMIUM
from tests.support.browser import HEADLESS_FLAGS as FLAGS
from tests.support.stories import poll_all

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium); the index page browser test needs it"
    ),
]
SLUGS = (
    ["all"]
    + [f"topics/{t}" for t in ("it-sicherheit", "digitalisierung", "klimaschutz", "mobilitaet", "buergerservice")]
    + [f"cities/{c}" for c in ("muenchen", "augsburg", "nuernberg")]
)
TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}


@pytest.fixture
def served_index(settings, runtime, topics):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server_ = uvicorn.Server(
        uvicorn.Config(create_app(settings.model_copy(update={"public_url": base})), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server_.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server_.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_.started
    yield base
    server_.should_exit = True
    thread.join(timeout=10)
    sock.close()


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=60)


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.alternates, self.anchors, self.copies, self.meta = [], [], [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "alternate":
            self.alternates.append(attrs)
        elif tag == "a":
            self.anchors.append(attrs)
        elif tag == "button" and "copy" in attrs.get("class", ""):
            self.copies.append(attrs["data-url"])
        elif tag == "meta" and attrs.get("name"):
            self.meta[attrs["name"]] = attrs.get("content")


def test_index_page_in_headless_chromium(runtime, session, server, served_index, tmp_path):
    poll_all(runtime, session, server)

    dom = chromium(tmp_path, "--dump-dom", f"{served_index}/abonnieren")
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page()
    page.feed(dom.stdout)
    assert '<html lang="de">' in dom.stdout and "Kommunaler Feed-Verbund Bayern" in dom.stdout and "Abonnieren" in dom.stdout
    assert "width=device-width" in page.meta["viewport"]
    hrefs = {a.get("href") for a in page.anchors}
    discovered = {link["href"]: link["type"] for link in page.alternates}
    for slug in SLUGS:
        for fmt, mime in TYPES.items():
            assert f"/feeds/{slug}.{fmt}" in hrefs
            assert discovered[f"{served_index}/feeds/{slug}.{fmt}"] == mime
            assert f"{served_index}/feeds/{slug}.{fmt}" in page.copies
    opml = next(a for a in page.anchors if a.get("id") == "opml")
    assert "download" in opml and "OPML" in dom.stdout

    with httpx.Client(base_url=served_index, timeout=10) as client:  # every link the browser saw serves its feed
        for href in sorted(h for h in hrefs if h and h.startswith("/feeds/")):
            response = client.get(href)
            assert response.status_code == 200, href
            if href.endswith(".json"):
                assert json.loads(response.content)["version"] == "https://jsonfeed.org/version/1.1"
            elif href.endswith((".rss", ".atom")):
                assert feedparser.parse(response.content).bozo == 0, href
        outlines = ET.fromstring(client.get(opml["href"]).content).findall("./body/outline")
        assert {o.get("xmlUrl") for o in outlines} == {f"{served_index}/feeds/{slug}.atom" for slug in SLUGS}

    phone = tmp_path / "index-phone.png"
    shot = chromium(tmp_path, "--window-size=390,844", f"--screenshot={phone}", f"{served_index}/abonnieren")
    assert shot.returncode == 0 and phone.stat().st_size > 1000
