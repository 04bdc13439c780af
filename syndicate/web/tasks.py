"""Enqueue work for the workers by task name, without importing ``workers``.

The one Celery client of the web app and the CLI, built lazily from ``settings.broker_url``.
The routes get it through ``deps.TaskQueueDep``, so tests can put any object with
``refresh(source_id)`` in its place (``app.state.task_queue = …``).
"""

from __future__ import annotations

from functools import cached_property

from celery import Celery

from syndicate.db import ensure_sqlite_dir

REFRESH_TASK = "syndicate.refresh_source"
REFRESH_QUEUE = "refresh"  # as routed in celeryconfig.task_routes
WEBSUB_VERIFY_TASK = "syndicate.websub_verify"
WEBSUB_FANOUT_TASK = "syndicate.websub_fanout"
WEBSUB_QUEUE = "websub"
RECLASSIFY_TASK = "syndicate.reclassify"
MAINTENANCE_QUEUE = "maintenance"
MAIL_CONFIRMATION_TASK = "syndicate.mail_confirmation"
MAIL_QUEUE = "mail"


class TaskQueue:
    def __init__(self, broker_url: str):
        self.broker_url = broker_url

    @cached_property
    def app(self) -> Celery:
        if self.broker_url.startswith("sqla+"):
            ensure_sqlite_dir(self.broker_url.removeprefix("sqla+"))
        app = Celery("syndicate-web", broker=self.broker_url, set_as_current=False)
        app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=False, broker_connection_max_retries=1)
        return app

    def refresh(self, source_id: int) -> None:
        self.app.send_task(REFRESH_TASK, args=[source_id], queue=REFRESH_QUEUE, retry=False)

    def websub_verify(self, subscription_id: int) -> None:
        self.app.send_task(WEBSUB_VERIFY_TASK, args=[subscription_id], queue=WEBSUB_QUEUE, retry=False)

    def websub_fanout(self, countdown: float | None = None) -> None:
        self.app.send_task(WEBSUB_FANOUT_TASK, queue=WEBSUB_QUEUE, retry=False, countdown=countdown or None)

    def mail_confirmation(self, subscription_id: int, message: str) -> None:
        self.app.send_task(MAIL_CONFIRMATION_TASK, args=[subscription_id, message], queue=MAIL_QUEUE, retry=False)

    def reclassify(self) -> None:
        self.app.send_task(RECLASSIFY_TASK, queue=MAINTENANCE_QUEUE, retry=False)

    def close(self) -> None:
        if "app" in self.__dict__:
            self.app.close()
