"""Topic memberships record their rule; changed rules re-classify stored articles — in process,
as the Celery task ``syndicate.reclassify``, and queued by ``syndicate sources sync``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from syndicate.dedupe.store import store_documents
from syndicate.models import ArticleTopic, Source, Topic
from syndicate.ops import queues
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import RawEntry
from syndicate.sources import registry
from syndicate.topics import rules as topic_rules
from tests.conftest import make_source
from tests.support.cli import syndicate

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
ARTICLES = [
    ("Cyberangriff auf Kreisverwaltung", "Die Server der Verwaltung wurden verschlüsselt.", []),
    ("Neue Öffnungszeiten im Freibad", "Das Freibad öffnet im Mai.", []),
    ("Stadtrat tagt", "Auf der Tagesordnung steht der Haushalt.", ["Themen > Verwaltung"]),
    ("Tram fährt wieder", "Die Tram nach Kornburg fährt wieder.", []),
]


def entries():
    return [
        normalise_entry(
            RawEntry(guid=f"g{i}", link=f"https://www.augsburg.de/a/{i}", title=title, summary=text, published=NOW, categories=categories),
            base=None,
            now=NOW,
            future_tolerance=3600,
        )
        for i, (title, text, categories) in enumerate(ARTICLES)
    ]


def memberships(session) -> dict[str, tuple[str, str, str]]:
    rows = session.execute(select(Topic.slug, ArticleTopic.reason, ArticleTopic.rule, ArticleTopic.article_id).join(Topic))
    return {f"{article_id}:{slug}": (reason, rule) for slug, reason, rule, article_id in rows}


@pytest.fixture
def stored(runtime, session, topics, settings):  # topics: the real topics.toml synced
    source = make_source(session, "https://www.augsburg.de/rss", city="augsburg")
    store_documents(session, [(source, entries())], topic_rules.load_rules(session), NOW)
    session.commit()
    return source


def test_each_membership_records_the_rule_that_matched(session, stored):
    found = {key.split(":", 1)[1]: value for key, value in memberships(session).items()}
    assert found == {
        "it-sicherheit": ("keyword", "Cyberangriff*"),
        "buergerservice": ("category", "Verwaltung"),  # the Freibad is excluded
        "mobilitaet": ("keyword", "Tram"),
    }


def change_rules(settings, old: str, new: str) -> None:
    path = settings.feeds_dir / "topics.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_changed_rules_reclassify_stored_articles(session, stored, settings):
    before = memberships(session)
    change_rules(settings, 'exclude = ["Freibad*", ', "exclude = [")  # the Freibad joins Bürgerservice
    change_rules(settings, '"Tram", ', "")  # "Tram" is no mobility keyword any more
    report = registry.sync(session, registry.load_registry(settings.feeds_dir))
    assert report.rules_changed

    result = topic_rules.reclassify(session, batch=2)  # two batches

    assert (result.articles, result.changed, result.added, result.removed) == (4, 2, 1, 1)
    after = memberships(session)
    assert set(before) - set(after) == {k for k in before if k.endswith(":mobilitaet")}
    added = set(after) - set(before)
    assert len(added) == 1 and after[added.pop()] == ("keyword", "Öffnungszeiten")
    assert topic_rules.reclassify(session).changed == 0  # nothing left to change


def test_sync_without_rule_changes_reports_none(session, stored, settings):
    assert not registry.sync(session, registry.load_registry(settings.feeds_dir)).rules_changed


def test_default_topic_change_of_a_source_counts_as_a_rule_change(session, settings, topics):
    (settings.feeds_dir / "augsburg.toml").write_text(
        '[city]\nslug = "augsburg"\nname = "Stadt Augsburg"\n\n[[sources]]\nurl = "https://www.augsburg.de/rss"\ntopics = []\n',
        encoding="utf-8",
    )
    registry.sync(session, registry.load_registry(settings.feeds_dir))
    city_file = settings.feeds_dir / "augsburg.toml"
    city_file.write_text(city_file.read_text(encoding="utf-8").replace("topics = []", 'topics = ["klimaschutz"]'), encoding="utf-8")
    assert registry.sync(session, registry.load_registry(settings.feeds_dir)).rules_changed
    assert session.scalar(select(Source.default_topics)) == ["klimaschutz"]


def test_reclassify_celery_task(runtime, session, stored, settings, monkeypatch):
    from workers import tasks

    change_rules(settings, '"Tram", ', "")
    registry.sync(session, registry.load_registry(settings.feeds_dir))
    monkeypatch.setattr(tasks, "_runtime", runtime)
    assert tasks.reclassify.name == "syndicate.reclassify"
    assert tasks.reclassify() == {"articles": 4, "changed": 1, "added": 0, "removed": 1}


def take_task(broker_url: str, queue: str) -> str:
    """Consume the newest message of a Celery queue and name its task."""
    from kombu import Connection

    with Connection(broker_url) as connection:
        simple = connection.SimpleQueue(queue)
        try:
            message = simple.get(timeout=5)
            message.ack()
            return message.headers["task"]
        finally:
            simple.close()


@pytest.mark.slow
def test_sources_sync_queues_reclassification_when_rules_changed(runtime, session, stored, settings):
    before = queues.depth(settings.broker_url)["maintenance"]
    unchanged = syndicate(settings, "sources", "sync", COLUMNS="1000")
    assert unchanged.returncode == 0, unchanged.stderr
    assert "re-classified" not in unchanged.stdout
    assert queues.depth(settings.broker_url)["maintenance"] == before

    change_rules(settings, '"Tram", ', "")
    changed = syndicate(settings, "sources", "sync", COLUMNS="1000")

    assert changed.returncode == 0, changed.stderr
    assert "syndicate.reclassify queued" in changed.stdout
    assert queues.depth(settings.broker_url)["maintenance"] == before + 1
    assert take_task(settings.broker_url, "maintenance") == "syndicate.reclassify"  # and leave the queue as it was
    by_hand = syndicate(settings, "topics", "reclassify", "--json")
    assert by_hand.returncode == 0, by_hand.stderr
    assert '"changed": 1' in by_hand.stdout
