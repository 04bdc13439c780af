"""The German index page of all merged feeds."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from syndicate.models import City, Topic
from syndicate.web.deps import RuntimeDep, SessionDep

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, runtime: RuntimeDep):
    topics = session.scalars(select(Topic).order_by(Topic.title)).all()
    cities = session.scalars(select(City).order_by(City.name)).all()
    feeds = [("Alle Meldungen", "Alles aus allen Quellen, jede Meldung einmal", "/feeds/all")]
    feeds += [(f"Thema: {t.title}", t.description or "", f"/feeds/topics/{t.slug}") for t in topics]
    feeds += [(c.name, f"Meldungen von {c.name}", f"/feeds/cities/{c.slug}") for c in cities]
    return templates.TemplateResponse(
        request, "index.html", {"feeds": feeds, "base": runtime.settings.public_url.rstrip("/"), "formats": ("rss", "atom", "json")}
    )
