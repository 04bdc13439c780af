"""Topic rules → topic memberships: an item's categories, keywords in its title and text,
and the default topics of its source."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.models import Article, ArticleTopic, Topic


@dataclass(frozen=True)
class TopicRule:
    id: int
    slug: str
    categories: frozenset[str]
    pattern: re.Pattern | None

    @classmethod
    def from_topic(cls, topic: Topic) -> TopicRule:
        return cls(
            id=topic.id,
            slug=topic.slug,
            categories=frozenset(c.strip().lower() for c in topic.categories),
            pattern=keyword_pattern(topic.keywords),
        )


def keyword_pattern(keywords: list[str]) -> re.Pattern | None:
    """Whole words or phrases, case-insensitive; a trailing ``*`` matches any word ending."""
    parts = []
    for keyword in keywords:
        keyword = keyword.strip()
        if not keyword:
            continue
        if keyword.endswith("*"):
            parts.append(re.escape(keyword[:-1]) + r"\w*")
        else:
            parts.append(re.escape(keyword) + r"(?!\w)")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE) if parts else None


def category_labels(categories: list[str]) -> set[str]:
    """"IT/Digitalisierung" counts as itself and as "IT" and "Digitalisierung"."""
    labels = set()
    for category in categories:
        lowered = category.strip().lower()
        labels.add(lowered)
        labels.update(part.strip() for part in re.split(r"[/,;|]", lowered) if part.strip())
    return labels


def classify(rules: list[TopicRule], *, categories: list[str], title: str, text: str, defaults: list[str]) -> dict[int, str]:
    """Topic id → why (``source``, ``category`` or ``keyword``)."""
    labels = category_labels(categories)
    found: dict[int, str] = {}
    for rule in rules:
        if rule.slug in defaults:
            found[rule.id] = "source"
        elif rule.categories & labels:
            found[rule.id] = "category"
        elif rule.pattern is not None and (rule.pattern.search(title) or rule.pattern.search(text)):
            found[rule.id] = "keyword"
    return found


def load_rules(session: Session) -> list[TopicRule]:
    return [TopicRule.from_topic(t) for t in session.scalars(select(Topic).order_by(Topic.slug))]


def assign(session: Session, rules: list[TopicRule], article: Article, defaults: list[str]) -> None:
    found = classify(rules, categories=article.categories, title=article.title, text=article.text, defaults=defaults)
    session.execute(delete(ArticleTopic).where(ArticleTopic.article_id == article.id))
    session.add_all(ArticleTopic(article_id=article.id, topic_id=tid, reason=why) for tid, why in found.items())
