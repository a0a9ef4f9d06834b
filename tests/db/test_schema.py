"""The migrations build exactly the schema the table modules declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from ipchain.db.base import (
    alembic_config,
    include_in_schema_comparison,
    load_table_modules,
    make_engine,
    upgrade,
)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # running it again is harmless
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_name": include_in_schema_comparison},
            )
            assert compare_metadata(context, load_table_modules()) == []
            assert context.get_current_revision() is not None
    finally:
        engine.dispose()


def test_downgrade_removes_the_register_tables(database_url: str) -> None:
    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url)
    try:
        assert "events" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
