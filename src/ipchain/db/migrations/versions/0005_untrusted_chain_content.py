"""Untrusted chain content (issue 13): the published document byte for byte when it cannot be
text (``events.document_bytes``), flags on odd but indexed events (``event_flags``), and logs
the indexer could not parse or store, kept raw (``quarantined_events``).

Revision ID: 0005_untrusted_chain_content
Revises: 0004_governance_terms
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_untrusted_chain_content"
down_revision: str | None = "0004_governance_terms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH = sa.LargeBinary(length=32)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("document_bytes", sa.LargeBinary(), nullable=True))

    op.create_table(
        "event_flags",
        sa.Column("entry_hash", HASH, nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_hash"],
            ["events.entry_hash"],
            name=op.f("fk_event_flags_entry_hash_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_hash", "flag", name=op.f("pk_event_flags")),
    )
    op.create_index(op.f("ix_event_flags_block_number"), "event_flags", ["block_number"])

    op.create_table(
        "quarantined_events",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", HASH, nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", HASH, nullable=True),
        sa.Column("record_id", HASH, nullable=True),
        sa.Column("record_key", sa.Text(), nullable=True),
        sa.Column("topics", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_quarantined_events")),
    )
    op.create_index(op.f("ix_quarantined_events_record_id"), "quarantined_events", ["record_id"])
    op.create_index(op.f("ix_quarantined_events_entry_hash"), "quarantined_events", ["entry_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantined_events_entry_hash"), table_name="quarantined_events")
    op.drop_index(op.f("ix_quarantined_events_record_id"), table_name="quarantined_events")
    op.drop_table("quarantined_events")
    op.drop_index(op.f("ix_event_flags_block_number"), table_name="event_flags")
    op.drop_table("event_flags")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("document_bytes")
