"""Tables of the governance index: offices, their status history and admin key changes, signer
keys, proposals and votes, approved attestation schemas, attestations and consortium
revocations of an office's attestations.

Like the register index (:mod:`ipchain.db.register`), every row but one kind is derived from
the chain's logs — OfficeRegistry's and AttestationRegistry's — by
:mod:`ipchain.governance.indexing`, and can be rebuilt by reading them again. The exception is
``attestation_documents``: the claim documents (and certificates) of attestations this node
issued. Only their hashes are on-chain (claims about people must not be published), so the
node keeps the documents it knows beside the index, and a reorg or a re-index leaves them be.

Hashes and uids are 32 raw bytes; block times are Unix seconds; accounts are checksummed
text; office codes are WIPO ST.3 (two letters).
"""

from __future__ import annotations

from typing import Final, cast

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from ipchain.db.base import Base

ACCOUNT_LENGTH: Final = 42
"""Checksummed account address, ``0x`` and 40 hex digits."""

UINT256_DIGITS: Final = 78
"""Decimal digits of the largest uint256 (a proposal's ``value`` is one)."""


class OfficeStatusText:
    """Values of ``offices.status`` and ``office_status_history.status``."""

    ACTIVE: Final = "active"
    """A member whose keys may write and whose admin may vote."""
    SUSPENDED: Final = "suspended"
    """A member whose keys may not write until it is reinstated."""
    REMOVED: Final = "removed"
    """A former member, for good."""


class Office(Base):
    """A member office as its admission and latest status change made it."""

    __tablename__ = "offices"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    """WIPO ST.3 code."""
    name: Mapped[str] = mapped_column(Text)
    """Office name given at admission."""
    status: Mapped[str] = mapped_column(String(16))
    """``active``, ``suspended`` or ``removed``: the status of its latest history row."""
    admin: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH))
    """Admin (governance) account."""
    profile_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of the office's profile document, or zeros."""
    admitted_block: Mapped[int] = mapped_column(BigInteger)
    """Block of its admission (the deployment block for founding offices)."""
    admitted_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time."""
    status_block: Mapped[int] = mapped_column(BigInteger)
    """Block of the latest status change (or of the admission)."""
    status_changed_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time."""


class OfficeStatusChange(Base):
    """One step of an office's history: its admission, or a change of its status."""

    __tablename__ = "office_status_history"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Block of the log."""
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Position of the log in its block."""
    office: Mapped[str] = mapped_column(String(2))
    """The office."""
    status: Mapped[str] = mapped_column(String(16))
    """Status from this step on."""
    change: Mapped[str] = mapped_column(String(16))
    """``admitted`` (``OfficeAdmitted``) or ``status-changed`` (``OfficeStatusChanged``)."""
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    """Block time."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction of the change (the proposal's passing vote or its ``execute``)."""

    __table_args__ = (Index(None, "office", "block_number", "log_index"),)


class OfficeAdminChangeText:
    """Values of ``office_admin_changes.change``."""

    ADMITTED: Final = "admitted"
    """The admission (``OfficeAdmitted``): the first admin, name and profile."""
    ADMIN_REPLACED: Final = "admin-replaced"
    """``AdminReplaced``: a new admin key; name and profile unchanged."""
    READMITTED: Final = "readmitted"
    """``OfficeReadmitted``: a removed office admitted again with a new admin, name and
    profile."""


class OfficeAdminChange(Base):
    """An office's admin key, name and profile as one of its admission, an admin replacement or
    a re-admission set them. The office row holds what the latest one says; a reorg falls back
    to the latest one left. Founding offices indexed before this table existed have an
    ``admitted`` row at ``log_index`` -1 (its position in the block was not kept)."""

    __tablename__ = "office_admin_changes"

    office: Mapped[str] = mapped_column(String(2), primary_key=True)
    """The office."""
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Block of the log."""
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Position of the log in its block."""
    change: Mapped[str] = mapped_column(String(16))
    """``admitted``, ``admin-replaced`` or ``readmitted`` (:class:`OfficeAdminChangeText`)."""
    admin: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH))
    """The admin account from this change on."""
    name: Mapped[str | None] = mapped_column(Text)
    """The office name from this change on (None: unchanged)."""
    profile_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """The profile hash from this change on (None: unchanged)."""
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    """Block time."""
    transaction_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Transaction of the change (None for rows made by the migration)."""


class OfficeSigner(Base):
    """A signer key bound to an office, and its revocation if it was revoked."""

    __tablename__ = "office_signers"

    signer: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), primary_key=True)
    """The key's account: bound to one office, ever (a revoked key is retired for good)."""
    office: Mapped[str] = mapped_column(String(2))
    """Office it signs for."""
    added_block: Mapped[int] = mapped_column(BigInteger)
    """Block it was added in."""
    added_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time."""
    revoked_block: Mapped[int | None] = mapped_column(BigInteger)
    """Block it was revoked in (None while current)."""
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    """That block's time."""

    __table_args__ = (Index(None, "office", "added_block"),)


class Proposal(Base):
    """A governance proposal, its votes so far and its execution."""

    __tablename__ = "proposals"

    proposal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Sequential id from 0."""
    action: Mapped[str] = mapped_column(String(40))
    """``admit-office``, ``suspend-office``, … (written in kebab case: see
    :class:`ipchain.contracts.office_registry.ProposalAction`)."""
    office: Mapped[str | None] = mapped_column(String(2))
    """Office it concerns (None for threshold and schema proposals)."""
    account: Mapped[str | None] = mapped_column(String(ACCOUNT_LENGTH))
    """Account it concerns (new admin or signer key), None otherwise."""
    name: Mapped[str] = mapped_column(Text)
    """Office name (admission) or schema definition (approval); empty otherwise."""
    value: Mapped[str] = mapped_column(String(UINT256_DIGITS))
    """The uint256 ``value`` in decimal (the new threshold of a threshold change)."""
    data_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Profile hash of an office to admit; zeros otherwise."""
    proposer: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the proposing office."""
    created_block: Mapped[int] = mapped_column(BigInteger)
    """Block it was made in."""
    created_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time."""
    created_log_index: Mapped[int | None] = mapped_column(Integer)
    """Position of its ``ProposalCreated`` log in the block (None when indexed before it was
    kept)."""
    deadline: Mapped[int] = mapped_column(BigInteger)
    """Last Unix time votes and execution are accepted."""
    threshold_bps: Mapped[int | None] = mapped_column(Integer)
    """The threshold when it was made (the stricter of it and the current one applies); None
    when indexed before it was kept."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction that made it."""
    votes: Mapped[int] = mapped_column(Integer)
    """Votes that count (the proposer's included): those not void (see
    ``proposal_votes.void_block``)."""
    lapsed_block: Mapped[int | None] = mapped_column(BigInteger)
    """Block in which its proposer's term ended (it left Active or its admin key was
    replaced), so it can no longer pass; None while it has not."""
    executed_block: Mapped[int | None] = mapped_column(BigInteger)
    """Block it took effect in (None while not executed)."""
    executed_at: Mapped[int | None] = mapped_column(BigInteger)
    """That block's time."""
    executed_transaction_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Transaction that executed it (its action's own events are in the same one)."""

    __table_args__ = (
        Index(None, "executed_block", "deadline"),
        Index(None, "proposer"),
        Index(None, "office"),
    )


class ProposalVote(Base):
    """One office's vote for a proposal. An office votes once per term: after its term ends
    (it leaves Active, or its admin key is replaced) its vote is void and, once Active again,
    it may vote anew."""

    __tablename__ = "proposal_votes"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Block of the vote."""
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Position of its log in the block."""
    proposal_id: Mapped[int] = mapped_column(BigInteger)
    """The proposal."""
    voter: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the voting office."""
    votes_after: Mapped[int] = mapped_column(Integer)
    """The proposal's count of votes that counted, with this vote."""
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    """Block time."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction of the vote."""
    void_block: Mapped[int | None] = mapped_column(BigInteger)
    """Block in which the voter's term ended after this vote, which then stopped counting;
    None while it counts."""

    __table_args__ = (Index(None, "proposal_id", "voter"), Index(None, "voter"))


class ApprovedSchema(Base):
    """An attestation schema the consortium approved by vote."""

    __tablename__ = "attestation_schemas"

    schema_uid: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    """keccak256 of the definition."""
    name: Mapped[str] = mapped_column(String(200))
    """The definition's ``schema`` name (e.g. ``ipchain/party-identity/v1``); empty when the
    definition is not an ipchain schema document."""
    definition: Mapped[str] = mapped_column(Text)
    """The definition as approved."""
    approved_block: Mapped[int] = mapped_column(BigInteger)
    """Block of the approval."""
    approved_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time."""

    __table_args__ = (Index(None, "name"),)


class IndexedAttestation(Base):
    """An attestation as AttestationRegistry recorded it, with its revocation if any."""

    __tablename__ = "attestations"

    uid: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    """Its uid."""
    schema_uid: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Schema it follows."""
    issuer_office: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the issuing office."""
    subject: Mapped[bytes] = mapped_column(LargeBinary(32))
    """32-byte subject (office code, account or hashed party identifier)."""
    claim_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of the claim document's RFC 8785 bytes."""
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    """Unix time from which it no longer holds (None: never)."""
    ref_uid: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Attestation it builds on, if any."""
    attester: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH))
    """Signer key that made it."""
    issued_block: Mapped[int] = mapped_column(BigInteger)
    """Block it was recorded in."""
    issued_at: Mapped[int] = mapped_column(BigInteger)
    """That block's time (the contract's ``issuedAt``)."""
    log_index: Mapped[int] = mapped_column(Integer)
    """Position of its ``Attested`` log in the block."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction that recorded it."""
    revoked_block: Mapped[int | None] = mapped_column(BigInteger)
    """Block of its revocation (None: not revoked)."""
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    """Revocation time (the contract's ``revokedAt``)."""
    revoker: Mapped[str | None] = mapped_column(String(ACCOUNT_LENGTH))
    """Signer key that revoked it, or the OfficeRegistry for a consortium vote."""

    __table_args__ = (
        Index(None, "subject", "issued_block"),
        Index(None, "issuer_office", "issued_block"),
        Index(None, "schema_uid", "issued_block"),
    )


class IssuerRevocation(Base):
    """A consortium vote revoking every attestation of an office issued from ``issued_since``
    up to ``revoked_at`` (``IssuerAttestationsRevoked``); the attestations it covers carry the
    revocation in their own row."""

    __tablename__ = "issuer_attestation_revocations"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Block of the log."""
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Position of the log in its block."""
    issuer_office: Mapped[str] = mapped_column(String(2))
    """The office whose attestations are revoked."""
    issued_since: Mapped[int] = mapped_column(BigInteger)
    """Unix time from which its attestations are revoked."""
    revoked_at: Mapped[int] = mapped_column(BigInteger)
    """Block time of the decision: attestations issued up to it are revoked from it on."""
    revoker: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH))
    """The OfficeRegistry that executed the vote (the attestations' ``revoker``)."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction of the decision (the proposal's passing vote or its ``execute``)."""

    __table_args__ = (Index(None, "issuer_office"),)


class AttestationDocument(Base):
    """The claim document of an attestation this node issued (not derived from the chain:
    only the claim's hash is there)."""

    __tablename__ = "attestation_documents"

    uid: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    """The attestation."""
    claim: Mapped[str] = mapped_column(Text)
    """The claim, RFC 8785 canonical JSON (its SHA-256 is the attestation's claim hash)."""
    certificate: Mapped[str | None] = mapped_column(Text)
    """For an office-certificate attestation: the certificate (PEM) whose fingerprint the
    claim carries."""


# The Core tables, for the indexer's statements and the queries.
offices = cast(Table, Office.__table__)
office_status_history = cast(Table, OfficeStatusChange.__table__)
office_admin_changes = cast(Table, OfficeAdminChange.__table__)
office_signers = cast(Table, OfficeSigner.__table__)
proposals = cast(Table, Proposal.__table__)
proposal_votes = cast(Table, ProposalVote.__table__)
attestation_schemas = cast(Table, ApprovedSchema.__table__)
attestations = cast(Table, IndexedAttestation.__table__)
issuer_revocations = cast(Table, IssuerRevocation.__table__)
attestation_documents = cast(Table, AttestationDocument.__table__)

__all__ = [
    "ACCOUNT_LENGTH",
    "UINT256_DIGITS",
    "ApprovedSchema",
    "AttestationDocument",
    "IndexedAttestation",
    "IssuerRevocation",
    "Office",
    "OfficeAdminChange",
    "OfficeAdminChangeText",
    "OfficeSigner",
    "OfficeStatusChange",
    "OfficeStatusText",
    "Proposal",
    "ProposalVote",
    "attestation_documents",
    "attestation_schemas",
    "attestations",
    "issuer_revocations",
    "office_admin_changes",
    "office_signers",
    "office_status_history",
    "offices",
    "proposal_votes",
    "proposals",
]
