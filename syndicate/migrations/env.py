"""Alembic environment. The URL comes from ``syndicate.db`` (which got it from Settings).

This file is the one place of the migrations that imports the application: ``make_engine`` so
that the alembic command line opens the database as the application does, and the models'
metadata only for ``alembic revision --autogenerate`` to compare against. The revisions in
``versions/`` import nothing of ``syndicate`` except their frozen copies in ``frozen/``
(tests/test_migrations.py checks this), and ``render_item`` writes the models' own column types
as plain SQLAlchemy types so that a generated revision does not import them either.
"""

from alembic import context

from syndicate.db import make_engine
from syndicate.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, value, autogen_context):
    if kind == "type" and isinstance(value, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
