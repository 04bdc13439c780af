"""Celery settings; every value comes from syndicate.settings."""

from syndicate.db import ensure_sqlite_dir
from syndicate.ops.queues import QUEUES, celery_queue
from syndicate.settings import get_settings

_settings = get_settings()

broker_url = _settings.broker_url
if broker_url.startswith("sqla+"):
    ensure_sqlite_dir(broker_url.removeprefix("sqla+"))  # the embedded broker's SQLite file
broker_connection_retry_on_startup = True

# Time limits sit above the fetch deadline: a refresh may fetch twice (an HTML newsroom's
# discovered feed) and wait for a host slot, so soft = 2 × deadline + 30 s, hard = soft + 30 s.
task_soft_time_limit = int(2 * _settings.fetch_deadline + 30)
task_time_limit = task_soft_time_limit + 30
# A batch of refreshes (syndicate.refresh_sources) starts no group of sources after SYNDICATE_BATCH_BUDGET
# seconds, so it runs at most that long plus one group (SYNDICATE_REFRESH_GROUP refreshes).
BATCH_SOFT_TIME_LIMIT = int(_settings.batch_budget) + _settings.refresh_group * task_soft_time_limit
BATCH_TIME_LIMIT = BATCH_SOFT_TIME_LIMIT + 30

# Retries of transient database/broker errors (workers/tasks.py): capped backoff with jitter.
# The cap stays far below the visibility timeout, so a retry waiting for its ETA is not redelivered.
RETRY_BACKOFF = 2
RETRY_BACKOFF_MAX = 120
RETRY_MAX = 6

# The maintenance task (workers/maintenance.py) deletes in committed batches for at most MAINTENANCE_BUDGET
# seconds, then runs the database upkeep (a PostgreSQL VACUUM of big tables can take minutes).
MAINTENANCE_BUDGET = 300
MAINTENANCE_SOFT_TIME_LIMIT = 1800
MAINTENANCE_TIME_LIMIT = MAINTENANCE_SOFT_TIME_LIMIT + 60

# E-mail delivery (workers/mail.py): a batch of SYNDICATE_MAIL_TASK_BATCH subscriptions over one SMTP
# connection; only the mail in flight is claimed, and a claim left by a killed run is re-sent after
# SYNDICATE_MAIL_CLAIM_LEASE. SMTP servers that are down for a while get the retries spread over about
# an hour and a half.
MAIL_SOFT_TIME_LIMIT = 300
MAIL_TIME_LIMIT = MAIL_SOFT_TIME_LIMIT + 30
MAIL_RETRY_MAX = 50

# Redis redelivers an unacknowledged message after ``visibility_timeout``; with acks_late that
# must exceed the hard time limit plus the longest retry countdown, or a slow task runs twice.
VISIBILITY_TIMEOUT = 3600
if max(task_time_limit, BATCH_TIME_LIMIT, MAINTENANCE_TIME_LIMIT) + RETRY_BACKOFF_MAX >= VISIBILITY_TIMEOUT:
    raise ValueError("visibility_timeout must exceed the hard time limit plus the longest retry countdown")
broker_transport_options: dict = {}
if broker_url.split("://", 1)[0] in ("redis", "rediss"):
    # only for Redis: the sqla transport hands these options to create_engine, which rejects unknown keys
    broker_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT}
# The embedded broker (kombu's SQLAlchemy transport) asks its SQLite file for the next message
# once a second after finding none, so a worker could idle up to a second between two tasks. Its
# transport options go to create_engine, so the poll interval is set on the transport class:
# 20 indexed SELECTs a second per idle worker on a local file.
EMBEDDED_BROKER_POLL = 0.05
if broker_url.startswith("sqla+"):
    from kombu.transport.sqlalchemy import Transport as _EmbeddedBroker

    _EmbeddedBroker.polling_interval = EMBEDDED_BROKER_POLL
task_ignore_result = True
result_backend = None
timezone = "UTC"
enable_utc = True

# A refresh message is acknowledged after the task; a redelivered or duplicate one is refused by
# its source's lease. Messages lost for good (a worker killed on the embedded broker, a Redis
# restarted without persistence, a retry held by a dead worker) are not waited for: the source's
# lease runs out (SYNDICATE_RUN_LEASE while running) or the refresh queue is seen empty, and the
# next beat tick claims it again (syndicate/ingest/due.py).
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# refresh floods never starve delivery: WebSub and upkeep have their own queues (feeds are rendered by the web process)
task_queues = tuple(celery_queue(name) for name in QUEUES)
task_default_queue = "maintenance"
task_routes = {
    "syndicate.refresh_source": {"queue": "refresh"},
    "syndicate.refresh_sources": {"queue": "refresh"},
    "syndicate.enqueue_due": {"queue": "maintenance"},
    "syndicate.check_alerts": {"queue": "maintenance"},
    "syndicate.websub_verify": {"queue": "websub"},
    "syndicate.websub_fanout": {"queue": "websub"},
    "syndicate.websub_deliver": {"queue": "websub"},
    "syndicate.push_subscribe": {"queue": "websub"},  # our subscriptions to publishers' hubs
    "syndicate.write_static": {"queue": "websub"},  # delivery of the merged feeds, like WebSub
    "syndicate.reclassify": {"queue": "maintenance"},
    "syndicate.maintenance": {"queue": "maintenance"},
    "syndicate.mail_tick": {"queue": "mail"},
    "syndicate.mail_deliver": {"queue": "mail"},
    "syndicate.mail_deliver_batch": {"queue": "mail"},
    "syndicate.mail_confirmation": {"queue": "mail"},
}

worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False

beat_schedule = {
    "enqueue-due-sources": {"task": "syndicate.enqueue_due", "schedule": _settings.beat_interval},
    "check-alerts": {"task": "syndicate.check_alerts", "schedule": 60.0},
    "websub-fanout": {"task": "syndicate.websub_fanout", "schedule": _settings.beat_interval},
    "maintenance": {"task": "syndicate.maintenance", "schedule": _settings.maintenance_interval},
    "push-subscribe": {"task": "syndicate.push_subscribe", "schedule": 60.0},
}
if _settings.mail_enabled:
    beat_schedule["mail"] = {"task": "syndicate.mail_tick", "schedule": _settings.beat_interval}
if _settings.static_dir is not None:
    beat_schedule["write-static-feeds"] = {"task": "syndicate.write_static", "schedule": _settings.beat_interval}
# Beat keeps its schedule in var_dir, which nothing else may have created yet (a fresh clone on PostgreSQL).
beat_schedule_filename = str(_settings.ensure_var_dir().absolute() / "celerybeat-schedule")
