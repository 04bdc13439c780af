"""SYNDICATE_LOG_LEVEL and SYNDICATE_LOG_FORMAT (syndicate/logs.py): JSON lines with a refresh's fields as keys,
the level every process starts with, and a test runner's logging left alone."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syndicate import logs
from syndicate.ingest.refresh import RefreshOutcome
from syndicate.settings import Settings
from tests.support.ops_fixtures import healthy_and_failing


@pytest.fixture
def root_logger():
    """The root logger as pytest set it up, restored after a test that configures it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_a_refresh_s_fields(root_logger, monkeypatch):
    from workers import tasks

    stream = io.StringIO()
    root_logger.handlers[:] = []
    logs.configure(Settings(log_format="json"), stream=stream)
    outcome = RefreshOutcome(id=12, url="https://x.example/feed", status="error", reason="http_5xx", duration_ms=35, city="augsburg")
    tasks._logged(outcome)
    tasks._logged(RefreshOutcome(id=13, url="https://y.example/feed", status="new", new=3, duration_ms=8, city="fürth"))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"].startswith("refresh source=12 status=error new=0 city=augsburg duration_ms=35 reason=http_5xx")
    assert {k: first[k] for k in ("source_id", "city", "outcome", "reason", "duration_ms", "new_items")} == {
        "source_id": 12,
        "city": "augsburg",
        "outcome": "error",
        "reason": "http_5xx",
        "duration_ms": 35,
        "new_items": 0,
    }
    assert (first["level"], first["logger"]) == ("INFO", "syndicate.worker") and first["time"].startswith("20")
    assert second["outcome"] == "new" and second["new_items"] == 3 and "reason" not in second  # a reason only on failure
    assert '"city": "fürth"' in stream.getvalue().splitlines()[1]  # umlauts as they are


def test_text_lines_hold_the_fields_in_the_message(root_logger):
    from workers import tasks

    stream = io.StringIO()
    root_logger.handlers[:] = []
    logs.configure(Settings(), stream=stream)
    tasks._logged(RefreshOutcome(id=12, url="", status="new", new=3, duration_ms=35, city="augsburg"))
    assert stream.getvalue().rstrip().endswith("INFO syndicate.worker: refresh source=12 status=new new=3 city=augsburg duration_ms=35")


def test_the_level_shows_refreshes_by_default_and_follows_the_setting():
    assert logs.level_for(Settings()) == logging.INFO
    assert logs.level_for(Settings(), requested=logging.WARNING) == logging.INFO  # Celery's default would hide the refreshes
    assert logs.level_for(Settings(), requested="DEBUG") == logging.DEBUG  # `--loglevel DEBUG` still works
    assert logs.level_for(Settings(log_level="warning"), requested="DEBUG") == logging.WARNING  # the setting, when set, wins


def test_a_test_runner_s_logging_is_left_alone(root_logger):
    assert root_logger.handlers  # pytest's capture
    assert logs.configure(Settings(), force=False) is None
    assert not any(handler.get_name() == logs.HANDLER_NAME for handler in root_logger.handlers)


def test_configuring_twice_keeps_one_handler(root_logger):
    logs.configure(Settings(), stream=io.StringIO())
    logs.configure(Settings(log_format="json"), stream=io.StringIO())
    ours = [handler for handler in root_logger.handlers if handler.get_name() == logs.HANDLER_NAME]
    assert len(ours) == 1 and ours[0].formatter.__class__.__name__ == "JsonFormatter"


def test_a_refresh_outcome_names_its_city(settings, runtime, session, feed_server, topics):
    polled = healthy_and_failing(runtime, session, feed_server)
    from syndicate.ingest.refresh import refresh_source

    assert refresh_source(session, runtime.client, polled.failing_id, runtime.refresh_config).city == "fuerth"
