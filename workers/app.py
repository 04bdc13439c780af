"""The Celery app, configured from celeryconfig.py."""

from celery import Celery
from celery.signals import setup_logging

from syndicate import logs

app = Celery("syndicate")


@setup_logging.connect
def _logging(loglevel=None, **_kwargs) -> None:
    """Worker and beat log as every other process does (SYNDICATE_LOG_LEVEL/_FORMAT), not as Celery would."""
    logs.configure(requested=loglevel)


app.config_from_object("celeryconfig")
import workers.mail  # noqa: E402,F401
import workers.maintenance  # noqa: E402,F401
import workers.tasks  # noqa: E402,F401  register the tasks
