"""Register index: records, their data and Nice and Locarno classes, events, checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH = sa.LargeBinary(length=32)


def upgrade() -> None:
    op.create_table(
        "indexer_checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", HASH, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_indexer_checkpoints")),
    )
    op.create_table(
        "records",
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("office", sa.String(length=2), nullable=False),
        sa.Column("ip_type", sa.String(length=2), nullable=False),
        sa.Column("application_number", sa.String(length=64), nullable=False),
        sa.Column("st13", sa.String(length=17), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("mark_text", sa.Text(), nullable=True),
        sa.Column("mark_text_folded", sa.Text(), nullable=True),
        sa.Column("filing_date", sa.Date(), nullable=True),
        sa.Column("registration_date", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("head_entry_hash", HASH, nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("record_key", name=op.f("pk_records")),
    )
    op.create_index(op.f("ix_records_status_record_key"), "records", ["status", "record_key"])
    op.create_index(op.f("ix_records_filing_date"), "records", ["filing_date"])
    op.create_index(op.f("ix_records_registration_date"), "records", ["registration_date"])
    op.create_index(op.f("ix_records_updated_block"), "records", ["updated_block"])

    op.create_table(
        "record_data",
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_key"],
            ["records.record_key"],
            name=op.f("fk_record_data_record_key_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_key", name=op.f("pk_record_data")),
    )

    for table, column, column_type in (
        ("record_nice_classes", "nice_class", sa.Integer()),
        ("record_locarno_classes", "locarno_class", sa.String(length=5)),
    ):
        op.create_table(
            table,
            sa.Column("record_key", sa.String(length=64), nullable=False),
            sa.Column(column, column_type, nullable=False),
            sa.ForeignKeyConstraint(
                ["record_key"],
                ["records.record_key"],
                name=op.f(f"fk_{table}_record_key_records"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("record_key", column, name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_{column}_record_key"), table, [column, "record_key"])

    op.create_table(
        "events",
        sa.Column("entry_hash", HASH, nullable=False),
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_code", sa.String(length=8), nullable=False),
        sa.Column("national_code", sa.String(length=64), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("document_hash", HASH, nullable=False),
        sa.Column("prev_entry_hash", HASH, nullable=False),
        sa.Column("office", sa.String(length=2), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", HASH, nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_key"],
            ["records.record_key"],
            name=op.f("fk_events_record_key_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_hash", name=op.f("pk_events")),
        sa.UniqueConstraint("record_key", "seq", name=op.f("uq_events_record_key_seq")),
        sa.UniqueConstraint(
            "block_number", "log_index", name=op.f("uq_events_block_number_log_index")
        ),
    )
    op.create_index(
        op.f("ix_events_office_block_number_log_index"),
        "events",
        ["office", "block_number", "log_index"],
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("record_locarno_classes")
    op.drop_table("record_data")
    op.drop_table("record_nice_classes")
    op.drop_table("records")
    op.drop_table("indexer_checkpoints")
