"""A city's API-registered sources as a ``feeds/<slug>.toml`` file (the schema ``registry.py`` reads).

Once the file is in the repository, ``sources sync`` finds each source by its canonical URL
and takes it over (origin ``file``); nothing is polled twice and no article is lost.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.errors import NotFound
from syndicate.models import City, Source


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _table(lines: list[str], values: dict) -> None:
    lines.extend(f"{key} = {_value(value)}" for key, value in values.items() if value not in (None, []))


def city_toml(session: Session, slug: str) -> str:
    city = session.scalar(select(City).where(City.slug == slug))
    if city is None:
        raise NotFound(f"Stadt {slug!r} ist nicht registriert", reason="city_not_found")
    sources = session.scalars(select(Source).where(Source.city_id == city.id, Source.origin == "api").order_by(Source.id)).all()
    lines = [f"# {len(sources)} Quelle(n) von {city.name}, über die API registriert (syndicate sources export)"]
    if city.registry_file:
        lines.append(f"# {city.slug} hat bereits {city.registry_file}: dort nur die [[sources]]-Blöcke anhängen")
    lines.append("")
    lines.append("[city]")
    _table(
        lines,
        {
            "slug": city.slug,
            "name": city.name,
            "kind": city.kind,
            "contact": city.contact,
            "website": city.website,
            "newsroom": city.newsroom,
        },
    )
    for source in sources:
        lines += ["", "[[sources]]"]
        _table(
            lines,
            {
                "url": source.url,
                "title": source.title,
                "topics": source.default_topics or [],
                "enabled": source.enabled,
                "min_interval": source.min_interval,
                "max_interval": source.max_interval,
            },
        )
    return "\n".join(lines) + "\n"
