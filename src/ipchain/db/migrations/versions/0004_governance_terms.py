"""Governance that a minority cannot capture (issue 14): office admin key changes, consortium
revocations of an office's attestations, votes that stop counting when their office's term
ends (``proposal_votes.void_block``, one row per vote rather than per office), proposals that
lapse with their proposer's term, the threshold a proposal was made under, and action names up
to 40 characters (``revoke-attestations-issued-since``).

Revision ID: 0004_governance_terms
Revises: 0003_governance
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_governance_terms"
down_revision: str | None = "0003_governance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH = sa.LargeBinary(length=32)
ACCOUNT = sa.String(length=42)
OFFICE = sa.String(length=2)

_VOTE_COLUMNS = (
    "proposal_id, voter, votes_after, block_number, log_index, block_timestamp, transaction_hash"
)


def _create_proposal_votes() -> None:
    op.create_table(
        "proposal_votes",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("voter", OFFICE, nullable=False),
        sa.Column("votes_after", sa.Integer(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.Column("void_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_proposal_votes")),
    )
    op.create_index(
        op.f("ix_proposal_votes_proposal_id_voter"), "proposal_votes", ["proposal_id", "voter"]
    )
    op.create_index(op.f("ix_proposal_votes_voter"), "proposal_votes", ["voter"])


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.alter_column(
            "action",
            existing_type=sa.String(length=24),
            type_=sa.String(length=40),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("created_log_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("threshold_bps", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lapsed_block", sa.BigInteger(), nullable=True))

    # One row per vote (an office may vote again in a later term): the key becomes the log's
    # position. The rows move through a plain table so that the new table gets the
    # conventional constraint and index names on every database.
    op.execute(f"CREATE TABLE proposal_votes_0004 AS SELECT {_VOTE_COLUMNS} FROM proposal_votes")
    op.drop_table("proposal_votes")
    _create_proposal_votes()
    op.execute(
        f"INSERT INTO proposal_votes ({_VOTE_COLUMNS}) "
        f"SELECT {_VOTE_COLUMNS} FROM proposal_votes_0004"
    )
    op.drop_table("proposal_votes_0004")

    op.create_table(
        "office_admin_changes",
        sa.Column("office", OFFICE, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("admin", ACCOUNT, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("profile_hash", HASH, nullable=True),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=True),
        sa.PrimaryKeyConstraint(
            "office", "block_number", "log_index", name=op.f("pk_office_admin_changes")
        ),
    )
    # What the offices indexed so far were admitted with (their admission log's position was
    # not kept: -1 sorts it before any later change in the same block).
    op.execute(
        "INSERT INTO office_admin_changes (office, block_number, log_index, change, admin, "
        "name, profile_hash, block_timestamp, transaction_hash) "
        "SELECT code, admitted_block, -1, 'admitted', admin, name, profile_hash, admitted_at, "
        "NULL FROM offices"
    )

    op.create_table(
        "issuer_attestation_revocations",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("issuer_office", OFFICE, nullable=False),
        sa.Column("issued_since", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
        sa.Column("revoker", ACCOUNT, nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint(
            "block_number", "log_index", name=op.f("pk_issuer_attestation_revocations")
        ),
    )
    op.create_index(
        op.f("ix_issuer_attestation_revocations_issuer_office"),
        "issuer_attestation_revocations",
        ["issuer_office"],
    )


def downgrade() -> None:
    op.drop_table("issuer_attestation_revocations")
    op.drop_table("office_admin_changes")
    # Back to one row per office and proposal: its latest vote.
    op.execute(f"CREATE TABLE proposal_votes_0004 AS SELECT {_VOTE_COLUMNS} FROM proposal_votes")
    op.drop_table("proposal_votes")
    op.create_table(
        "proposal_votes",
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("voter", OFFICE, nullable=False),
        sa.Column("votes_after", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "voter", name=op.f("pk_proposal_votes")),
    )
    op.execute(
        f"INSERT INTO proposal_votes ({_VOTE_COLUMNS}) SELECT {_VOTE_COLUMNS} "
        "FROM proposal_votes_0004 AS vote WHERE NOT EXISTS (SELECT 1 FROM proposal_votes_0004 "
        "AS later WHERE later.proposal_id = vote.proposal_id AND later.voter = vote.voter "
        "AND (later.block_number > vote.block_number OR (later.block_number = "
        "vote.block_number AND later.log_index > vote.log_index)))"
    )
    op.drop_table("proposal_votes_0004")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("lapsed_block")
        batch.drop_column("threshold_bps")
        batch.drop_column("created_log_index")
        batch.alter_column(
            "action",
            existing_type=sa.String(length=40),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
