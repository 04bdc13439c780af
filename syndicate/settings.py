"""The one Settings object. Nothing else in the code base reads ``os.environ``.

Every value has a default that gives the embedded setup (SQLite + a broker on a
SQLite file), so ``syndicate up`` works on a fresh machine with nothing set.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from syndicate import __version__


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNDICATE_", extra="ignore")

    database_url: str = "sqlite:///var/syndicate.db"
    broker_url: str = "sqla+sqlite:///var/broker.db"
    allow_networks: str = ""  # comma-separated CIDRs or host names exempt from the private-address block
    feeds_dir: Path = Path("feeds")
    var_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8000"
    static_dir: Path | None = None  # the first page of every merged feed written here each beat tick, for nginx/CDN (unset: none)

    # scheduling (seconds)
    beat_interval: float = 30.0
    run_lease: float = 30.0  # a running refresh holds its source this long, renewed every third of it (syndicate/ingest/due.py)
    claim_limit: PositiveInt = 5000  # due sources one beat tick claims at most
    refresh_batch: PositiveInt = 20  # sources per refresh message (fewer when few are due): one message, one task, N polls
    batch_budget: PositiveFloat = 120.0  # a batch task running longer hands its remaining sources on in a new message
    refresh_group: PositiveInt = 16  # sources of a batch fetched one after the other, then stored in one transaction
    default_interval: int = 900
    min_interval: int = 300
    max_interval: int = 86400
    active_interval: int = 600  # freshness model: the interval in the hours a source publishes (docs/freshness.md)
    urgent_interval: int = 120  # … for sources and topics marked urgent (warnings); replaces min_interval for them
    push_interval: int = 4 * 3600  # a source whose WebSub hub pushes to us is still polled, this often (syndicate/ingest/push.py)
    push_lease: int = 7 * 86400  # the lease we ask publishers' hubs for (s)
    push_renew_before: int = 86400  # a lease ending within this is renewed (s)
    error_backoff_cap: int = 86400
    redirect_confirmations: int = 3  # a 301/308 moves the source after this many polls that saw it …
    redirect_min_span: int = 86400  # … spread over at least this many seconds

    # fetching
    connect_timeout: float = 10.0
    fetch_timeout: float = 20.0  # per socket read
    fetch_deadline: float = 60.0  # the whole fetch: every hop, headers and body (stops servers that drip)
    max_body_bytes: int = 10 * 1024 * 1024  # bytes on the wire
    max_decoded_bytes: int = 20 * 1024 * 1024  # after gzip/deflate/brotli
    max_redirects: int = 5
    contact_url: str = "https://github.com/syndicate"  # where a publisher learns who polls them
    user_agent: str = ""  # empty: "syndicate/<version> (+<contact_url>; Kommunaler Feed-Verbund Bayern)"

    # per-host politeness, shared by all workers through the database
    host_concurrency: int = 2  # requests at once per host (0: no limit)
    host_rate_per_minute: int = 30  # requests per host and minute (0: no limit)
    host_limits: str = ""  # per-host overrides "host=K/R,…", e.g. "stadt.muenchen.de=4/120,akdb.de=1/10"
    host_busy_retry: float = 30.0  # seconds (±50 %) until a source deferred by the host budget is tried again

    # publishing
    feed_limit: int = 50
    feed_limit_max: int = 200
    feed_cache_bytes: PositiveInt = 64 * 1024 * 1024  # rendered feeds kept per API process, least recently used evicted first
    feed_cache_seconds: float = 1.0  # a cached feed is served this long without re-checking its version stamp (0: check every request)
    future_tolerance: int = 3600  # a date further in the future than this is clamped to now
    # who may show the widget (/einbetten/…) in a frame: "*" (anyone), or origins separated by commas or spaces,
    # e.g. "https://www.augsburg.de, https://*.muenchen.de"; "self" is this site, "none" nobody
    embed_origins: str = "*"

    # WebSub hub: every callback request goes through the fetcher (address policy, caps, total deadline)
    websub_deadline: PositiveFloat = 30.0  # one verification or delivery, every byte of it: a callback that drips is cut off
    websub_verify_max_bytes: PositiveInt = 1024  # a verification answer needs to hold only the echoed challenge
    websub_max_per_host: NonNegativeInt = 20  # open (pending or active) subscriptions per callback host; 0: no limit
    websub_max_total: NonNegativeInt = 10000  # open subscriptions in all; 0: no limit
    websub_rate_limit: NonNegativeInt = 30  # /websub requests per client address and minute (per API process); 0: no limit
    websub_publish_interval: NonNegativeFloat = 10.0  # publish pings queue at most one fan-out per this many seconds (per API process)

    # API
    api_rate_limit: int = 60  # requests per token and minute (per API process); 0 turns the limit off

    # e-mail subscriptions (syndicate.mail): without an SMTP URL and a sender, the form is hidden and nothing is queued
    # smtp://[user:password@]host[:port] (STARTTLS required, except to a loopback host) or smtps://… (TLS from the start)
    smtp_url: str = ""
    smtp_ca_file: str = ""  # PEM file of the CA that signed the SMTP server's certificate (a private CA); empty: the system's CAs
    mail_from: str = ""  # the sender, e.g. "Kommunaler Feed-Verbund <nachrichten@example.de>"
    mail_secret: str = ""  # key of the unsubscribe links (HMAC); empty: derived from database_url — set it in production
    mail_digest_hour: int = 7  # daily and weekly digests go out in this hour (Europe/Berlin)
    mail_digest_weekday: int = 0  # weekly digests on this weekday (0 = Monday)
    mail_signup_per_address: NonNegativeInt = 3  # sign-ups per address and minute; 0: no limit
    mail_signup_per_client: NonNegativeInt = 10  # sign-ups per client address and minute; 0: no limit
    mail_batch: PositiveInt = 50  # stories in one mail at most
    mail_timeout: PositiveFloat = 30.0  # seconds one SMTP command may take
    mail_task_batch: PositiveInt = 200  # subscriptions per delivery task: one SMTP connection, each feed's digest rendered once
    # a mail claimed by a run that died before it recorded the mail as sent is sent again (same Message-ID) after this many
    # seconds; it must exceed the longest SMTP conversation of one mail (a few times mail_timeout)
    mail_claim_lease: PositiveFloat = 1800.0
    # PostgreSQL: wait for the disk (fsync) at each mail's record; off, a crash of the DATABASE SERVER (not of a
    # worker) within ~0.6 s of a record may send that mail again (same Message-ID) — see docs/mail.md
    mail_sync_commit: bool = False
    demo_mail_dir: str = ""  # set by `syndicate up --demo` only: the captured mails (.eml) shown at /demo/post

    # operations: /ops, /metrics, alerts
    ops_allow_networks: str = "127.0.0.1/32,::1/128"  # clients that see /ops and /metrics without a token (CIDRs or hosts)
    console_idle_timeout: int = 30 * 60  # a console session unused this long (s) ends
    console_max_age: int = 8 * 3600  # a console session ends this long (s) after sign-in, used or not
    console_page_cache: int = 15 * 60  # a page fetched for the console's preview is kept this long (s) per session, for the next preview
    console_signin_failures: int = 10  # failed console sign-ins a minute, per client address and per token prefix
    ops_failing_alert_after: int = 6 * 3600  # a source failing this long (s) counts as broken and raises an alert
    ops_queue_alert_minutes: int = 10  # alert when a queue has grown for this long
    ops_inspect_timeout: float = 1.0  # seconds to wait for workers to answer Celery's inspect
    ops_counts_seconds: float = 60.0  # /ops and /metrics reuse their whole-table counts this long while nothing was added
    # every API process looks this often (s) for a worker lost or back, beat stopped or ticking again, a source that
    # starts failing or recovers, an alert raised or resolved, and logs each change once for the installation (0: off)
    ops_watch_interval: NonNegativeFloat = 30.0

    # logs of every process (API, workers, beat, CLI, `syndicate up`'s children): syndicate/logs.py
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, a refresh's fields as keys

    # maintenance (syndicate.ops.maintenance task, `syndicate maintenance run`); 0 turns a limit off
    retention_days: NonNegativeInt = 365  # articles published longer ago are deleted, with tombstones
    retention_per_source: NonNegativeInt = 1000  # articles of a source beyond its newest N are deleted, with tombstones
    fetch_log_days: NonNegativeInt = 14  # fetch-log rows older than this are deleted …
    fetch_log_per_source: NonNegativeInt = 100  # … except each source's newest N (the /ops source page shows 100)
    maintenance_interval: PositiveFloat = 3600.0  # seconds between maintenance runs (beat)

    # test-only overrides, read here so that tests too go through the one Settings object
    test_database_url: str | None = None
    test_broker_url: str | None = None

    @field_validator("host_limits")
    @classmethod
    def _check_host_limits(cls, value: str) -> str:
        parse_host_limits(value)
        return value

    @field_validator("embed_origins")
    @classmethod
    def _check_embed_origins(cls, value: str) -> str:
        frame_ancestors(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("run_lease")
    @classmethod
    def _check_run_lease(cls, value: float) -> float:
        if value < 3:
            raise ValueError("run_lease must be at least 3 seconds (it is renewed every third of it)")
        return value

    @property
    def host_limit_overrides(self) -> dict[str, tuple[int, int]]:
        return parse_host_limits(self.host_limits)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_url and self.mail_from)

    @property
    def http_user_agent(self) -> str:
        return self.user_agent or f"syndicate/{__version__} (+{self.contact_url}; Kommunaler Feed-Verbund Bayern)"

    @property
    def allowed_networks(self) -> list[str]:
        return [part.strip() for part in self.allow_networks.split(",") if part.strip()]

    @property
    def frame_ancestors(self) -> str:
        """The CSP ``frame-ancestors`` source list for the widget, from ``embed_origins``."""
        return frame_ancestors(self.embed_origins)

    def ensure_var_dir(self) -> Path:
        """``var_dir``, created when missing, for the processes that keep files there (beat's schedule,
        worker heartbeats). A directory that cannot be created stops the process with a message naming
        the setting, not with a traceback about some file inside it."""
        try:
            self.var_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(
                f"error: SYNDICATE_VAR_DIR={self.var_dir} (absolute: {self.var_dir.absolute()}) cannot be created: {exc.strerror or exc}"
            ) from exc
        return self.var_dir

    def startup_warnings(self) -> list[str]:
        """What a starting process logs as a warning, once: paths that depend on the directory the process
        happens to be started from, and a server setup (not SQLite) whose feeds would name themselves
        with the default public address."""
        found = []
        for name, path in (("SYNDICATE_VAR_DIR", self.var_dir), ("SYNDICATE_FEEDS_DIR", self.feeds_dir)):
            if not path.is_absolute():
                found.append(
                    f"{name}={path} is relative: resolved against the working directory {Path.cwd()} as {path.absolute()}; "
                    "set an absolute path so that every process uses the same one"
                )
        if "public_url" not in self.model_fields_set and not self.database_url.startswith("sqlite"):
            found.append(f"SYNDICATE_PUBLIC_URL is not set: feeds and links name themselves {self.public_url}")
        return found

    def validate_networks(self) -> None:
        for entry in self.allowed_networks:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)


def parse_host_limits(value: str) -> dict[str, tuple[int, int]]:
    """``"a.de=2/60, b.de=1/10"`` → ``{"a.de": (2, 60), "b.de": (1, 10)}`` (concurrency, requests per minute)."""
    limits = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        host, _, pair = part.partition("=")
        concurrency, _, rate = pair.partition("/")
        if not (host.strip() and concurrency.strip().isdigit() and rate.strip().isdigit()):
            raise ValueError(f"host limit {part!r} is not of the form host=K/R (K at once, R per minute)")
        limits[host.strip().lower()] = (int(concurrency), int(rate))
    return limits


# a scheme and host (a leading "*." allowed), an optional port: what CSP takes as a host source, and nothing that
# could end the directive or the header (";", ",", quotes, spaces, line breaks)
ORIGIN = re.compile(r"https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5}|:\*)?", re.IGNORECASE)


def frame_ancestors(value: str) -> str:
    """``"*"`` → ``*``; ``"https://a.de, https://b.de"`` → ``https://a.de https://b.de``; ``self`` → ``'self'``;
    ``none`` (or nothing) → ``'none'``. Anything else is refused, so a typo cannot open or break the header."""
    entries = [e for e in re.split(r"[\s,]+", value.strip()) if e]
    if not entries or entries == ["none"]:
        return "'none'"
    sources = []
    for entry in entries:
        if entry == "*":
            sources.append("*")
        elif entry in ("self", "'self'"):
            sources.append("'self'")
        elif ORIGIN.fullmatch(entry.rstrip("/")):
            sources.append(entry.rstrip("/"))
        else:
            raise ValueError(f"embed origin {entry!r} is not '*', 'self', 'none' or an origin like https://www.example.de")
    return "*" if "*" in sources else " ".join(dict.fromkeys(sources))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
