"""Queue depth per broker type: messages waiting in our Celery queues, asked without consuming.

    sqla+…     the embedded broker: count visible rows in kombu's ``kombu_message`` table
    redis://   LLEN of each queue list (kombu keeps one list per priority step)
    amqp://    a passive ``queue_declare`` answers the message count

Nothing here creates a queue, a table or a broker file: a queue that does not exist yet has
depth 0. A broker that cannot be reached raises ``QueueError``.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import cast

from kombu import Exchange, Queue
from sqlalchemy import Boolean, Engine, Integer, String, column, create_engine, func, inspect, select, table
from sqlalchemy.engine import make_url

# The one list of Celery queues: celeryconfig.task_queues declares these, the dashboard and /metrics
# watch these, ``syndicate up`` creates these. Refresh floods never starve delivery: WebSub, e-mail and
# upkeep have their own queues (feeds are rendered by the web process).
QUEUES = ("refresh", "websub", "maintenance", "mail")
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)  # kombu's redis transport defaults
REDIS_PRIORITY_SEP = "\x06\x16"


def celery_queue(name: str) -> Queue:
    """A queue with its own direct exchange and routing key, both named like it. Declared on the
    default exchange instead, the worker banner listed every queue as ``exchange=maintenance
    key=maintenance``: routing worked, but an operator reading the banner could not tell."""
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


class QueueError(Exception):
    """The broker did not answer."""


def depth(broker_url: str, names: tuple[str, ...] = QUEUES, timeout: float = 3.0) -> dict[str, int]:
    scheme = broker_url.split("://", 1)[0].lower()
    try:
        if scheme.startswith("sqla+"):
            return _sqlalchemy_depth(broker_url.removeprefix("sqla+"), names)
        if scheme in ("redis", "rediss"):
            return _redis_depth(broker_url, names, timeout)
        if scheme in ("amqp", "amqps", "pyamqp"):
            return _amqp_depth(broker_url, names, timeout)
    except QueueError:
        raise
    except Exception as exc:  # driver errors of three client libraries
        raise QueueError(f"{exc.__class__.__name__}: {exc}") from exc
    raise QueueError(f"queue depth is not supported for {scheme}:// brokers")


# ---------------------------------------------------------------- embedded broker (kombu's SQLAlchemy transport)

_queue_table = table("kombu_queue", column("id", Integer), column("name", String))
_message_table = table("kombu_message", column("id", Integer), column("queue_id", Integer), column("visible", Boolean))
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _engine(url: str) -> Engine:
    with _lock:
        if url not in _engines:
            _engines[url] = create_engine(url, connect_args={"timeout": 5} if url.startswith("sqlite") else {})
        return _engines[url]


def _sqlalchemy_depth(url: str, names: tuple[str, ...]) -> dict[str, int]:
    parsed = make_url(url)
    counts = dict.fromkeys(names, 0)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return counts  # nothing was ever sent
    engine = _engine(url)
    with engine.connect() as connection:
        if not inspect(connection).has_table("kombu_message"):
            return counts
        query = (
            select(_queue_table.c.name, func.count(_message_table.c.id))
            .select_from(_queue_table)
            .join(_message_table, (_message_table.c.queue_id == _queue_table.c.id) & (_message_table.c.visible.is_(True)))
            .where(_queue_table.c.name.in_(names))
            .group_by(_queue_table.c.name)
        )
        counts.update({name: count for name, count in connection.execute(query)})  # noqa: C416 (rows, not pairs)
    return counts


# ---------------------------------------------------------------- Redis


def _redis_keys(name: str) -> list[str]:
    return [name if step == 0 else f"{name}{REDIS_PRIORITY_SEP}{step}" for step in REDIS_PRIORITY_STEPS]


def _redis_depth(url: str, names: tuple[str, ...], timeout: float) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            for key in _redis_keys(name):
                pipe.llen(key)
        lengths = pipe.execute()
    finally:
        client.close()
    steps = len(REDIS_PRIORITY_STEPS)
    return {name: sum(lengths[i * steps : (i + 1) * steps]) for i, name in enumerate(names)}


# ---------------------------------------------------------------- RabbitMQ


def _amqp_depth(url: str, names: tuple[str, ...], timeout: float) -> dict[str, int]:
    from amqp.channel import Channel
    from amqp.exceptions import NotFound
    from kombu import Connection

    counts = {}
    with Connection(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=0, timeout=math.ceil(timeout))  # once, no retries; kombu takes whole seconds
        for name in names:
            channel = cast(Channel, connection.channel())  # an amqp:// URL's transport is py-amqp: its channels are amqp's
            try:
                declared = channel.queue_declare(queue=name, passive=True)  # (queue, message count, consumers); None only with nowait
                counts[name] = declared[1] if declared is not None else 0
            except NotFound:  # not declared yet; the broker closes this channel
                counts[name] = 0
            finally:
                try:
                    channel.close()
                except Exception:  # already closed by the broker
                    pass
    return counts
