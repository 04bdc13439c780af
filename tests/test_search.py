"""Search with German linguistics on the database under test (SQLite FTS5, or PostgreSQL's german
configuration when SYNDICATE_TEST_DATABASE_URL names one): inflections, umlaut spellings and
compounds match, their near misses do not; the index follows every edit and deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from syndicate.clock import utcnow
from syndicate.dedupe import tombstones
from syndicate.dedupe.store import store_documents
from syndicate.models import Article
from syndicate.publish import stories
from syndicate.reader.normalise import Entry, html_to_text
from syndicate.search import german
from syndicate.search import index as search_index
from tests.conftest import make_source

DAY = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
ARTICLES = {  # title: (text, days after DAY)
    "Neue Schule in Giesing eröffnet": ("Der Unterricht beginnt im September mit zwölf Klassen.", 0),
    "Haushalt: Schulden der Stadt sinken": ("Der Stadtrat hat den Bericht der Kämmerei angenommen.", 1),
    "Das Bürgerbüro zieht um": ("Ab Montag finden Sie uns am Marienplatz, die Öffnungszeiten bleiben.", 2),
    "Bürgerhaus wird saniert": ("Die Veranstaltungen finden im Sommer im Rathaus statt.", 3),
    "Stadtrat beschließt Digitalisierungsstrategie": ("Bis 2030 sollen alle Anträge online gestellt werden können.", 4),
    "Neue Strategie für den Radverkehr": ("Mehr Abstellplätze und breitere Wege in der Innenstadt.", 5),
    "Zeugnis-Ausgabe an den Grundschulen": ("Die Ferien beginnen am Freitag.", 6),
}


def entry(title: str, body: str, published: datetime, key: str | None = None) -> Entry:
    url = f"https://stadt.example/meldung/{key or abs(hash(title))}"
    html = f"<p>{body}</p>"
    return Entry(
        title=title,
        url=url,
        canonical_url=url,
        guid=url,
        summary_html=html,
        content_html="",
        text=html_to_text(html),
        published_at=published,
        updated_at=None,
        author=None,
    )


@pytest.fixture
def source(session):
    return make_source(session, "https://stadt.example/rss", city="muenchen", name="Landeshauptstadt München")


@pytest.fixture
def corpus(session, source):
    entries = [entry(title, body, DAY + timedelta(days=days), key=str(i)) for i, (title, (body, days)) in enumerate(ARTICLES.items())]
    store_documents(session, [(source, entries)], [], utcnow())[0]
    session.commit()
    return source


def found(session, q: str, **filters) -> list[str]:
    return [hit.item.article.title for hit in stories.search(session, q, **filters).hits]


@pytest.mark.parametrize(
    "q, expected",
    [
        # inflection: plural and singular meet at one stem
        ("Schulen", ["Neue Schule in Giesing eröffnet"]),
        ("Schule", ["Neue Schule in Giesing eröffnet"]),
        # umlauts spelled out, either way round
        ("Buergerbuero", ["Das Bürgerbüro zieht um"]),
        ("bürgerbüro", ["Das Bürgerbüro zieht um"]),
        ("Oeffnungszeiten", ["Das Bürgerbüro zieht um"]),
        # a word finds the compounds it begins
        ("Digitalisierung", ["Stadtrat beschließt Digitalisierungsstrategie"]),
        ("Grundschule", ["Zeugnis-Ausgabe an den Grundschulen"]),
    ],
)
def test_german_forms_match(session, corpus, q, expected):
    assert found(session, q) == expected


@pytest.mark.parametrize(
    "q, not_expected",
    [
        ("Schulen", "Haushalt: Schulden der Stadt sinken"),  # a shared beginning is not the same word
        ("Schulen", "Zeugnis-Ausgabe an den Grundschulen"),  # a compound matches only the word it begins with
        ("Buergerbuero", "Bürgerhaus wird saniert"),
        ("Strategie", "Stadtrat beschließt Digitalisierungsstrategie"),  # not the compound's tail
        ("Digitalisierungsstrategie", "Neue Strategie für den Radverkehr"),
    ],
)
def test_near_misses_do_not_match(session, corpus, q, not_expected):
    assert not_expected not in found(session, q)


def test_ranked_by_relevance_then_recency(session, source):
    entries = [
        entry("Radverkehr in der Altstadt", "Neue Ampeln am Isartor.", DAY, key="old"),
        entry("Radverkehr im Norden", "Neue Wege am Nordbad.", DAY + timedelta(days=3), key="new"),
        entry("Baustellen im Mai", "Auch der Radverkehr wird umgeleitet.", DAY + timedelta(days=9), key="text-only"),
    ]
    store_documents(session, [(source, entries)], [], utcnow())[0]
    session.commit()
    # a title hit beats a text hit, although newer; between equal title hits the newer comes first
    assert found(session, "Radverkehr") == ["Radverkehr im Norden", "Radverkehr in der Altstadt", "Baustellen im Mai"]


def test_filters_by_city_and_dates(session, corpus):
    make_source(session, "https://andere.example/rss", city="augsburg", name="Stadt Augsburg")
    assert found(session, "Schule", cities=("augsburg",)) == []
    assert found(session, "Schule", cities=("muenchen",)) == ["Neue Schule in Giesing eröffnet"]
    assert found(session, "Schule", since=(DAY + timedelta(days=1)).date()) == []
    assert found(session, "Schule", until=DAY.date()) == ["Neue Schule in Giesing eröffnet"]


def test_index_follows_edits(session, corpus, source):
    edited = entry("Neue Realschule in Giesing eröffnet", "Der Unterricht beginnt im Oktober.", DAY, key="0")
    counts = store_documents(session, [(source, [edited])], [], utcnow())[0]
    session.commit()
    assert counts.updated == 1
    assert found(session, "Realschule") == ["Neue Realschule in Giesing eröffnet"]
    assert found(session, "September") == []  # the old text is gone from the index
    assert found(session, "Oktober") == ["Neue Realschule in Giesing eröffnet"]


def test_index_follows_deletion_tombstones_and_retention(session, corpus):
    bury = session.scalar(select(Article).where(Article.title == "Das Bürgerbüro zieht um"))
    tombstones.bury(session, bury)
    session.commit()
    assert found(session, "Bürgerbüro") == []

    # deleted by hand, outside the application: the database keeps its index in step by itself
    session.execute(text("DELETE FROM articles WHERE title = 'Bürgerhaus wird saniert'"))
    session.commit()
    assert found(session, "Bürgerhaus") == []

    tombstones.purge(session, DAY + timedelta(days=2))  # retention: everything older goes
    session.commit()
    assert found(session, "Schule") == [] and found(session, "Schulden") == []
    assert found(session, "Digitalisierung") == ["Stadtrat beschließt Digitalisierungsstrategie"]
    if search_index.is_sqlite(session):
        indexed = session.scalar(text("SELECT count(*) FROM article_search"))
        assert indexed == session.scalar(text("SELECT count(*) FROM articles"))


def test_index_is_built_for_articles_stored_before_it(session, corpus):
    """What migration 0016 does for existing articles: queue them all (SQLite) and let the first search fill the index."""
    if not search_index.is_sqlite(session):
        pytest.skip("PostgreSQL computes the generated column for existing rows when the migration adds it")
    session.execute(text("DELETE FROM article_search"))
    session.execute(text("INSERT OR IGNORE INTO article_search_pending (article_id) SELECT id FROM articles"))
    session.commit()
    assert found(session, "Buergerbuero") == ["Das Bürgerbüro zieht um"]
    assert session.scalar(text("SELECT count(*) FROM article_search_pending")) == 0


@pytest.mark.parametrize(
    "q", ['"Schule', "Schule*", "NEAR(Schule Giesing)", "((Schule", "Schule OR", "-Schule", "Schule:*", "'", "x" * 2000, "Schule " * 400]
)
def test_query_syntax_is_plain_words(session, corpus, q):
    assert found(session, q) in ([], ["Neue Schule in Giesing eröffnet"])


def test_query_words_are_bounded():
    assert len(german.parse(" ".join(f"wort{i}" for i in range(100)))) == german.MAX_WORDS
    assert german.parse('"" * NEAR ( ) : ^') == [german.Term("near", "near", ("near",))]


COMPOUNDS = {  # title: text; the compounds and near misses of "Schule" and "Hilfe"
    "Schulentwicklungsplan vorgestellt": "Der Plan reicht bis 2035.",
    "Schulsport in der Halle": "Die Turnhalle ist wieder offen.",
    "Neuer Schuleingang": "Der Zugang ist jetzt barrierefrei.",
    "Schuldenbremse greift": "Der Kämmerer warnt vor neuen Krediten.",
    "Schulter an Schulter": "Die Vereine helfen beim Aufbau.",
    "Hilfsangebot für Senioren": "Ehrenamtliche kaufen ein.",
    "Kindergarten erweitert": "Zwei neue Gruppen ab Herbst.",
}


@pytest.fixture
def compounds(session, source):
    entries = [entry(title, body, DAY + timedelta(days=i), key=f"c{i}") for i, (title, body) in enumerate(COMPOUNDS.items())]
    store_documents(session, [(source, entries)], [], utcnow())[0]
    session.commit()


SCHOOL = ["Neuer Schuleingang", "Schulsport in der Halle", "Schulentwicklungsplan vorgestellt"]


@pytest.mark.parametrize(
    "q, expected",
    [
        # every inflection of a word finds the same compounds: the stem plus a linking element begins them
        ("Schule", [*SCHOOL, "Neue Schule in Giesing eröffnet"]),
        ("Schulen", [*SCHOOL, "Neue Schule in Giesing eröffnet"]),
        ("Hilfe", ["Hilfsangebot für Senioren"]),
        ("Kind", ["Kindergarten erweitert"]),
        ("Schulden", ["Schuldenbremse greift", "Haushalt: Schulden der Stadt sinken"]),
    ],
)
def test_a_word_finds_the_compounds_it_begins_in_any_inflection(session, corpus, compounds, q, expected):
    assert sorted(found(session, q)) == sorted(expected)


@pytest.mark.parametrize("q", ["Schule", "Schulen"])
def test_a_shared_beginning_is_not_a_compound(session, corpus, compounds, q):
    """The bare stem "schul" begins "Schulden", "Schuldenbremse" and "Schulter" too: it is never a prefix."""
    hits = found(session, q)
    for near_miss in ["Schuldenbremse greift", "Schulter an Schulter", "Haushalt: Schulden der Stadt sinken"]:
        assert near_miss not in hits


def test_compound_prefixes_are_the_word_or_its_stem_and_a_link():
    assert german.parse("Schulen")[0].prefixes == german.parse("Schule")[0].prefixes == ("schule", "schuls")
    assert german.parse("Hilfe")[0].prefixes == ("hilfe", "hilfs")
    assert german.parse("Digitalisierung")[0].prefixes == ("digitalisierung",)  # -ung is no inflection: the word as typed
    assert german.parse("Bürger")[0].prefixes == ("burger",)  # -er makes a new word here, not a plural of "Burg"
    assert german.parse("Amt")[0].prefixes == ()  # too short to begin compounds safely
