"""The audit's checks, shared by the full audit (:func:`ipchain.verification.audit.audit`) and the check of
one record behind ``GET .../verify``.

* :class:`Reconciler` pairs the database's ``events`` rows with the chain's entries by entry
  hash (fed in windows, in any grouping), compares every stored column with what the indexer
  would have written for the entry, re-hashes each stored document (SHA-256 of its bytes, or of
  its RFC 8785 form when those are not the anchored bytes) and recomputes each stored entry
  hash from the stored fields. Rows left unpaired are paired at the end by (record, seq), then
  by chain position, so a row whose entry hash was altered is reported as such rather than as
  one missing event and one foreign event.
* :func:`walk_stored_chains` follows each record's stored events in stored order: seq from 1,
  each ``prev_entry_hash`` the entry hash before it.
* :func:`check_record_rows` compares the ``records`` rows with the anchored heads.

docs/audit.md lists every check.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import operator
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import String, cast

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import events
from ipchain.encoding import (
    ZERO_HASH,
    canonical_bytes_from_json,
    entry_hash,
    event_code_bytes8,
    record_id,
)
from ipchain.errors import IpchainError

# The indexer's own reading of a published document, so the audit expects exactly the row the
# indexer writes for an entry (a clean database must audit clean, whatever that reading is).
from ipchain.register.indexing import _document_text, _interpretable, event_row, parse_document


class DiscrepancyKind(StrEnum):
    """What is wrong with the database, for one event or record."""

    DOCUMENT_TAMPERED = "document-tampered"
    """The stored document does not hash to the anchored document hash (or is missing)."""
    HASH_MISMATCH = "hash-mismatch"
    """A stored hash (document hash, entry hash) is neither the anchored one nor what the
    stored data hashes to."""
    FIELD_MISMATCH = "field-mismatch"
    """A stored field differs from the anchored entry (``field`` names it)."""
    MISSING_IN_DB = "missing-in-db"
    """Anchored on chain, absent from the database."""
    NOT_ON_CHAIN = "not-on-chain"
    """In the database, not anchored on chain."""
    CHAIN_BROKEN = "chain-broken"
    """The record's stored events, in stored order, do not form a hash chain from zeros."""
    OUT_OF_ORDER = "out-of-order"
    """Stored at another position (``seq``) of its record's history than it is anchored at."""
    DUPLICATE = "duplicate"
    """A second stored copy of an anchored event (same record and document)."""


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One difference between the database and the chain."""

    record_key: str
    """The record concerned (as anchored, when the event is on chain)."""
    seq: int | None
    """The event's position in the record's history (as anchored when on chain, as stored
    otherwise); None for a discrepancy about the record as a whole."""
    entry_hash: bytes | None
    """The event's entry hash (as anchored when on chain, as stored otherwise)."""
    kind: DiscrepancyKind
    """What is wrong."""
    detail: str
    """Why, in one line, with the stored and the anchored values."""
    field: str | None = None
    """The stored column concerned (``event_code``, ``document_hash``...), when there is one."""

    def to_json(self) -> dict[str, Any]:
        """The report's JSON form of the discrepancy (docs/audit.md)."""
        return {
            "record_key": self.record_key,
            "seq": self.seq,
            "entry_hash": None if self.entry_hash is None else "0x" + self.entry_hash.hex(),
            "kind": self.kind.value,
            "field": self.field,
            "detail": self.detail,
        }


STORED_COLUMNS: Final = tuple(
    # Dates are read as text, the indexer's form (YYYY-MM-DD): a value an attacker made
    # invalid (SQLite keeps anything) must be reported, not crash a date conversion.
    cast(column, String).label(column.name)
    if column.name in ("event_date", "effective_date")
    else column
    for column in events.columns
)
"""Every column of ``events``, in table order, for the audit's selects."""

_COLUMN_NAMES: Final = tuple(column.name for column in events.columns)
_expected_values: Final = operator.itemgetter(*_COLUMN_NAMES)
"""An expected row's values in the order of :data:`STORED_COLUMNS`."""

# Positions in a stored row: the hot paths index rows instead of looking names up.
(
    _ENTRY_HASH,
    _RECORD_KEY,
    _SEQ,
    _EVENT_CODE,
    _DOCUMENT,
    _DOCUMENT_HASH,
    _PREV_ENTRY_HASH,
    _OFFICE,
) = (
    _COLUMN_NAMES.index(name)
    for name in (
        "entry_hash",
        "record_key",
        "seq",
        "event_code",
        "document",
        "document_hash",
        "prev_entry_hash",
        "office",
    )
)

StoredRow = namedtuple("StoredRow", [column.name for column in events.columns])  # type: ignore[misc]
"""A stored ``events`` row detached from its database result (to cross process bounds)."""

CHAIN_COLUMNS: Final = (
    events.c.record_key,
    events.c.seq,
    events.c.entry_hash,
    events.c.prev_entry_hash,
)
"""What :func:`walk_stored_chains` reads, ordered by record and seq."""

_HASHED_FIELDS: Final = frozenset(
    ("record_key", "seq", "event_code", "document_hash", "prev_entry_hash", "office", "entry_hash")
)
# Columns compared one to one with the entry, as field mismatches (the others have kinds of
# their own: document, document_hash, entry_hash, seq).
_PLAIN_FIELDS: Final = tuple(
    column.name
    for column in events.columns
    if column.name not in ("document", "document_hash", "entry_hash", "seq")
)
_MAX_PENDING: Final = 100_000
"""Anchored entries kept waiting for a stored row seen later; beyond, they are reported as
missing at once (bounds memory when a database lost most of its rows)."""


def expected_row(entry: AnchoredEvent, timestamp: int) -> dict[str, Any]:
    """The ``events`` row the indexer writes for an anchored entry in a block of this time."""
    text = _document_text(entry.document)
    parsed = parse_document(text)
    document = parsed if _interpretable(parsed, entry.record_key, entry.event_code) else None
    return event_row(entry, text, document, timestamp)


@functools.lru_cache(maxsize=65_536)
def _record_id(record_key: str) -> bytes:
    return record_id(record_key)


@functools.lru_cache(maxsize=1_024)
def _event_code_bytes8(code: str) -> bytes:
    return event_code_bytes8(code)


def _hex(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


def _shown(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "null" if value is None else repr(value)


def _normalised(value: Any) -> Any:
    """A stored value in the indexer's representation (dates as ``YYYY-MM-DD`` text)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def document_digest(text: object) -> bytes | None:
    """SHA-256 of a stored document's bytes, and of its RFC 8785 form when those differ; None
    when it is not text at all."""
    if isinstance(text, bytes):
        raw = text
    elif isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not what any chain published
            return None
    else:
        return None
    return hashlib.sha256(raw).digest()


def _canonical_digest(text: object) -> bytes | None:
    """SHA-256 of the RFC 8785 form of a stored document (None when it is not JSON text)."""
    if not isinstance(text, str | bytes):
        return None
    try:
        return hashlib.sha256(canonical_bytes_from_json(text)).digest()
    except IpchainError:
        return None


class Reconciler:
    """Pairs stored rows with anchored entries and reports every difference to ``report``.

    Feed it with :meth:`add` (the anchored entries' expected rows, and stored rows, in any
    grouping: they are paired by entry hash across calls), then call :meth:`finish`.
    """

    def __init__(
        self,
        report: Callable[[Discrepancy], None],
        duplicate_of: Callable[[Any], int | None] | None = None,
    ) -> None:
        """``duplicate_of(row)`` gives the anchored seq of another stored event of the row's
        record with the same document hash, or None; it is asked only about the few rows no
        anchored entry accounts for."""
        self._report = report
        self._duplicate_of = duplicate_of
        self._pending_chain: dict[bytes, dict[str, Any]] = {}
        self._pending_stored: dict[bytes, Any] = {}
        self.chain_heads: dict[str, tuple[int, bytes]] = {}
        """Each record's last anchored (seq, entry hash) among the entries fed."""
        self.chain_events = 0
        """Anchored entries fed."""
        self.stored_events = 0
        """Stored rows fed."""
        self.matched = 0
        """Stored rows paired with an anchored entry."""
        self.verified = 0
        """Paired rows without any difference."""
        self.rehashed = 0
        """Stored documents re-hashed."""

    # ------------------------------------------------------------------ feeding

    def add(self, expected: Iterable[dict[str, Any]], stored: Iterable[Any]) -> None:
        """Pair one window's anchored entries (expected rows, chain order) and stored rows."""
        by_hash: dict[bytes, dict[str, Any]] = {}
        heads = self.chain_heads
        for row in expected:
            self.chain_events += 1
            heads[row["record_key"]] = (row["seq"], row["entry_hash"])
            by_hash[row["entry_hash"]] = row
        pending_chain = self._pending_chain
        for row in stored:
            self.stored_events += 1
            stored_hash = row[_ENTRY_HASH]
            anchored = by_hash.pop(stored_hash, None)
            if anchored is None and pending_chain:
                anchored = pending_chain.pop(stored_hash, None)
            if anchored is None:
                self._pending_stored[stored_hash] = row
            else:
                self.compare(anchored, row)
        for anchored_hash, anchored in by_hash.items():
            row = self._pending_stored.pop(anchored_hash, None)
            if row is not None:
                self.compare(anchored, row)
            elif len(pending_chain) < _MAX_PENDING:
                pending_chain[anchored_hash] = anchored
            else:
                self._missing(anchored)

    def _emit(self, discrepancy: Discrepancy) -> None:
        self._report(discrepancy)

    def leftovers(self) -> tuple[list[dict[str, Any]], list[Any]]:
        """Take the entries and rows not paired so far (to pair them with another window's,
        e.g. a worker process's): expected rows, and stored rows as :data:`StoredRow`."""
        chain = list(self._pending_chain.values())
        stored = [StoredRow(*row) for row in self._pending_stored.values()]
        self._pending_chain, self._pending_stored = {}, {}
        return chain, stored

    # ------------------------------------------------------------------ one pair

    def compare(self, anchored: Mapping[str, Any], stored: Any) -> None:
        """Report every difference between a stored row and the row expected for its entry."""
        self.matched += 1
        # Almost every row is exactly the expected one: one tuple comparison, then the values
        # re-hashed. Only a row that differs goes through the column-by-column explanation.
        if stored == _expected_values(anchored) and _rehashes(stored):
            self.verified += 1
            self.rehashed += stored[_DOCUMENT] is not None
            return
        key, seq, anchored_hash = anchored["record_key"], anchored["seq"], anchored["entry_hash"]
        found: list[Discrepancy] = []

        def differs(kind: DiscrepancyKind, detail: str, field: str | None = None) -> None:
            found.append(Discrepancy(key, seq, anchored_hash, kind, detail, field))

        stored_document = stored.document
        anchored_document_hash = anchored["document_hash"]
        digest = None
        if stored_document is not None:
            self.rehashed += 1
            digest = document_digest(stored_document)
            if digest != anchored_document_hash:
                # Not the anchored bytes; the same JSON in another form still proves the data.
                digest = _canonical_digest(stored_document) or digest
                if digest != anchored_document_hash:
                    differs(
                        DiscrepancyKind.DOCUMENT_TAMPERED,
                        f"stored document hashes to {_shown(digest)} (RFC 8785 + SHA-256), "
                        f"anchored document hash is {_hex(anchored_document_hash)}",
                        "document",
                    )
        elif anchored["document"] is not None:
            differs(
                DiscrepancyKind.DOCUMENT_TAMPERED,
                "the document published with the entry is missing from the database",
                "document",
            )
        stored_document_hash = _normalised(stored.document_hash)
        if stored_document_hash != anchored_document_hash:
            rehashed = "" if digest is None else f", the stored document hashes to {_hex(digest)}"
            differs(
                DiscrepancyKind.HASH_MISMATCH,
                f"stored document hash {_shown(stored_document_hash)} is not the anchored "
                f"{_hex(anchored_document_hash)}{rehashed}",
                "document_hash",
            )
        stored_entry_hash = _normalised(stored.entry_hash)
        if stored_entry_hash != anchored_hash:
            differs(
                DiscrepancyKind.HASH_MISMATCH,
                f"stored entry hash {_shown(stored_entry_hash)} is not the anchored "
                f"{_hex(anchored_hash)}",
                "entry_hash",
            )
        if stored.seq != seq:
            differs(
                DiscrepancyKind.OUT_OF_ORDER,
                f"stored as event {_shown(stored.seq)} of the record, anchored as event {seq}",
                "seq",
            )
        for name in _PLAIN_FIELDS:
            value = _normalised(getattr(stored, name))
            if value != anchored[name]:
                differs(
                    DiscrepancyKind.FIELD_MISMATCH,
                    f"stored {name} {_shown(value)}, anchored {_shown(anchored[name])}",
                    name,
                )
        # The stored fields must also hash to the stored entry hash: re-hashing the values,
        # not only comparing the roots. A difference already reported above explains it.
        if not any(item.field in _HASHED_FIELDS for item in found):
            recomputed = recompute_entry_hash(stored)
            if recomputed != stored_entry_hash:
                differs(
                    DiscrepancyKind.HASH_MISMATCH,
                    f"the stored fields hash to {_shown(recomputed)}, not to the stored entry "
                    f"hash {_shown(stored_entry_hash)}",
                    "entry_hash",
                )
        if found:
            for discrepancy in found:
                self._emit(discrepancy)
        else:
            self.verified += 1

    # ------------------------------------------------------------------ the end

    def finish(self) -> None:
        """Pair what is left by (record, seq), then by chain position; report the rest as
        missing or not on chain."""
        leftovers = list(self._pending_stored.values())
        self._pending_stored = {}
        unpaired_chain = dict(self._pending_chain)
        self._pending_chain = {}
        by_position = {(row["record_key"], row["seq"]): h for h, row in unpaired_chain.items()}
        by_place = {(row["block_number"], row["log_index"]): h for h, row in unpaired_chain.items()}
        still_stored = []
        for row in leftovers:
            anchored_hash = by_position.get((row.record_key, row.seq)) or by_place.get(
                (row.block_number, row.log_index)
            )
            anchored = unpaired_chain.pop(anchored_hash, None) if anchored_hash else None
            if anchored is None:
                still_stored.append(row)
            else:
                self.compare(anchored, row)
        for anchored in unpaired_chain.values():
            self._missing(anchored)
        for row in still_stored:
            self._foreign(row)

    def _missing(self, anchored: Mapping[str, Any]) -> None:
        self._emit(
            Discrepancy(
                anchored["record_key"],
                anchored["seq"],
                anchored["entry_hash"],
                DiscrepancyKind.MISSING_IN_DB,
                f"anchored in block {anchored['block_number']} (event code "
                f"{anchored['event_code']}), absent from the database",
            )
        )

    def _foreign(self, row: Any) -> None:
        """A stored row no anchored entry accounts for: a copy of an anchored event of its
        record (same document), or an event that was never anchored."""
        stored_hash = _normalised(row.entry_hash)
        seq = row.seq if isinstance(row.seq, int) else None
        copy_of = None if self._duplicate_of is None else self._duplicate_of(row)
        if copy_of is not None:
            kind = DiscrepancyKind.DUPLICATE
            detail = (
                f"stored event {_shown(row.seq)} repeats anchored event {copy_of} of the record "
                "(same document); it is not anchored itself"
            )
        else:
            kind = DiscrepancyKind.NOT_ON_CHAIN
            detail = (
                f"stored event {_shown(row.seq)} (entry hash {_shown(stored_hash)}, block "
                f"{_shown(row.block_number)}) is not anchored on chain"
            )
        self._emit(
            Discrepancy(
                str(row.record_key),
                seq,
                stored_hash if isinstance(stored_hash, bytes) else None,
                kind,
                detail,
            )
        )


def _rehashes(stored: Any) -> bool:
    """Whether a stored row's document hashes to its document hash and its fields to its
    entry hash."""
    document = stored[_DOCUMENT]
    if document is not None and document_digest(document) != stored[_DOCUMENT_HASH]:
        return False
    return bool(recompute_entry_hash(stored) == stored[_ENTRY_HASH])


def recompute_entry_hash(stored: Any) -> bytes | None:
    """The entry hash of a stored row's fields, as RegisterLedger computes it (None when the
    stored values cannot be hashed at all: not a seq, not an event code...)."""
    try:
        return entry_hash(
            _record_id(stored[_RECORD_KEY]),
            stored[_SEQ],
            _event_code_bytes8(stored[_EVENT_CODE]),
            stored[_DOCUMENT_HASH],
            stored[_PREV_ENTRY_HASH],
            stored[_OFFICE],
        )
    except (IpchainError, TypeError, ValueError, AttributeError):
        return None


# ------------------------------------------------------------------------------ hash chains


def walk_stored_chains(
    rows: Iterable[tuple[Any, Any, Any, Any]], report: Callable[[Discrepancy], None]
) -> None:
    """Follow each record's stored hash chain: ``rows`` are (record key, seq, entry hash,
    previous entry hash) ordered by record and seq. Each record's events must be numbered from
    1 without gaps, the first linking to zeros and each other to the entry hash before it."""
    record_key: Any = None
    last_seq, last_hash = 0, ZERO_HASH
    for key, seq, stored_hash, previous in rows:
        if key != record_key:
            record_key, last_seq, last_hash = key, 0, ZERO_HASH
        stored_hash, previous = _normalised(stored_hash), _normalised(previous)
        if seq == last_seq + 1 and previous == last_hash:
            last_seq, last_hash = seq, stored_hash
            continue
        if not isinstance(seq, int) or seq <= last_seq:
            detail = f"stored seq {_shown(seq)} does not follow event {last_seq}"
            field = "seq"
        elif seq != last_seq + 1:
            gap = (
                f"event {last_seq + 1}"
                if seq == last_seq + 2
                else f"events {last_seq + 1} to {seq - 1}"
            )
            detail = f"the stored history lacks {gap}: stored event {seq} has no predecessor"
            field = "seq"
        else:
            should = (
                "zeros (it is the first event)"
                if seq == 1
                else f"{_hex(last_hash)} (event {last_seq} as stored)"
            )
            detail = f"stored event {seq} links to {_shown(previous)}, should link to {should}"
            field = "prev_entry_hash"
        report(
            Discrepancy(
                str(key),
                seq if isinstance(seq, int) else None,
                stored_hash if isinstance(stored_hash, bytes) else None,
                DiscrepancyKind.CHAIN_BROKEN,
                detail,
                field,
            )
        )
        if isinstance(seq, int):  # walk on from here: each break is reported once
            last_seq, last_hash = seq, stored_hash


def check_record_rows(
    rows: Iterable[tuple[Any, Any, Any]],
    chain_heads: Mapping[str, tuple[int, bytes]],
    report: Callable[[Discrepancy], None],
) -> int:
    """Compare ``records`` rows (record key, head entry hash, event count) with the anchored
    heads; report anchored records without a row. Returns the number of rows."""
    seen: set[str] = set()
    for record_key, head, event_count in rows:
        seen.add(record_key)
        anchored = chain_heads.get(record_key)
        if anchored is None:
            report(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.NOT_ON_CHAIN,
                    "the records table has this record, no event of it is anchored",
                    "record_key",
                )
            )
            continue
        seq, anchored_head = anchored
        head = _normalised(head)
        if head != anchored_head:
            report(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.FIELD_MISMATCH,
                    f"records row has head entry hash {_shown(head)}, the anchored head is "
                    f"{_hex(anchored_head)}",
                    "head_entry_hash",
                )
            )
        if event_count != seq:
            report(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.FIELD_MISMATCH,
                    f"records row counts {_shown(event_count)} events, {seq} are anchored",
                    "event_count",
                )
            )
    for record_key, (seq, _head) in chain_heads.items():
        if record_key not in seen:
            report(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.MISSING_IN_DB,
                    f"{seq} events are anchored, the records table lacks the record",
                    "record_key",
                )
            )
    return len(seen)
