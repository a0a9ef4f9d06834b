"""How an accepted event's links were checked at submission (issue 12), kept with its outbox
row so that the submission shows it: ``outbox.link_checks``, a JSON array.

Revision ID: 0009_outbox_link_checks
Revises: 0008_record_links
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox_link_checks"
down_revision: str | None = "0008_record_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("link_checks", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("link_checks")
