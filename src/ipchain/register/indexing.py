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

What the chain holds was written by someone else, and every node must index it without
stopping, whatever it is:

* each document is stored byte for byte — as text when its bytes are UTF-8 without NUL
  (``events.document``), otherwise as bytes (``events.document_bytes``) — and every other text
  column gets only values every database stores (:func:`ipchain.db.base.storable_text`);
* an entry that is odd but indexable is indexed and **flagged** (``event_flags``, see
  :data:`FLAGS`): an event code this node's catalogue does not know is indexed with its raw
  code (it may be newer), a record key with no ST.13 form, a document no ipchain node would
  anchor (not text, not JSON, not canonical, too large, unknown members, NUL characters), an
  event the status machine would refuse;
* an entry the index cannot hold is **quarantined** (:func:`ipchain.db.indexer.quarantine`):
  a log that is not a readable ``EventRecorded`` (a record key that is not UTF-8, an event code
  that is not ASCII), a record key or event code holding NUL, an entry whose rows the database
  refuses, and every later entry of a record with a quarantined one (a stored history never
  has a gap). Indexing goes on with the next entry and the other records.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import re
import threading
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ClauseElement, ColumnElement, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ipchain.contracts.register_ledger import AnchoredEvent, decode_event_recorded
from ipchain.db.base import describe_error, is_storage_fault, storable_text
from ipchain.db.indexer import HandlerRegistry, IndexedLog, quarantine
from ipchain.db.register import (
    event_flags,
    events,
    link_rows,
    quarantined_events,
    record_data,
    record_links,
    record_locarno_classes,
    record_nice_classes,
    record_vienna_codes,
    records,
)
from ipchain.encoding import MAX_JSON_DEPTH, canonical_bytes, parse_json_strict
from ipchain.errors import ChainError, InvalidInputError, StateTransitionError
from ipchain.register.catalog import IpType, RecordKey, RecordStatus, event_catalog
from ipchain.register.history import EarlierStatuses, next_status
from ipchain.register.models import SCHEMA, DesignData, RegisterEvent, TrademarkData
from ipchain.register.submissions import MAX_DOCUMENT_BYTES
from ipchain.register.submitter import recheck_anchored_above, recheck_unindexed_in

logger = logging.getLogger(__name__)

_KEYS_PER_STATEMENT: Final = 500
"""Record keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits."""

_LOCARNO: Final = re.compile(r"[0-9]{2}-[0-9]{2}")
_VIENNA: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NATIONAL_CODE_LENGTH: Final = 64
_DETAIL_LENGTH: Final = 500

FLAGS: Final[Mapping[str, str]] = {
    "unknown-event-code": "the event code is not in this node's catalogue (it may be newer): "
    "indexed with its raw code, it changes no status",
    "record-key-not-st13": "the record key's application number has no WIPO ST.13 form",
    "document-not-text": "the document is not UTF-8 text without NUL: stored as bytes only",
    "document-unreadable": "the document is not a JSON object (or nests too deeply to read)",
    "document-mismatch": "the document is not a register event of this entry's record and "
    "code: nothing is read from it",
    "document-not-canonical": "the document is not RFC 8785 canonical JSON",
    "document-oversized": f"the document is larger than the {MAX_DOCUMENT_BYTES} bytes an "
    "ipchain node anchors",
    "unknown-fields": "the document has members the register-event schema does not define",
    "nul-character": "a value of the document holds U+0000; text columns get U+FFFD instead",
    "status-transition": "the status machine would refuse the event after the record's history "
    "(applied all the same, as the lenient reading does)",
}
"""Every flag the register indexer sets on an event, and what it means."""

_EVENT_MEMBERS: Final = frozenset({"schema", *(f.name for f in dataclasses.fields(RegisterEvent))})
_DATA_MEMBERS: Final = {
    IpType.TRADEMARK.value: frozenset(f.name for f in dataclasses.fields(TrademarkData)),
    IpType.DESIGN.value: frozenset(f.name for f in dataclasses.fields(DesignData)),
}


# --- reading documents -----------------------------------------------------------------------


def parse_document(raw: bytes | str | None) -> dict[str, Any] | None:
    """A published document as a JSON object, or None when there is none or it is not one
    (not UTF-8, not JSON, or nested too deeply to read safely)."""
    if not raw:
        return None
    try:
        value = _load_json(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and InvalidInputError included
        return None
    return value if isinstance(value, dict) else None


def _load_json(raw: bytes | str, numbers: _Numbers | None = None) -> Any:
    """JSON text read leniently (as ``json.loads``), but never deeper than MAX_JSON_DEPTH:
    py_ecc raises Python's recursion limit so far that a deeply nested document would crash
    the C decoder and the process with it. A text with that many brackets at all is read by
    the strict parser, which checks the depth first. ``numbers`` notes the kinds of numbers
    read (for :func:`_canonical`)."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        if numbers is not None:
            numbers.plain = False
        return parse_json_strict(text)
    if numbers is None:
        return json.loads(text)
    _SPOTTER.seen = False
    value = _SPOTTER.decoder.decode(text)
    numbers.plain = not _SPOTTER.seen
    return value


class _Numbers:
    """Whether a JSON text's numbers were all "plain": integers of at most 15 digits, which
    the C encoder writes as RFC 8785 does (fractions it spells differently, and RFC 8785
    holds no integer beyond ±(2**53 - 1))."""

    __slots__ = ("plain",)

    def __init__(self) -> None:
        self.plain = True


class _NumberSpotter(threading.local):
    """A JSON decoder per thread that notes whether it read a number that is not plain (its
    hooks run once per number: documents hold few)."""

    def __init__(self) -> None:
        self.seen = False
        self.decoder = json.JSONDecoder(parse_float=self._float, parse_int=self._int)

    def _float(self, literal: str) -> float:
        self.seen = True
        return float(literal)

    def _int(self, literal: str) -> int:
        if len(literal) > 15:
            self.seen = True
        return int(literal)


_SPOTTER: Final = _NumberSpotter()


_BELOW_F0: Final = bytes(range(0xF0))


# The C encoder writes exactly RFC 8785 for plain values (ipchain.encoding explains why).
_PLAIN_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _canonical(value: Any, raw: bytes, numbers: _Numbers) -> bool:
    """Whether ``raw``, read as ``value``, is its RFC 8785 canonical form. For documents whose
    numbers are integers of at most 15 digits and whose characters are all in the BMP (where
    the C encoder and RFC 8785 order keys alike), one C encode decides; others take the full
    canonicalisation."""
    try:
        if numbers.plain and (raw.isascii() or not raw.translate(None, _BELOW_F0)):
            return _PLAIN_ENCODER.encode(value).encode("utf-8") == raw
        return canonical_bytes(value) == raw
    except (InvalidInputError, UnicodeError, ValueError, RecursionError):
        return False  # NaN, a lone surrogate, an integer JCS cannot hold: not canonical


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
    """A non-empty string of at most ``max_length`` characters, made storable (NUL and lone
    surrogates replaced); None for anything else."""
    if isinstance(value, str) and 0 < len(value) <= max_length:
        return storable_text(value)
    return None


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
    vienna_codes: list[str] = field(default_factory=list)


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


def _holder_text(data: Mapping[str, Any]) -> str | None:
    """The record's applicants now (after a transfer, its holders), case-folded, for search."""
    parties = data.get("applicants")
    names = [
        storable_text(party["name"], 1_000)
        for party in (parties if isinstance(parties, list) else [])
        if isinstance(party, dict) and isinstance(party.get("name"), str)
    ]
    return " | ".join(names)[:10_000].casefold() if names else None


def _vienna_codes(data: Mapping[str, Any]) -> list[str]:
    codes = data.get("vienna_codes")
    return sorted(
        {
            code
            for code in (codes if isinstance(codes, list) else [])
            if isinstance(code, str) and _VIENNA.fullmatch(code)
        }
    )


def _mark_text(ip_type: str, data: Mapping[str, Any]) -> str | None:
    if ip_type == IpType.TRADEMARK:
        return _text(data.get("mark_verbal_element_text"), 10_000)
    # A design has no verbal element; its product indications are what people search for.
    indications = data.get("product_indications")
    if not isinstance(indications, list):
        return None
    texts = [
        storable_text(i["text"])
        for i in indications
        if isinstance(i, dict) and _text(i.get("text"), 10_000)
    ]
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


def walk_statuses(
    ip_type: str, history: Sequence[HistoryItem], checked: Container[int] = ()
) -> tuple[RecordStatus | None, dict[int, str]]:
    """The record's status after its history, read leniently (as
    ``derive_status(codes, strict=False)``), and, for the events whose ``seq`` is in
    ``checked``, why the strict status machine would have refused them."""
    known = event_catalog().codes
    try:
        kind: IpType | None = IpType(ip_type)
    except ValueError:
        kind = None
    status: RecordStatus | None = None
    earlier: EarlierStatuses = ()
    refused: dict[int, str] = {}
    for item in history:
        info = known.get(item.event_code)
        if info is None:
            continue  # flagged as unknown; changes nothing
        if item.seq in checked:
            if kind is not None and not info.applies_to(kind):
                refused[item.seq] = f"{info.code} does not apply to {ip_type} records"
            else:
                try:
                    next_status(status, earlier, info, strict=True)
                except StateTransitionError as error:
                    refused[item.seq] = str(error)
        status, earlier = next_status(status, earlier, info, strict=False)
    return status, refused


def derive_record(record_key: str, history: Sequence[HistoryItem]) -> DerivedRecord:
    """The ``records`` row of a record from its whole history, ordered by ``seq``."""
    return _derive_record(record_key, history, walk_statuses(record_key[3:5], history)[0])


def _derive_record(
    record_key: str, history: Sequence[HistoryItem], status: RecordStatus | None
) -> DerivedRecord:
    head = history[-1]
    office, ip_type, number = record_key[:2], record_key[3:5], record_key[6:]
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
        "holder_text_folded": None if data is None else _holder_text(data),
        "filing_date": None if data is None else _date(data.get("application_date")),
        "registration_date": None if data is None else _date(data.get("registration_date")),
        "expiry_date": None if data is None else _date(data.get("expiry_date")),
        "head_entry_hash": head.entry_hash,
        "event_count": head.seq,
        "updated_block": head.block_number,
    }
    return DerivedRecord(
        row=row,
        data=None if data is None else _data_text(data),
        nice_classes=[] if data is None else _nice_classes(data),
        locarno_classes=[] if data is None else _locarno_classes(data),
        vienna_codes=[] if data is None else _vienna_codes(data),
    )


def _data_text(data: Mapping[str, Any]) -> str:
    """Record data as JSON text every database stores: control characters (NUL included) are
    escaped by JSON itself; a lone surrogate (``"\\ud800"`` in a document) cannot be UTF-8,
    so such data is written with every non-ASCII character escaped."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data)
    return text


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
    """Published bytes as text, or None when there are none or they cannot be text in every
    database: not UTF-8, or holding a NUL byte (PostgreSQL text cannot). The text is exactly
    the bytes when it is not None (UTF-8 decoding and encoding are inverse)."""
    if not raw or b"\x00" in raw:
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
        "document_bytes": entry.document if entry.document and text is None else None,
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


@dataclass(slots=True)
class _Reading:
    """What the indexer takes from one entry's published document."""

    text: str | None
    """The document as stored text (None: none published, or kept as bytes)."""
    document: dict[str, Any] | None
    """The document when it is interpretable for its entry."""
    flags: list[tuple[str, str]]
    """(flag, detail) pairs about the entry."""


def read_entry(entry: AnchoredEvent) -> _Reading:
    """Read an anchored entry's document leniently and flag what is odd about the entry."""
    flags: list[tuple[str, str]] = []
    if entry.event_code not in event_catalog().codes:
        flags.append(
            ("unknown-event-code", f"event code {entry.event_code!r} is not in the catalogue")
        )
    if _st13(entry.record_key) is None:
        flags.append(
            ("record-key-not-st13", f"{entry.record_key!r} has no ST.13 application number")
        )
    raw = entry.document
    if not raw:
        return _Reading(None, None, flags)
    if len(raw) > MAX_DOCUMENT_BYTES:
        flags.append(("document-oversized", f"the document is {len(raw)} bytes"))
    text = _document_text(raw)
    if text is None:
        why = "holds a NUL byte" if b"\x00" in raw else "is not UTF-8"
        flags.append(("document-not-text", f"the document {why}; kept as bytes"))
        return _Reading(None, None, flags)
    numbers = _Numbers()
    try:
        value = _load_json(text, numbers)
    except (ValueError, RecursionError) as error:
        flags.append(("document-unreadable", f"not JSON: {str(error)[:200]}"))
        return _Reading(text, None, flags)
    if not isinstance(value, dict):
        flags.append(("document-unreadable", f"a JSON {type(value).__name__}, not an object"))
        return _Reading(text, None, flags)
    document: dict[str, Any] | None = value
    if not _interpretable(value, entry.record_key, entry.event_code):
        document = None
        flags.append(("document-mismatch", _mismatch(value, entry)))
    else:
        unknown = sorted(set(value) - _EVENT_MEMBERS)
        data = value.get("record_data")
        if isinstance(data, dict):
            members = _DATA_MEMBERS.get(entry.record_key[3:5], frozenset())
            unknown += [f"record_data.{name}" for name in sorted(set(data) - members)]
        if unknown:
            flags.append(("unknown-fields", ", ".join(repr(name) for name in unknown[:5])))
    if not _canonical(value, raw, numbers):
        flags.append(("document-not-canonical", "its RFC 8785 form has other bytes"))
    if "\\u0000" in text:
        flags.append(("nul-character", "a string holds \\u0000"))
    return _Reading(text, document, flags)


def _mismatch(document: Mapping[str, Any], entry: AnchoredEvent) -> str:
    if document.get("schema") != SCHEMA:
        return f"schema {str(document.get('schema'))[:80]!r}, not {SCHEMA!r}"
    if document.get("record_key") != entry.record_key:
        return f"record_key {str(document.get('record_key'))[:80]!r}, not the entry's"
    return f"event_code {str(document.get('event_code'))[:20]!r}, not the entry's"


def store_entries(
    session: Session, entries: Sequence[AnchoredEvent], timestamps: Mapping[int, int]
) -> None:
    """Write a chunk's entries (in chain order) and re-derive the records they touch; flag
    the odd ones (``event_flags``).

    Idempotent: entries already stored (same entry hash) are left as they are, so a chunk
    indexed twice leaves the same rows. ``timestamps`` maps block numbers to block times.
    """
    if not entries:
        return
    new_items: dict[str, list[HistoryItem]] = {}
    event_rows = []
    flag_rows: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for entry in entries:
        reading = read_entry(entry)
        links.extend(
            link_rows(
                entry.entry_hash,
                entry.record_key,
                entry.seq,
                entry.event_code,
                entry.block_number,
                reading.document,
            )
        )
        event_rows.append(
            event_row(entry, reading.text, reading.document, timestamps[entry.block_number])
        )
        flag_rows.extend(_flag_row(entry, flag, detail) for flag, detail in reading.flags)
        new_items.setdefault(entry.record_key, []).append(
            HistoryItem(
                entry.seq, entry.entry_hash, entry.event_code, entry.block_number, reading.document
            )
        )
    by_hash = {entry.entry_hash: entry for entry in entries}
    # The rest of each record's history is in the database (rows of these very entries, if
    # indexed before, are replaced by the new items of the same seq).
    histories = _stored_histories(session, list(new_items))
    derived = {}
    for record_key, items in new_items.items():
        history = {item.seq: item for item in histories.get(record_key, ())}
        history.update((item.seq, item) for item in items)
        ordered = [history[seq] for seq in sorted(history)]
        status, refused = walk_statuses(record_key[3:5], ordered, {item.seq for item in items})
        for item in items:
            if item.seq in refused:
                entry = by_hash[item.entry_hash]
                flag_rows.append(_flag_row(entry, "status-transition", refused[item.seq]))
        derived[record_key] = _derive_record(record_key, ordered, status)
    _write_records(session, derived)
    _execute_many(session, _insert(session, events).on_conflict_do_nothing(), event_rows)
    _execute_many(session, _insert(session, event_flags).on_conflict_do_nothing(), flag_rows)
    _execute_many(session, _insert(session, record_links).on_conflict_do_nothing(), links)


def _flag_row(entry: AnchoredEvent, flag: str, detail: str) -> dict[str, Any]:
    return {
        "entry_hash": entry.entry_hash,
        "flag": flag,
        "detail": storable_text(detail, _DETAIL_LENGTH),
        "block_number": entry.block_number,
    }


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
        session.execute(
            delete(record_vienna_codes).where(record_vienna_codes.c.record_key.in_(batch))
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
    vienna = [
        {"record_key": key, "vienna_code": code}
        for key, record in derived.items()
        for code in record.vienna_codes
    ]
    _execute_many(session, record_vienna_codes.insert(), vienna)


def remove_above(session: Session, block_number: int) -> None:
    """Remove every event above ``block_number`` (a reorg dropped them) and re-derive the
    records that had some; records left without events are removed."""
    affected = list(
        session.scalars(
            select(events.c.record_key).where(events.c.block_number > block_number).distinct()
        )
    )
    session.execute(delete(event_flags).where(event_flags.c.block_number > block_number))
    session.execute(delete(record_links).where(record_links.c.block_number > block_number))
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
    """The indexer's batch handler of ``EventRecorded``: decode each log and store the range;
    quarantine what cannot be parsed or stored (see the module docstring) and go on."""
    entries: list[AnchoredEvent] = []
    log_of: dict[bytes, IndexedLog] = {}
    for log in logs:
        record_id = log.log.topics[1] if len(log.log.topics) > 1 else None
        try:
            entry = decode_event_recorded(log.log)
        except ChainError as error:
            data = log.log.data
            quarantine(
                session,
                log,
                f"not a readable EventRecorded entry: {error}",
                entry_hash=data[96:128] if len(data) >= 128 else None,
                record_id=record_id,
            )
            continue
        problem = _unstorable(entry)
        if problem is not None:
            _quarantine_entry(session, log, entry, problem)
            continue
        entries.append(entry)
        log_of[entry.entry_hash] = log
    entries = _after_quarantined(session, entries, log_of)
    timestamps = {log.block.number: log.block.timestamp for log in logs}
    try:
        with session.begin_nested():
            store_entries(session, entries, timestamps)
        return
    except Exception as error:
        if is_storage_fault(error):
            raise
        logger.warning(
            "cannot store %d register entries at once (%s); storing them record by record",
            len(entries),
            describe_error(error),
        )
    # Record by record, in the order of their first entries: only the records whose rows the
    # database refuses (or whose derivation fails) are quarantined.
    by_record: dict[str, list[AnchoredEvent]] = {}
    for entry in entries:
        by_record.setdefault(entry.record_key, []).append(entry)
    for record_entries in by_record.values():
        try:
            with session.begin_nested():
                store_entries(session, record_entries, timestamps)
        except Exception as error:
            if is_storage_fault(error):
                raise
            reason = f"cannot store it: {describe_error(error)}"
            for entry in record_entries:
                _quarantine_entry(session, log_of[entry.entry_hash], entry, reason)


def _unstorable(entry: AnchoredEvent) -> str | None:
    """Why an entry's key fields cannot be stored faithfully as text, or None."""
    if "\x00" in entry.record_key:
        return "the record key holds a NUL character"
    if "\x00" in entry.event_code:
        return "the event code holds a NUL character"
    return None


def _quarantine_entry(session: Session, log: IndexedLog, entry: AnchoredEvent, reason: str) -> None:
    quarantine(
        session,
        log,
        reason,
        entry_hash=entry.entry_hash,
        record_id=entry.record_id,
        record_key=entry.record_key,
    )


def _after_quarantined(
    session: Session, entries: list[AnchoredEvent], log_of: Mapping[bytes, IndexedLog]
) -> list[AnchoredEvent]:
    """``entries`` without those that follow a quarantined entry of their record (earlier in
    this range or in an earlier one), which are quarantined too: a stored history has no gap.
    Entries of the record before its first quarantined one are kept."""
    if not entries:
        return entries
    record_ids = sorted({entry.record_id for entry in entries})
    poisoned: dict[bytes, tuple[tuple[int, int], str]] = {}
    for start in range(0, len(record_ids), _KEYS_PER_STATEMENT):
        batch = record_ids[start : start + _KEYS_PER_STATEMENT]
        for record_id, entry_hash, block, index in session.execute(
            select(
                quarantined_events.c.record_id,
                quarantined_events.c.entry_hash,
                quarantined_events.c.block_number,
                quarantined_events.c.log_index,
            )
            .where(quarantined_events.c.record_id.in_(batch))
            .order_by(quarantined_events.c.block_number, quarantined_events.c.log_index)
        ):
            if bytes(record_id) not in poisoned:
                shown = "?" if entry_hash is None else "0x" + bytes(entry_hash).hex()
                poisoned[bytes(record_id)] = (
                    (block, index),
                    f"entry {shown} (log {index} of block {block})",
                )
    if not poisoned:
        return entries
    kept = []
    for entry in entries:
        first = poisoned.get(entry.record_id)
        if first is None or (entry.block_number, entry.log_index) < first[0]:
            kept.append(entry)
        else:
            reason = f"its record has a quarantined entry: {first[1]}"
            _quarantine_entry(session, log_of[entry.entry_hash], entry, reason)
    return kept


def register_handlers(registry: HandlerRegistry | None = None) -> HandlerRegistry:
    """Follow RegisterLedger's ``EventRecorded`` into the register tables (in ``registry``, or
    a new one when None) and undo them after a reorg."""
    registry = registry if registry is not None else HandlerRegistry()
    registry.register_batch("RegisterLedger", "EventRecorded", index_register_events)
    registry.register_rollback(remove_above)
    # Outbox rows anchored in the dropped blocks must be looked up on the chain again.
    registry.register_rollback(_recheck_outbox_above)
    registry.register_after_range(_recheck_outbox_in)
    return registry


def _recheck_outbox_above(session: Session, block_number: int) -> None:
    recheck_anchored_above(session, block_number)


def _recheck_outbox_in(session: Session, first: int, last: int) -> None:
    recheck_unindexed_in(session, first, last)
