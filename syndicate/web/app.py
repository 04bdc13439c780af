"""FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from syndicate import __version__, logs
from syndicate.ops import watch
from syndicate.runtime import Runtime
from syndicate.settings import Settings
from syndicate.web import problems
from syndicate.web.bodylimit import BodyLimit
from syndicate.web.cachedfeeds import CachedFeeds
from syndicate.web.publicurl import CheckPublicUrl, PublicUrlCheck
from syndicate.web.routes import api, console, feeds, mail, ops, portal, websub, widget

log = logging.getLogger("syndicate.web")


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = Runtime(settings)
    logs.configure(runtime.settings, force=False)  # under uvicorn; a test runner's or host's logging is left alone
    for warning in runtime.settings.startup_warnings():
        log.warning("%s", warning)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        interval = runtime.settings.ops_watch_interval
        watcher = watch.Watcher(runtime.sessions, runtime.settings, interval) if interval > 0 else None
        if watcher is not None:
            watcher.start()  # workers lost, beat stopped, sources failing, alerts: logged once (syndicate/ops/watch.py)
        yield
        if watcher is not None:
            watcher.stop()
            watcher.join(timeout=10)
        runtime.close()

    app = FastAPI(title="syndicate", version=__version__, description="Kommunaler Feed-Verbund Bayern", lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(portal.router)
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(feeds.router)
    app.include_router(widget.router)
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(websub.router)
    app.include_router(mail.router)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(BodyLimit)  # outside the routes: no body is parsed, and no token checked, before its limit holds
    problems.install(app)
    app.add_middleware(CachedFeeds)  # a fresh cached feed (a GET, no body) skips everything else …
    app.state.public_url_check = PublicUrlCheck(runtime.settings.public_url)
    app.add_middleware(CheckPublicUrl, check=app.state.public_url_check)  # … but not this look at the Host header
    return app
