"""The index database: one declarative ``Base``, engines for SQLite and PostgreSQL, migrations.

The index is a cache of the chain: everything in it can be rebuilt by re-reading the chain's
logs from the deployment block. SQLite (one file beside the node's data) is the default;
PostgreSQL is for offices that run several API processes or want their usual backups.

Table modules (``register.py``, later governance and submissions) each declare their tables on
:class:`Base`, so ``Base.metadata`` holds every table once they are imported; :data:`TABLE_MODULES`
lists them for the code that needs the whole schema (Alembic's autogenerate and the schema
test). Migrations live in ``migrations/`` and are run with :func:`upgrade`.
"""

from __future__ import annotations

import importlib
from importlib import resources
from typing import Any, Final

from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.engine import create_engine as sqlalchemy_create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from ipchain.errors import (
    ChainError,
    ContractRevertError,
    InvalidInputError,
    TransactionRejectedError,
)

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names fixed by convention, so that migrations name them the same way on SQLite
and PostgreSQL and a later migration can drop them by name."""

TABLE_MODULES: Final = (
    "ipchain.db.register",
    "ipchain.db.governance",
    "ipchain.db.submissions",
)
"""Modules declaring tables on :class:`Base`; those not written yet are skipped."""

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
"""How long a SQLite writer waits for another writer's transaction before failing."""

SQLITE_SYNCHRONOUS: Final = "FULL"
"""SQLite's ``synchronous`` setting: FULL makes each commit durable when it returns (one WAL
fsync per write transaction; read transactions write nothing)."""

SQLITE_POOL_SIZE: Final = 32
"""Pooled SQLite connections: they are cheap (no server process), and readers in WAL mode do
not block each other, so many API threads can read at once."""

IMMEDIATE: Final = {"sqlite_begin": "BEGIN IMMEDIATE"}
"""Execution options for a transaction that will write: on SQLite it takes the write lock at
``BEGIN``, so it waits (``busy_timeout``) for another writer instead of failing when a read
transaction later tries to upgrade. Other databases ignore it. Use it as
``session.connection(execution_options=IMMEDIATE)`` before the first statement."""


class Base(DeclarativeBase):
    """Declarative base of every index table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def load_table_modules() -> MetaData:
    """Import every table module that exists, so ``Base.metadata`` is the whole schema."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
    return Base.metadata


SEARCH_INDEX_OBJECTS: Final = frozenset(
    {
        "records_fts",
        "records_fts_data",
        "records_fts_idx",
        "records_fts_content",
        "records_fts_docsize",
        "records_fts_config",
        "ix_records_mark_text_folded_trgm",
        "ix_records_holder_text_folded_trgm",
    }
)
"""The text-search index of migrations 0006 and 0010 (SQLite's FTS5 table and its shadow tables, or
PostgreSQL's trigram index): made by the migration alone, not declared by a table module."""


def include_in_schema_comparison(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic's ``include_name`` hook: compare everything but :data:`SEARCH_INDEX_OBJECTS`."""
    return name not in SEARCH_INDEX_OBJECTS


def make_engine(url: str | URL, *, pool_size: int | None = None, echo: bool = False) -> Engine:
    """An engine for a SQLite or PostgreSQL URL.

    SQLite connections get write-ahead logging (readers never block the indexer and the
    indexer never blocks readers), a busy timeout, enforced foreign keys and
    ``synchronous=FULL``: every commit is on disk (the WAL fsync'd) before it returns, so an
    accepted submission (``202``) survives a power cut. (``NORMAL`` would only fsync at
    checkpoints: safe against corruption, but the last commits could vanish.) Transactions are
    begun by SQLAlchemy rather than by the sqlite3 module, so that a read sees one snapshot
    and a writer can ask for ``BEGIN IMMEDIATE`` (:data:`IMMEDIATE`).

    PostgreSQL URLs use psycopg 3 (``postgresql://`` is read as ``postgresql+psycopg://``).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"echo": echo, "future": True}
    if backend == "sqlite":
        options["connect_args"] = {"check_same_thread": False}
        if parsed.database not in (None, "", ":memory:"):
            options["pool_size"] = pool_size or SQLITE_POOL_SIZE
            options["max_overflow"] = 0
            options["pool_timeout"] = 60
        engine = sqlalchemy_create_engine(parsed, **options)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options["pool_pre_ping"] = True
        if pool_size is not None:
            options["pool_size"] = pool_size
        return sqlalchemy_create_engine(parsed, **options)
    raise InvalidInputError(
        f"unsupported index database {backend!r}: use sqlite:/// or postgresql://",
        field="database_url",
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Stop the sqlite3 module from issuing its own BEGIN (it would defeat "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        statement = connection.get_execution_options().get("sqlite_begin", "BEGIN")
        connection.exec_driver_sql(statement)


def refresh_statistics(connection: Connection) -> None:
    """Let the query planner know the tables' sizes again after many rows were written.

    SQLite keeps no statistics by itself: without them it picks poor indexes for the register's
    searches once tables grow. ``analysis_limit`` samples each index, so this takes
    milliseconds even on millions of rows. PostgreSQL's autovacuum does this on its own.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("ANALYZE")


def is_storage_fault(error: BaseException) -> bool:
    """Whether ``error`` says the database (or the chain, or the machine) failed rather than
    the data: a full disk, an I/O error, a lost connection, a lock held too long, a chain node
    that does not answer. Such an error must stop the work at hand, to be retried as it was;
    any other error raised while writing one piece of data is about that data."""
    if isinstance(error, ContractRevertError | TransactionRejectedError):
        return False  # the chain answered: about this data
    return isinstance(
        error,
        exc.OperationalError
        | exc.InterfaceError
        | exc.InternalError
        | exc.ProgrammingError
        | exc.DisconnectionError
        | exc.TimeoutError
        | ChainError
        | OSError
        | MemoryError,
    )


def storable_text(value: str, limit: int | None = None) -> str:
    """``value`` as every supported database's text type takes it: NUL (PostgreSQL text
    cannot hold it) and lone surrogates (not encodable in UTF-8) become U+FFFD; cut to
    ``limit`` characters when given. Returns ``value`` itself when it is fine (the usual
    case, checked at C speed)."""
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


_LOST_TRANSACTION: Final = ("no such savepoint", "no transaction is active")
"""What SQLite says when a failure already rolled the transaction back."""


def describe_error(error: BaseException, limit: int = 600) -> str:
    """An error in one line for logs and health reports: a database error by the driver's
    message (not SQLAlchemy's several lines with the statement and its parameters)."""
    from sqlalchemy import exc

    # SQLite rolls a whole transaction back on some failures (a full disk above all): the
    # savepoint being unwound then no longer exists, and that error hides the real one.
    while error.__context__ is not None and any(lost in str(error) for lost in _LOST_TRANSACTION):
        error = error.__context__
    cause: BaseException = error
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        cause = error.orig
    text = str(cause).strip().splitlines()
    message = text[0] if text else ""
    line = f"{type(cause).__name__}: {message}" if message else type(cause).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrations_directory() -> str:
    """Path of the Alembic scripts shipped inside the package."""
    return str(resources.files("ipchain.db").joinpath("migrations"))


def alembic_config(url: str | URL) -> Any:
    """An Alembic ``Config`` for ``url`` without an ``alembic.ini`` file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", migrations_directory())
    # Alembic's ini interpolation treats % specially; URLs may contain %-escaped passwords.
    rendered = make_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str | URL, revision: str = "heads") -> None:
    """Run the migrations of ``url``'s database up to ``revision`` (all heads by default).

    Idempotent: an up-to-date database is left as it is.
    """
    from alembic import command

    command.upgrade(alembic_config(url), revision)


__all__ = [
    "IMMEDIATE",
    "NAMING_CONVENTION",
    "SQLITE_SYNCHRONOUS",
    "TABLE_MODULES",
    "Base",
    "alembic_config",
    "describe_error",
    "include_in_schema_comparison",
    "is_storage_fault",
    "load_table_modules",
    "make_engine",
    "migrations_directory",
    "refresh_statistics",
    "session_factory",
    "storable_text",
    "upgrade",
]
