"""The German index page of all merged feeds."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from syndicate.publish import index as feedindex
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, runtime: RuntimeDep):
    feeds = [(f.title, f.description, f.path) for f in feedindex.feeds(session)]
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "feeds": feeds,
            "base": runtime.settings.public_url.rstrip("/"),
            "formats": ("rss", "atom", "json"),
            "types": feedindex.FORMAT_TYPES,
        },
    )
