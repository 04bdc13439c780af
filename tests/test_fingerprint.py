"""fingerprint: item keys, content hashes and SimHash distances."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicate.reader.fingerprint import content_hash, item_key, normalised_text
from syndicate.reader.normalise import normalise_entry
from syndicate.reader.parse import RawEntry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

PRESS_RELEASE = (
    "Die Landeshauptstadt München baut in den kommenden zwei Jahren 200 neue Ladesäulen für Elektroautos. "
    "Der Stadtrat hat am Mittwoch die Finanzierung beschlossen. Die ersten Säulen entstehen im Dezember in "
    "Schwabing, Sendling und Giesing. Strom aus erneuerbaren Quellen liefern die Stadtwerke München. "
    "Bürgerinnen und Bürger können Standorte über das Beteiligungsportal vorschlagen."
)
PRESS_RELEASE_EDITED = PRESS_RELEASE.replace("am Mittwoch", "am Donnerstag")
UNRELATED = (
    "Das Bundesamt für Sicherheit in der Informationstechnik warnt vor einer kritischen Schwachstelle in einer "
    "verbreiteten Webserver-Software. Angreifer könnten aus der Ferne Code ausführen. Administratoren sollen "
    "das bereitgestellte Sicherheitsupdate umgehend einspielen und ihre Systeme auf Auffälligkeiten prüfen."
)


def entry(**kw):
    raw = RawEntry(**{"title": "Titel", **kw})
    return normalise_entry(raw, base=None, now=NOW, future_tolerance=3600)


# ---------------------------------------------------------------- item_key


def test_item_key_prefers_guid():
    a = entry(guid="muc-1", link="https://e.de/a", summary="eins")
    b = entry(guid="muc-1", link="https://e.de/b", title="Anderer Titel", summary="zwei")
    c = entry(guid="muc-2", link="https://e.de/a", summary="eins")
    assert item_key(a) == item_key(b)
    assert item_key(a) != item_key(c)


@pytest.mark.parametrize(
    "link",
    [
        "https://www.muenchen.de/news/1.html?utm_source=rss&utm_medium=feed",
        "HTTPS://WWW.MUENCHEN.DE:443/news/1.html#top",
        "https://www.muenchen.de/news/1.html?fbclid=abc",
    ],
    ids=["utm", "case-port-fragment", "fbclid"],
)
def test_item_key_falls_back_to_canonical_url(link):
    plain = entry(link="https://www.muenchen.de/news/1.html", summary="eins")
    variant = entry(link=link, title="Titel geändert", summary="zwei")
    assert item_key(plain) == item_key(variant)


def test_item_key_url_differs_from_other_url():
    assert item_key(entry(link="https://e.de/1")) != item_key(entry(link="https://e.de/2"))


def test_item_key_falls_back_to_text():
    a = entry(title="Sitzung des Stadtrats", summary="<p>Tagesordnung: Haushalt.</p>")
    b = entry(title="  SITZUNG des Stadtrats! ", summary="<b>Tagesordnung</b> — Haushalt")
    c = entry(title="Sitzung des Stadtrats", summary="<p>Tagesordnung: Verkehr.</p>")
    assert a.guid is None and a.canonical_url is None
    assert item_key(a) == item_key(b)
    assert item_key(a) != item_key(c)


def test_item_key_kinds_do_not_collide():
    # a guid that looks like a URL must not give the same key as that URL without a guid
    with_guid = entry(guid="https://e.de/1")
    with_link = entry(link="https://e.de/1")
    assert with_guid.guid and with_link.guid is None
    assert item_key(with_guid) != item_key(with_link)


# ---------------------------------------------------------------- content_hash


@pytest.mark.parametrize(
    "title_b, body_b",
    [
        ("Neue Ladesäulen", "<p>Die Stadt baut   200 neue Ladesäulen.</p>\n<p>Ab Dezember.</p>"),
        ("NEUE LADESÄULEN", "<div><b>Die</b> Stadt baut 200 neue <i>Ladesäulen</i></div><br>Ab Dezember!"),
        ("Neue Ladesäulen", "Die Stadt baut 200 neue Ladesäulen – ab Dezember"),
    ],
    ids=["whitespace", "markup-and-case", "punctuation"],
)
def test_content_hash_ignores_markup_and_whitespace(title_b, body_b):
    a = entry(title="Neue Ladesäulen", summary="<p>Die Stadt baut 200 neue Ladesäulen. Ab Dezember.</p>", link="https://a.de/1")
    b = entry(title=title_b, summary=body_b, link="https://b.de/2")
    assert content_hash(a) == content_hash(b)


@pytest.mark.parametrize(
    "title_b, body_b",
    [
        ("Neue Ladesäulen", "Die Stadt baut 300 neue Ladesäulen. Ab Dezember."),
        ("Neue Radwege", "Die Stadt baut 200 neue Ladesäulen. Ab Dezember."),
    ],
    ids=["body-differs", "title-differs"],
)
def test_content_hash_sees_real_changes(title_b, body_b):
    a = entry(title="Neue Ladesäulen", summary="Die Stadt baut 200 neue Ladesäulen. Ab Dezember.")
    b = entry(title=title_b, summary=body_b)
    assert content_hash(a) != content_hash(b)


def test_normalised_text():
    assert normalised_text("  Straße, Öl & CO2!  ") == "straße öl co2"
