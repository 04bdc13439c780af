"""``python -m syndicate.cli``: the same as the ``syndicate`` command."""

from syndicate.cli import app

app()
