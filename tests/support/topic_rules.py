"""The real topic rules of feeds/topics.toml, without a database (a fixture plugin)."""

from __future__ import annotations

import shutil

import pytest

from syndicate.models import Topic
from syndicate.sources import registry
from syndicate.topics.rules import TopicRule
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> list[TopicRule]:
    """Rules built from the real topics.toml (loaded through the registry, no database)."""
    feeds = tmp_path_factory.mktemp("feeds")
    shutil.copy(ROOT / "feeds" / "topics.toml", feeds / "topics.toml")
    loaded = registry.load_registry(feeds)
    return [
        TopicRule.from_topic(Topic(id=i, slug=t.slug, categories=t.categories, keywords=t.keywords, exclude=t.exclude))
        for i, t in enumerate(loaded.topics, start=1)
    ]
