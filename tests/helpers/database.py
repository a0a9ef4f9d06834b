"""Empty index databases: SQLite in a temporary directory, or a schema of its own on the
PostgreSQL server of ``IPCHAIN_TEST_POSTGRES_URL``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def postgres_url() -> str | None:
    return os.environ.get("IPCHAIN_TEST_POSTGRES_URL")


@contextmanager
def empty_database(kind: str, tmp_path: Path, prefix: str = "test") -> Iterator[str]:
    """The URL of an empty database: SQLite in ``tmp_path``, or a fresh schema of its own on the
    PostgreSQL server of ``IPCHAIN_TEST_POSTGRES_URL`` (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    server = postgres_url()
    if server is None:
        pytest.skip("PostgreSQL cases need IPCHAIN_TEST_POSTGRES_URL (a server URL)")
    from sqlalchemy import create_engine, make_url, text

    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
