"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from syndicate import __version__
from syndicate.runtime import Runtime
from syndicate.settings import Settings
from syndicate.web.routes import feeds, ops, pages


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="syndicate", version=__version__, description="Kommunaler Feed-Verbund Bayern")
    app.state.runtime = Runtime(settings)
    app.include_router(pages.router)
    app.include_router(feeds.router)
    app.include_router(ops.router)

    @app.on_event("shutdown")
    def _close() -> None:
        app.state.runtime.close()

    return app
