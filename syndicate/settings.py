"""The one Settings object. Nothing else in the code base reads ``os.environ``.

Every value has a default that gives the embedded setup (SQLite + a broker on a
SQLite file), so ``syndicate up`` works on a fresh machine with nothing set.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNDICATE_", extra="ignore")

    database_url: str = "sqlite:///var/syndicate.db"
    broker_url: str = "sqla+sqlite:///var/broker.db"
    allow_networks: str = ""  # comma-separated CIDRs or host names exempt from the private-address block
    feeds_dir: Path = Path("feeds")
    var_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8000"

    # scheduling (seconds)
    beat_interval: float = 30.0
    default_interval: int = 900
    min_interval: int = 300
    max_interval: int = 86400
    error_backoff_cap: int = 86400

    # fetching
    fetch_timeout: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "syndicate/0.1 (+https://github.com/syndicate; Kommunaler Feed-Verbund Bayern)"

    # publishing
    feed_limit: int = 50
    feed_limit_max: int = 200
    future_tolerance: int = 3600  # a date further in the future than this is clamped to now

    # test-only overrides, read here so that tests too go through the one Settings object
    test_database_url: str | None = None
    test_broker_url: str | None = None

    @property
    def allowed_networks(self) -> list[str]:
        return [part.strip() for part in self.allow_networks.split(",") if part.strip()]

    def validate_networks(self) -> None:
        for entry in self.allowed_networks:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
