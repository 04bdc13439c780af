"""Engine, session factory and migrations. SQLite gets WAL, foreign keys and a busy timeout.

Migrations are applied programmatically by ``syndicate db upgrade`` and ``syndicate up``."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # takes effect only in a new, empty database file (before the first table): pages freed by
    # retention can then be returned to the file system by the maintenance task's incremental vacuum
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages: the bucket and article indexes take random inserts
    cursor.execute("PRAGMA temp_store=MEMORY")
    # pages of the database file read through a memory map, not copied by a read() each: every commit
    # of another worker empties this connection's page cache, and the next statements read them again
    cursor.execute("PRAGMA mmap_size=1073741824")
    # a checkpoint (which syncs the file) after ~64 MiB of WAL, not after every 4 MiB: one ingest
    # commit touches ~1,000 random index pages, so the default checkpointed after nearly every commit
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


def placeholder(connection: Connection) -> str:
    """The driver's positional parameter mark, for the few hot statements sent as plain SQL
    (``exec_driver_sql``): ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def engine_of(session: Session) -> Engine:
    """The engine behind a session, for work on connections of its own outside the session's
    transaction (host slots, VACUUM). The application binds its sessions to engines only."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        raise TypeError(f"the session is bound to {bind!r}, not to an engine")
    return bind


def rowcount(result: Result) -> int:
    """The rows an UPDATE or DELETE sent through ``Session.execute`` matched: its result is a
    ``CursorResult``, which SQLAlchemy's annotations give as a plain ``Result``."""
    return cast(CursorResult, result).rowcount


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a file-based SQLite URL (``sqlite:///var/x.db``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    ensure_sqlite_dir(url)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None for a database without the schema."""
    ensure_sqlite_dir(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; the revisions before and after (None: no schema)."""
    ensure_sqlite_dir(database_url)
    before = current_revision(database_url)
    command.upgrade(alembic_config(database_url), revision)
    return before, current_revision(database_url)


def revision(database_url: str, message: str) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
