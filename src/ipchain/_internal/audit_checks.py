"""The audit's comparison of stored events with anchored entries, shared by the full audit
(:func:`ipchain.audit.audit`) and the per-record check behind ``GET .../verify``.

A :class:`Reconciler` is fed the chain's entries and the database's ``events`` rows in windows
(block ranges for the full audit, one record for the API). It pairs rows with entries by entry
hash, compares every stored column with what the indexer would have written for the entry,
re-hashes each stored document (SHA-256, over its RFC 8785 form when the stored bytes are not
the anchored ones) and recomputes each stored entry hash from the stored fields; it also walks
each record's stored hash chain in stored order. Rows left unpaired are paired at the end by
(record, seq), then by chain position, so a row whose entry hash was altered is reported as
such rather than as one missing and one foreign event. docs/audit.md lists every check.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import String, type_coerce

from ipchain.db.register import events

# The indexer's own reading of a published document, so the audit expects exactly the row the
# indexer writes for an entry (a clean database must audit clean, whatever that reading is).
from ipchain.db.register_index import _document_text, _interpretable, event_row, parse_document
from ipchain.encoding import (
    ZERO_HASH,
    canonical_bytes_from_json,
    entry_hash,
    event_code_bytes8,
    record_id,
)
from ipchain.errors import IpchainError
from ipchain.ledger import AnchoredEntry


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
    # Dates are read as the database holds them: a value an attacker made invalid must be
    # reported, not crash SQLAlchemy's date conversion.
    type_coerce(column, String).label(column.name)
    if column.name in ("event_date", "effective_date")
    else column
    for column in events.columns
)
"""Every column of ``events``, in table order, for the audit's selects."""

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


def expected_row(entry: AnchoredEntry, timestamp: int) -> dict[str, Any]:
    """The ``events`` row the indexer writes for an anchored entry in a block of this time."""
    text = _document_text(entry.document)
    parsed = parse_document(text)
    document = parsed if _interpretable(parsed, entry.record_key, entry.event_code) else None
    return event_row(entry, text, document, timestamp)


@functools.lru_cache(maxsize=65_536)
def _record_id(record_key: str) -> bytes:
    return record_id(record_key)


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


class _RecordState:
    """What the reconciler keeps per record: the anchored head, and the stored hash chain
    walked so far (with rows that arrived ahead of their turn)."""

    __slots__ = ("chain_head", "chain_seq", "stash", "stored_head", "stored_seq")

    def __init__(self) -> None:
        self.chain_seq = 0
        self.chain_head = ZERO_HASH
        self.stored_seq = 0
        self.stored_head = ZERO_HASH
        self.stash: dict[int, tuple[bytes, bytes]] | None = None


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
        self.records: dict[str, _RecordState] = {}
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
        self.failed_events: set[tuple[str, int | None]] = set()
        """(record, seq) of every event with a discrepancy (for per-event verdicts)."""

    # ------------------------------------------------------------------ feeding

    def add(self, expected: Iterable[dict[str, Any]], stored: Iterable[Any]) -> None:
        """Pair one window's anchored entries (expected rows, chain order) and stored rows."""
        by_hash: dict[bytes, dict[str, Any]] = {}
        for row in expected:
            self.chain_events += 1
            state = self._state(row["record_key"])
            state.chain_seq = row["seq"]
            state.chain_head = row["entry_hash"]
            by_hash[row["entry_hash"]] = row
        pending_chain = self._pending_chain
        for row in stored:
            self.stored_events += 1
            self._walk_stored_chain(row)
            stored_hash = _normalised(row.entry_hash)
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

    def _state(self, record_key: str) -> _RecordState:
        state = self.records.get(record_key)
        if state is None:
            state = self.records[record_key] = _RecordState()
        return state

    def _emit(self, discrepancy: Discrepancy) -> None:
        self.failed_events.add((discrepancy.record_key, discrepancy.seq))
        self._report(discrepancy)

    # ------------------------------------------------------------------ one pair

    def compare(self, anchored: Mapping[str, Any], stored: Any) -> None:
        """Report every difference between a stored row and the row expected for its entry."""
        self.matched += 1
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

    # ------------------------------------------------------------------ stored hash chains

    def _walk_stored_chain(self, row: Any) -> None:
        """Follow the record's stored hash chain in stored ``seq`` order, whatever order rows
        arrive in: rows ahead of their turn wait in the record's stash."""
        state = self._state(row.record_key)
        link = (_normalised(row.entry_hash), _normalised(row.prev_entry_hash))
        seq = row.seq
        if not isinstance(seq, int) or seq <= state.stored_seq:
            self._emit(
                Discrepancy(
                    row.record_key,
                    seq if isinstance(seq, int) else None,
                    link[0] if isinstance(link[0], bytes) else None,
                    DiscrepancyKind.CHAIN_BROKEN,
                    f"stored seq {_shown(seq)} is not a position after event {state.stored_seq}",
                    "seq",
                )
            )
            return
        if seq != state.stored_seq + 1:
            if state.stash is None:
                state.stash = {}
            state.stash[seq] = link
            return
        self._link(row.record_key, state, seq, link)
        while state.stash and state.stored_seq + 1 in state.stash:
            self._link(
                row.record_key, state, state.stored_seq + 1, state.stash.pop(state.stored_seq + 1)
            )

    def _link(
        self, record_key: str, state: _RecordState, seq: int, link: tuple[bytes, bytes]
    ) -> None:
        stored_hash, previous = link
        if previous != state.stored_head:
            before = (
                "zeros (it is the first event)"
                if seq == 1
                else f"{_hex(state.stored_head)} (event {seq - 1} as stored)"
            )
            self._emit(
                Discrepancy(
                    record_key,
                    seq,
                    stored_hash if isinstance(stored_hash, bytes) else None,
                    DiscrepancyKind.CHAIN_BROKEN,
                    f"stored event {seq} links to {_shown(previous)}, should link to {before}",
                    "prev_entry_hash",
                )
            )
        state.stored_seq = seq
        state.stored_head = stored_hash

    def _close_stored_chains(self) -> None:
        """Report the gaps left in stored histories (events the stash still waits for)."""
        for record_key, state in self.records.items():
            while state.stash:
                following = min(state.stash)
                stored_hash, previous = state.stash[following]
                gap = (
                    f"event {state.stored_seq + 1}"
                    if following == state.stored_seq + 2
                    else f"events {state.stored_seq + 1} to {following - 1}"
                )
                self._emit(
                    Discrepancy(
                        record_key,
                        following,
                        stored_hash if isinstance(stored_hash, bytes) else None,
                        DiscrepancyKind.CHAIN_BROKEN,
                        f"the stored history lacks {gap}: stored event {following} links to "
                        f"{_shown(previous)}, which no stored event precedes",
                        "seq",
                    )
                )
                # Resume the walk after the gap (its break is reported once).
                state.stored_seq = following - 1
                state.stored_head = previous
                while state.stored_seq + 1 in state.stash:
                    self._link(
                        record_key,
                        state,
                        state.stored_seq + 1,
                        state.stash.pop(state.stored_seq + 1),
                    )

    # ------------------------------------------------------------------ the end

    def finish(self) -> None:
        """Pair what is left by (record, seq), then by chain position; report the rest as
        missing or not on chain, and the stored histories' gaps."""
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
        self._close_stored_chains()

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

    # ------------------------------------------------------------------ records

    def check_record_row(self, record_key: str, head: object, event_count: object) -> None:
        """Compare a stored ``records`` row with the record's anchored head."""
        state = self.records.get(record_key)
        if state is None or state.chain_seq == 0:
            self._emit(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.NOT_ON_CHAIN,
                    "the records table has this record, no event of it is anchored",
                    "record_key",
                )
            )
            return
        head = _normalised(head)
        if head != state.chain_head:
            self._emit(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.FIELD_MISMATCH,
                    f"records row has head entry hash {_shown(head)}, the anchored head is "
                    f"{_hex(state.chain_head)}",
                    "head_entry_hash",
                )
            )
        if event_count != state.chain_seq:
            self._emit(
                Discrepancy(
                    record_key,
                    None,
                    None,
                    DiscrepancyKind.FIELD_MISMATCH,
                    f"records row counts {_shown(event_count)} events, {state.chain_seq} are "
                    "anchored",
                    "event_count",
                )
            )

    def missing_record_rows(self, seen: set[str]) -> None:
        """Report anchored records that have no ``records`` row (``seen``: those that do)."""
        for record_key, state in self.records.items():
            if state.chain_seq and record_key not in seen:
                self._emit(
                    Discrepancy(
                        record_key,
                        None,
                        None,
                        DiscrepancyKind.MISSING_IN_DB,
                        f"{state.chain_seq} events are anchored, the records table lacks the "
                        "record",
                        "record_key",
                    )
                )


def recompute_entry_hash(stored: Any) -> bytes | None:
    """The entry hash of a stored row's fields, as RegisterLedger computes it (None when the
    stored values cannot be hashed at all: not a seq, not an event code...)."""
    try:
        return entry_hash(
            _record_id(stored.record_key),
            stored.seq,
            event_code_bytes8(stored.event_code),
            _normalised(stored.document_hash),
            _normalised(stored.prev_entry_hash),
            stored.office,
        )
    except (IpchainError, TypeError, ValueError, AttributeError):
        return None
