"""Alembic environment of the index database.

Run through :func:`ipchain.db.base.upgrade` (no ``alembic.ini``): the URL comes from the
config's ``sqlalchemy.url``, or a caller passes an open connection as
``config.attributes["connection"]``. Every table module is imported so autogenerate sees the
whole schema.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ipchain.db.base import include_in_schema_comparison, load_table_modules, make_engine

target_metadata = load_table_modules()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_in_schema_comparison,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("ipchain runs its migrations online only (ipchain.db.base.upgrade)")
run_migrations_online()
