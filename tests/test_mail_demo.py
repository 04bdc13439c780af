"""The demo's post office: ``syndicate up --demo`` starts a capturing SMTP server on loopback, points its
children at it, saves every mail as ``var/demo/mail/*.eml`` and shows them at ``/demo/post`` (only in the
demo), and says so when it starts."""

from __future__ import annotations

import os
import re
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

from syndicate.clock import utcnow
from syndicate.demo import mailbox
from syndicate.mail import messages, transport
from syndicate.web.app import create_app
from tests.conftest import ROOT
from tests.support import processes
from tests.test_up_demo import free_port


def test_the_capturing_server_saves_mails_that_the_demo_page_shows_with_their_links(settings, runtime, topics, tmp_path):
    mail_dir = mailbox.directory(tmp_path / "var")
    server = mailbox.start(mail_dir)
    try:
        link = "http://127.0.0.1:8000/abo/bestaetigen/abc123"
        message = messages.confirmation(mailbox.SENDER, "tina@beispiel.de", "Alle Meldungen", "sofort", link, utcnow(), "localhost")
        transport.send(settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{server.port}", "mail_from": mailbox.SENDER}), message)
    finally:
        server.stop()
    [saved] = list(mail_dir.glob("*.eml"))
    assert b"tina@beispiel.de" in saved.read_bytes()
    demo = settings.model_copy(update={"demo_mail_dir": str(mail_dir)})
    with TestClient(create_app(demo)) as client:
        page = client.get("/demo/post")
    assert page.status_code == 200 and "Bitte bestätigen Sie Ihr Abo: Alle Meldungen" in page.text
    assert f'<a href="{link}">{link}</a>' in page.text and "tina@beispiel.de" in page.text
    with TestClient(create_app(settings)) as client:  # not the demo: no such page
        assert client.get("/demo/post").status_code == 404


@pytest.mark.celery
def test_up_demo_catches_the_confirmation_mail_and_shows_where_to_read_it(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_VAR_DIR"] = str(tmp_path / "var")
    log = tmp_path / "up.log"
    process = processes.start(
        [sys.executable, "-m", "syndicate.cli", "up", "--demo", "--port", str(port), "--concurrency", "2"], env, log, ROOT
    )
    try:

        def front_page_with_form():
            try:
                response = httpx.get(f"{base}/", timeout=5)
            except httpx.HTTPError:
                return None
            return response.status_code == 200 and 'action="/abo"' in response.text

        assert processes.wait_for(front_page_with_form, timeout=90), log.read_text(errors="replace")[-4000:]
        assert f"{base}/demo/post" in log.read_text(errors="replace")
        answer = httpx.post(f"{base}/abo", data={"email": "uli@beispiel.de", "feed": "/feeds/all.atom", "rhythmus": "taeglich"}, timeout=10)
        assert answer.status_code == 200 and "Fast geschafft" in answer.text
        mail_dir = tmp_path / "var" / "demo" / "mail"
        saved = processes.wait_for(lambda: list(mail_dir.glob("*.eml")), timeout=30)
        assert saved and b"uli@beispiel.de" in saved[0].read_bytes()
        post = httpx.get(f"{base}/demo/post", timeout=5).text
        confirm = re.search(rf'<a href="{re.escape(base)}(/abo/bestaetigen/[^"]+)">', post).group(1)
        assert "Abo bestätigt" in httpx.get(base + confirm, timeout=5).text
    finally:
        processes.stop(process)
