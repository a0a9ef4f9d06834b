"""Text search on the mark's verbal element with an index (issue 13): ``LIKE '%…%'`` over
``records.mark_text_folded`` read every record.

- **SQLite**: an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34), external content
  over ``records`` (it stores only its index, keyed by the record's rowid) and kept in step by
  triggers. A quoted trigram phrase matches exactly the records whose folded text contains the
  query, so search keeps the substring meaning it always had.
- **PostgreSQL**: ``pg_trgm``'s GIN index on ``mark_text_folded``, which the planner uses for
  the same ``LIKE '%…%'`` (three characters or more). ``CREATE EXTENSION`` needs a role that
  may create it (a superuser, or a trusted-extension owner from PostgreSQL 13).

Neither object is in the table modules' metadata (one is a virtual table, the other a
dialect's index type); :func:`ipchain.db.base.include_in_schema_comparison` leaves them out of
the schema comparison.

Revision ID: 0006_mark_text_search
Revises: 0005_untrusted_chain_content
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_mark_text_search"
down_revision: str | None = "0005_untrusted_chain_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = (
    "CREATE VIRTUAL TABLE records_fts USING fts5(mark_text_folded, content='records', "
    "content_rowid='rowid', tokenize='trigram case_sensitive 0')",
    # External content: the index forgets a row only when told what it held.
    "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
    "INSERT INTO records_fts(rowid, mark_text_folded) VALUES (new.rowid, new.mark_text_folded); "
    "END",
    "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, mark_text_folded) "
    "VALUES ('delete', old.rowid, old.mark_text_folded); END",
    "CREATE TRIGGER records_fts_update AFTER UPDATE OF mark_text_folded ON records BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, mark_text_folded) "
    "VALUES ('delete', old.rowid, old.mark_text_folded); "
    "INSERT INTO records_fts(rowid, mark_text_folded) VALUES (new.rowid, new.mark_text_folded); "
    "END",
    "INSERT INTO records_fts(records_fts) VALUES ('rebuild')",
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS records_fts_update",
    "DROP TRIGGER IF EXISTS records_fts_delete",
    "DROP TRIGGER IF EXISTS records_fts_insert",
    "DROP TABLE IF EXISTS records_fts",
)
_POSTGRESQL_DOWN = ("DROP INDEX IF EXISTS ix_records_mark_text_folded_trgm",)


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def trigram_operator_class() -> str:
    """``gin_trgm_ops`` qualified by the schema ``pg_trgm`` lives in: made in ``public`` when
    the database has none, so that it outlives the schema of any one index (and a search path
    without its schema still finds it)."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    schema = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            )
        )
        .scalar_one()
    )
    return f"{schema}.gin_trgm_ops"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(_SQLITE_UP)
    else:
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_records_mark_text_folded_trgm ON records "
            f"USING gin (mark_text_folded {trigram_operator_class()})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(_SQLITE_DOWN)
    else:
        _run(_POSTGRESQL_DOWN)
