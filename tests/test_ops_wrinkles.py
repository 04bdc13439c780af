"""/ops as an operator found it (issue 29): negative ages, killed workers listed long after, disabled
sources shown as due, and every declared queue watched."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from syndicate.clock import utcnow
from syndicate.models import Source
from syndicate.ops import queues
from syndicate.ops import workers as workerinfo
from syndicate.web import opsui
from tests.conftest import purge_queues
from tests.support.ops_fixtures import client, healthy_and_failing


@pytest.fixture
def polled(runtime, session, feed_server, topics):
    return healthy_and_failing(runtime, session, feed_server)


def test_a_worker_seen_after_the_page_began_is_seen_0_s_ago_not_minus_1(settings, polled):
    """The probe answers after the page took its ``now`` (or a worker's clock runs ahead): "gesehen vor -1 s"."""
    directory = workerinfo.heartbeat_dir(settings.var_dir)
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("ahead@host", 0, 1, 1, utcnow() + timedelta(seconds=3), "heartbeat"))
    try:
        with client(settings) as c:
            html = c.get("/ops").text
        assert "ahead@host" in html
        row = html.split("ahead@host")[1].split("</tr>")[0]
        assert "vor -" not in row and "vor 0 s" in row, row
    finally:
        workerinfo.remove_heartbeat(directory, "ahead@host")
    assert opsui.ago_from(utcnow() + timedelta(seconds=1), utcnow()) == "vor 0 s"


def test_a_killed_worker_is_not_listed_from_an_old_cached_answer_after_an_idle_period(settings):
    """A worker killed with -9 leaves its heartbeat file; the dashboard's cached probe, not looked at for a
    while, showed the answer from before the kill and only refreshed behind it."""
    directory = workerinfo.heartbeat_dir(settings.var_dir)
    last_beat = utcnow() - timedelta(seconds=workerinfo.HEARTBEAT_STALE - 1)
    workerinfo.write_heartbeat(directory, workerinfo.WorkerInfo("killed@host", 0, 1, 1, last_beat, "heartbeat"))
    try:
        cached = workerinfo.CachedProbe(settings, ttl=0.1, max_age=1.0)
        assert [w.hostname for w in cached().workers] == ["killed@host"]
        time.sleep(1.5)  # idle: nobody looks at /ops, the killed worker's last heartbeat grows stale
        assert [w.hostname for w in cached().workers] == []
    finally:
        workerinfo.remove_heartbeat(directory, "killed@host")


def test_a_disabled_source_is_shown_as_switched_off_not_as_due(settings, runtime, session, polled):
    source = session.get(Source, polled.ok_id)
    source.enabled = False
    source.next_check_at = utcnow() - timedelta(minutes=5)
    session.commit()
    with client(settings) as c:
        html = c.get("/ops").text
        page = c.get(f"/ops/sources/{polled.ok_id}").text
    row = html.split(f'<tr data-source="{polled.ok_id}"')[1].split("</tr>")[0]
    assert "fällig" not in row and "abgeschaltet" in row, row
    next_check = page.split("Nächste Prüfung</dt>")[1].split("</dd>")[0]
    assert "fällig" not in next_check and "abgeschaltet" in next_check, next_check


def test_the_dashboard_lists_every_declared_queue(settings, polled):
    import celeryconfig

    purge_queues(settings.broker_url)
    with client(settings) as c:
        html = c.get("/ops").text
    section = html.split('id="queues"')[1].split("</section>")[0]
    for queue in celeryconfig.task_queues:
        assert f"<td>{queue.name}</td>" in section
    assert set(queues.QUEUES) == {queue.name for queue in celeryconfig.task_queues}


def test_no_meta_refresh_but_a_link_to_reload(settings, polled):
    """A page that reloads itself every 30 s takes the reader's place and focus (WCAG 2.2.1, axe meta-refresh)."""
    with client(settings) as c:
        for url in ("/ops", f"/ops/sources/{polled.ok_id}"):
            html = c.get(url).text
            assert 'http-equiv="refresh"' not in html, url
            assert ">Aktualisieren</a>" in html, url
