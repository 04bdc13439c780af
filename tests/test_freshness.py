"""The freshness model (syndicate/ingest/schedule.py): one table per publisher profile, times in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from syndicate.ingest.schedule import (
    BERLIN,
    HISTORY,
    Profile,
    Targets,
    delay_in_german,
    expected_delay,
    host_floor,
    is_offday,
    learn,
    plan,
)

LOW, HIGH = 300, 86400


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def history(first: str, last: str, weekdays: set[int], hours: list[float]) -> list[datetime]:
    """Posts on the given weekdays (0 = Monday) at the given Berlin hours, skipping Bavarian holidays."""
    out, day, end = [], berlin(first), berlin(last)
    while day <= end:
        if day.weekday() in weekdays and (day.weekday() >= 5 or not is_offday(day.date())):
            out += [day.replace(hour=int(h), minute=int(h % 1 * 60)) for h in hours]
        day += timedelta(days=1)
    return out


def at(profile_times: list[datetime], now: str, **kwargs) -> tuple[int, str]:
    moment = berlin(now)
    profile = learn([t for t in profile_times if t <= moment], moment, hint=kwargs.pop("feed_hint", None))
    result = plan(profile, moment, low=kwargs.pop("low", LOW), high=HIGH, **kwargs)
    return result.interval, result.mode


PRESS = history("2026-11-02", "2026-11-27", {0, 1, 2, 3, 4}, [9, 11.5, 14])  # a daily press office, Mon–Fri 9–14
TOWN = history("2026-10-05", "2026-11-26", {1, 3}, [10])  # a twice-weekly town: Tuesday and Thursday at 10
PARTNER = [t + timedelta(minutes=m) for t in history("2026-10-05", "2026-11-27", {0, 3}, [13]) for m in (0, 7, 12, 25, 31)]
VILLAGE = [berlin("2026-11-03T19:30"), berlin("2026-11-17T20:10"), berlin("2026-11-26T18:00")]  # three posts, evenings
WARNINGS = history("2026-11-01", "2026-11-29", {0, 1, 2, 3, 4, 5, 6}, [2, 8, 10, 13, 16, 21])  # around the clock


@pytest.mark.parametrize(
    "times, now, kwargs, expected",
    [
        # daily press office
        (PRESS, "2026-11-30T10:30", {}, (600, "active")),  # Monday morning: its hours
        (PRESS + [berlin("2026-11-30T09:00")], "2026-11-30T09:20", {}, (300, "burst")),  # twenty minutes after its 9 o'clock post
        (PRESS, "2026-11-30T10:30", {"feed_hint": 86400}, (900, "active")),  # a CMS ttl of a day: up to the active cap only
        (PRESS, "2026-11-30T10:30", {"hint": 420}, (600, "active")),  # a hint never shortens
        (PRESS, "2026-11-30T10:30", {"hint": 720}, (720, "active")),  # a reasonable hint lengthens
        (PRESS, "2026-11-30T20:00", {}, (4 * 3600, "quiet")),  # evening: the longest sleep
        (PRESS, "2026-11-30T05:30", {}, (9000, "quiet")),  # early morning: checked as its hours begin (8, an hour before its first post)
        (PRESS, "2026-11-30T20:00", {"feed_hint": 86400}, (12 * 3600, "quiet")),  # at night a hint is honoured up to its hours
        (PRESS, "2026-12-05T10:30", {}, (4 * 3600, "quiet")),  # Saturday: it never posts on days off
        # twice-weekly town
        (TOWN + [berlin("2026-12-01T10:00")], "2026-12-01T10:40", {}, (300, "burst")),
        (TOWN, "2026-12-02T11:00", {}, (600, "active")),  # a working day at its hour, though not its weekday
        (TOWN, "2026-12-02T14:00", {}, (4 * 3600, "quiet")),
        (TOWN, "2026-12-02T08:30", {}, (1800, "quiet")),  # the hour before its usual hour counts as its hours
        # bursty partner
        (PARTNER, "2026-11-26T13:40", {}, (300, "burst")),  # in the middle of a run
        (PARTNER, "2026-11-26T14:25", {}, (300, "burst")),  # within the hour after the run's newest item
        (PARTNER, "2026-11-26T15:45", {}, (4 * 3600, "quiet")),
        (PARTNER, "2026-11-27T12:30", {}, (600, "active")),
        # quiet village: too little history to call any hour quiet
        (VILLAGE, "2026-11-30T03:00", {}, (900, "unknown")),
        (VILLAGE, "2026-11-30T03:00", {"feed_hint": 3600}, (3600, "unknown")),
        (VILLAGE, "2026-11-30T03:00", {"feed_hint": 86400}, (3600, "unknown")),
        ([], "2026-11-30T03:00", {}, (900, "unknown")),
        # warnings source
        (WARNINGS, "2026-11-29T04:30", {"urgent": True, "low": 120}, (120, "urgent")),
        (WARNINGS, "2026-11-29T04:30", {"urgent": True, "low": 120, "hint": 600}, (240, "urgent")),
        (WARNINGS, "2026-11-29T04:30", {"urgent": True, "low": 120, "floor": host_floor(200, 30)}, (400, "urgent")),
        (WARNINGS, "2026-11-29T03:30", {}, (600, "active")),  # the same history without the mark: it posts at any hour
    ],
    ids=[
        "press-office-hours",
        "press-burst",
        "press-ttl-a-day",
        "press-short-hint",
        "press-reasonable-hint",
        "press-evening",
        "press-before-hours",
        "press-night-hint",
        "press-saturday",
        "town-burst",
        "town-working-day",
        "town-afternoon",
        "town-before-hours",
        "partner-in-run",
        "partner-after-run",
        "partner-run-over",
        "partner-hours",
        "village-unknown",
        "village-ttl-hour",
        "village-ttl-day",
        "no-history",
        "warnings-urgent",
        "warnings-hint-capped",
        "warnings-host-floor",
        "warnings-unmarked",
    ],
)
def test_plan_per_profile(times, now, kwargs, expected):
    assert at(times, now, **kwargs) == expected


def test_a_bavarian_public_holiday_is_quiet_for_a_press_office():
    """Fronleichnam (Thursday 4 June 2026) is a public holiday in Bavaria, not in every German state."""
    times = history("2026-05-04", "2026-06-03", {0, 1, 2, 3, 4}, [9, 11.5, 14])
    assert is_offday(date(2026, 6, 4)) and not is_offday(date(2026, 6, 3))
    assert at(times, "2026-06-04T10:30") == (4 * 3600, "quiet")
    assert at(times, "2026-06-05T10:30") == (600, "active")


def test_a_press_office_that_posts_on_saturdays_is_active_then():
    times = PRESS + history("2026-11-02", "2026-11-28", {5}, [10])
    assert at(times, "2026-12-05T10:30") == (600, "active")
    assert at(times, "2026-12-05T15:30")[1] == "quiet"


def test_the_minimum_and_the_host_floor_win_over_the_model():
    assert at(PRESS, "2026-11-30T10:30", low=900) == (900, "active")  # an operator's min_interval for the source
    assert at(PRESS, "2026-11-30T10:30", floor=1200) == (1200, "active")
    assert plan(Profile(), berlin("2026-11-30T10:30"), low=300, high=600).interval == 600  # the source's maximum


@pytest.mark.parametrize(
    "sources, per_minute, expected",
    [(1, 30, 2), (3, 30, 6), (200, 30, 400), (7, 30, 14), (5, 0, 0), (0, 30, 0)],
    ids=["one", "three", "a-shared-cms-host", "rounds-up", "no-budget", "none"],
)
def test_host_floor(sources, per_minute, expected):
    assert host_floor(sources, per_minute) == expected


def test_learn_merges_documents_keeps_the_newest_and_skips_the_future():
    now = berlin("2026-11-30T12:00")
    first = learn([now - timedelta(hours=h) for h in range(1, 80)], now)
    second = learn([now - timedelta(hours=h) for h in range(0, 60)] + [now + timedelta(days=1)], now, first)
    assert second.posts == 80 and second.last == now.timestamp() and second.times[0] == int(now.timestamp())
    flood = learn([now - timedelta(minutes=m) for m in range(500)], now, second)
    assert flood.posts == HISTORY and flood.times == tuple(sorted(flood.times, reverse=True))
    assert Profile.from_json(flood.as_json()) == flood
    assert Profile.from_json(None) == Profile()


def test_a_changed_document_without_a_hint_drops_the_old_hint():
    now = berlin("2026-11-30T12:00")
    assert learn([now], now, learn([now], now, hint=86400)).hint is None


@pytest.mark.parametrize(
    "times, kwargs, expected",
    [
        (PRESS, {}, 600),
        (PRESS, {"hint": 86400}, 900),
        (VILLAGE, {}, 900),
        (WARNINGS, {"urgent": True, "low": 120}, 120),
        (PRESS, {"floor": 400}, 600),
        (PRESS, {"floor": 1200}, 1200),
    ],
    ids=["press", "press-ttl", "village", "warnings", "floor-below", "floor-above"],
)
def test_expected_delay(times, kwargs, expected):
    now = berlin("2026-11-30T12:00")
    profile = learn(times, now)
    kwargs.setdefault("low", LOW)
    assert expected_delay(profile, high=HIGH, **kwargs) == expected


@pytest.mark.parametrize(
    "seconds, text",
    [
        (600, "Neue Meldungen erscheinen meist innerhalb von 10 Minuten."),
        (120, "Neue Meldungen erscheinen meist innerhalb von 2 Minuten."),
        (45, "Neue Meldungen erscheinen meist innerhalb einer Minute."),
        (3600, "Neue Meldungen erscheinen meist innerhalb von 60 Minuten."),
        (5400, "Neue Meldungen erscheinen meist innerhalb von 2 Stunden."),
        (14400, "Neue Meldungen erscheinen meist innerhalb von 4 Stunden."),
    ],
)
def test_delay_in_german(seconds, text):
    assert delay_in_german(seconds) == text


def test_targets_are_the_defaults_the_docs_name():
    targets = Targets()
    assert (targets.active, targets.urgent, targets.burst, targets.unknown, targets.quiet_max) == (600, 120, 300, 900, 4 * 3600)


# ---------------------------------------------------------------- through refresh: a real feed on loopback, a real database


def _feed(times: list[datetime], channel: str = "") -> bytes:
    from email.utils import format_datetime

    items = "".join(
        f"<item><guid>p{n}</guid><title>Pressemitteilung {n}</title><link>https://stadt.example/p/{n}</link>"
        f"<pubDate>{format_datetime(t.astimezone(BERLIN), usegmt=False)}</pubDate></item>"
        for n, t in enumerate(sorted(times, reverse=True))
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Presse</title>{channel}{items}</channel></rss>'.encode()


def _refresh_at(runtime, session, source_id: int, now: datetime):
    from syndicate.ingest.refresh import refresh_source
    from syndicate.models import Source

    outcome = refresh_source(session, runtime.client, source_id, runtime.refresh_config, now=now.astimezone(UTC))
    session.expire_all()
    return outcome, session.get(Source, source_id)


def test_a_ttl_of_a_day_does_not_silence_an_active_press_office(runtime, session, feed_server):
    from tests.conftest import make_source

    now = berlin("2026-11-30T10:30")
    feed_server.add("/presse.xml", _feed(PRESS[-30:], "<ttl>1440</ttl>"))
    source = make_source(session, feed_server.url("/presse.xml"))
    outcome, row = _refresh_at(runtime, session, source.id, now)
    assert outcome.status == "new" and row.freshness["posts"] == 30
    assert row.current_interval == 900 and row.next_check_at == now + timedelta(seconds=900)  # its hours: the active cap
    outcome, row = _refresh_at(runtime, session, source.id, berlin("2026-11-30T20:00"))  # the same document in the evening
    assert outcome.status == "unchanged" and row.current_interval == 12 * 3600  # quiet: the ttl honoured until its hours


def test_a_source_with_an_urgent_topic_is_polled_at_the_urgent_interval_within_the_host_budget(runtime, session, feed_server):
    from syndicate.models import Topic
    from tests.conftest import make_source

    session.add(Topic(slug="warnungen", title="Warnungen", categories=[], keywords=[], urgent=True))
    session.commit()
    feed_server.add("/warnungen.xml", _feed(WARNINGS[-60:]))
    source = make_source(session, feed_server.url("/warnungen.xml"), topics=["warnungen"])
    now = berlin("2026-11-30T04:30")  # a quiet hour of its history
    _outcome, row = _refresh_at(runtime, session, source.id, now)
    assert row.current_interval == runtime.settings.urgent_interval == 120
    for n in range(99):  # a hundred sources on one host at 30 requests a minute: no source more often than every 200 s
        make_source(session, feed_server.url(f"/other/{n}.xml"))
    _outcome, row = _refresh_at(runtime, session, source.id, now + timedelta(minutes=2))
    assert row.current_interval == 200
    plain = make_source(session, feed_server.url("/warnungen.xml?ohne"))
    feed_server.add("/warnungen.xml?ohne", _feed(WARNINGS[-60:]))
    _outcome, row = _refresh_at(runtime, session, plain.id, now)
    assert row.current_interval == 9000  # the same history without the mark: quiet until 7, an hour before its 8 o'clock post


def test_the_registry_marks_the_bsi_warnings_urgent(session):
    from pathlib import Path

    from sqlalchemy import select

    from syndicate.models import Source
    from syndicate.sources.registry import load_registry, sync

    sync(session, load_registry(Path(__file__).resolve().parent.parent / "feeds"))
    urgent = set(session.scalars(select(Source.url).where(Source.urgent.is_(True))))
    assert urgent == {
        "https://wid.cert-bund.de/content/public/securityAdvisory/rss",
        "https://www.bsi.bund.de/SiteGlobals/Functions/RSSFeed/RSSNewsfeed/RSSNewsfeed_CSW.xml",
    }


# ---------------------------------------------------------------- visible: the API and /ops


@pytest.fixture
def profiled(runtime, session):
    """Three sources of München: a press office with its history, the same with a minimum of 15 minutes, a warnings source."""
    from tests.support.api_fixtures import add_source, make_city

    city = make_city(session, "muenchen", "München")
    press = learn(PRESS, berlin("2026-11-30T12:00")).as_json()
    return {
        "press": add_source(session, city, "https://presse.example/rss", freshness=press).id,
        "slow": add_source(session, city, "https://langsam.example/rss", freshness=press, min_interval=900).id,
        "warnings": add_source(session, city, "https://warnungen.example/rss", urgent=True).id,
    }


def test_the_api_shows_each_sources_expected_delay(api, profiled):
    expected = {
        "press": (600, "Neue Meldungen erscheinen meist innerhalb von 10 Minuten."),
        "slow": (900, "Neue Meldungen erscheinen meist innerhalb von 15 Minuten."),
        "warnings": (120, "Neue Meldungen erscheinen meist innerhalb von 2 Minuten."),
    }
    for name, source_id in profiled.items():
        body = api.call("GET", f"/api/v1/sources/{source_id}", "muenchen").json()
        assert (body["expected_delay_seconds"], body["freshness"]) == expected[name]
    listed = api.call("GET", "/api/v1/cities/muenchen/sources", "muenchen").json()
    assert {s["id"]: s["expected_delay_seconds"] for s in listed} == {profiled[k]: v[0] for k, v in expected.items()}


def test_the_ops_page_shows_the_expected_delay(settings, profiled):
    from tests.support.ops_fixtures import client

    with client(settings) as c:
        page = c.get(f"/ops/sources/{profiled['slow']}")
    assert page.status_code == 200
    assert 'id="freshness">Neue Meldungen erscheinen meist innerhalb von 15 Minuten.<' in page.text
