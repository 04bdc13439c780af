"""Registry: the real feeds/ directory, idempotent sync into the database, and errors that name file, key and line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from syndicate.models import City, Source, Topic
from syndicate.reader.normalise import canonical_url
from syndicate.sources import registry
from syndicate.sources.registry import RegistryError, load_registry, sync
from tests.conftest import ROOT

REAL_FEEDS = ROOT / "feeds"
CITIES = {"muenchen", "augsburg", "nuernberg", "akdb", "bsi"}
TOPICS = {"it-sicherheit", "digitalisierung", "klimaschutz", "mobilitaet", "buergerservice"}

CITY = """\
[city]
slug = "testdorf"
name = "Gemeinde Testdorf"
kind = "city"

[[sources]]
url = "https://www.testdorf.de/rss"
title = "Aktuelles"
topics = ["buergerservice"]

[[sources]]
url = "https://www.testdorf.de/klima.xml"
min_interval = 900
"""


@pytest.fixture
def feeds(tmp_path) -> Path:
    """A feeds directory with the real topics.toml and one small city file."""
    directory = tmp_path / "registry"  # tmp_path/feeds belongs to the settings fixture
    directory.mkdir()
    shutil.copy(REAL_FEEDS / "topics.toml", directory / "topics.toml")
    (directory / "testdorf.toml").write_text(CITY, encoding="utf-8")
    return directory


# ---------------------------------------------------------------- the real registry


def test_real_registry_loads():
    loaded = load_registry(REAL_FEEDS)
    assert set(loaded.cities) >= CITIES
    assert {t.slug for t in loaded.topics} == TOPICS
    for slug, (file, content) in loaded.cities.items():
        assert Path(file).name.endswith(".toml") and content.city.slug == slug
        for source in content.sources:
            assert canonical_url(source.url) is not None
            assert set(source.topics) <= TOPICS
    assert sum(len(content.sources) for _, content in loaded.cities.values()) >= 1


def test_real_registry_kinds():
    loaded = load_registry(REAL_FEEDS)
    kinds = {slug: content.city.kind for slug, (_, content) in loaded.cities.items()}
    assert kinds["muenchen"] == kinds["augsburg"] == kinds["nuernberg"] == "city"
    assert kinds["akdb"] == kinds["bsi"] == "partner"


def _counts(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (City, Source, Topic))


def test_sync_real_registry_twice_is_idempotent(session):
    loaded = load_registry(REAL_FEEDS)
    sources = sum(len(content.sources) for _, content in loaded.cities.values())
    first = sync(session, loaded)
    assert first.created == sources and first.updated == 0 and first.retired == 0
    assert first.cities == len(loaded.cities) and first.topics == len(TOPICS)
    counts = _counts(session)
    assert counts == (len(loaded.cities), sources, len(TOPICS))

    second = sync(session, load_registry(REAL_FEEDS))
    assert (second.created, second.updated, second.retired) == (0, 0, 0)
    assert second.unchanged == sources
    assert _counts(session) == counts
    assert not session.dirty and not session.new


def test_sync_writes_fields_and_retires_removed_sources(session, feeds):
    sync(session, load_registry(feeds))
    city = session.scalar(select(City).where(City.slug == "testdorf"))
    assert city.name == "Gemeinde Testdorf" and city.registry_file.endswith("testdorf.toml")
    rss = session.scalar(select(Source).where(Source.url == "https://www.testdorf.de/rss"))
    assert rss.city_id == city.id and rss.origin == "file" and rss.enabled
    assert rss.default_topics == ["buergerservice"] and rss.title == "Aktuelles"
    assert rss.canonical_url == "https://www.testdorf.de/rss"
    klima = session.scalar(select(Source).where(Source.url == "https://www.testdorf.de/klima.xml"))
    assert klima.min_interval == 900 and klima.default_topics == []

    # change one source, remove the other
    (feeds / "testdorf.toml").write_text(
        CITY.split('[[sources]]\nurl = "https://www.testdorf.de/klima.xml"')[0].replace('title = "Aktuelles"', 'title = "Neuigkeiten"'),
        encoding="utf-8",
    )
    report = sync(session, load_registry(feeds))
    assert (report.created, report.updated, report.unchanged, report.retired) == (0, 1, 0, 1)
    session.expire_all()
    assert session.get(Source, rss.id).title == "Neuigkeiten"
    assert session.get(Source, klima.id).enabled is False  # disabled, not deleted

    # bring it back
    (feeds / "testdorf.toml").write_text(CITY.replace('title = "Aktuelles"', 'title = "Neuigkeiten"'), encoding="utf-8")
    report = sync(session, load_registry(feeds))
    assert (report.created, report.updated, report.retired) == (0, 1, 0)
    session.expire_all()
    assert session.get(Source, klima.id).enabled is True
    assert _counts(session)[1] == 2


# ---------------------------------------------------------------- errors name file, key and line


def _bad(feeds: Path, text: str, name: str = "kaputt.toml") -> str:
    (feeds / name).write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        load_registry(feeds)
    message = str(info.value)
    assert name in message
    return message


def _line(message: str, name: str = "kaputt.toml") -> int | None:
    match = re.search(rf"{re.escape(name)}:(\d+)", message)
    return int(match.group(1)) if match else None


@pytest.mark.parametrize(
    "text, key, line",
    [
        ('[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/rss"\ntitel = "Tippfehler"\n', "sources[0].titel", 7),
        ('[city]\nslug = "k"\nname = "K"\nbuergermeister = "X"\n', "city.buergermeister", 4),
        (
            '[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/1"\n\n[[sources]]\nurl = "ftp://k.de/2"\n',
            "sources[1].url",
            9,
        ),
        ('[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "k.de/rss"\n', "sources[0].url", 6),
        ('[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/rss"\ntopics = ["sport"]\n', "sources[0].topics", 7),
        ('[city]\nslug = "Kaputt Stadt"\nname = "K"\n', "city.slug", 2),
        ('[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/rss"\nmin_interval = 5\n', "sources[0].min_interval", 7),
        ('[city]\nslug = "k"\nname = "K"\nkind = "dorf"\n', "city.kind", 4),
        (
            '[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/1"\n\n[[sources]]\ntitle = "ohne URL"\n\n'
            '[[sources]]\nurl = "https://k.de/3"\n',
            "sources[1].url",
            8,
        ),
        (
            '[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://k.de/1"\n\n[[sources]]\nurl = "HTTPS://K.de/1#x"\n',
            "sources[1].url",
            9,
        ),
        ('[city]\nslug = "k"\nname = "K"\n\n[feed]\nurl = "https://k.de/1"\n', "feed", 5),
    ],
    ids=[
        "unknown-source-key",
        "unknown-city-key",
        "non-http-url",
        "url-without-scheme",
        "unknown-topic",
        "bad-slug",
        "interval-too-small",
        "bad-kind",
        "missing-url-points-at-its-table",
        "duplicate-url",
        "unknown-table",
    ],
)
def test_bad_city_file(feeds, text, key, line):
    message = _bad(feeds, text)
    assert f"'{key}'" in message
    assert _line(message) == line


def test_toml_syntax_error_names_file_and_line(feeds):
    message = _bad(feeds, '[city]\nslug = "k"\nname = "K\n')
    assert "invalid TOML" in message
    assert "line 3" in message


def test_missing_city_table(feeds):
    message = _bad(feeds, '[[sources]]\nurl = "https://k.de/1"\n')
    assert "'city'" in message


def test_duplicate_city_slug_across_files(feeds):
    message = _bad(feeds, CITY.replace("testdorf.de", "anders.de"), name="zweitesdorf.toml")
    assert "'city.slug'" in message and "testdorf.toml" in message


def test_duplicate_url_across_files_names_both(feeds):
    message = _bad(feeds, '[city]\nslug = "k"\nname = "K"\n\n[[sources]]\nurl = "https://WWW.testdorf.de/rss?utm_source=x"\n')
    assert "'sources[0].url'" in message and "testdorf.toml" in message
    # files load in name order, so the second listing (testdorf.toml, line 7) is the one reported
    assert _line(message, "testdorf.toml") == 7 or _line(message, "kaputt.toml") == 6


def test_bad_topics_file(feeds):
    text = (REAL_FEEDS / "topics.toml").read_text(encoding="utf-8") + '\n[[topics]]\nslug = "sport"\ntitle = "Sport"\nfarbe = "rot"\n'
    (feeds / "topics.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        load_registry(feeds)
    message = str(info.value)
    assert "topics.toml" in message and "'topics[5].farbe'" in message
    assert _line(message, "topics.toml") == len(text.splitlines())


def test_missing_directory(tmp_path):
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "gibt-es-nicht")
    assert "gibt-es-nicht" in str(info.value)


def test_error_leaves_database_untouched(session, feeds):
    (feeds / "kaputt.toml").write_text('[city]\nslug = "k"\nname = "K"\nx = 1\n', encoding="utf-8")
    with pytest.raises(RegistryError):
        sync(session, registry.load_registry(feeds))
    assert _counts(session) == (0, 0, 0)
