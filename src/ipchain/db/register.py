"""Tables of the register index: records, their events, their classes, indexer checkpoints,
flagged events and quarantined logs.

Every row here is derived from the chain's ``EventRecorded`` logs by :mod:`ipchain.db.indexer`;
nothing else writes them. ``events`` is the log itself (one row per anchored entry, with the
published document beside its hash and the entry's position on the chain). ``records`` and the
class tables are a **cache of a derivation**: the indexer recomputes a record's row from the
record's whole event history each time it indexes an event of that record, so they never hold
anything the events do not imply.

What is on the chain was written by someone else: to this node it is untrusted input. Events
that are odd but indexable are indexed and **flagged** (``event_flags``: an event code this
node's catalogue does not know, a document no ipchain node would write ...); a log the indexer
cannot parse or store is **quarantined** (``quarantined_events``: kept raw, with the reason),
and indexing goes on with the next one.

Hashes are stored as 32 raw bytes (half the index size of hex text); the query layer writes
them ``0x``-hex. Block times are Unix seconds.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Date,
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

from ipchain.db.base import Base, storable_text

RECORD_KEY_LENGTH = 64
"""Longest record key (RegisterLedger.MAX_RECORD_KEY_LENGTH)."""


class Record(Base):
    """One trademark or design record, as its event history says it is now.

    A cache of the derivation from ``events``: recomputed by the indexer whenever an event of
    the record is indexed (and after a reorg removes some).
    """

    __tablename__ = "records"

    record_key: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH), primary_key=True)
    """``{office}/{TM|DS}/{application number}``."""
    office: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the office keeping the record."""
    ip_type: Mapped[str] = mapped_column(String(2))
    """``TM`` or ``DS``."""
    application_number: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    """Normalised application number."""
    st13: Mapped[str | None] = mapped_column(String(17))
    """WIPO ST.13 form of the application number, when the office's format allows it."""
    status: Mapped[str | None] = mapped_column(String(24))
    """Status derived from the event codes (None when no event sets one)."""
    mark_text: Mapped[str | None] = mapped_column(Text)
    """Verbal element of a trademark, or product indication of a design."""
    holder_text_folded: Mapped[str | None] = mapped_column(Text)
    """Names of the record's applicants now (its holders, once a transfer names new ones),
    case-folded and joined by `` | ``: what applicant search matches against."""
    mark_text_folded: Mapped[str | None] = mapped_column(Text)
    """``mark_text`` case-folded (Unicode, not just ASCII: Cyrillic and Greek marks too), what
    text search matches against on every database."""
    filing_date: Mapped[datetime.date | None] = mapped_column(Date)
    """Filing date from the record data."""
    registration_date: Mapped[datetime.date | None] = mapped_column(Date)
    """Registration date from the record data."""
    expiry_date: Mapped[datetime.date | None] = mapped_column(Date)
    """Expiry date from the record data."""
    head_entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Entry hash of the latest event (the on-chain head)."""
    event_count: Mapped[int] = mapped_column(Integer)
    """Number of events (the head's ``seq``)."""
    updated_block: Mapped[int] = mapped_column(BigInteger)
    """Block of the latest event."""

    __table_args__ = (
        # Office and type filters are record-key ranges (keys start "EM/TM/"), so the primary
        # key serves them; with a status, this index does, in key order.
        Index(None, "status", "record_key"),
        Index(None, "filing_date"),
        Index(None, "registration_date"),
        Index(None, "updated_block"),
    )


class RecordData(Base):
    """A record's current data, beside the record rather than in it: searches scan ``records``
    and are several times faster over its narrow rows than with the data inside."""

    __tablename__ = "record_data"

    record_key: Mapped[str] = mapped_column(
        ForeignKey("records.record_key", ondelete="CASCADE"), primary_key=True
    )
    """The record."""
    data: Mapped[str] = mapped_column(Text)
    """Current record data (a JSON object): every event's record data merged in order."""


class RecordNiceClass(Base):
    """A Nice class a trademark record is filed or registered in."""

    __tablename__ = "record_nice_classes"

    record_key: Mapped[str] = mapped_column(
        ForeignKey("records.record_key", ondelete="CASCADE"), primary_key=True
    )
    """The record."""
    nice_class: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Nice class number, 1-45."""

    __table_args__ = (Index(None, "nice_class", "record_key"),)


class RecordViennaCode(Base):
    """A Vienna code (figurative element) of a trademark record."""

    __tablename__ = "record_vienna_codes"

    record_key: Mapped[str] = mapped_column(
        ForeignKey("records.record_key", ondelete="CASCADE"), primary_key=True
    )
    """The record."""
    vienna_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    """Category, division and section, ``CC.DD.SS`` (``26.04.01``)."""

    __table_args__ = (Index(None, "vienna_code", "record_key"),)


class RecordLocarnoClass(Base):
    """A Locarno class of a design record."""

    __tablename__ = "record_locarno_classes"

    record_key: Mapped[str] = mapped_column(
        ForeignKey("records.record_key", ondelete="CASCADE"), primary_key=True
    )
    """The record."""
    locarno_class: Mapped[str] = mapped_column(String(5), primary_key=True)
    """``CC-SS`` class and subclass (or ``CC`` when only the class is given)."""

    __table_args__ = (Index(None, "locarno_class", "record_key"),)


class Event(Base):
    """One anchored register event: the ``EventRecorded`` log and its document."""

    __tablename__ = "events"

    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    """Entry hash computed by RegisterLedger (unique on the chain)."""
    record_key: Mapped[str] = mapped_column(ForeignKey("records.record_key", ondelete="CASCADE"))
    """The record the event belongs to."""
    seq: Mapped[int] = mapped_column(Integer)
    """Position in the record's history, from 1."""
    event_code: Mapped[str] = mapped_column(String(8))
    """ST.61/ST.87 key event code (``A10``)."""
    national_code: Mapped[str | None] = mapped_column(String(64))
    """The office's own event code, from the document."""
    event_date: Mapped[datetime.date | None] = mapped_column(Date)
    """Date of the event, from the document."""
    effective_date: Mapped[datetime.date | None] = mapped_column(Date)
    """Date the event takes effect, from the document."""
    document: Mapped[str | None] = mapped_column(Text)
    """The document published with the entry, as text: exactly its bytes when they are UTF-8
    without NUL (what every database's text type holds); None when only the hash was anchored
    or when the bytes are kept in ``document_bytes`` instead."""
    document_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The published document when it cannot be text (not UTF-8, or holding a NUL byte),
    byte for byte; None otherwise. Exactly one of ``document`` and ``document_bytes`` is set
    when a document was published."""
    document_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of the document's canonical bytes, as anchored."""
    prev_entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Entry hash this one links to (zeros for a record's first event)."""
    office: Mapped[str] = mapped_column(String(2))
    """ST.3 code of the writing office."""
    signer: Mapped[str] = mapped_column(String(42))
    """Checksummed account that sent the transaction."""
    block_number: Mapped[int] = mapped_column(BigInteger)
    """Block of the log."""
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Hash of that block."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction that anchored the event."""
    log_index: Mapped[int] = mapped_column(Integer)
    """Position of the log in its block."""
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    """Unix time of the block."""

    __table_args__ = (
        # A record's history in order (the record-history query) and its integrity.
        UniqueConstraint("record_key", "seq"),
        # The all-offices feed, newest first, with cursor paging on the chain position.
        UniqueConstraint("block_number", "log_index"),
        Index(None, "office", "block_number", "log_index"),
    )


class EventFlag(Base):
    """Something odd about an indexed event, for people to look at (the event is indexed all
    the same): a code this node's catalogue does not know (it may be newer), a document no
    ipchain node would write, an event the status machine would refuse ...
    (:mod:`ipchain.register.indexing` lists the flags)."""

    __tablename__ = "event_flags"

    entry_hash: Mapped[bytes] = mapped_column(
        ForeignKey("events.entry_hash", ondelete="CASCADE"), primary_key=True
    )
    """The event."""
    flag: Mapped[str] = mapped_column(String(32), primary_key=True)
    """What is odd, as a kebab-case word (``unknown-event-code``)."""
    detail: Mapped[str] = mapped_column(Text)
    """Why, in one line."""
    block_number: Mapped[int] = mapped_column(BigInteger)
    """Block of the event (rows above a reorg's fork are removed with their events)."""

    __table_args__ = (Index(None, "block_number"),)


class RecordLinkRow(Base):
    """One link an indexed event's document carries to another record or an outside number
    (priority claim, designation, seniority ...), kept so that a record's links are found
    both ways by index, not by reading documents. Read from untrusted documents: only links
    of the expected shape are kept, their text made storable."""

    __tablename__ = "record_links"

    entry_hash: Mapped[bytes] = mapped_column(
        ForeignKey("events.entry_hash", ondelete="CASCADE"), primary_key=True
    )
    """The event carrying the link."""
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Its index in the document's ``links``."""
    source_key: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    """The record whose event carries the link."""
    seq: Mapped[int] = mapped_column(Integer)
    """That event's position in the record's history."""
    event_code: Mapped[str] = mapped_column(String(8))
    """That event's code."""
    relation: Mapped[str] = mapped_column(String(32))
    """Kind of link as the document names it (``priority``, ``madrid-designation`` ...)."""
    target_key: Mapped[str | None] = mapped_column(String(RECORD_KEY_LENGTH))
    """The linked record's key as written (None for an outside number)."""
    external_number: Mapped[str | None] = mapped_column(String(100))
    """The linked right's number when it is not a record here."""
    link_date: Mapped[datetime.date | None] = mapped_column(Date)
    """The date the link refers to (priority date, designation date)."""
    block_number: Mapped[int] = mapped_column(BigInteger)
    """Block of the event (rows above a reorg's fork are removed with their events)."""

    __table_args__ = (
        Index(None, "target_key", "relation"),
        Index(None, "source_key", "seq"),
        Index(None, "block_number"),
    )


class QuarantinedEvent(Base):
    """A log of a followed contract the indexer could not parse or store, kept raw.

    The rest of its block range is indexed; the log is left out of the index and reported
    (``/health``, the audit, one log line). An ``EventRecorded`` entry following a
    quarantined one of the same record is quarantined too, so that a record's stored history
    never has a gap.
    """

    __tablename__ = "quarantined_events"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Block of the log."""
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Position of the log in its block."""
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Hash of the block."""
    transaction_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Transaction that emitted it."""
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    """Unix time of the block."""
    address: Mapped[str] = mapped_column(String(42))
    """The emitting contract."""
    contract: Mapped[str] = mapped_column(String(64))
    """Its name in the deployment (``RegisterLedger``)."""
    event: Mapped[str] = mapped_column(String(64))
    """The event's name (``EventRecorded``)."""
    entry_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """For a register entry: its entry hash, when the log data holds one."""
    record_id: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """For a register entry: keccak256 of its record key (topic 1)."""
    record_key: Mapped[str | None] = mapped_column(Text)
    """For a register entry: its record key, made printable (for people; ``record_id`` is
    exact)."""
    topics: Mapped[bytes] = mapped_column(LargeBinary)
    """The log's topics, 32 bytes each, concatenated."""
    data: Mapped[bytes] = mapped_column(LargeBinary)
    """The log's data, byte for byte."""
    reason: Mapped[str] = mapped_column(Text)
    """Why it was quarantined, in one line."""

    __table_args__ = (Index(None, "record_id"), Index(None, "entry_hash"))


class IndexerCheckpoint(Base):
    """How far an indexer has read the chain: the last block it has fully indexed."""

    __tablename__ = "indexer_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Indexer name (one node may run several over different contracts)."""
    block_number: Mapped[int] = mapped_column(BigInteger)
    """Last block fully indexed."""
    block_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Its hash when indexed; a different hash on the chain now means a reorg."""


# The Core tables, for bulk statements (the indexer's hot path uses no ORM objects).
records = cast(Table, Record.__table__)
record_data = cast(Table, RecordData.__table__)
record_nice_classes = cast(Table, RecordNiceClass.__table__)
record_locarno_classes = cast(Table, RecordLocarnoClass.__table__)
events = cast(Table, Event.__table__)
event_flags = cast(Table, EventFlag.__table__)
quarantined_events = cast(Table, QuarantinedEvent.__table__)
record_links = cast(Table, RecordLinkRow.__table__)
record_vienna_codes = cast(Table, RecordViennaCode.__table__)

MAX_LINKS_KEPT: Final = 100
"""Links kept per event: a document is untrusted input, and no event names more."""


def link_rows(
    entry_hash: bytes,
    source_key: str,
    seq: int,
    event_code: str,
    block_number: int,
    document: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The ``record_links`` rows of one event's (untrusted, parsed) document: each entry of
    its ``links`` that has the shape the register-event schema gives — a relation, and a
    record key or an outside number of a storable length — with its date when it is an ISO
    date. Anything else is skipped (the indexer flags odd documents on its own)."""
    items = None if document is None else document.get("links")
    if not isinstance(items, list):
        return []
    rows = []
    for position, item in enumerate(items[:MAX_LINKS_KEPT]):
        if not isinstance(item, dict):
            continue
        relation, target, number = (
            item.get("relation"),
            item.get("record_key"),
            item.get("external_number"),
        )
        if not isinstance(relation, str) or not 0 < len(relation) <= 32:
            continue
        target = target if isinstance(target, str) and 0 < len(target) <= 64 else None
        number = number if isinstance(number, str) and 0 < len(number) <= 100 else None
        if target is None and number is None:
            continue
        raw_date = item.get("link_date")
        try:
            when = datetime.date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
        except ValueError:
            when = None
        rows.append(
            {
                "entry_hash": entry_hash,
                "position": position,
                "source_key": source_key,
                "seq": seq,
                "event_code": event_code,
                "relation": storable_text(relation),
                "target_key": None if target is None else storable_text(target),
                "external_number": None if number is None else storable_text(number),
                "link_date": when,
                "block_number": block_number,
            }
        )
    return rows


indexer_checkpoints = cast(Table, IndexerCheckpoint.__table__)

__all__ = [
    "Event",
    "EventFlag",
    "IndexerCheckpoint",
    "QuarantinedEvent",
    "Record",
    "RecordData",
    "RecordLinkRow",
    "RecordLocarnoClass",
    "RecordNiceClass",
    "RecordViennaCode",
    "event_flags",
    "events",
    "indexer_checkpoints",
    "link_rows",
    "quarantined_events",
    "record_data",
    "record_links",
    "record_locarno_classes",
    "record_nice_classes",
    "record_vienna_codes",
    "records",
]
