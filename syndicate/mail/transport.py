"""The SMTP transport: one connection that sends many mails, and the rules for its encryption.

``smtps://host[:465]`` speaks TLS from the first byte. ``smtp://host[:25]`` must switch to TLS with
STARTTLS — except to a loopback host (a local relay or the demo's capturing server), where the plain
conversation never leaves the machine. A server elsewhere that offers no STARTTLS gets nothing, not even
the user and password: the batch fails with ``InsecureSmtp`` (a temporary error, so the mails wait in the
retries until the operator fixes the URL or the server). Certificates are checked against the system's
CAs, or against ``SYNDICATE_SMTP_CA_FILE`` for a private CA.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from email.message import EmailMessage
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from syndicate.settings import Settings


class TemporaryMailError(RuntimeError):
    """The SMTP server is unreachable, answered 4xx or cannot be used safely: retry later, nothing lost."""


class ConnectionLost(TemporaryMailError):
    """The conversation broke off (down, disconnected, timed out): the connection is gone, the batch retries."""


class InsecureSmtp(TemporaryMailError):
    """``smtp://`` to a host elsewhere that offers no STARTTLS: nothing is sent in clear."""


class PermanentMailError(RuntimeError):
    """The server refused the recipient for good (5xx)."""


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=4)
def tls_context(ca_file: str) -> ssl.SSLContext:
    """One context per CA file and process (loading the system's CAs takes a while); hostnames are checked."""
    return ssl.create_default_context(cafile=ca_file or None)


class SmtpConnection:
    """One SMTP conversation for a batch of mails, opened at the first mail. ``send`` maps the server's
    answers: a refused recipient (5xx) is PermanentMailError, a deferred recipient or refused message
    TemporaryMailError (the connection stays usable), a broken conversation ConnectionLost."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        settings = self.settings
        url = urlsplit(settings.smtp_url)
        host = url.hostname or "127.0.0.1"
        context = tls_context(settings.smtp_ca_file)
        try:
            if url.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=settings.mail_timeout, context=context)
            else:
                client = smtplib.SMTP(host, url.port or 25, timeout=settings.mail_timeout)
            try:
                client.ehlo()
                if url.scheme == "smtp":
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif not is_loopback(host):
                        raise InsecureSmtp(
                            f"SMTP server {host}:{url.port or 25} offers no STARTTLS; refusing to send mail or credentials "
                            "in clear text (use smtps:// or a server with STARTTLS)"
                        )
                if url.username:
                    client.login(unquote(url.username), unquote(url.password or ""))
            except BaseException:
                client.close()
                raise
        except TemporaryMailError:
            raise
        except smtplib.SMTPResponseException as exc:  # a refused login or EHLO: the operator's to fix
            raise TemporaryMailError(f"SMTP {exc.smtp_code} at {host}: {exc.smtp_error!r}") from exc
        except ssl.SSLError as exc:
            raise TemporaryMailError(f"TLS with {host} failed: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(f"SMTP {host}: {str(exc) or type(exc).__name__}") from exc
        self.client = client
        return client

    def send(self, message: EmailMessage) -> None:
        client = self.client or self.open()
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {codes}") from exc
            raise TemporaryMailError(f"recipient deferred: {codes}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            self.drop()
            raise ConnectionLost(str(exc) or "disconnected") from exc
        except smtplib.SMTPResponseException as exc:
            # only a refused recipient says something about the subscription; a refused sender or message is the
            # operator's to fix, and the mail waits for it in the retries
            raise TemporaryMailError(f"SMTP {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.drop()
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc

    def drop(self) -> None:
        """A broken conversation: close the socket without a QUIT that could wait for the timeout again."""
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def send(settings: Settings, message: EmailMessage) -> None:
    """One mail in a conversation of its own (confirmations)."""
    with SmtpConnection(settings) as connection:
        connection.send(message)
