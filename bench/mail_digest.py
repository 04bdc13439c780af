"""One daily-digest round: N confirmed subscribers spread over 50 city feeds, each city with a few new
stories, against an aiosmtpd server on 127.0.0.1 that counts what it accepted.

In-process (default), on the same database in the same run:
  before — the old per-subscriber path, what each ``syndicate.mail_deliver`` task did before the batches
           (``old_deliver`` below, copied from the code it replaced): one subscription per call, its own
           SMTP connection, its feed loaded and its mail composed for it alone, three commits, on the first
           ``--before`` subscribers (a sample: the old path is slow);
  after  — the batched path of ``syndicate.mail_deliver_batch``: batches of SYNDICATE_MAIL_TASK_BATCH, one
           SMTP connection and one rendering per feed per batch, each mail recorded right after it was
           accepted (``delivery.deliver_batch``), on all N subscribers (the sent records of the sample are
           cleared first).
``--worker``: a real Celery worker process (threads pool, the ``mail`` queue) gets the round as the beat's
mail tick queues it (batches of SYNDICATE_MAIL_TASK_BATCH); the time runs from queueing to the last mail
accepted by the SMTP server; peak worker memory is the worker process's VmHWM.

    .venv/bin/python bench/mail_digest.py --subscribers 10000
    .venv/bin/python bench/mail_digest.py --subscribers 10000 --worker --broker-url redis://127.0.0.1:6379/12
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import delete, select, update  # noqa: E402

from syndicate import db as migrate  # noqa: E402
from syndicate.db import make_engine, make_session_factory  # noqa: E402
from syndicate.dedupe.store import store_documents  # noqa: E402
from syndicate.mail import delivery, messages, transport  # noqa: E402
from syndicate.mail.subscriptions import feed_query, unsubscribe_token  # noqa: E402
from syndicate.models import City, Cluster, MailSent, MailSubscription, Source  # noqa: E402
from syndicate.publish.feeds import article_filter, items_for, load_items  # noqa: E402
from syndicate.reader.normalise import Entry, canonical_url, html_to_text  # noqa: E402
from syndicate.settings import Settings  # noqa: E402

FEEDS = 50
STORIES = 3  # new stories per city feed since the last digest
SENDER = "Verbund <n@verbund.example>"


class Counter:
    def __init__(self):
        self.count, self.lock = 0, threading.Lock()
        self.recipients: dict[str, int] = {}

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                self.recipients[rcpt] = self.recipients.get(rcpt, 0) + 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(sessions, subscribers: int) -> None:
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
            for i in range(subscribers)
        )
        session.commit()


def reset(sessions) -> None:
    """Forget what was sent: the next round delivers every subscriber again."""
    with sessions() as session:
        session.execute(delete(MailSent))
        session.execute(update(MailSubscription).values(last_sent_at=None))
        session.commit()


# ---------------------------------------------------------------- the old path, as it was before the batches
# (syndicate/mail/delivery.py at 8d12d3e: claim → send → mark with three commits and an SMTP connection per
# subscriber, its feed loaded and its mail composed for it alone), kept here only to measure against


def old_deliver(session, subscription_id: int, now: datetime, settings: Settings) -> None:
    sub = session.get(MailSubscription, subscription_id)
    if sub is None or sub.state != "active":
        session.rollback()
        return
    query, meta = feed_query(session, sub.feed, settings.public_url)
    items = load_items(session, replace(query, limit=settings.mail_batch))
    ids = [item.cluster_id for item in items]
    sent = set(session.scalars(select(MailSent.cluster_id).where(MailSent.subscription_id == sub.id, MailSent.cluster_id.in_(ids))))
    since = sub.confirmed_at or sub.created_at
    fresh = set(session.scalars(select(Cluster.id).where(Cluster.id.in_(ids), Cluster.created_at >= since)))
    new = [i for i in ids if i not in sent and i in fresh]
    if not new:
        session.rollback()
        return
    domain = delivery.sender_domain(settings)
    message_id = messages.new_message_id(domain)
    session.add_all(MailSent(subscription_id=sub.id, cluster_id=i, message_id=message_id, claimed_at=now) for i in new)
    session.commit()
    query, meta = feed_query(session, sub.feed, settings.public_url)
    clusters = session.scalars(select(Cluster).where(Cluster.id.in_(new)).order_by(Cluster.published_at.desc(), Cluster.id.desc())).all()
    base = settings.public_url.rstrip("/")
    stories = [
        messages.Story(item.article.title, f"{base}/stories/{item.cluster_id}", item.city.name, item.published_at, item.article.text or "")
        for item in items_for(session, clusters, article_filter(session, query))
    ]
    message = messages.delivery(
        settings.mail_from,
        sub.address,
        meta.title,
        stories,
        now,
        message_id,
        f"{meta.title} <{sub.feed.split('?')[0].strip('/').replace('/', '.')}.{domain}>",
        f"{base}/abo/abmelden/{unsubscribe_token(settings, sub)}",
        f"{base}{sub.feed}",
    )
    transport.send(settings, message)
    claim = (MailSent.subscription_id == sub.id, MailSent.message_id == message_id, MailSent.sent_at.is_(None))
    session.execute(update(MailSent).where(*claim).values(sent_at=now))
    sub.last_sent_at = now
    session.commit()


def report(label: str, mails: int, elapsed: float, extra: str = "") -> None:
    print(f"{label}: {mails} mails in {elapsed:.1f} s: {mails / elapsed:.0f} mails/s{extra}", flush=True)


def in_process(sessions, settings: Settings, due: list[int], hour: datetime, counter: Counter, before: int) -> None:
    sample = due[:before]
    if sample:
        start_count, started = counter.count, time.perf_counter()
        for sub_id in sample:
            with sessions() as session:
                old_deliver(session, sub_id, hour, settings)
        report(f"before (old per-subscriber path, {len(sample)} of {len(due)})", counter.count - start_count, time.perf_counter() - started)
        reset(sessions)
    start_count, started = counter.count, time.perf_counter()
    size = settings.mail_task_batch
    for start in range(0, len(due), size):
        with sessions() as session:
            delivery.deliver_batch(session, due[start : start + size], hour, settings)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(
        f"after  (batches of {size}, all {len(due)})", counter.count - start_count, elapsed, f", peak RSS of this process {peak:.0f} MiB"
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def with_worker(settings: Settings, due: list[int], counter: Counter, broker_url: str, tmp: Path) -> None:
    from kombu import Connection

    from syndicate.ops.queues import QUEUES

    with Connection(broker_url) as connection:
        channel = connection.channel()
        for queue in QUEUES:
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - the queue does not exist yet on this broker
                pass
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env.update(
        SYNDICATE_DATABASE_URL=settings.database_url,
        SYNDICATE_BROKER_URL=broker_url,
        SYNDICATE_VAR_DIR=str(tmp),
        SYNDICATE_SMTP_URL=settings.smtp_url,
        SYNDICATE_MAIL_FROM=SENDER,
        SYNDICATE_MAIL_SECRET="bench",
    )
    log = (tmp / "worker.log").open("w")
    cmd = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "mail", "--pool", "threads", "-c", "1", "-n", "mailbench@%h"]
    worker = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        from celery import Celery

        app = Celery(broker=broker_url)
        time.sleep(3)  # the worker connects; the clock starts with the first message
        start_count, started = counter.count, time.perf_counter()
        size = settings.mail_task_batch
        for start in range(0, len(due), size):  # what syndicate.mail_tick does
            app.send_task("syndicate.mail_deliver_batch", args=[due[start : start + size]], queue="mail")
        deadline = time.monotonic() + 1800
        while counter.count - start_count < len(due) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        peak = peak_rss_mib(worker.pid)
        doubled = sum(1 for n in counter.recipients.values() if n > 1)
        report(
            f"worker (1 Celery worker process, threads pool, batches of {size})",
            counter.count - start_count,
            elapsed,
            f", peak worker RSS {peak:.0f} MiB, recipients with two mails: {doubled}",
        )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--before", type=int, default=1000, help="subscribers sent on the old per-subscriber path (0: skip)")
    parser.add_argument("--worker", action="store_true", help="measure a real Celery worker process instead of this one")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--database-url", default="", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    port = free_port()
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    tmp = Path(tempfile.mkdtemp(prefix="mail-bench-"))
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    migrate.upgrade(url)
    settings = Settings(database_url=url, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=SENDER, mail_secret="bench", var_dir=tmp)
    sessions = make_session_factory(make_engine(url))
    fill(sessions, args.subscribers)
    hour = datetime(2030, 1, 7, 6, 15, tzinfo=UTC)  # 07:15 in Berlin, the default digest hour
    with sessions() as session:
        due = delivery.due(session, hour, settings)
        database = make_engine(url).dialect.name
    print(f"{len(due)} subscribers due over {FEEDS} feeds ({STORIES} new stories each), {database}, SMTP aiosmtpd on 127.0.0.1", flush=True)
    try:
        if args.worker:
            with_worker(settings, due, counter, args.broker_url, tmp)
        else:
            in_process(sessions, settings, due, hour, counter, args.before)
    finally:
        controller.stop()
    with sessions() as session:
        recorded = len(session.scalars(select(MailSent.subscription_id).where(MailSent.sent_at.is_not(None)).distinct()).all())
    print(f"subscriptions with a recorded mail: {recorded}", flush=True)


if __name__ == "__main__":
    main()
