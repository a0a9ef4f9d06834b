"""Search by applicant or holder name and by Vienna code (issue 12), which TMview's users
expect: ``records.holder_text_folded`` (the current applicants' names, case-folded) in the
text-search index beside the mark, and ``record_vienna_codes``. Existing records get both from
their stored record data.

SQLite's FTS5 table is made again with two columns (an FTS5 table cannot gain one);
PostgreSQL gets a second trigram index.

Revision ID: 0010_applicant_and_vienna_search
Revises: 0009_outbox_link_checks
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_applicant_and_vienna_search"
down_revision: str | None = "0009_outbox_link_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS_DROP = (
    "DROP TRIGGER IF EXISTS records_fts_update",
    "DROP TRIGGER IF EXISTS records_fts_delete",
    "DROP TRIGGER IF EXISTS records_fts_insert",
    "DROP TABLE IF EXISTS records_fts",
)


def _sqlite_fts(columns: Sequence[str]) -> tuple[str, ...]:
    listed = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    return (
        f"CREATE VIRTUAL TABLE records_fts USING fts5({listed}, content='records', "
        "content_rowid='rowid', tokenize='trigram case_sensitive 0')",
        "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
        f"INSERT INTO records_fts(rowid, {listed}) VALUES (new.rowid, {new}); END",
        "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
        f"INSERT INTO records_fts(records_fts, rowid, {listed}) "
        f"VALUES ('delete', old.rowid, {old}); END",
        f"CREATE TRIGGER records_fts_update AFTER UPDATE OF {listed} ON records BEGIN "
        f"INSERT INTO records_fts(records_fts, rowid, {listed}) "
        f"VALUES ('delete', old.rowid, {old}); "
        f"INSERT INTO records_fts(rowid, {listed}) VALUES (new.rowid, {new}); END",
        "INSERT INTO records_fts(records_fts) VALUES ('rebuild')",
    )


def _holders(data: Any) -> str | None:
    parties = data.get("applicants") if isinstance(data, dict) else None
    names = [
        party["name"]
        for party in (parties if isinstance(parties, list) else [])
        if isinstance(party, dict) and isinstance(party.get("name"), str)
    ]
    return " | ".join(names).casefold().replace("\x00", "\ufffd") if names else None


def _vienna(data: Any) -> list[str]:
    codes = data.get("vienna_codes") if isinstance(data, dict) else None
    return sorted(
        {
            code
            for code in (codes if isinstance(codes, list) else [])
            if isinstance(code, str) and re.fullmatch(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}", code)
        }
    )


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("holder_text_folded", sa.Text(), nullable=True))
    op.create_table(
        "record_vienna_codes",
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("vienna_code", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_key"],
            ["records.record_key"],
            name=op.f("fk_record_vienna_codes_record_key_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_key", "vienna_code", name=op.f("pk_record_vienna_codes")),
    )
    op.create_index(
        op.f("ix_record_vienna_codes_vienna_code_record_key"),
        "record_vienna_codes",
        ["vienna_code", "record_key"],
    )
    connection = op.get_bind()
    holders: list[dict[str, str]] = []
    codes: list[dict[str, str]] = []
    for key, text in connection.execute(sa.text("SELECT record_key, data FROM record_data")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        holder = _holders(data)
        if holder is not None:
            holders.append({"key": key, "holder": holder[:10_000]})
        codes.extend({"record_key": key, "vienna_code": code} for code in _vienna(data))
    if holders:
        connection.execute(
            sa.text("UPDATE records SET holder_text_folded = :holder WHERE record_key = :key"),
            holders,
        )
    if codes:
        connection.execute(
            sa.table(
                "record_vienna_codes", sa.column("record_key"), sa.column("vienna_code")
            ).insert(),
            codes,
        )
    if connection.dialect.name == "sqlite":
        for statement in (
            *_SQLITE_FTS_DROP,
            *_sqlite_fts(("mark_text_folded", "holder_text_folded")),
        ):
            op.execute(statement)
    else:
        operator_class = connection.execute(
            sa.text(
                "SELECT extnamespace::regnamespace::text || '.gin_trgm_ops' FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            )
        ).scalar_one()  # made by migration 0006
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_records_holder_text_folded_trgm ON records "
            f"USING gin (holder_text_folded {operator_class})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in (*_SQLITE_FTS_DROP, *_sqlite_fts(("mark_text_folded",))):
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_records_holder_text_folded_trgm")
    op.drop_index(
        op.f("ix_record_vienna_codes_vienna_code_record_key"), table_name="record_vienna_codes"
    )
    op.drop_table("record_vienna_codes")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("holder_text_folded")
