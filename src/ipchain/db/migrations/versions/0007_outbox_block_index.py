"""An index on ``outbox.block_number``: after each block range, the indexer looks up the outbox
rows anchored in it whose entries it did not find there (a block replaced at the same
height), which without it reads every anchored row.

Revision ID: 0007_outbox_block_index
Revises: 0006_mark_text_search
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_outbox_block_index"
down_revision: str | None = "0006_mark_text_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_outbox_block_number"), "outbox", ["block_number"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_block_number"), table_name="outbox")
