"""Links between records, indexed both ways (issue 12): ``record_links`` holds one row per link
an indexed event's document carries, so that a record's incoming links (filings claiming its
priority, designations of it) are an index lookup, not a read of every stored document. Rows
for events already indexed are written from their stored documents.

Revision ID: 0008_record_links
Revises: 0007_outbox_block_index
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ipchain.db.register import link_rows, record_links

revision: str = "0008_record_links"
down_revision: str | None = "0007_outbox_block_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_links",
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_code", sa.String(length=8), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=True),
        sa.Column("external_number", sa.String(length=100), nullable=True),
        sa.Column("link_date", sa.Date(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_hash"],
            ["events.entry_hash"],
            name=op.f("fk_record_links_entry_hash_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_hash", "position", name=op.f("pk_record_links")),
    )
    op.create_index(
        op.f("ix_record_links_target_key_relation"), "record_links", ["target_key", "relation"]
    )
    op.create_index(op.f("ix_record_links_source_key_seq"), "record_links", ["source_key", "seq"])
    op.create_index(op.f("ix_record_links_block_number"), "record_links", ["block_number"])
    _backfill()


def _backfill() -> None:
    connection = op.get_bind()
    stored = connection.execute(
        sa.text(
            "SELECT entry_hash, record_key, seq, event_code, block_number, document FROM events "
            "WHERE document LIKE '%\"links\"%'"
        )
    )
    rows = []
    for entry_hash, key, seq, code, block, document in stored:
        try:
            parsed = json.loads(document)
        except (ValueError, RecursionError):  # untrusted: what cannot be read has no links
            continue
        if isinstance(parsed, dict):
            rows.extend(link_rows(bytes(entry_hash), key, seq, code, block, parsed))
    if rows:
        connection.execute(record_links.insert(), rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_record_links_block_number"), table_name="record_links")
    op.drop_index(op.f("ix_record_links_source_key_seq"), table_name="record_links")
    op.drop_index(op.f("ix_record_links_target_key_relation"), table_name="record_links")
    op.drop_table("record_links")
