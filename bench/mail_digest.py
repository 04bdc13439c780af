"""One daily-digest round: N confirmed subscribers spread over 50 city feeds, each city with a few new
stories, delivered one mail per subscriber against an aiosmtpd server on 127.0.0.1 — in this process,
the code path of the ``syndicate.mail_deliver`` task (due → deliver: claim, compose, send, mark).
Prints the round's time, mails/s and this process's peak memory.

    .venv/bin/python bench/mail_digest.py --subscribers 10000
"""

from __future__ import annotations

import argparse
import resource
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.db import make_engine, make_session_factory  # noqa: E402
from syndicate.dedupe.store import store_documents  # noqa: E402
from syndicate.mail import delivery  # noqa: E402
from syndicate.models import City, MailSubscription, Source  # noqa: E402
from syndicate.reader.normalise import Entry, canonical_url, html_to_text  # noqa: E402
from syndicate.settings import Settings  # noqa: E402

FEEDS = 50
STORIES = 3  # new stories per city feed since the last digest


class Counter:
    def __init__(self):
        self.count, self.lock = 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10000)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    tmp = Path(tempfile.mkdtemp(prefix="mail-bench-"))
    url = f"sqlite:///{tmp}/bench.db"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="Verbund <n@verbund.example>", mail_secret="bench", var_dir=tmp
    )
    sessions = make_session_factory(make_engine(url))
    confirmed = datetime.now(UTC) - timedelta(days=2)
    with sessions() as session:
        for f in range(FEEDS):
            city = City(slug=f"stadt{f}", name=f"Stadt {f}", kind="city")
            session.add(city)
            session.flush()
            src = f"https://stadt{f}.example/rss"
            source = Source(city_id=city.id, url=src, canonical_url=canonical_url(src), origin="api", default_topics=[])
            session.add(source)
            session.flush()
            entries = []
            for k in range(STORIES):
                link = f"https://stadt{f}.example/pm/{k}"
                html = f"<p>Stadt {f} meldet Neuigkeit {k}: Bauarbeiten, Veranstaltungen und Bürgerservice.</p>"
                entries.append(Entry(f"Meldung {k} der Stadt {f}", link, link, link, html, "", html_to_text(html), confirmed, None, None))
            store_documents(session, [(source, entries)], [], datetime.now(UTC))
        session.add_all(
            MailSubscription(
                address=f"leser{i}@beispiel.de",
                feed=f"/feeds/cities/stadt{i % FEEDS}.atom",
                rhythm="taeglich",
                state="active",
                created_at=confirmed,
                confirmed_at=confirmed,
            )
            for i in range(args.subscribers)
        )
        session.commit()
    hour = datetime(2030, 1, 7, 6, 15, tzinfo=UTC)  # 07:15 in Berlin, the default digest hour
    started = time.perf_counter()
    with sessions() as session:
        due = delivery.due(session, hour, settings)
    for sub_id in due:
        with sessions() as session:
            delivery.deliver(session, sub_id, hour, settings)
    elapsed = time.perf_counter() - started
    controller.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(due)} due, {counter.count} mails in {elapsed:.1f} s: {counter.count / elapsed:.0f} mails/s, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
