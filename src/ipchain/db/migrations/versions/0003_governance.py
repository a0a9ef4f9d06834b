"""Governance index: offices and their status history, signer keys, proposals and votes,
approved attestation schemas, attestations and the claim documents this node issued.

Revision ID: 0003_governance
Revises: 0002_submissions
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_governance"
down_revision: str | None = "0002_submissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH = sa.LargeBinary(length=32)
ACCOUNT = sa.String(length=42)
OFFICE = sa.String(length=2)


def upgrade() -> None:
    op.create_table(
        "offices",
        sa.Column("code", OFFICE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admin", ACCOUNT, nullable=False),
        sa.Column("profile_hash", HASH, nullable=False),
        sa.Column("admitted_block", sa.BigInteger(), nullable=False),
        sa.Column("admitted_at", sa.BigInteger(), nullable=False),
        sa.Column("status_block", sa.BigInteger(), nullable=False),
        sa.Column("status_changed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_offices")),
    )

    op.create_table(
        "office_status_history",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("office", OFFICE, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_office_status_history")),
    )
    op.create_index(
        op.f("ix_office_status_history_office_block_number_log_index"),
        "office_status_history",
        ["office", "block_number", "log_index"],
    )

    op.create_table(
        "office_signers",
        sa.Column("signer", ACCOUNT, nullable=False),
        sa.Column("office", OFFICE, nullable=False),
        sa.Column("added_block", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_block", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("signer", name=op.f("pk_office_signers")),
    )
    op.create_index(
        op.f("ix_office_signers_office_added_block"), "office_signers", ["office", "added_block"]
    )

    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("office", OFFICE, nullable=True),
        sa.Column("account", ACCOUNT, nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.String(length=78), nullable=False),
        sa.Column("data_hash", HASH, nullable=False),
        sa.Column("proposer", OFFICE, nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("executed_block", sa.BigInteger(), nullable=True),
        sa.Column("executed_at", sa.BigInteger(), nullable=True),
        sa.Column("executed_transaction_hash", HASH, nullable=True),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_proposals")),
    )
    op.create_index(
        op.f("ix_proposals_executed_block_deadline"), "proposals", ["executed_block", "deadline"]
    )
    op.create_index(op.f("ix_proposals_proposer"), "proposals", ["proposer"])
    op.create_index(op.f("ix_proposals_office"), "proposals", ["office"])

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

    op.create_table(
        "attestation_schemas",
        sa.Column("schema_uid", HASH, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("approved_block", sa.BigInteger(), nullable=False),
        sa.Column("approved_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("schema_uid", name=op.f("pk_attestation_schemas")),
    )
    op.create_index(op.f("ix_attestation_schemas_name"), "attestation_schemas", ["name"])

    op.create_table(
        "attestations",
        sa.Column("uid", HASH, nullable=False),
        sa.Column("schema_uid", HASH, nullable=False),
        sa.Column("issuer_office", OFFICE, nullable=False),
        sa.Column("subject", HASH, nullable=False),
        sa.Column("claim_hash", HASH, nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("ref_uid", HASH, nullable=True),
        sa.Column("attester", ACCOUNT, nullable=False),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("transaction_hash", HASH, nullable=False),
        sa.Column("revoked_block", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revoker", ACCOUNT, nullable=True),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_attestations")),
    )
    for columns in (
        ["subject", "issued_block"],
        ["issuer_office", "issued_block"],
        ["schema_uid", "issued_block"],
    ):
        op.create_index(op.f("ix_attestations_" + "_".join(columns)), "attestations", columns)

    op.create_table(
        "attestation_documents",
        sa.Column("uid", HASH, nullable=False),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_attestation_documents")),
    )


def downgrade() -> None:
    for table in (
        "attestation_documents",
        "attestations",
        "attestation_schemas",
        "proposal_votes",
        "proposals",
        "office_signers",
        "office_status_history",
        "offices",
    ):
        op.drop_table(table)
