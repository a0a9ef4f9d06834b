"""The read service of the register: what the API shows, read from the index.

API routes call :class:`RegisterQueries` and never SQL. Results are frozen dataclasses of plain
values (hashes as ``0x`` hex, dates as :class:`datetime.date`, block times as UTC datetimes),
so a route only serialises them. Everything here reads the index the indexer keeps; what the
chain itself says is :mod:`ipchain.register.ledger`'s and the verifier's business.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, sessionmaker

from ipchain.db.indexer import DEFAULT_NAME
from ipchain.db.register import (
    event_flags,
    events,
    indexer_checkpoints,
    quarantined_events,
    record_data,
    record_links,
    record_locarno_classes,
    record_nice_classes,
    record_vienna_codes,
    records,
)
from ipchain.encoding import record_id
from ipchain.errors import InvalidInputError, NotFoundError, UnknownOfficeError
from ipchain.register.catalog import RecordStatus, event_catalog, office_catalog
from ipchain.register.indexing import parse_document

MAX_LIMIT: Final = 500
"""Largest page a query returns."""

MAX_OFFSET: Final = 10_000_000
"""Largest ``offset`` a paged query accepts: far past any register's size, far below the
64-bit integers the databases take (``offset`` ≥ 2^63 once made SQLite and PostgreSQL fail)."""

MAX_POSITION: Final = 2**63 - 1
"""Largest block number or log index a feed cursor may carry (a database BIGINT)."""

RECORD_STATUSES: Final = tuple(status.value for status in RecordStatus)
"""Statuses :meth:`RegisterQueries.search_records` filters by (derived, never asserted)."""

SORT_KEYS: Final = ("record_key", "filing_date", "registration_date", "updated")
"""Orders :meth:`RegisterQueries.search_records` accepts."""

_STAT_NAMES: Final = ("records", "events", "TM_records", "TM_events", "DS_records", "DS_events")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class EventView:
    """One anchored register event with its place on the chain."""

    record_key: str
    """The record."""
    seq: int
    """Position in the record's history, from 1."""
    event_code: str
    """ST.61/ST.87 key event code."""
    event_name: str | None
    """The code's name in the catalogue (None for a code the catalogue does not have)."""
    category: str
    """ST.27 category letter (the code's first letter)."""
    national_code: str | None
    """The office's own event code."""
    event_date: datetime.date | None
    """Date of the event, from its document."""
    effective_date: datetime.date | None
    """Date it takes effect, from its document."""
    document: dict[str, Any] | None
    """The published document (None when only its hash was anchored)."""
    document_hash: str
    """SHA-256 of the document's canonical bytes, ``0x`` hex."""
    entry_hash: str
    """Entry hash, ``0x`` hex."""
    prev_entry_hash: str
    """Entry hash of the previous event of the record (zeros for the first)."""
    office: str
    """ST.3 code of the writing office."""
    signer: str
    """Account that sent the transaction."""
    block_number: int
    """Block the event was anchored in."""
    block_hash: str
    """That block's hash, ``0x`` hex."""
    transaction_hash: str
    """Transaction that anchored it, ``0x`` hex."""
    log_index: int
    """Position of its log in the block."""
    anchored_at: datetime.datetime
    """Block time, UTC."""


@dataclass(frozen=True, slots=True)
class EventFlagView:
    """Something odd about one of a record's indexed events (it is indexed all the same)."""

    seq: int
    """Position of the event in the record's history."""
    entry_hash: str
    """The event's entry hash, 0x-hex."""
    flag: str
    """What is odd, kebab-case (``unknown-event-code``, ``status-machine``)."""
    detail: str
    """Why, in one line."""


@dataclass(frozen=True, slots=True)
class QuarantinedView:
    """A chain log of a record that the indexer could not parse or store, kept raw."""

    block_number: int
    """Block of the log."""
    log_index: int
    """Position of the log in its block."""
    transaction_hash: str
    """Transaction that emitted it, 0x-hex."""
    entry_hash: str | None
    """Its entry hash when the log was readable that far, 0x-hex."""
    reason: str
    """Why it was not indexed, in one line."""


@dataclass(frozen=True, slots=True)
class RecordNotes:
    """What a record's page shows beside its data: flagged events and quarantined logs. A
    record with quarantined logs is shown as its indexed events make it, which may be behind
    what the chain holds."""

    flags: tuple[EventFlagView, ...]
    """Flags on its indexed events, by position."""
    quarantined: tuple[QuarantinedView, ...]
    """Its chain logs left out of the index, in chain order."""


@dataclass(frozen=True, slots=True)
class RecordView:
    """A record as its event history makes it now."""

    record_key: str
    """``{office}/{TM|DS}/{number}``."""
    office: str
    """ST.3 code of the office keeping it."""
    ip_type: str
    """``TM`` or ``DS``."""
    application_number: str
    """Normalised application number."""
    st13: str | None
    """WIPO ST.13 form of the number, when it can be derived."""
    status: str | None
    """Status derived from the event codes."""
    data: dict[str, Any]
    """Current record data: every event's record data merged in order."""
    mark_text: str | None
    """Verbal element of a trademark (product indications of a design)."""
    nice_classes: tuple[int, ...]
    """Nice classes, ascending."""
    locarno_classes: tuple[str, ...]
    """Locarno classes, ascending."""
    filing_date: datetime.date | None
    """Filing (application) date."""
    registration_date: datetime.date | None
    """Registration date."""
    expiry_date: datetime.date | None
    """End of the current term of protection."""
    event_count: int
    """Number of events."""
    head_entry_hash: str
    """Entry hash of the latest event, ``0x`` hex."""
    last_block_number: int
    """Block of the latest event."""


@dataclass(frozen=True, slots=True)
class RecordSummary:
    """What a feed line or a link chip shows of a record."""

    record_key: str
    """The record."""
    mark_text: str | None
    """Verbal element of a trademark (product indications of a design)."""
    holder: str | None
    """Name of the first applicant or holder in the current record data."""


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link between two records (priority claim, designation, seniority ...), seen from one
    of them."""

    relation: str
    """Kind of link, from the catalogue (``priority``, ``madrid-designation`` ...)."""
    direction: str
    """``outgoing``: this record's event names the other record; ``incoming``: the other
    record's event names this one."""
    record_key: str | None
    """The other record (None for an outgoing link to an outside number)."""
    external_number: str | None
    """The linked right's number when it is not a record here."""
    link_date: datetime.date | None
    """The date the link refers to (priority date, designation date)."""
    seq: int
    """The event carrying the link: its position in its record's history."""
    event_code: str
    """That event's code."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records a search returns; every criterion given must hold."""

    office: str | None = None
    """ST.3 office code."""
    ip_type: str | None = None
    """``TM`` or ``DS``."""
    status: str | None = None
    """Derived status (``registered``, ``filed`` ...)."""
    nice_class: int | None = None
    """A Nice class the record has."""
    locarno_class: str | None = None
    """A Locarno class (``CC``) or class and subclass (``CC-SS``) the record has."""
    text: str | None = None
    """Case-insensitive substring of the mark's verbal element (product of a design)."""
    filed_from: datetime.date | None = None
    """Filed on or after."""
    filed_to: datetime.date | None = None
    """Filed on or before."""
    registered_from: datetime.date | None = None
    """Registered on or after."""
    registered_to: datetime.date | None = None
    """Registered on or before."""
    applicant: str | None = None
    """Case-insensitive substring of an applicant's name now (a holder's, after a
    transfer)."""
    vienna_code: str | None = None
    """A Vienna code (``26.04.01``), division (``26.04``) or category (``26``) of the mark's
    figurative elements."""
    links_to: str | None = None
    """A record key the record's events link to (its priority claim, the mark it designates
    from ...)."""
    relation: str | None = None
    """A link relation the record's events carry (``priority``, ``seniority`` ...); with
    ``links_to``, the relation of that link."""


@dataclass(frozen=True, slots=True)
class Page(Generic[_T]):
    """One page of a longer result."""

    items: tuple[_T, ...]
    """The page."""
    total: int
    """How many items match in all."""
    limit: int
    """Page size asked for."""
    offset: int
    """Items skipped before this page."""


_EVENT_COLUMNS = (
    events.c.record_key,
    events.c.seq,
    events.c.event_code,
    events.c.national_code,
    events.c.event_date,
    events.c.effective_date,
    events.c.document,
    events.c.document_hash,
    events.c.entry_hash,
    events.c.prev_entry_hash,
    events.c.office,
    events.c.signer,
    events.c.block_number,
    events.c.block_hash,
    events.c.transaction_hash,
    events.c.log_index,
    events.c.block_timestamp,
)

_SORT_COLUMNS = {
    "record_key": records.c.record_key,
    "filing_date": records.c.filing_date,
    "registration_date": records.c.registration_date,
    "updated": records.c.updated_block,
}


_RECORD_COLUMNS = (*(column.name for column in records.columns), "data")
_RECORDS_WITH_DATA = select(records, record_data.c.data).outerjoin(record_data)


class _Prepared:
    """A SELECT compiled once and run straight on a pooled driver connection.

    The reads the API makes most (a record's history, a record, the feed) spent most of their
    time in SQLAlchemy's per-call statement handling, not in the database; these skip it. Rows
    come back as the driver gives them (SQLite returns dates as text: see :func:`_date`).
    """

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._positions = compiled.positiontup
        self._defaults = dict(compiled.params)

    def rows(self, **parameters: Any) -> list[tuple[Any, ...]]:
        values = {**self._defaults, **parameters}
        arguments: Any = values
        if self._positions is not None:
            arguments = tuple(values[name] for name in self._positions)
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, arguments)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            connection.close()


def _hex(digest: bytes) -> str:
    # The index holds only 32-byte hashes; encoding.hash_to_hex would check each one again.
    return "0x" + digest.hex()


def _date(value: datetime.date | str | None) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value)


def _holder(data: str | None) -> str | None:
    """The first applicant's (holder's) name in stored record data."""
    parsed = parse_document(data)
    parties = None if parsed is None else parsed.get("applicants")
    if isinstance(parties, list) and parties and isinstance(parties[0], dict):
        name = parties[0].get("name")
        return name if isinstance(name, str) else None
    return None


_OFFICE = re.compile(r"[A-Z]{2}")
_LOCARNO = re.compile(r"[0-9]{2}(-[0-9]{2})?")
_VIENNA = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2})?)?")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_office_filter(office: str, field: str = "office") -> None:
    """Refuse an office filter outside the ST.3 catalogue offices' records are keyed by."""
    if not _OFFICE.fullmatch(office):
        raise InvalidInputError(f"{field} must be two upper-case letters (WIPO ST.3)", field=field)
    if office not in office_catalog().offices:
        raise UnknownOfficeError(
            f"{field} {office} is not an office of the ST.3 catalogue: one of "
            f"{', '.join(sorted(office_catalog().offices))} (the consortium's members: "
            "/api/v1/offices)",
            field=field,
        )


def _check_text(value: str | None, field: str) -> None:
    """Refuse control characters (NUL above all: PostgreSQL text cannot hold it) before a
    value reaches the database."""
    if value is not None and _CONTROL.search(value):
        raise InvalidInputError(f"{field}: control characters are not allowed", field=field)


def _check_filter(filter: RecordFilter) -> None:
    """Refuse criteria no record can have (they become key ranges and LIKE patterns)."""
    _check_text(filter.text, "text")
    _check_text(filter.status, "status")
    if filter.office is not None:
        check_office_filter(filter.office)
    if filter.status is not None and filter.status not in RECORD_STATUSES:
        raise InvalidInputError(
            f"status {filter.status!r:.40} is not a record status: one of "
            f"{', '.join(RECORD_STATUSES)}",
            field="status",
        )
    if filter.ip_type is not None and filter.ip_type not in ("TM", "DS"):
        raise InvalidInputError("ip_type must be TM or DS", field="ip_type")
    if filter.locarno_class is not None and not _LOCARNO.fullmatch(filter.locarno_class):
        raise InvalidInputError("locarno_class must be CC or CC-SS", field="locarno_class")
    _check_text(filter.applicant, "applicant")
    if filter.vienna_code is not None and not _VIENNA.fullmatch(filter.vienna_code):
        raise InvalidInputError(
            "vienna_code must be CC, CC.DD or CC.DD.SS (26, 26.04, 26.04.01)", field="vienna_code"
        )
    relations = event_catalog().link_relations
    if filter.relation is not None and filter.relation not in relations:
        raise InvalidInputError(
            f"relation {filter.relation!r:.40} is not a link relation: one of "
            f"{', '.join(sorted(relations))}",
            field="relation",
        )


def check_page(limit: int, offset: int) -> None:
    """Refuse a page size outside 1 to :data:`MAX_LIMIT` or an offset outside 0 to
    :data:`MAX_OFFSET`, before any database sees them."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be 1 to {MAX_LIMIT}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError(f"offset must be 0 to {MAX_OFFSET}", field="offset")


_TRIGRAM: Final = 3
"""Characters in a trigram: shorter text cannot use a trigram index."""

_FTS5: Final = sql_text("SELECT rowid FROM records_fts WHERE records_fts MATCH :phrase")
"""Rowids of the records whose folded mark text holds ``phrase`` (SQLite, migration 0006)."""


def _like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _encode_cursor(block_number: int, log_index: int) -> str:
    return base64.urlsafe_b64encode(f"{block_number}:{log_index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        block, index = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").split(":")
        position = int(block), int(index)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInputError("not a cursor this feed returned", field="cursor") from None
    if not (0 <= position[0] <= MAX_POSITION and 0 <= position[1] <= MAX_POSITION):
        raise InvalidInputError("not a cursor this feed returned", field="cursor")
    return position


class RegisterQueries:
    """Read-only queries over the index; one instance serves every thread of a process."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self._catalogue = event_catalog().codes
        engine = session_factory.kw.get("bind")
        if not isinstance(engine, Engine):
            raise ValueError("RegisterQueries needs a sessionmaker bound to an engine")
        self._text_index = _FTS5 if engine.dialect.name == "sqlite" else None
        key: Any = bindparam("record_key")
        newest_first = (events.c.block_number.desc(), events.c.log_index.desc())
        before_cursor = tuple_(events.c.block_number, events.c.log_index) < tuple_(
            bindparam("block_number"), bindparam("log_index")
        )
        by_office = events.c.office == bindparam("office")
        feed = select(*_EVENT_COLUMNS).order_by(*newest_first).limit(bindparam("limit"))
        self._history = _Prepared(
            engine, select(*_EVENT_COLUMNS).where(events.c.record_key == key).order_by(events.c.seq)
        )
        self._record = _Prepared(engine, _RECORDS_WITH_DATA.where(records.c.record_key == key))
        self._nice = _Prepared(
            engine,
            select(record_nice_classes.c.nice_class)
            .where(record_nice_classes.c.record_key == key)
            .order_by(record_nice_classes.c.nice_class),
        )
        self._locarno = _Prepared(
            engine,
            select(record_locarno_classes.c.locarno_class)
            .where(record_locarno_classes.c.record_key == key)
            .order_by(record_locarno_classes.c.locarno_class),
        )
        # The feed by (cursor given, office given).
        self._feed = {
            (False, False): _Prepared(engine, feed),
            (True, False): _Prepared(engine, feed.where(before_cursor)),
            (False, True): _Prepared(engine, feed.where(by_office)),
            (True, True): _Prepared(engine, feed.where(before_cursor, by_office)),
        }

    # ------------------------------------------------------------------ records

    def search_records(
        self,
        filter: RecordFilter,
        *,
        sort: str = "record_key",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[RecordView]:
        """Records matching ``filter``, one page, in the order asked for (ties broken by
        record key, so pages never overlap)."""
        column = _SORT_COLUMNS.get(sort)
        if column is None:
            raise InvalidInputError(f"sort must be one of {', '.join(SORT_KEYS)}", field="sort")
        check_page(limit, offset)
        conditions = self._conditions(filter)
        key = records.c.record_key
        ordering: list[ColumnElement[Any]] = [column.desc() if descending else column.asc()]
        if column is not key:
            # Undated records go last either way; ties are broken by key so pages never overlap.
            ordering = [column.is_(None), *ordering, key.desc() if descending else key.asc()]
        with self.session_factory() as session:
            total = session.scalar(select(func.count()).select_from(records).where(*conditions))
            statement = _RECORDS_WITH_DATA.where(*conditions).order_by(*ordering)
            rows = [tuple(row) for row in session.execute(statement.limit(limit).offset(offset))]
            nice, locarno = self._classes_of(session, [row[0] for row in rows])
        views = tuple(self._record_view(row, nice, locarno) for row in rows)
        return Page(items=views, total=int(total or 0), limit=limit, offset=offset)

    def get_record(self, record_key: str) -> RecordView:
        """One record; :class:`NotFoundError` when the index has no event of it."""
        found = self._record.rows(record_key=record_key)
        if not found:
            raise NotFoundError(f"no record {record_key}")
        nice = {record_key: [number for (number,) in self._nice.rows(record_key=record_key)]}
        locarno = {record_key: [code for (code,) in self._locarno.rows(record_key=record_key)]}
        return self._record_view(found[0], nice, locarno)

    def has_record(self, record_key: str) -> bool:
        """Whether the index has an event of ``record_key``."""
        return bool(self._record.rows(record_key=record_key))

    def record_notes(self, record_key: str) -> RecordNotes:
        """Flags on the record's events and its quarantined logs (both usually empty)."""
        with self.session_factory() as session:
            flags = session.execute(
                select(events.c.seq, events.c.entry_hash, event_flags.c.flag, event_flags.c.detail)
                .join(event_flags, event_flags.c.entry_hash == events.c.entry_hash)
                .where(events.c.record_key == record_key)
                .order_by(events.c.seq, event_flags.c.flag)
            ).all()
            quarantined = session.execute(
                select(
                    quarantined_events.c.block_number,
                    quarantined_events.c.log_index,
                    quarantined_events.c.transaction_hash,
                    quarantined_events.c.entry_hash,
                    quarantined_events.c.reason,
                )
                .where(quarantined_events.c.record_id == record_id(record_key))
                .order_by(quarantined_events.c.block_number, quarantined_events.c.log_index)
            ).all()
        return RecordNotes(
            flags=tuple(
                EventFlagView(seq, "0x" + bytes(digest).hex(), flag, detail)
                for seq, digest, flag, detail in flags
            ),
            quarantined=tuple(
                QuarantinedView(
                    block,
                    index,
                    "0x" + bytes(transaction).hex(),
                    "0x" + bytes(digest).hex() if digest is not None else None,
                    reason,
                )
                for block, index, transaction, digest, reason in quarantined
            ),
        )

    def record_events(self, record_key: str) -> list[EventView]:
        """A record's events, oldest first; :class:`NotFoundError` when there is none."""
        rows = self._history.rows(record_key=record_key)
        if not rows:
            raise NotFoundError(f"no record {record_key}")
        return [self._event_view(row) for row in rows]

    # ------------------------------------------------------------------ feed and stats

    def events_feed(
        self, *, cursor: str | None = None, limit: int = 50, office: str | None = None
    ) -> tuple[list[EventView], str | None]:
        """Events of every office (or one), newest first. Pass the returned cursor to get the
        next (older) page; it is None on the last page. Events indexed after the first page
        was read appear on a new first page, never in the middle of a paging."""
        check_page(limit, 0)
        if office is not None:
            check_office_filter(office)
        parameters: dict[str, Any] = {"limit": limit + 1, "office": office}
        if cursor is not None:
            parameters["block_number"], parameters["log_index"] = _decode_cursor(cursor)
        query = self._feed[cursor is not None, office is not None]
        rows = query.rows(**parameters)
        views = [self._event_view(row) for row in rows[:limit]]
        following = None
        if len(rows) > limit:
            following = _encode_cursor(views[-1].block_number, views[-1].log_index)
        return views, following

    def office_stats(self) -> dict[str, dict[str, int]]:
        """Per office: ``records`` and ``events`` in all, and ``TM_records``, ``TM_events``,
        ``DS_records``, ``DS_events`` by IP type."""
        statement = select(
            records.c.office,
            records.c.ip_type,
            func.count(),
            func.coalesce(func.sum(records.c.event_count), 0),
        ).group_by(records.c.office, records.c.ip_type)
        stats: dict[str, dict[str, int]] = {}
        with self.session_factory() as session:
            for office, ip_type, record_count, event_count in session.execute(statement):
                entry = stats.setdefault(office, dict.fromkeys(_STAT_NAMES, 0))
                entry["records"] += int(record_count)
                entry["events"] += int(event_count)
                entry[f"{ip_type}_records"] = int(record_count)
                entry[f"{ip_type}_events"] = int(event_count)
        return dict(sorted(stats.items()))

    def feed_position(self) -> tuple[int, int]:
        """(block, log index) of the newest indexed event, ``(0, -1)`` before any: one row
        read from the feed's index, cheap enough to ask several times a second."""
        statement = (
            select(events.c.block_number, events.c.log_index)
            .order_by(events.c.block_number.desc(), events.c.log_index.desc())
            .limit(1)
        )
        with self.session_factory() as session:
            row = session.execute(statement).first()
        return (0, -1) if row is None else (int(row[0]), int(row[1]))

    def record_summaries(self, record_keys: Sequence[str]) -> dict[str, RecordSummary]:
        """Mark text and holder of each record the index has, by record key."""
        found: dict[str, RecordSummary] = {}
        wanted = sorted(set(record_keys))
        with self.session_factory() as session:
            for start in range(0, len(wanted), MAX_LIMIT):
                statement = (
                    select(records.c.record_key, records.c.mark_text, record_data.c.data)
                    .outerjoin(record_data)
                    .where(records.c.record_key.in_(wanted[start : start + MAX_LIMIT]))
                )
                for key, mark_text, data in session.execute(statement):
                    found[key] = RecordSummary(key, mark_text, _holder(data))
        return found

    def record_links(self, record_key: str) -> list[LinkView]:
        """The record's links both ways: those its own events carry (``outgoing``) and those
        other records' events carry to it (``incoming``), each in the order of the events
        carrying them (``record_links``, by index); :class:`NotFoundError` when the index has
        no event of the record."""
        self.get_record(record_key)
        columns = (
            record_links.c.relation,
            record_links.c.source_key,
            record_links.c.target_key,
            record_links.c.external_number,
            record_links.c.link_date,
            record_links.c.seq,
            record_links.c.event_code,
        )
        with self.session_factory() as session:
            outgoing = session.execute(
                select(*columns)
                .where(record_links.c.source_key == record_key)
                .order_by(record_links.c.seq, record_links.c.position)
            ).all()
            incoming = session.execute(
                select(*columns)
                .where(
                    record_links.c.target_key == record_key,
                    record_links.c.source_key != record_key,
                )
                .order_by(
                    record_links.c.block_number, record_links.c.source_key, record_links.c.seq
                )
            ).all()
        return [
            LinkView(relation, "outgoing", target, number, _date(when), seq, code)
            for relation, _, target, number, when, seq, code in outgoing
        ] + [
            LinkView(relation, "incoming", source, None, _date(when), seq, code)
            for relation, source, _, _, when, seq, code in incoming
        ]

    def indexed_block(self, name: str = DEFAULT_NAME) -> int:
        """The last block the indexer has fully indexed (0 before it has indexed any)."""
        with self.session_factory() as session:
            block = session.scalar(
                select(indexer_checkpoints.c.block_number).where(indexer_checkpoints.c.name == name)
            )
        return max(int(block or 0), 0)

    # ------------------------------------------------------------------ helpers

    def _conditions(self, filter: RecordFilter) -> list[ColumnElement[bool]]:
        _check_filter(filter)
        conditions: list[ColumnElement[bool]] = []
        if filter.office is not None:
            # A record key starts with its office and type ("EM/TM/..."; the contract checks
            # the shape), so these filters are key ranges: the database walks the primary key
            # (or a status index ending in it) in order, counts from the index alone, and stops
            # at the page's end instead of sorting every record of the office.
            prefix = filter.office + "/"
            if filter.ip_type is not None:
                prefix += filter.ip_type + "/"
            upper = prefix[:-1] + "0"  # "0" follows "/" in every collation
            conditions.append(records.c.record_key >= prefix)
            conditions.append(records.c.record_key < upper)
        elif filter.ip_type is not None:
            conditions.append(records.c.ip_type == filter.ip_type)
        if filter.status is not None:
            conditions.append(records.c.status == filter.status)
        # Class filters select record keys from the class tables' (class, record_key)
        # indexes, so the database can start from the few records of a class.
        if filter.nice_class is not None:
            conditions.append(
                records.c.record_key.in_(
                    select(record_nice_classes.c.record_key).where(
                        record_nice_classes.c.nice_class == filter.nice_class
                    )
                )
            )
        if filter.locarno_class is not None:
            code = filter.locarno_class
            column = record_locarno_classes.c.locarno_class
            conditions.append(
                records.c.record_key.in_(
                    select(record_locarno_classes.c.record_key).where(
                        column == code if "-" in code else column.like(f"{code}-%")
                    )
                )
            )
        if filter.text:
            conditions.append(self._text_condition(filter.text, records.c.mark_text_folded))
        if filter.applicant:
            conditions.append(self._text_condition(filter.applicant, records.c.holder_text_folded))
        if filter.vienna_code is not None:
            code = filter.vienna_code
            column = record_vienna_codes.c.vienna_code
            conditions.append(
                records.c.record_key.in_(
                    select(record_vienna_codes.c.record_key).where(
                        column == code if len(code) == 8 else column.like(f"{code}.%")
                    )
                )
            )
        if filter.links_to is not None or filter.relation is not None:
            linking = select(record_links.c.source_key)
            if filter.links_to is not None:
                linking = linking.where(record_links.c.target_key == filter.links_to)
            if filter.relation is not None:
                linking = linking.where(record_links.c.relation == filter.relation)
            conditions.append(records.c.record_key.in_(linking))
        for column, low, high in (
            (records.c.filing_date, filter.filed_from, filter.filed_to),
            (records.c.registration_date, filter.registered_from, filter.registered_to),
        ):
            if low is not None:
                conditions.append(column >= low)
            if high is not None:
                conditions.append(column <= high)
        return conditions

    def _text_condition(self, text: str, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """Records whose folded ``column`` (mark text, or applicants) contains ``text``,
        found through the text-search index (migrations 0006 and 0010): SQLite's FTS5
        trigram table (a quoted phrase in that column is a substring match), or PostgreSQL's
        trigram GIN indexes, which serve this ``LIKE`` themselves. Under three characters no
        trigram exists, and ``LIKE`` reads every record on both."""
        folded = text.casefold()
        if self._text_index is None or len(folded) < _TRIGRAM:
            return column.like(_like_pattern(folded), escape="\\")
        phrase = "{" + str(column.key) + '} : "' + folded.replace('"', '""') + '"'
        return literal_column("records.rowid").in_(
            self._text_index.bindparams(phrase=phrase).columns(literal_column("rowid"))
        )

    def _classes_of(
        self, session: Session, keys: Sequence[str]
    ) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
        nice: dict[str, list[int]] = {}
        locarno: dict[str, list[str]] = {}
        if keys:
            for key, number in session.execute(
                select(record_nice_classes.c.record_key, record_nice_classes.c.nice_class)
                .where(record_nice_classes.c.record_key.in_(keys))
                .order_by(record_nice_classes.c.nice_class)
            ):
                nice.setdefault(key, []).append(number)
            for key, code in session.execute(
                select(record_locarno_classes.c.record_key, record_locarno_classes.c.locarno_class)
                .where(record_locarno_classes.c.record_key.in_(keys))
                .order_by(record_locarno_classes.c.locarno_class)
            ):
                locarno.setdefault(key, []).append(code)
        return nice, locarno

    @staticmethod
    def _record_view(
        values: Sequence[Any], nice: Mapping[str, list[int]], locarno: Mapping[str, list[str]]
    ) -> RecordView:
        row = dict(zip(_RECORD_COLUMNS, values, strict=True))
        key = row["record_key"]
        return RecordView(
            record_key=key,
            office=row["office"],
            ip_type=row["ip_type"],
            application_number=row["application_number"],
            st13=row["st13"],
            status=row["status"],
            data=json.loads(row["data"]) if row["data"] else {},
            mark_text=row["mark_text"],
            nice_classes=tuple(nice.get(key, ())),
            locarno_classes=tuple(locarno.get(key, ())),
            filing_date=_date(row["filing_date"]),
            registration_date=_date(row["registration_date"]),
            expiry_date=_date(row["expiry_date"]),
            event_count=row["event_count"],
            head_entry_hash=_hex(row["head_entry_hash"]),
            last_block_number=row["updated_block"],
        )

    def _event_view(self, row: Sequence[Any]) -> EventView:
        (
            record_key,
            seq,
            code,
            national_code,
            event_date,
            effective_date,
            document,
            document_hash,
            entry_hash,
            prev_entry_hash,
            office,
            signer,
            block_number,
            block_hash,
            transaction_hash,
            log_index,
            block_timestamp,
        ) = row
        info = self._catalogue.get(code)
        return EventView(
            record_key=record_key,
            seq=seq,
            event_code=code,
            event_name=None if info is None else info.name,
            category=code[:1],
            national_code=national_code,
            event_date=_date(event_date),
            effective_date=_date(effective_date),
            document=parse_document(document),
            document_hash=_hex(document_hash),
            entry_hash=_hex(entry_hash),
            prev_entry_hash=_hex(prev_entry_hash),
            office=office,
            signer=signer,
            block_number=block_number,
            block_hash=_hex(block_hash),
            transaction_hash=_hex(transaction_hash),
            log_index=log_index,
            anchored_at=datetime.datetime.fromtimestamp(block_timestamp, datetime.UTC),
        )


__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_POSITION",
    "RECORD_STATUSES",
    "SORT_KEYS",
    "EventFlagView",
    "EventView",
    "LinkView",
    "Page",
    "QuarantinedView",
    "RecordFilter",
    "RecordNotes",
    "RecordSummary",
    "RecordView",
    "RegisterQueries",
    "check_office_filter",
    "check_page",
]
