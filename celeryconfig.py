"""Celery settings; every value comes from syndicate.settings."""

from kombu import Queue

from syndicate.db import ensure_sqlite_dir
from syndicate.settings import get_settings

_settings = get_settings()

broker_url = _settings.broker_url
if broker_url.startswith("sqla+"):
    ensure_sqlite_dir(broker_url.removeprefix("sqla+"))  # the embedded broker's SQLite file
broker_connection_retry_on_startup = True
broker_transport_options: dict = {}
task_ignore_result = True
result_backend = None
timezone = "UTC"
enable_utc = True

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_queues = (Queue("refresh"), Queue("maintenance"), Queue("websub"))
task_default_queue = "maintenance"
task_routes = {
    "syndicate.refresh_source": {"queue": "refresh"},
    "syndicate.enqueue_due": {"queue": "maintenance"},
    "syndicate.check_alerts": {"queue": "maintenance"},
    "syndicate.websub_verify": {"queue": "websub"},
    "syndicate.websub_fanout": {"queue": "websub"},
    "syndicate.websub_deliver": {"queue": "websub"},
}

worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False

beat_schedule = {
    "enqueue-due-sources": {"task": "syndicate.enqueue_due", "schedule": _settings.beat_interval},
    "check-alerts": {"task": "syndicate.check_alerts", "schedule": 60.0},
    "websub-fanout": {"task": "syndicate.websub_fanout", "schedule": _settings.beat_interval},
}
beat_schedule_filename = str(_settings.var_dir / "celerybeat-schedule")
