"""Every document of the shared corpus goes through ``syndicate parse --json`` (one process for all of
them) without a crash; the real-world feeds give entries. Then the misbehaving feeds written for this
suite (tests/fixtures/feeds/) are checked in-process, stage by stage, as the CLI runs them.

The corpus part is skipped when ../shared/corpus is not there; the fixture part always runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.reader.fingerprint import item_key, item_keys
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import parse
from tests.conftest import CORPUS, FIXTURES

FEED_FIXTURES = sorted((FIXTURES / "feeds").iterdir())
REAL_WORLD = CORPUS / "real-world"
FEED_SUFFIXES = {".xml", ".json", ".rdf", ".atom", ".rss"}
# documented in real-world/MANIFEST.md: a truncated server response with no items at all
REAL_WORLD_WITHOUT_ITEMS = {"en_reuters_rss20_invalid.xml"}
REASON_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ISO_UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ENTRY_KEYS = {"url", "canonical_url", "title", "published_at", "summary_html", "text", "categories", "item_key"}


def _cli() -> list[str]:
    """The CLI as a program of this interpreter (``python -m syndicate.cli``)."""
    return [sys.executable, "-m", "syndicate.cli"]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file())
    var = tmp_path_factory.mktemp("cli-var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env.update(SYNDICATE_VAR_DIR=str(var), SYNDICATE_DATABASE_URL=f"sqlite:///{var}/unused.db")
    proc = subprocess.run(
        [*_cli(), "parse", "--json", *files],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=var,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    results = [json.loads(line) for line in lines]
    return files, proc, results


@pytest.mark.slow
def test_cli_runs_cleanly(corpus_run):
    files, proc, results = corpus_run
    assert len(files) > 100
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    # exit code 1 would mean every document failed; the corpus holds plenty of good feeds
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(results) == len(files)
    assert [r["file"] for r in results] == files


@pytest.mark.slow
def test_no_internal_errors_and_reasons_everywhere(corpus_run):
    _, _, results = corpus_run
    internal = [r for r in results if "error" in r and r["error"].get("reason") == "internal_error"]
    assert internal == []
    for result in results:
        if "error" in result:
            assert REASON_RE.match(result["error"].get("reason") or ""), result
            assert result["error"].get("message"), result
            assert "entries" not in result
        else:
            assert isinstance(result["format"], str) and result["format"]
            assert isinstance(result["entries"], list)


@pytest.mark.slow
def test_entries_are_complete(corpus_run):
    _, _, results = corpus_run
    entries = [e for r in results if "entries" in r for e in r["entries"]]
    assert len(entries) > 1000
    for entry in entries:
        assert set(entry) == ENTRY_KEYS
        assert ISO_UTC_RE.match(entry["published_at"]), entry["published_at"]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["item_key"])
        assert entry["title"]
        assert entry["url"] is None or entry["url"].lower().startswith(("http://", "https://"))
        assert entry["canonical_url"] is None or entry["canonical_url"].startswith(("http://", "https://"))
        assert "<script" not in entry["summary_html"].lower()


def _real_world_results(corpus_run):
    _, _, results = corpus_run
    chosen = [r for r in results if Path(r["file"]).is_relative_to(REAL_WORLD) and Path(r["file"]).suffix in FEED_SUFFIXES]
    assert len(chosen) >= 30
    return {Path(r["file"]).name: r for r in chosen}


@pytest.mark.slow
def test_real_world_feeds_have_entries(corpus_run):
    real = _real_world_results(corpus_run)
    failed = {name: r.get("error") for name, r in real.items() if "error" in r}
    assert failed == {}
    empty = {name for name, r in real.items() if not r["entries"]}
    assert empty == REAL_WORLD_WITHOUT_ITEMS


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, count",
    [
        ("golem_rss20_iso-8859-1.xml", 40),
        ("heise_rss090-rdf_utf8.xml", 60),
        ("bsi-cert-bund-wid_security-advisories_rss20.xml", 30),
        ("en_pcmag-dvorak_rss20_illegally-nested.xml", 10),  # stray empty <item/> elements are no entries
        ("en_braingle_rss20_duplicate-guids.xml", 1),
        ("en_jsonfeed_v1.json", 20),
        ("ru_oren-city-news_rss20_windows-1251.xml", 10),
    ],
    ids=lambda v: str(v),
)
def test_real_world_entry_counts(corpus_run, name, count):
    assert len(_real_world_results(corpus_run)[name]["entries"]) == count


@pytest.mark.slow
def test_real_world_quirks(corpus_run):
    real = _real_world_results(corpus_run)
    heise = real["heise_rss090-rdf_utf8.xml"]["entries"]
    assert all("wt_mc" not in (e["canonical_url"] or "") for e in heise)
    assert any("wt_mc" in (e["url"] or "") for e in heise)
    golem = " ".join(e["title"] + e["text"] for e in real["golem_rss20_iso-8859-1.xml"]["entries"])
    assert re.search("[äöüÄÖÜß]", golem) and "Ã" not in golem and "&quot;" not in golem
    oren = " ".join(e["title"] for e in real["ru_oren-city-news_rss20_windows-1251.xml"]["entries"])
    assert re.search("[а-яА-Я]", oren)
    alerts = real["en_google-alerts_atom10_html-in-titles.xml"]["entries"]
    assert all("<b>" not in e["title"] and "&lt;" not in e["title"] for e in alerts)
    neverwinter = real["en_neverwinter_rss20_relative-links.xml"]["entries"]
    assert all(e["url"] and e["url"].startswith("http") for e in neverwinter)


# ---------------------------------------------------------------- our own misbehaving feeds, in-process

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _run(path: Path):
    """parse → normalise → item_key, as ``syndicate parse`` does it."""
    feed = parse(path.read_bytes())
    base = feed.link if feed.link and feed.link.startswith("http") else None
    entries = [normalise_entry(raw, base=base, now=NOW, future_tolerance=3600) for raw in feed.entries]
    return feed, entries


@pytest.mark.parametrize("path", FEED_FIXTURES, ids=lambda p: p.name)
def test_fixture_feed_goes_through(path):
    feed, entries = _run(path)
    assert feed.format != "unknown"
    assert entries
    for entry in entries:
        assert entry.title and "<" not in entry.title
        assert entry.published_at.utcoffset() == timedelta(0)
        assert re.fullmatch(r"[0-9a-f]{64}", item_key(entry))
        for html in (entry.summary_html, entry.content_html):
            assert not re.search(r"<script|<iframe|<form|<style|\bon\w+=|javascript:", html, re.I)
        assert not re.search("[\x80-\x9f]", entry.title + entry.text)  # no C1 controls from a wrong charset


def test_windows_1252_labelled_latin1():
    _, (entry,) = _run(FIXTURES / "feeds" / "misbehaving_windows1252_labelled_latin1.xml")
    assert entry.title == "Gebühren steigen um 5 € „ab sofort“"
    assert entry.text == "Die Müllgebühr steigt … leider."


def test_relative_links_with_xml_base():
    _, (library, depot) = _run(FIXTURES / "feeds" / "misbehaving_xml_base_relative_links.xml")
    assert library.url == "https://www.fuerth.de/presse/2026/bibliothek.html"
    assert 'href="https://www.fuerth.de/presse/2026/bilder/eroeffnung.html"' in library.summary_html
    assert 'src="https://www.fuerth.de/img/bib.jpg"' in library.summary_html
    assert depot.url == "https://www.fuerth.de/aktuelles/wertstoffhof.html"


def test_html_in_titles():
    _, entries = _run(FIXTURES / "feeds" / "misbehaving_html_in_titles.xml")
    assert [e.title for e in entries] == ["Wichtig: Straßensperrung & Umleitung", "Neu im Rathaus"]


def test_duplicate_guids_are_disambiguated_by_position():
    _, (first, second) = _run(FIXTURES / "feeds" / "misbehaving_duplicate_guids.xml")
    assert first.guid == second.guid == "sitzung-1"
    assert item_key(first) == item_key(second)  # judged alone, the GUID is all there is
    assert first.canonical_url == second.canonical_url == "https://www.doppelt.de/news/sitzung"
    keys = item_keys([first, second])  # judged as a document, two different items keep apart
    assert keys[0] != keys[1] and keys == item_keys([first, second])


def test_german_dates_in_pubdate():
    _, (market, spring) = _run(FIXTURES / "feeds" / "misbehaving_german_dates_no_guid.xml")
    assert market.published_at == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert spring.published_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert not market.date_estimated and not spring.date_estimated
    assert item_key(market) != item_key(spring)


def test_stray_empty_items():
    _, entries = _run(FIXTURES / "feeds" / "misbehaving_stray_empty_items.xml")
    assert [e.title for e in entries] == ["Einzige echte Meldung"]


def test_hostile_html():
    _, (entry,) = _run(FIXTURES / "feeds" / "misbehaving_hostile_html.xml")
    assert entry.url is None and entry.canonical_url is None  # javascript: link dropped
    assert entry.summary_html == '<p>Text</p><a rel="noopener noreferrer">klick</a>'
    assert "track.example" not in entry.summary_html
