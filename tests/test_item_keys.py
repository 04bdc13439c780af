"""Item keys for a whole document: GUID → link → title and date; repeated GUIDs disambiguated;
a document with too many unusable GUIDs falls back to links."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicate.reader.fingerprint import item_key, item_keys
from syndicate.reader.normalise import Entry, canonical_url

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def entry(guid=None, url=None, title="Titel", text="Text", published=NOW, estimated=False) -> Entry:
    return Entry(
        title=title,
        url=url,
        canonical_url=canonical_url(url),
        guid=guid,
        summary_html="",
        content_html="",
        text=text,
        published_at=published,
        updated_at=None,
        author=None,
        date_estimated=estimated,
    )


def test_unique_guids_are_the_keys():
    entries = [entry(guid=f"g{i}", url=f"https://a.example/{i}", title=f"T{i}") for i in range(30)]
    keys = item_keys(entries)
    assert len(set(keys)) == 30
    assert keys == [item_key(e) for e in entries]


def test_repeated_guid_is_disambiguated_by_link():
    a = entry(guid="same", url="https://a.example/1", title="Erste Meldung")
    b = entry(guid="same", url="https://a.example/2", title="Zweite Meldung")
    keys = item_keys([a, b] + [entry(guid=f"g{i}", url=f"https://a.example/x{i}") for i in range(40)])
    assert keys[0] != keys[1]


def test_repeated_guid_and_link_with_other_content_is_disambiguated_by_position():
    a = entry(guid="same", url="https://a.example/1", title="Erste Meldung")
    b = entry(guid="same", url="https://a.example/1", title="Zweite Meldung")
    keys = item_keys([a, b])
    assert keys[0] != keys[1]
    # stable across polls: the same document gives the same keys
    assert keys == item_keys([a, b])


def test_the_very_same_item_twice_keeps_one_key():
    a = entry(guid="same", url="https://a.example/1", title="Meldung")
    assert item_keys([a, a]) == [item_key(a), item_key(a)]


def test_more_than_five_percent_unusable_guids_falls_back_to_links():
    entries = [entry(guid=f"g{i}", url=f"https://a.example/{i}") for i in range(18)]
    entries += [entry(guid=None, url="https://a.example/x"), entry(guid=None, url="https://a.example/y")]  # 2/20 = 10 %
    keys = item_keys(entries)
    assert keys[0] == item_keys([entry(guid="other", url="https://a.example/0?utm_source=x")] * 1 + entries[1:])[0]


def test_up_to_five_percent_unusable_keeps_guids():
    entries = [entry(guid=f"g{i}", url=f"https://a.example/{i}") for i in range(20)]
    entries[5] = entry(guid=None, url="https://a.example/5")  # 1/20 = 5 %
    keys = item_keys(entries)
    assert keys[0] == item_key(entries[0])
    assert keys[0] != item_keys([entry(guid="other", url="https://a.example/0")])[0]


def test_no_guid_no_link_uses_title_and_date():
    a = entry(title="Sitzung des Stadtrats", published=NOW)
    same_later_text = entry(title="Sitzung des Stadtrats", text="geänderter Text", published=NOW)
    other_date = entry(title="Sitzung des Stadtrats", published=datetime(2026, 11, 1, tzinfo=UTC))
    assert item_keys([a]) == item_keys([same_later_text])
    assert item_keys([a]) != item_keys([other_date])


def test_estimated_date_is_not_part_of_the_key():
    a = entry(title="Ohne Datum", text="Inhalt", published=NOW, estimated=True)
    b = entry(title="Ohne Datum", text="Inhalt", published=datetime(2026, 12, 1, tzinfo=UTC), estimated=True)
    assert item_keys([a]) == item_keys([b])
