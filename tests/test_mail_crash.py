"""Delivery in batches when things break, counted at a real SMTP server on loopback (aiosmtpd): the server
going down in the middle of a batch, a recipient deferred with 4xx, and a real Celery worker process
killed (SIGKILL) while it sends a batch to a slow server, then a new worker — every subscriber gets the
story exactly once, every Message-ID arrives once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from syndicate.clock import utcnow
from syndicate.mail import delivery
from syndicate.models import MailSent, MailSubscription
from tests.test_mail import FEED, Inbox, add_story, free_port


class FlakyInbox(Inbox):
    """Accepts mail; the RCPT of the ``fail_at``-th recipient (counting from 1) gets ``fail`` — ``"drop"``
    closes the connection, as a server going down does — or, with ``hold_at``, is held unanswered
    (``held`` is set then) like a server that hangs. Every other RCPT waits ``delay`` seconds."""

    def __init__(self, fail_at: int = 0, fail: str = "", hold_at: int = 0, delay: float = 0.0):
        super().__init__()
        self.fail_at, self.fail, self.hold_at, self.delay = fail_at, fail, hold_at, delay
        self.rcpts = 0
        self.held = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts += 1
        if self.rcpts == self.hold_at:
            self.held.set()
            await asyncio.sleep(120)  # the worker is killed meanwhile
            return "451 4.3.0 too late"
        if self.rcpts == self.fail_at:
            if self.fail == "drop":
                server.transport.close()
                return "421 4.3.0 going down"
            return self.fail
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    def per_recipient(self) -> Counter:
        return Counter(m["To"] for m in self.messages)

    def message_ids(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.messages)


def serve(inbox: Inbox) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


def subscribers(session, count: int) -> list[int]:
    """Confirmed ``sofort`` subscribers of all stories, then one new story for them."""
    confirmed = utcnow() - timedelta(hours=1)
    subs = [
        MailSubscription(
            address=f"leser{i}@beispiel.de", feed=FEED, rhythm="sofort", state="active", created_at=confirmed, confirmed_at=confirmed
        )
        for i in range(count)
    ]
    session.add_all(subs)
    session.commit()
    add_story(session, "Neue Ladesäulen am Rathausplatz")
    return [sub.id for sub in subs]


def settings_for(settings, controller: Controller, **extra):
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{controller.port}",
            "mail_from": "Feed-Verbund <nachrichten@verbund.example>",
            "mail_secret": "test-secret",
            "mail_timeout": 5.0,
            **extra,
        }
    )


def open_claims(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(MailSent).where(MailSent.sent_at.is_(None)))


def test_smtp_going_down_in_a_batch_keeps_what_was_sent_and_delivers_the_rest_once_when_back(settings, runtime, topics, session):
    inbox = FlakyInbox(fail_at=3, fail="drop")
    controller = serve(inbox)
    try:
        mail_settings = settings_for(settings, controller)
        ids = subscribers(session, 5)
        with pytest.raises(delivery.TemporaryMailError):
            delivery.deliver_batch(session, ids, utcnow(), mail_settings)
        assert sum(inbox.per_recipient().values()) == 2  # two accepted, then the server went away
        assert open_claims(session) == 1  # the mail in flight, released for the retry at once
        outcomes = delivery.deliver_batch(session, ids, utcnow(), mail_settings)  # the task's retry, the server back
        assert sorted(o.status for o in outcomes.values()) == ["nothing", "nothing", "sent", "sent", "sent"]
    finally:
        controller.stop()
    assert inbox.per_recipient() == {f"leser{i}@beispiel.de": 1 for i in range(5)}
    assert set(inbox.message_ids().values()) == {1}
    assert open_claims(session) == 0


def test_a_deferred_recipient_does_not_hold_up_the_others_and_gets_its_mail_in_the_retry(settings, runtime, topics, session):
    inbox = FlakyInbox(fail_at=2, fail="451 4.2.1 try again later")
    controller = serve(inbox)
    try:
        mail_settings = settings_for(settings, controller)
        ids = subscribers(session, 4)
        with pytest.raises(delivery.TemporaryMailError, match="1 mails deferred"):
            delivery.deliver_batch(session, ids, utcnow(), mail_settings)
        assert sum(inbox.per_recipient().values()) == 3
        delivery.deliver_batch(session, ids, utcnow(), mail_settings)
    finally:
        controller.stop()
    assert inbox.per_recipient() == {f"leser{i}@beispiel.de": 1 for i in range(4)}


@pytest.mark.celery
def test_a_worker_killed_in_the_middle_of_a_batch_sends_no_mail_twice(settings, runtime, topics, session, tmp_path):
    """Worker 1 sends a batch of 8 to a slow server and is SIGKILLed while the server holds the 4th mail's
    RCPT (claimed, never accepted). Worker 2 and beat take over: the 3 mails accepted before are not sent
    again, the 4 never claimed go out at the next tick, the one left claimed after the lease — each once."""
    from tests.conftest import ROOT, cli_env, purge_queues
    from tests.support import processes

    inbox = FlakyInbox(hold_at=4, delay=0.2)
    controller = serve(inbox)
    mail_settings = settings_for(settings, controller)
    subscribers(session, 8)
    purge_queues(mail_settings.broker_url)
    env = cli_env(
        mail_settings,
        SYNDICATE_BEAT_INTERVAL="1",
        SYNDICATE_SMTP_URL=mail_settings.smtp_url,
        SYNDICATE_MAIL_FROM=mail_settings.mail_from,
        SYNDICATE_MAIL_SECRET=mail_settings.mail_secret,
        SYNDICATE_MAIL_CLAIM_LEASE="3",
    )
    mail_settings.var_dir.mkdir(parents=True, exist_ok=True)

    def worker(name: str):
        cmd = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "mail", "--pool", "threads", "-c", "1", "-n", f"{name}@%h"]
        return processes.start(cmd, env, tmp_path / f"{name}.log", ROOT)

    first = worker("mail-first")
    beat = second = None
    try:
        from celery import Celery

        Celery(broker=mail_settings.broker_url).send_task("syndicate.mail_tick", queue="mail")  # one tick: one batch of 8
        held = inbox.held.wait(timeout=90)
        assert held, {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        os.killpg(first.pid, signal.SIGKILL)  # mid-batch: 3 mails accepted, the 4th claimed and in flight
        first.wait()
        assert sum(inbox.per_recipient().values()) == 3
        assert open_claims(session) == 1
        second = worker("mail-second")
        beat = processes.start(
            [sys.executable, "-m", "celery", "-A", "workers", "beat", "--schedule", str(tmp_path / "beat-schedule")],
            env,
            tmp_path / "beat.log",
            ROOT,
        )
        everyone = processes.wait_for(lambda: len(inbox.per_recipient()) == 8, timeout=90)
        assert everyone, {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        time.sleep(4)  # more ticks, past another lease: nothing more may arrive
    finally:
        for process in (beat, second):
            if process is not None:
                processes.stop(process)
        if first.poll() is None:
            processes.stop(first)
        purge_queues(mail_settings.broker_url)
        controller.stop()
    assert inbox.per_recipient() == {f"leser{i}@beispiel.de": 1 for i in range(8)}
    assert set(inbox.message_ids().values()) == {1}
    assert open_claims(session) == 0
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(MailSubscription).where(MailSubscription.last_sent_at.is_(None))) == 0
