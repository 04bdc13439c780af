"""E-mail subscriptions (German pages): sign-up with double opt-in, confirmation, unsubscription.

The sign-up page says the same whether or not the address already follows the feed, so the form tells
nobody who subscribes to what; the confirmation mail is sent after the answer (a background task), so
neither does the time the answer takes. Unsubscribing needs only the link's token: ``POST`` with the
body ``List-Unsubscribe=One-Click`` is what mail programs send for RFC 8058's one-click unsubscribe,
and the visible page's button posts the same, so no CSRF token is involved — the token in the path is
the authority, and it can only delete the one subscription it names.
"""

from __future__ import annotations

import hashlib
import logging
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse

from syndicate.access.limits import SharedRateLimiter
from syndicate.clock import utcnow
from syndicate.demo import mailbox
from syndicate.mail import delivery, messages, subscriptions, transport
from syndicate.runtime import Runtime
from syndicate.settings import Settings
from syndicate.web.deps import RuntimeDep, SessionDep, TaskQueueDep
from syndicate.web.routes.portal import not_found, render
from syndicate.web.tasks import TaskQueue

router = APIRouter(tags=["mail"], default_response_class=HTMLResponse)
log = logging.getLogger("syndicate.mail")


def _limits(request: Request, runtime: Runtime) -> tuple[SharedRateLimiter, SharedRateLimiter]:
    state = request.app.state
    if getattr(state, "mail_limits", None) is None:
        settings = runtime.settings
        state.mail_limits = (
            SharedRateLimiter(runtime.engine, "abo-address", settings.mail_signup_per_address),
            SharedRateLimiter(runtime.engine, "abo-client", settings.mail_signup_per_client),
        )
    return state.mail_limits


def page(request: Request, runtime: Runtime, title: str, message: str, status: int = 200, **context) -> HTMLResponse:
    return render(request, runtime, "mail_page.html", status, title=title, message=message, **context)


def _send_confirmation(settings: Settings, queue: TaskQueue, subscription_id: int, message: EmailMessage) -> None:
    """After the answer: straight to the SMTP server; when it is down or busy, to a worker that retries with backoff."""
    try:
        transport.send(settings, message)
    except transport.TemporaryMailError as exc:
        log.warning("confirmation mail for subscription %d queued for retries: %s", subscription_id, exc)
        queue.mail_confirmation(subscription_id, message.as_string())
    except transport.PermanentMailError as exc:
        # the sign-up stays pending and is deleted after 48 h, like any unconfirmed one
        log.warning("confirmation mail for subscription %d refused: %s", subscription_id, exc)


@router.post("/abo")
def signup(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    runtime: RuntimeDep,
    queue: TaskQueueDep,
    email: Annotated[str, Form(max_length=400)] = "",
    feed: Annotated[str, Form(max_length=1000)] = "",
    rhythmus: Annotated[str, Form(max_length=40)] = "sofort",
):
    settings = runtime.settings
    if not settings.mail_enabled:
        return page(
            request, runtime, "E-Mail-Abos nicht verfügbar", "Dieser Dienst verschickt keine E-Mails. Bitte nutzen Sie die Feeds.", 404
        )
    per_address, per_client = _limits(request, runtime)
    address_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]  # no address in the counters' table
    if per_client.hit(request.client.host if request.client else "") is not None or per_address.hit(address_key) is not None:
        return page(
            request,
            runtime,
            "Bitte etwas Geduld",
            "Zu viele Anmeldungen in kurzer Zeit. Bitte versuchen Sie es in einer Minute noch einmal.",
            429,
        )
    now = utcnow()
    try:
        result = subscriptions.signup(session, email, feed, rhythmus, settings.public_url, now)
    except subscriptions.SignupError as exc:
        session.rollback()
        return page(request, runtime, "Anmeldung nicht möglich", str(exc), 400)
    if result.confirm_token is not None:
        _, meta = subscriptions.feed_query(session, feed, settings.public_url)
        link = f"{settings.public_url.rstrip('/')}/abo/bestaetigen/{result.confirm_token}"
        message = messages.confirmation(
            settings.mail_from,
            subscriptions.clean_address(email),
            meta.title,
            subscriptions.RHYTHMS[rhythmus],
            link,
            now,
            delivery.sender_domain(settings),
        )
        background.add_task(_send_confirmation, settings, queue, result.subscription_id, message)
    session.commit()
    return page(
        request,
        runtime,
        "Fast geschafft",
        "Wenn die Adresse dieses Abo noch nicht hat, schicken wir ihr jetzt eine E-Mail mit einem Bestätigungslink. "
        "Erst nach der Bestätigung (innerhalb von 48 Stunden) bekommen Sie Meldungen.",
    )


@router.get("/abo/bestaetigen/{token}")
def confirm(token: str, request: Request, session: SessionDep, runtime: RuntimeDep):
    sub = subscriptions.confirm(session, token[:200], utcnow())
    if sub is None:
        session.rollback()
        return page(
            request,
            runtime,
            "Link ungültig",
            "Dieser Bestätigungslink ist abgelaufen oder wurde schon benutzt. Bitte melden Sie sich noch einmal an.",
            404,
        )
    session.commit()
    return page(request, runtime, "Abo bestätigt", f"Danke! Sie bekommen die Meldungen ab jetzt ({subscriptions.RHYTHMS[sub.rhythm]}).")


@router.get("/abo/abmelden/{token}")
def unsubscribe_page(token: str, request: Request, session: SessionDep, runtime: RuntimeDep):
    if subscriptions.subscription_for(session, runtime.settings, token[:200]) is None:
        return page(request, runtime, "Abo nicht gefunden", "Dieses Abo gibt es nicht (mehr); Sie bekommen keine E-Mails dafür.", 404)
    return page(
        request,
        runtime,
        "Abo abbestellen",
        "Möchten Sie dieses E-Mail-Abo abbestellen? Ihre Adresse wird dabei gelöscht.",
        unsubscribe_action=f"/abo/abmelden/{token}",
    )


@router.post("/abo/abmelden/{token}")
def unsubscribe(token: str, request: Request, session: SessionDep, runtime: RuntimeDep):
    if not subscriptions.unsubscribe(session, runtime.settings, token[:200]):
        return page(request, runtime, "Abo nicht gefunden", "Dieses Abo gibt es nicht (mehr); Sie bekommen keine E-Mails dafür.", 404)
    session.commit()
    return page(request, runtime, "Abo abbestellt", "Sie bekommen keine E-Mails mehr; Ihre Adresse ist gelöscht.")


@router.get("/demo/post")
def demo_post(request: Request, runtime: RuntimeDep):
    """Only in the demo (``syndicate up --demo``): the mails its capturing SMTP server saved."""
    folder = runtime.settings.demo_mail_dir
    if not folder:
        return not_found(request, runtime, "Diese Seite gibt es nur in der Demo.")
    return render(request, runtime, "demo_post.html", title="Demo: Postfach", mails=mailbox.captured(Path(folder)), folder=folder)
