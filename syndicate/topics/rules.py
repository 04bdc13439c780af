"""Topic rules → topic memberships, each with the rule that matched.

An article joins a topic when its source lists the topic as a default (reason ``source``),
when one of its category labels matches one of the topic's categories (``category``), or when
one of the topic's keywords occurs in its title or text (``keyword``; German folding,
inflection and compounds: see ``syndicate.topics.keywords``). A topic's ``exclude`` keywords veto
category and keyword matches, not a source default.

Category labels are compared folded (case, ä→ae, ß→ss) and as hierarchies: the label
"Themen > Digitales > IT-Sicherheit" counts as each of its parts and each run of parts, so the
rule categories "IT-Sicherheit" and "Digitales/IT-Sicherheit" both match it.

When the rules change, ``reclassify`` (the Celery task ``syndicate.reclassify``) recomputes the
memberships of all stored articles and reports how many changed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicate.models import Article, ArticleTopic, Source, Topic
from syndicate.reader.german import fold
from syndicate.topics.keywords import Matcher, folded_forms

HIERARCHY = re.compile(r"\s*(?:/|>|»|\\)\s*")
LIST = re.compile(r"\s*[,;|]\s*")
SOURCE_RULE = "Standardthema der Quelle"


@dataclass(frozen=True)
class Match:
    reason: str  # source | category | keyword
    rule: str  # the category or keyword as written in topics.toml, or SOURCE_RULE


@dataclass(frozen=True)
class TopicRule:
    id: int
    slug: str
    categories: dict[str, str]  # folded category path → as written
    pattern: Matcher | None
    exclude: Matcher | None = None

    @classmethod
    def from_topic(cls, topic: Topic) -> TopicRule:
        return cls(
            id=topic.id,
            slug=topic.slug,
            categories={category_path(c): c.strip() for c in topic.categories if category_path(c)},
            pattern=Matcher(topic.keywords or []) or None,
            exclude=Matcher(topic.exclude or []) or None,
        )


def keyword_pattern(keywords: list[str]) -> Matcher | None:
    """The keywords as one matcher (``search(text)`` names the first keyword found), None without keywords."""
    return Matcher(keywords) or None


def category_path(label: str) -> str:
    return "/".join(fold(part) for part in HIERARCHY.split(label.strip()) if part)


def category_labels(categories: list[str]) -> set[str]:
    """ "IT/Digitalisierung" counts as itself, "it" and "digitalisierung"; "A; B" as "a" and "b"."""
    labels = set()
    for category in categories:
        if whole := fold(category.strip()):
            labels.add(whole)
        for item in LIST.split(category.strip()):
            parts = [fold(p) for p in HIERARCHY.split(item) if p]
            labels.update("/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1))
    return labels


def explain(rules: list[TopicRule], *, categories: list[str], title: str, text: str, defaults: list[str]) -> dict[int, Match]:
    """Topic id → the match (reason and rule)."""
    labels = category_labels(categories)
    forms = [folded_forms(title), folded_forms(text)]
    found: dict[int, Match] = {}
    for rule in rules:
        if rule.slug in defaults:
            found[rule.id] = Match("source", SOURCE_RULE)
        elif rule.exclude is not None and rule.exclude.find_in(forms):
            continue
        elif category := next((written for path, written in rule.categories.items() if path in labels), None):
            found[rule.id] = Match("category", category)
        elif rule.pattern is not None and (keyword := rule.pattern.find_in(forms)):
            found[rule.id] = Match("keyword", keyword)
    return found


def classify(rules: list[TopicRule], *, categories: list[str], title: str, text: str, defaults: list[str]) -> dict[int, str]:
    """Topic id → why (``source``, ``category`` or ``keyword``)."""
    matches = explain(rules, categories=categories, title=title, text=text, defaults=defaults)
    return {topic_id: match.reason for topic_id, match in matches.items()}


def load_rules(session: Session) -> list[TopicRule]:
    return [TopicRule.from_topic(t) for t in session.scalars(select(Topic).order_by(Topic.slug))]


def assign(session: Session, rules: list[TopicRule], article: Article, defaults: list[str]) -> None:
    found = explain(rules, categories=article.categories, title=article.title, text=article.text, defaults=defaults)
    session.execute(delete(ArticleTopic).where(ArticleTopic.article_id == article.id))
    session.add_all(ArticleTopic(article_id=article.id, topic_id=tid, reason=m.reason, rule=m.rule[:300]) for tid, m in found.items())


@dataclass
class ReclassifyReport:
    articles: int = 0  # articles looked at
    changed: int = 0  # articles whose memberships changed
    added: int = 0  # memberships added
    removed: int = 0  # memberships removed

    def as_dict(self) -> dict:
        return asdict(self)


def reclassify(session: Session, batch: int = 500) -> ReclassifyReport:
    """Recompute every stored article's memberships with the current rules, one committed batch at a time."""
    rules = load_rules(session)
    defaults = {source_id: topics or [] for source_id, topics in session.execute(select(Source.id, Source.default_topics))}
    report, last = ReclassifyReport(), 0
    while rows := session.scalars(select(Article).where(Article.id > last).order_by(Article.id).limit(batch)).all():
        last = rows[-1].id
        have: dict[int, dict[int, ArticleTopic]] = {}
        for membership in session.scalars(select(ArticleTopic).where(ArticleTopic.article_id.in_([a.id for a in rows]))):
            have.setdefault(membership.article_id, {})[membership.topic_id] = membership
        for article in rows:
            wanted = explain(
                rules, categories=article.categories, title=article.title, text=article.text, defaults=defaults.get(article.source_id, [])
            )
            _apply(session, report, article.id, have.get(article.id, {}), wanted)
        report.articles += len(rows)
        session.commit()
        session.expunge_all()
    return report


def _apply(session: Session, report: ReclassifyReport, article_id: int, have: dict[int, ArticleTopic], wanted: dict[int, Match]) -> None:
    if {t: (m.reason, m.rule) for t, m in have.items()} == {t: (m.reason, m.rule) for t, m in wanted.items()}:
        return
    report.changed += 1
    report.added += len(wanted.keys() - have.keys())
    report.removed += len(have.keys() - wanted.keys())
    for topic_id in have.keys() - wanted.keys():
        session.delete(have[topic_id])
    for topic_id, match in wanted.items():
        if topic_id in have:
            have[topic_id].reason, have[topic_id].rule = match.reason, match.rule[:300]
        else:
            session.add(ArticleTopic(article_id=article_id, topic_id=topic_id, reason=match.reason, rule=match.rule[:300]))
