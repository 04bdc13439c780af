"""The Celery app, configured from celeryconfig.py."""

from celery import Celery

app = Celery("syndicate")
app.config_from_object("celeryconfig")
import workers.mail  # noqa: E402,F401
import workers.maintenance  # noqa: E402,F401
import workers.tasks  # noqa: E402,F401  register the tasks
