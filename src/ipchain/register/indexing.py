"""Writing the register tables from anchored entries: events in bulk, records re-derived.

:func:`store_entries` is the indexer's hot path: it turns a chunk's anchored entries into
``events`` rows and re-derives the ``records`` row (and its Nice and Locarno classes) of every
record it touches from that record's whole event history, with a handful of bulk statements
per chunk and no ORM objects. :func:`remove_above` undoes everything above a block after a
reorg.

Documents are read leniently. The chain accepted them (it checks only their SHA-256), and an
index must show what the chain holds: a document is interpreted when it is a JSON object of the
register-event schema whose record key and event code match its entry; each field the index
needs is taken when it has the expected shape and left empty otherwise. The status comes from
the domain's status machine in its lenient mode
(:func:`ipchain.register.history.derive_status` with ``strict=False``): the chain holds what
the office anchored, and the index shows it. The strict reading of documents
(:meth:`ipchain.register.models.RegisterEvent.from_document`) belongs to submission and
verification: at about 20 µs a document it would add a quarter to the indexer's CPU time per
event, and refuse what the index must show. For histories it accepts, the derivation here
gives the same status and record data (a test holds the two together).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ClauseElement, ColumnElement, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ipchain.contracts.register_ledger import AnchoredEvent, decode_event_recorded
from ipchain.db.indexer import HandlerRegistry, IndexedLog
from ipchain.db.register import (
    events,
    record_data,
    record_locarno_classes,
    record_nice_classes,
    records,
)
from ipchain.errors import ChainError
from ipchain.register.catalog import IpType, RecordKey
from ipchain.register.history import derive_status
from ipchain.register.models import SCHEMA

logger = logging.getLogger(__name__)

_KEYS_PER_STATEMENT: Final = 500
"""Record keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits."""

_LOCARNO: Final = re.compile(r"[0-9]{2}-[0-9]{2}")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NATIONAL_CODE_LENGTH: Final = 64


# --- reading documents -----------------------------------------------------------------------


def parse_document(raw: bytes | str | None) -> dict[str, Any] | None:
    """A published document as a JSON object, or None when there is none or it is not one."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _interpretable(document: Mapping[str, Any] | None, record_key: str, code: str) -> bool:
    return (
        document is not None
        and document.get("schema") == SCHEMA
        and document.get("record_key") == record_key
        and document.get("event_code") == code
    )


def _date(value: object) -> str | None:
    """A ``YYYY-MM-DD`` calendar date, as written (the form both databases take for a DATE)."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return None
        return value
    return None


def _text(value: object, max_length: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= max_length else None


# --- deriving a record from its history ------------------------------------------------------


@dataclass(slots=True)
class HistoryItem:
    """What derivation needs of one event."""

    seq: int
    entry_hash: bytes
    event_code: str
    block_number: int
    document: dict[str, Any] | None
    """The parsed document when it is interpretable for this entry, else None (also None for a
    stored event whose document carries no record data: derivation needs only that)."""


@dataclass(slots=True)
class DerivedRecord:
    """A ``records`` row with its data and class rows, derived from the record's history."""

    row: dict[str, Any]
    data: str | None = None
    nice_classes: list[int] = field(default_factory=list)
    locarno_classes: list[str] = field(default_factory=list)


def merge_record_data(documents: Iterable[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Record data merged over the history: each field an event establishes replaces the
    earlier value (as :meth:`ipchain.register.models.TrademarkData.merged_with` does field by
    field)."""
    merged: dict[str, Any] | None = None
    for document in documents:
        update = None if document is None else document.get("record_data")
        if isinstance(update, dict):
            merged = {**(merged or {}), **update}
    return merged


def _mark_text(ip_type: str, data: Mapping[str, Any]) -> str | None:
    if ip_type == IpType.TRADEMARK:
        return _text(data.get("mark_verbal_element_text"), 10_000)
    # A design has no verbal element; its product indications are what people search for.
    indications = data.get("product_indications")
    if not isinstance(indications, list):
        return None
    texts = [i["text"] for i in indications if isinstance(i, dict) and _text(i.get("text"), 10_000)]
    return " / ".join(texts) or None


def _nice_classes(data: Mapping[str, Any]) -> list[int]:
    classes = data.get("nice_classes")
    if not isinstance(classes, list):
        return []
    numbers = {
        item["class_number"]
        for item in classes
        if isinstance(item, dict)
        and type(item.get("class_number")) is int
        and 1 <= item["class_number"] <= 45
    }
    return sorted(numbers)


def _locarno_classes(data: Mapping[str, Any]) -> list[str]:
    classes = data.get("locarno_classes")
    if not isinstance(classes, list):
        return []
    return sorted({c for c in classes if isinstance(c, str) and _LOCARNO.fullmatch(c)})


@functools.lru_cache(maxsize=65_536)
def _st13(record_key: str) -> str | None:
    office, ip_type, number = record_key[:2], record_key[3:5], record_key[6:]
    try:
        return RecordKey(office, ip_type, number).st13()  # type: ignore[arg-type]
    except ValueError:  # a key the contract accepted but that is not normalised
        return None


def derive_record(record_key: str, history: Sequence[HistoryItem]) -> DerivedRecord:
    """The ``records`` row of a record from its whole history, ordered by ``seq``."""
    head = history[-1]
    office, ip_type, number = record_key[:2], record_key[3:5], record_key[6:]
    status = derive_status((item.event_code for item in history), strict=False)
    data = merge_record_data(item.document for item in history)
    mark_text = None if data is None else _mark_text(ip_type, data)
    row = {
        "record_key": record_key,
        "office": office,
        "ip_type": ip_type,
        "application_number": number,
        "st13": _st13(record_key),
        "status": None if status is None else status.value,
        "mark_text": mark_text,
        "mark_text_folded": None if mark_text is None else mark_text.casefold(),
        "filing_date": None if data is None else _date(data.get("application_date")),
        "registration_date": None if data is None else _date(data.get("registration_date")),
        "expiry_date": None if data is None else _date(data.get("expiry_date")),
        "head_entry_hash": head.entry_hash,
        "event_count": head.seq,
        "updated_block": head.block_number,
    }
    return DerivedRecord(
        row=row,
        data=None if data is None else json.dumps(data, ensure_ascii=False),
        nice_classes=[] if data is None else _nice_classes(data),
        locarno_classes=[] if data is None else _locarno_classes(data),
    )


# --- writing ---------------------------------------------------------------------------------


def _insert(session: Session, table: Table) -> Any:
    """The dialect's INSERT, which has ``ON CONFLICT`` clauses."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def _execute_many(
    session: Session, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``statement`` once per row straight through the database driver.

    SQLAlchemy's per-row parameter processing was a third of the indexer's write time; the
    rows here are already in the driver's types (bytes, int, str, ``YYYY-MM-DD`` dates), so
    the statement is compiled once, with named parameters, and handed to ``executemany``.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        dialect = sqlite.dialect(paramstyle="named")
    sql = str(statement.compile(dialect=dialect))
    session.connection().exec_driver_sql(sql, list(rows))


def _batches(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        yield keys[start : start + _KEYS_PER_STATEMENT]


def _document_text(raw: bytes) -> str | None:
    """Published bytes as text, or None when there are none or they are not UTF-8."""
    if not raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def event_row(
    entry: AnchoredEvent, text: str | None, document: dict[str, Any] | None, timestamp: int
) -> dict[str, Any]:
    """The ``events`` row of an anchored entry: ``text`` is its document as stored,
    ``document`` that text parsed when it is interpretable for this entry."""
    return {
        "entry_hash": entry.entry_hash,
        "record_key": entry.record_key,
        "seq": entry.seq,
        "event_code": entry.event_code,
        "national_code": None
        if document is None
        else _text(document.get("national_code"), _NATIONAL_CODE_LENGTH),
        "event_date": None if document is None else _date(document.get("event_date")),
        "effective_date": None if document is None else _date(document.get("effective_date")),
        "document": text,
        "document_hash": entry.document_hash,
        "prev_entry_hash": entry.prev_entry_hash,
        "office": entry.office,
        "signer": entry.signer,
        "block_number": entry.block_number,
        "block_hash": entry.block_hash,
        "transaction_hash": entry.transaction_hash,
        "log_index": entry.log_index,
        "block_timestamp": timestamp,
    }


def store_entries(
    session: Session, entries: Sequence[AnchoredEvent], timestamps: Mapping[int, int]
) -> None:
    """Write a chunk's entries (in chain order) and re-derive the records they touch.

    Idempotent: entries already stored (same entry hash) are left as they are, so a chunk
    indexed twice leaves the same rows. ``timestamps`` maps block numbers to block times.
    """
    if not entries:
        return
    new_items: dict[str, list[HistoryItem]] = {}
    event_rows = []
    for entry in entries:
        text = _document_text(entry.document)
        parsed = parse_document(text)
        document = parsed if _interpretable(parsed, entry.record_key, entry.event_code) else None
        event_rows.append(event_row(entry, text, document, timestamps[entry.block_number]))
        new_items.setdefault(entry.record_key, []).append(
            HistoryItem(entry.seq, entry.entry_hash, entry.event_code, entry.block_number, document)
        )
    first_block, last_block = entries[0].block_number, entries[-1].block_number
    # The rest of each record's history is in the database: everything outside this chunk's
    # blocks (rows inside them, if any, are these very entries indexed before).
    histories = _stored_histories(
        session, list(new_items), ~events.c.block_number.between(first_block, last_block)
    )
    derived = {}
    for record_key, items in new_items.items():
        history = {item.seq: item for item in histories.get(record_key, ())}
        history.update((item.seq, item) for item in items)
        derived[record_key] = derive_record(record_key, [history[s] for s in sorted(history)])
    _write_records(session, derived)
    _execute_many(session, _insert(session, events).on_conflict_do_nothing(), event_rows)


def _stored_histories(
    session: Session, record_keys: Sequence[str], condition: ColumnElement[bool] | None = None
) -> dict[str, list[HistoryItem]]:
    columns = (
        events.c.record_key,
        events.c.seq,
        events.c.entry_hash,
        events.c.event_code,
        events.c.block_number,
        events.c.document,
    )
    histories: dict[str, list[HistoryItem]] = {}
    for batch in _batches(record_keys):
        statement = select(*columns).where(events.c.record_key.in_(batch))
        if condition is not None:
            statement = statement.where(condition)
        for key, seq, entry_hash, code, block, text in session.execute(statement):
            document = None
            # Only record data matters to the derivation from stored events, and most events
            # carry none: a substring test spares parsing those again.
            if text is not None and '"record_data"' in text:
                parsed = parse_document(text)
                document = parsed if _interpretable(parsed, key, code) else None
            histories.setdefault(key, []).append(
                HistoryItem(seq, entry_hash, code, block, document)
            )
    return histories


def _write_records(session: Session, derived: Mapping[str, DerivedRecord]) -> None:
    if not derived:
        return
    upsert = _insert(session, records)
    upsert = upsert.on_conflict_do_update(
        index_elements=[records.c.record_key],
        set_={
            column.name: upsert.excluded[column.name]
            for column in records.columns
            if column.name != "record_key"
        },
    )
    _execute_many(session, upsert, [record.row for record in derived.values()])
    with_data = [
        {"record_key": key, "data": record.data}
        for key, record in derived.items()
        if record.data is not None
    ]
    data_upsert = _insert(session, record_data)
    data_upsert = data_upsert.on_conflict_do_update(
        index_elements=[record_data.c.record_key], set_={"data": data_upsert.excluded.data}
    )
    _execute_many(session, data_upsert, with_data)
    without_data = [key for key, record in derived.items() if record.data is None]
    for batch in _batches(without_data):
        session.execute(delete(record_data).where(record_data.c.record_key.in_(batch)))
    for batch in _batches(list(derived)):
        session.execute(
            delete(record_nice_classes).where(record_nice_classes.c.record_key.in_(batch))
        )
        session.execute(
            delete(record_locarno_classes).where(record_locarno_classes.c.record_key.in_(batch))
        )
    nice = [
        {"record_key": key, "nice_class": number}
        for key, record in derived.items()
        for number in record.nice_classes
    ]
    locarno = [
        {"record_key": key, "locarno_class": code}
        for key, record in derived.items()
        for code in record.locarno_classes
    ]
    _execute_many(session, record_nice_classes.insert(), nice)
    _execute_many(session, record_locarno_classes.insert(), locarno)


def remove_above(session: Session, block_number: int) -> None:
    """Remove every event above ``block_number`` (a reorg dropped them) and re-derive the
    records that had some; records left without events are removed."""
    affected = list(
        session.scalars(
            select(events.c.record_key).where(events.c.block_number > block_number).distinct()
        )
    )
    if not affected:
        return
    session.execute(delete(events).where(events.c.block_number > block_number))
    histories = _stored_histories(session, affected)
    for history in histories.values():
        history.sort(key=lambda item: item.seq)
    _write_records(
        session, {key: derive_record(key, history) for key, history in histories.items()}
    )
    emptied = [key for key in affected if key not in histories]
    for batch in _batches(emptied):
        session.execute(delete(records).where(records.c.record_key.in_(batch)))


# --- following the chain ---------------------------------------------------------------------


def index_register_events(session: Session, logs: Sequence[IndexedLog]) -> None:
    """The indexer's batch handler of ``EventRecorded``: decode each log, store the range."""
    entries: list[AnchoredEvent] = []
    for log in logs:
        try:
            entries.append(decode_event_recorded(log.log))
        except ChainError as error:
            # Another office wrote it; a genuine ledger never emits it, so nothing can show it.
            logger.warning("skipping an EventRecorded log: %s", error)
    store_entries(session, entries, {log.block.number: log.block.timestamp for log in logs})


def register_handlers(registry: HandlerRegistry | None = None) -> HandlerRegistry:
    """Follow RegisterLedger's ``EventRecorded`` into the register tables (in ``registry``, or
    a new one when None) and undo them after a reorg."""
    registry = registry if registry is not None else HandlerRegistry()
    registry.register_batch("RegisterLedger", "EventRecorded", index_register_events)
    registry.register_rollback(remove_above)
    return registry
