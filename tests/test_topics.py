"""Topic rules: categories, keyword patterns and source defaults, with the real feeds/topics.toml."""

from __future__ import annotations

import pytest

from syndicate.topics.rules import category_labels, classify, keyword_pattern


def found(rules, *, categories=(), title="", text="", defaults=()) -> dict[str, str]:
    by_id = {r.id: r.slug for r in rules}
    result = classify(rules, categories=list(categories), title=title, text=text, defaults=list(defaults))
    return {by_id[k]: why for k, why in result.items()}


@pytest.mark.parametrize(
    "kw, expected",
    [
        (dict(categories=["IT/Digitalisierung"]), {"digitalisierung": "category"}),
        (dict(categories=["it / digitalisierung"]), {"digitalisierung": "category"}),
        (dict(categories=["Mobilität", "Klimaschutz"]), {"mobilitaet": "category", "klimaschutz": "category"}),
        (dict(categories=["IT-Sicherheit"]), {"it-sicherheit": "category"}),
        (dict(categories=["Energie; Verkehr"]), {"klimaschutz": "category", "mobilitaet": "category"}),
        (dict(categories=["Sport"]), {}),
        (dict(title="Neue Glasfaseranschlüsse in Giesing"), {"digitalisierung": "keyword"}),
        (dict(title="Glasfaser für alle"), {"digitalisierung": "keyword"}),
        (dict(text="Die Klimaschutzoffensive startet"), {"klimaschutz": "keyword"}),
        (dict(text="200 neue Ladesäulen"), {"mobilitaet": "keyword"}),
        (dict(text="Warnung vor Phishing im Namen der Stadt"), {"it-sicherheit": "keyword"}),
        (dict(text="Anti-Phishing-Schulung"), {"it-sicherheit": "keyword"}),
        (dict(title="Das BSI warnt"), {"it-sicherheit": "keyword"}),
        (dict(text="Die digitale Verwaltung wächst"), {"digitalisierung": "keyword"}),
        (dict(text="DIGITALISIERUNG der Schulen"), {"digitalisierung": "keyword"}),
        (dict(text="Neue Öffnungszeiten im Bürgerbüro"), {"buergerservice": "keyword"}),
        (dict(title="Phishingmails"), {"it-sicherheit": "keyword"}),  # compounds count (issue 5)
        (dict(title="Konzert im Tramhaus"), {}),
        (dict(title="Das BSIS-Projekt"), {}),
        (dict(text="Ein CERTifikat für die Schule"), {}),
        (dict(text="Wir sind im Open-Air-Kino"), {}),
        (dict(text="Vergabe der Kulturpreise"), {}),
        (dict(text="Sport im Park", defaults=["klimaschutz"]), {"klimaschutz": "source"}),
        (dict(categories=["Klimaschutz"], defaults=["klimaschutz"]), {"klimaschutz": "source"}),
        (dict(title="Phishing", defaults=["mobilitaet"]), {"mobilitaet": "source", "it-sicherheit": "keyword"}),
    ],
    ids=[
        "category-split",
        "category-split-spaces",
        "two-categories",
        "category-hyphen",
        "category-semicolon",
        "category-unknown",
        "keyword-prefix-star",
        "keyword-prefix-exact",
        "keyword-prefix-long",
        "keyword-prefix-plural",
        "keyword-word",
        "keyword-after-hyphen",
        "keyword-acronym",
        "keyword-phrase",
        "keyword-case",
        "keyword-umlaut",
        "keyword-compound-head",
        "no-match-tram-inside-word",
        "no-match-acronym-prefix",
        "no-match-cert-inside-word",
        "no-match-open-air",
        "nothing",
        "source-default",
        "source-beats-category",
        "source-and-keyword",
    ],
)
def test_classify(rules, kw, expected):
    assert found(rules, **kw) == expected


def test_real_topics_present(rules):
    assert {r.slug for r in rules} == {"it-sicherheit", "digitalisierung", "klimaschutz", "mobilitaet", "buergerservice"}
    assert all(r.pattern is not None for r in rules)


@pytest.mark.parametrize(
    "keywords, text, matches",
    [
        (["Radweg*"], "Radwegenetz", True),
        (["Radweg*"], "Radweg", True),
        (["Radweg*"], "Fahrradweg", True),  # a compound's last part (issue 5)
        (["Radweg*"], "Exradweg", False),  # less than three letters in front
        (["Tram"], "Tram", True),
        (["Tram"], "Trampolin", False),
        (["Tram"], "Tram.", True),
        (["CO2"], "CO2-Bilanz", True),
        (["Open Data"], "open data portal", True),
        (["Open Data"], "opendata", False),
        (["a.b"], "axb", False),
        (["a.b"], "a.b", True),
        (["  ", ""], "anything", None),
        ([], "anything", None),
    ],
    ids=[
        "star-suffix",
        "star-exact",
        "star-compound-part",
        "star-short-prefix",
        "word",
        "word-not-prefix",
        "word-punct",
        "word-hyphen",
        "phrase-case",
        "phrase-not-joined",
        "regex-escaped",
        "literal-dot",
        "blank-keywords",
        "no-keywords",
    ],
)
def test_keyword_pattern(keywords, text, matches):
    pattern = keyword_pattern(keywords)
    if matches is None:
        assert pattern is None
    else:
        assert bool(pattern.search(text)) is matches


@pytest.mark.parametrize(
    "categories, expected",
    [
        (["IT/Digitalisierung"], {"it/digitalisierung", "it", "digitalisierung"}),
        (["A, B; C | D"], {"a, b; c | d", "a", "b", "c", "d"}),
        ([" Klima "], {"klima"}),
        ([], set()),
    ],
    ids=["slash", "all-separators", "strip-lower", "empty"],
)
def test_category_labels(categories, expected):
    assert category_labels(categories) == expected


def test_rules_loaded_from_database(topics, session):
    from syndicate.topics.rules import load_rules

    loaded = load_rules(session)
    assert [r.slug for r in loaded] == sorted(t.slug for t in topics)
    assert found(loaded, categories=["IT/Digitalisierung"]) == {"digitalisierung": "category"}
    assert found(loaded, text="Neue Fahrradstraßen in der Innenstadt") == {"mobilitaet": "keyword"}
