"""The SMTP transport against real aiosmtpd servers on loopback with TLS certificates from a private CA
(trustme): ``smtps://`` speaks TLS from the start, ``smtp://`` switches with STARTTLS, credentials go only
over TLS, SYNDICATE_SMTP_CA_FILE trusts a private CA, an untrusted certificate sends nothing, and
``smtp://`` to a host elsewhere that offers no STARTTLS refuses to send anything in clear."""

from __future__ import annotations

import ssl

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from syndicate.clock import utcnow
from syndicate.mail import messages, transport
from tests.test_mail import Inbox, free_port


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


class Logins:
    """An authenticator that records what it was given and over which transport."""

    def __init__(self):
        self.attempts: list[tuple[bytes, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.attempts.append((auth_data.login, server.transport.get_extra_info("ssl_object") is not None))
        return AuthResult(success=auth_data.login == b"verbund" and auth_data.password == b"geheim")


def serve(inbox: Inbox, **kwargs) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def mail():
    return messages.confirmation(
        "Feed-Verbund <nachrichten@verbund.example>",
        "vera@beispiel.de",
        "Alle Meldungen",
        "sofort",
        "http://x/",
        utcnow(),
        "verbund.example",
    )


def settings_for(settings, url: str, ca_file: str = ""):
    return settings.model_copy(update={"smtp_url": url, "smtp_ca_file": ca_file, "mail_from": "n@verbund.example", "mail_timeout": 5.0})


def test_smtps_speaks_tls_from_the_start_and_trusts_the_configured_ca(settings, ca, ca_file):
    inbox, logins = Inbox(), Logins()
    # aiosmtpd counts only STARTTLS as TLS for AUTH; on this implicit-TLS server every byte is encrypted anyway
    controller = serve(inbox, ssl_context=server_context(ca), authenticator=logins, auth_required=True, auth_require_tls=False)
    try:
        transport.send(settings_for(settings, f"smtps://verbund:geheim@127.0.0.1:{controller.port}", ca_file), mail())
    finally:
        controller.stop()
    assert [m["To"] for m in inbox.messages] == ["vera@beispiel.de"]
    assert logins.attempts == [(b"verbund", True)]


def test_smtp_switches_to_tls_with_starttls_before_logging_in(settings, ca, ca_file):
    inbox, logins = Inbox(), Logins()
    controller = serve(inbox, tls_context=server_context(ca), require_starttls=True, authenticator=logins, auth_required=True)
    try:
        transport.send(settings_for(settings, f"smtp://verbund:geheim@127.0.0.1:{controller.port}", ca_file), mail())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert logins.attempts == [(b"verbund", True)]  # the password went over TLS


@pytest.mark.parametrize("scheme", ["smtps", "smtp"])
def test_a_certificate_of_an_unknown_ca_sends_nothing(settings, ca, scheme):
    inbox, logins = Inbox(), Logins()
    tls = (
        {"ssl_context": server_context(ca), "auth_require_tls": False}
        if scheme == "smtps"
        else {"tls_context": server_context(ca), "require_starttls": True}
    )
    controller = serve(inbox, authenticator=logins, auth_required=True, **tls)
    try:
        with pytest.raises(transport.TemporaryMailError, match="TLS"):  # the system's CAs do not know this one
            transport.send(settings_for(settings, f"{scheme}://verbund:geheim@127.0.0.1:{controller.port}"), mail())
    finally:
        controller.stop()
    assert inbox.messages == [] and logins.attempts == []


def test_smtp_without_starttls_to_a_host_elsewhere_sends_nothing_in_clear(settings, monkeypatch):
    """The server is on loopback (the only network here); the transport is told it is elsewhere."""
    inbox, logins = Inbox(), Logins()
    controller = serve(inbox, authenticator=logins, auth_required=True, auth_require_tls=False)
    monkeypatch.setattr(transport, "is_loopback", lambda host: False)
    try:
        with pytest.raises(transport.InsecureSmtp, match="no STARTTLS"):
            transport.send(settings_for(settings, f"smtp://verbund:geheim@127.0.0.1:{controller.port}"), mail())
    finally:
        controller.stop()
    assert inbox.messages == [] and logins.attempts == []  # neither the mail nor the password


def test_smtp_without_starttls_is_fine_on_loopback(settings):
    inbox = Inbox()
    controller = serve(inbox)
    try:
        transport.send(settings_for(settings, f"smtp://127.0.0.1:{controller.port}"), mail())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("mail.example.de", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert transport.is_loopback(host) is loopback
