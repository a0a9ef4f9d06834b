"""Tables of the submission side: API tokens, submissions and the outbox of events to anchor.

Unlike the register index (:mod:`ipchain.db.register`), these rows are not derived from the
chain: they are the node's own durable state. An accepted submission and all its outbox rows are
written in one transaction before the API answers, so a crash never loses an accepted event and
never leaves half a batch; the submitter (:mod:`ipchain.register.submissions`) moves each outbox row
``pending → sent → anchored`` (or ``failed``), recording before it sends what it is about to send.

Hashes are stored as 32 raw bytes, like the register index; times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime
from typing import Final, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ipchain.db.base import Base
from ipchain.db.register import RECORD_KEY_LENGTH

IDEMPOTENCY_KEY_LENGTH: Final = 255
"""Longest ``Idempotency-Key`` header value accepted."""

# SQLite gives a table an auto-increment rowid only for a column typed exactly INTEGER.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class SubmissionState:
    """Values of ``submissions.status``."""

    PENDING: Final = "pending"
    """Accepted; some events are not anchored yet."""
    ANCHORED: Final = "anchored"
    """Every event is anchored on the chain."""
    FAILED: Final = "failed"
    """The chain refused it (the error columns say why)."""


class OutboxState:
    """Values of ``outbox.state``."""

    PENDING: Final = "pending"
    """Waiting for the submitter."""
    SENT: Final = "sent"
    """In a transaction that was (or was about to be) sent; ``expected_entry_hash`` and
    ``transaction_hash`` say which, so a restarted node can look the outcome up on the chain."""
    ANCHORED: Final = "anchored"
    """On the chain: ``entry_hash`` and ``block_number`` say where."""
    FAILED: Final = "failed"
    """Not anchored and never will be (its submission failed)."""


class ApiToken(Base):
    """A credential of one office for the write API, stored only as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    """Row id (shown to administrators, never the token)."""
    office: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the one office the token acts for."""
    token_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    """SHA-256 of the token: a random 256-bit token needs no slow password hash."""
    label: Mapped[str] = mapped_column(String(200), default="")
    """What the token is for (e.g. ``back-office batch``)."""
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    """When it was made."""
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    """When it was revoked (None while it is valid)."""

    __table_args__ = (Index(None, "office"),)


class Submission(Base):
    """One accepted POST of events: the resource clients poll for the outcome."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """Random UUID (text form)."""
    office: Mapped[str] = mapped_column(String(2))
    """Office that submitted (the token's office)."""
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    """The client's ``Idempotency-Key``, unique per office (None when it sent none)."""
    request_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of the canonical request body, to tell a retry from a reused key."""
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``anchored`` or ``failed`` (:class:`SubmissionState`)."""
    event_count: Mapped[int] = mapped_column(Integer)
    """Number of events (outbox rows) in it."""
    error_code: Mapped[str | None] = mapped_column(String(64))
    """Stable code of the failure (e.g. ``contract-revert``)."""
    error_message: Mapped[str | None] = mapped_column(Text)
    """What failed, for people (e.g. the decoded contract error)."""
    error_field: Mapped[str | None] = mapped_column(String(200))
    """Which part of the request it was about (e.g. ``events[3]``)."""
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    """When it was accepted."""
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    """When its status last changed."""

    __table_args__ = (
        UniqueConstraint("office", "idempotency_key"),
        Index(None, "status"),
    )


class OutboxEvent(Base):
    """One event of a submission on its way to the chain."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    """Increasing id: the order events are anchored in (oldest first)."""
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    """The submission it belongs to."""
    office: Mapped[str] = mapped_column(String(2))
    """Office whose signer key anchors it."""
    position: Mapped[int] = mapped_column(Integer)
    """Its index in the submission's list of events, from 0."""
    record_key: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    """The record it is about."""
    event_code: Mapped[str] = mapped_column(String(8))
    """ST.61/ST.87 key event code."""
    document: Mapped[str] = mapped_column(Text)
    """The event document, RFC 8785 canonical JSON (exactly the bytes that get anchored)."""
    document_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of ``document``."""
    expected_seq: Mapped[int] = mapped_column(Integer)
    """The position in the record's history the event was validated for (1: a new record), a
    hint that spares the submitter a chain call for new records."""
    state: Mapped[str] = mapped_column(String(16))
    """``pending``, ``sent``, ``anchored`` or ``failed`` (:class:`OutboxState`)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Transactions it was sent in that did not anchor it."""
    seq: Mapped[int | None] = mapped_column(Integer)
    """Position in the record's history it was linked at when sent."""
    expected_entry_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Entry hash it will have if the transaction it was sent in succeeds."""
    transaction_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Transaction it was (last) sent in."""
    entry_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Entry hash once anchored."""
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    """Block it was anchored in."""
    error: Mapped[str | None] = mapped_column(Text)
    """Why it was not anchored (last failed attempt, or the failure of its submission)."""
    link_checks: Mapped[str | None] = mapped_column(Text)
    """How its links were checked at submission, a JSON array (None without links)."""

    __table_args__ = (
        UniqueConstraint("submission_id", "position"),
        Index(None, "state", "id"),
        Index(None, "record_key", "id"),
        Index(None, "block_number"),
    )


# The Core tables, for bulk statements (the submitter's hot path uses no ORM objects).
api_tokens = cast(Table, ApiToken.__table__)
submissions = cast(Table, Submission.__table__)
outbox = cast(Table, OutboxEvent.__table__)

__all__ = [
    "IDEMPOTENCY_KEY_LENGTH",
    "ApiToken",
    "OutboxEvent",
    "OutboxState",
    "Submission",
    "SubmissionState",
    "api_tokens",
    "outbox",
    "submissions",
]
