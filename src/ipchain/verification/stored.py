"""An office node's database as a claim about the chain.

Each ``events`` row claims one anchored event: every column of it, including the values the
indexer derives from the anchored document and block (dates, national code, anchoring time).
:func:`stored_claim` turns a row into a :class:`~ipchain.verification.compare.ClaimedEvent`;
:func:`expected_columns` gives the derived values an anchored event implies, exactly as the
indexer writes them (so a clean database checks clean, whatever that reading is);
:func:`check_record_rows` holds the ``records`` rows to the anchored heads.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from sqlalchemy import String, cast

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import events

# The indexer's own reading of a published document: the claim is held to exactly the row the
# indexer writes for an entry.
from ipchain.register.indexing import _document_text, _interpretable, event_row, parse_document
from ipchain.verification.compare import ClaimedEvent
from ipchain.verification.findings import Discrepancy, DiscrepancyKind

STORED_COLUMNS: Final = tuple(
    # Dates are read as text, the indexer's form (YYYY-MM-DD): a value an attacker made
    # invalid (SQLite keeps anything) must be reported, not crash a date conversion.
    cast(column, String).label(column.name)
    if column.name in ("event_date", "effective_date")
    else column
    for column in events.columns
)
"""Every column of ``events``, in table order, for the verifier's selects."""

DERIVED_COLUMNS: Final = ("national_code", "event_date", "effective_date", "block_timestamp")
"""Stored columns derived from the anchored document and block rather than from the entry."""


def _normalised(value: Any) -> Any:
    """A stored value in the indexer's representation (dates as text, bytes as bytes)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _document_bytes(text: Any) -> bytes | None:
    if text is None:
        return None
    if isinstance(text, bytes | memoryview):
        return bytes(text)
    # A lone surrogate cannot be what any chain published: its bytes will not hash right.
    return str(text).encode("utf-8", "surrogatepass")


def stored_claim(row: Any) -> ClaimedEvent:
    """What an ``events`` row (selected with :data:`STORED_COLUMNS`) claims: its document is
    ``document_bytes`` when the indexer kept it as bytes (it cannot be text), else the text."""
    raw = row.document_bytes
    return ClaimedEvent(
        record_key=str(row.record_key),
        document=_document_bytes(row.document if raw is None else raw),
        document_hash=_normalised(row.document_hash),
        seq=row.seq,
        entry_hash=_normalised(row.entry_hash),
        prev_entry_hash=_normalised(row.prev_entry_hash),
        event_code=row.event_code,
        office=row.office,
        signer=row.signer,
        block_number=row.block_number,
        block_hash=_normalised(row.block_hash),
        transaction_hash=_normalised(row.transaction_hash),
        log_index=row.log_index,
        columns={name: _normalised(getattr(row, name)) for name in DERIVED_COLUMNS},
    )


def expected_columns(
    timestamps: Mapping[int, int],
) -> Callable[[AnchoredEvent], Mapping[str, Any]]:
    """The derived columns the indexer writes for an anchored event (``timestamps``: block
    number → block time)."""

    def columns(event: AnchoredEvent) -> Mapping[str, Any]:
        text = _document_text(event.document)
        parsed = parse_document(text)
        document = parsed if _interpretable(parsed, event.record_key, event.event_code) else None
        return event_row(event, text, document, timestamps[event.block_number])

    return columns


def check_record_rows(
    rows: Iterable[tuple[Any, Any, Any]],
    chain_heads: Mapping[str, tuple[int, bytes]],
    report: Callable[[Discrepancy], None],
) -> int:
    """Compare ``records`` rows (record key, head entry hash, event count) with the anchored
    heads; report anchored records without a row. Returns the number of rows."""
    seen: set[str] = set()

    def differs(record_key: str, kind: DiscrepancyKind, detail: str, field: str) -> None:
        report(Discrepancy(record_key, None, None, kind, detail, field))

    for record_key, head, event_count in rows:
        seen.add(record_key)
        anchored = chain_heads.get(record_key)
        if anchored is None:
            differs(
                record_key,
                DiscrepancyKind.UNANCHORED,
                "the records table has this record, no event of it is anchored",
                "record_key",
            )
            continue
        seq, anchored_head = anchored
        head = _normalised(head)
        if head != anchored_head:
            shown = "0x" + head.hex() if isinstance(head, bytes) else repr(head)
            differs(
                record_key,
                DiscrepancyKind.FIELD_MISMATCH,
                f"records row has head entry hash {shown}, the anchored head is "
                f"0x{anchored_head.hex()}",
                "head_entry_hash",
            )
        if event_count != seq:
            differs(
                record_key,
                DiscrepancyKind.FIELD_MISMATCH,
                f"records row counts {event_count!r} events, {seq} are anchored",
                "event_count",
            )
    for record_key, (seq, _head) in chain_heads.items():
        if record_key not in seen:
            differs(
                record_key,
                DiscrepancyKind.MISSING,
                f"{seq} events are anchored, the records table lacks the record",
                "record_key",
            )
    return len(seen)


def chain_rows(rows: Iterable[Any]) -> list[tuple[Any, Any, Any, Any]]:
    """(record key, seq, entry hash, previous entry hash) of stored rows, for the hash-chain
    walk (:func:`~ipchain.verification.compare.check_hash_chain`)."""
    return [
        (row.record_key, row.seq, _normalised(row.entry_hash), _normalised(row.prev_entry_hash))
        for row in rows
    ]
