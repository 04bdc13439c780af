"""The demo's post office: an SMTP server on loopback (aiosmtpd) that delivers nothing, but saves every
mail it is given as a ``.eml`` file, for the demo's page ``/demo/post`` and any mail program to read."""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

LINK = re.compile(r"(https?://[^\s<>\"]+)")
SENDER = "Kommunaler Feed-Verbund (Demo) <demo@localhost>"


class Mailbox:
    """aiosmtpd handler: each accepted mail becomes ``<time>-<n>.eml`` in ``directory`` (written whole, then renamed)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self.numbers):05d}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, self.directory / name)
        return "250 Message accepted for delivery"


def directory(var_dir: Path) -> Path:
    return var_dir / "demo" / "mail"


def start(mail_dir: Path, host: str = "127.0.0.1") -> Any:
    """Start the capturing server on a free port of ``host`` (loopback); ``.port`` tells which, ``.stop()`` ends it.
    Mails of an earlier demo go first: the demo starts with a new database, and their links would lead nowhere.
    Needs aiosmtpd (in the test extra, which ``make demo`` installs): ImportError without it."""
    from aiosmtpd.controller import Controller

    if mail_dir.exists():
        shutil.rmtree(mail_dir)
    mail_dir.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    controller = Controller(Mailbox(mail_dir), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class Captured:
    name: str
    date: str
    to: str
    subject: str
    text: str  # the plain-text part

    @property
    def parts(self) -> list[tuple[str, bool]]:
        """The text in pieces, each marked whether it is a link (to show the mail's links clickable)."""
        return [(chunk, index % 2 == 1) for index, chunk in enumerate(LINK.split(self.text)) if chunk]


def captured(mail_dir: Path, limit: int = 50) -> list[Captured]:
    """The newest captured mails first, for /demo/post."""
    mails = []
    for path in sorted(mail_dir.glob("*.eml"), reverse=True)[:limit]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)  # what policy.default makes
        body = message.get_body(("plain",))
        mails.append(
            Captured(
                path.name,
                str(message["Date"] or ""),
                str(message["To"] or ""),
                str(message["Subject"] or ""),
                body.get_content() if body is not None else "",
            )
        )
    return mails
