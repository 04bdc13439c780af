"""German mails, each multipart (plain text and HTML): the confirmation of a sign-up and the delivery of stories.

Every field that comes from outside (titles, summaries, the feed's name) reaches the mail only as body text,
escaped for HTML; the headers carry only what this module builds, and EmailMessage refuses CR/LF in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

from syndicate.reader.normalise import shorten

SIGNATURE = "Kommunaler Feed-Verbund Bayern"


@dataclass(frozen=True)
class Story:
    title: str
    url: str
    city: str
    published_at: datetime
    summary: str


def new_message_id(domain: str) -> str:
    return make_msgid("abo", domain=domain)


def _base(sender: str, to: str, subject: str, now: datetime, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    return message


def confirmation(sender: str, to: str, feed_title: str, rhythm: str, link: str, now: datetime, domain: str) -> EmailMessage:
    message = _base(sender, to, f"Bitte bestätigen Sie Ihr Abo: {feed_title}", now, new_message_id(domain))
    text = (
        "Guten Tag,\n\n"
        f"jemand – hoffentlich Sie – möchte die Meldungen „{feed_title}“ ({rhythm}) per E-Mail an diese Adresse bekommen.\n\n"
        f"Bitte bestätigen Sie das Abo innerhalb von 48 Stunden über diesen Link:\n{link}\n\n"
        "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht einfach: Ohne Bestätigung schicken wir nichts, "
        "und Ihre Adresse wird nach 48 Stunden gelöscht.\n\n"
        f"{SIGNATURE}\n"
    )
    html = (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Abo bestätigen</title></head><body>'
        "<p>Guten Tag,</p>"
        f"<p>jemand – hoffentlich Sie – möchte die Meldungen „{escape(feed_title)}“ ({escape(rhythm)}) per E-Mail an diese Adresse bekommen.</p>"
        f'<p><a href="{escape(link)}">Abo bestätigen</a> (der Link gilt 48 Stunden)</p>'
        "<p>Wenn Sie das nicht waren, ignorieren Sie diese Nachricht einfach: Ohne Bestätigung schicken wir nichts, "
        "und Ihre Adresse wird nach 48 Stunden gelöscht.</p>"
        f"<p>{SIGNATURE}</p></body></html>"
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _datum(value: datetime) -> str:
    return value.strftime("%d.%m.%Y")


@dataclass(frozen=True)
class Digest:
    """What every subscriber of one feed gets for the same stories: rendered once per batch, then only the
    recipient, the Message-ID and the unsubscribe link differ."""

    feed_title: str
    count: str  # "eine neue Meldung" | "N neue Meldungen"
    text: str  # the stories as plain text
    html: str  # the stories as HTML list items


def digest(feed_title: str, stories: list[Story]) -> Digest:
    count = "eine neue Meldung" if len(stories) == 1 else f"{len(stories)} neue Meldungen"
    lines = []
    items = []
    for story in stories:
        summary = shorten(" ".join(story.summary.split()), 280)
        lines += [story.title, f"{story.city}, {_datum(story.published_at)}", summary, story.url, ""]
        items.append(
            f'<li><h2 style="font-size:1.1em;margin-bottom:0"><a href="{escape(story.url)}">{escape(story.title)}</a></h2>'
            f'<p style="margin-top:0">{escape(story.city)}, {_datum(story.published_at)}</p><p>{escape(summary)}</p></li>'
        )
    return Digest(feed_title, count, "\n".join(lines), "".join(items))


def delivery_of(
    part: Digest, sender: str, to: str, now: datetime, message_id: str, list_id: str, unsubscribe_url: str, feed_url: str
) -> EmailMessage:
    """The mail of a batch or digest, with List-Id and one-click unsubscribe (RFC 2369, RFC 8058)."""
    feed_title, count = part.feed_title, part.count
    message = _base(sender, to, f"{feed_title}: {count}", now, message_id)
    message["List-Id"] = list_id
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = (
        f"{feed_title}: {count}\n\n{part.text}\n--\n"
        f"Sie bekommen diese E-Mail, weil Sie „{feed_title}“ abonniert haben ({feed_url}).\n"
        f"Abbestellen: {unsubscribe_url}\n{SIGNATURE}\n"
    )
    html = (
        f'<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>{escape(feed_title)}</title></head><body>'
        f'<h1 style="font-size:1.3em">{escape(feed_title)}: {count}</h1><ul style="list-style:none;padding:0">{part.html}</ul>'
        f'<hr><p>Sie bekommen diese E-Mail, weil Sie <a href="{escape(feed_url)}">„{escape(feed_title)}“</a> abonniert haben. '
        f'<a href="{escape(unsubscribe_url)}">Abo abbestellen</a></p><p>{SIGNATURE}</p></body></html>'
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def delivery(
    sender: str,
    to: str,
    feed_title: str,
    stories: list[Story],
    now: datetime,
    message_id: str,
    list_id: str,
    unsubscribe_url: str,
    feed_url: str,
) -> EmailMessage:
    """The mail of a batch or digest for one subscriber (see ``digest`` and ``delivery_of``)."""
    return delivery_of(digest(feed_title, stories), sender, to, now, message_id, list_id, unsubscribe_url, feed_url)
