"""What a process needs to do work: settings, engine, session factory, HTTP client.

Built once per process (CLI command, web app, Celery worker) from the one Settings object.
"""

from __future__ import annotations

from functools import cached_property

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syndicate.db import make_engine, make_session_factory
from syndicate.ingest.refresh import RefreshConfig
from syndicate.reader.fetch import make_client
from syndicate.reader.netguard import AddressPolicy
from syndicate.settings import Settings, get_settings


class Runtime:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def policy(self) -> AddressPolicy:
        return AddressPolicy(self.settings.allowed_networks)

    @cached_property
    def client(self) -> httpx.Client:
        return make_client(
            self.policy,
            timeout=self.settings.fetch_timeout,
            connect_timeout=self.settings.connect_timeout,
            user_agent=self.settings.http_user_agent,
        )

    @cached_property
    def refresh_config(self) -> RefreshConfig:
        return RefreshConfig.from_settings(self.settings)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
