"""Log lines of every process: one ``configure`` for the API, the Celery worker and beat (Celery's
``setup_logging`` signal, workers/app.py), the CLI and ``syndicate up``'s children (they inherit the settings).

``SYNDICATE_LOG_LEVEL`` (default INFO: a refresh's line is visible) and ``SYNDICATE_LOG_FORMAT``:

    text   2026-12-05 08:01:02,345 INFO syndicate.worker: refresh source=12 status=new new=3 city=augsburg duration_ms=35
    json   {"time": "2026-12-05T08:01:02.345+00:00", "level": "INFO", "logger": "syndicate.worker",
            "message": "refresh source=12 …", "source_id": 12, "city": "augsburg", "outcome": "new", …}

A value a line carries as a field is passed as ``extra={…}``: JSON lines have it as a key, text lines
only in the message. uvicorn's own loggers are routed through the same handler, so an API process
writes one format. Lines go to stderr (journald, the container runtime or a file collect them).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from syndicate.settings import Settings, get_settings

HANDLER_NAME = "syndicate"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(processName)s %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
QUIET = {"httpx": logging.WARNING, "alembic": logging.WARNING}  # a line per HTTP request or migration step is noise


class _Stderr(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (a test runner swaps it), or to the stream given."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # logging.StreamHandler.__init__ assigns it; the property decides


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger", "processName": "process"},
            timestamp="time",
            json_ensure_ascii=False,
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of a message with terminal colours
        )
    return logging.Formatter(TEXT_FORMAT)


def level_for(settings: Settings, requested: int | str | None = None) -> int:
    """SYNDICATE_LOG_LEVEL when it is set; otherwise INFO, or a more verbose level a command line asked
    for (Celery's ``--loglevel DEBUG``). Celery's default WARNING would hide the per-refresh lines."""
    configured = logging.getLevelName(settings.log_level)
    if "log_level" in settings.model_fields_set or requested is None:
        return configured
    asked = requested if isinstance(requested, int) else logging.getLevelName(str(requested).upper())
    return min(configured, asked) if isinstance(asked, int) else configured


def configure(
    settings: Settings | None = None, *, requested: int | str | None = None, stream: TextIO | None = None, force: bool = True
) -> logging.Handler | None:
    """One handler on the root logger in the configured format and level; calling it again replaces it.

    ``force=False`` leaves a root logger alone that someone else has given handlers (pytest, an
    application that embeds the API): their setup wins."""
    settings = settings or get_settings()
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    if not force and len(ours) < len(root.handlers):
        return None
    for handler in ours:
        root.removeHandler(handler)
    handler = _Stderr(stream)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel(level_for(settings, requested))
    for name in UVICORN_LOGGERS:  # uvicorn configured these before it built the app: the same lines, our format
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers.clear()
            logger.propagate = True
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    return handler
