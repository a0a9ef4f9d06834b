"""Accepting register events from an office: validate, then write them durably to the outbox.

:meth:`SubmissionService.submit` is the write side of the API. It checks every event of a
request (the document itself, that the record belongs to the submitting office, that the event
makes sense after the record's history) and then writes the submission and one outbox row per
event in a single database transaction: all of a request or nothing of it, on disk (fsync'd)
before it returns — a ``202`` means the events survive a crash or a power cut. Anchoring happens
later, in batches across requests, in :mod:`ipchain.register.submitter`; the client polls the
submission (:meth:`SubmissionService.get`) to learn the outcome.

A record's history, for the state check, is what the index holds **plus** what is on its way:
outbox rows of earlier submissions not yet indexed. Submissions of one office are validated
one at a time (a lock per office), so two requests cannot both extend the same history.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ipchain.db.base import IMMEDIATE
from ipchain.db.register import events as indexed_events
from ipchain.db.submissions import (
    IDEMPOTENCY_KEY_LENGTH,
    OutboxState,
    SubmissionState,
    outbox,
    submissions,
)
from ipchain.encoding import canonical_bytes, hash_to_hex
from ipchain.errors import (
    AuthorizationError,
    ForeignRecordError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
)
from ipchain.register.history import RecordState, replay_codes
from ipchain.register.models import RegisterEvent

MAX_EVENTS_PER_SUBMISSION: Final = 10_000
"""Most events one request may carry (the API's body size limit usually binds first)."""

MAX_DOCUMENT_BYTES: Final = 64 * 1024
"""Largest canonical event document: bounds the gas of an entry, so that a batch always fits
in a block whatever its documents."""

_IN_CHUNK: Final = 500  # keys per SQL IN list (SQLite allows 32766 parameters; stay modest)


@dataclass(frozen=True, slots=True)
class SubmissionEntryView:
    """One event of a submission and where it is on its way to the chain."""

    position: int
    """Index in the submission's list of events, from 0."""
    record_key: str
    """The record."""
    event_code: str
    """ST.61/ST.87 key event code."""
    document_hash: str
    """SHA-256 of the canonical document, ``0x`` hex."""
    state: str
    """``pending``, ``sent``, ``anchored`` or ``failed``."""
    seq: int | None
    """Position in the record's history (known once sent)."""
    entry_hash: str | None
    """Entry hash on the chain, once anchored."""
    transaction_hash: str | None
    """Transaction that anchored it (or that it was last sent in)."""
    block_number: int | None
    """Block it was anchored in."""
    error: str | None
    """Why it was not anchored, when it was not."""
    links: tuple[Mapping[str, Any], ...] = ()
    """How each of its links was checked at submission (``link``, ``relation``,
    ``record_key``, ``result``: ``link-verified`` or ``link-unverifiable``, ``reason``)."""


@dataclass(frozen=True, slots=True)
class SubmissionView:
    """A submission: what the office sent and what became of it."""

    id: str
    """Submission id (UUID)."""
    office: str
    """Submitting office."""
    status: str
    """``pending``, ``anchored`` (every event on chain) or ``failed``."""
    idempotency_key: str | None
    """The client's ``Idempotency-Key``, if it sent one."""
    event_count: int
    """Number of events."""
    created_at: datetime.datetime
    """When it was accepted."""
    updated_at: datetime.datetime
    """When its status last changed."""
    error_code: str | None
    """Stable code of the failure, when failed."""
    error_message: str | None
    """What failed, when failed."""
    error_field: str | None
    """Which event (``events[3]``) the failure was about, when known."""
    entries: tuple[SubmissionEntryView, ...]
    """Its events, in the order submitted."""
    indexed: bool
    """Whether every anchored event is in this node's index (visible to queries)."""
    replayed: bool = False
    """True when this answers a retry with an ``Idempotency-Key`` seen before."""


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A validated event ready for its outbox row."""

    event: RegisterEvent
    record_key: str
    canonical: bytes
    expected_seq: int
    link_checks: tuple[Mapping[str, Any], ...] = ()


LinkCheckFunction = Callable[[Sequence[RegisterEvent], str], Sequence[Sequence[Mapping[str, Any]]]]
"""Checks the links of a submission's events (the prefix names an event's field from its
index); each event's outcomes as JSON objects, or :class:`InvalidInputError` for a link that
fails."""


class SubmissionService:
    """Validates submissions of events and writes them to the outbox."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        offices: Iterable[str],
        indexed_block: Callable[[], int],
        on_accepted: Callable[[], None] | None = None,
        check_links: LinkCheckFunction | None = None,
    ) -> None:
        """``offices`` are those this node holds a signer key for (it can anchor only theirs);
        ``indexed_block`` tells how far the index has read the chain; ``on_accepted`` is called
        after each new submission is committed (to wake the submitter); ``check_links``
        checks the events' links against the register (:class:`ipchain.register.links.
        LinkChecker`), refusing what fails and returning each event's outcomes."""
        self._session_factory = session_factory
        self._check_links = check_links
        self._offices = frozenset(offices)
        self._indexed_block = indexed_block
        self._on_accepted = on_accepted
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    @property
    def offices(self) -> frozenset[str]:
        """Offices this node can anchor events for."""
        return self._offices

    # ------------------------------------------------------------------------------ submit

    def submit(
        self,
        office: str,
        documents: Sequence[Any],
        idempotency_key: str | None = None,
        *,
        batch: bool = True,
    ) -> SubmissionView:
        """Validate ``documents`` (register event documents) for ``office`` and accept them.

        Every error names its field: ``events[i].<path>`` for a batch, ``<path>`` for a single
        event (``batch=False``). The same ``idempotency_key`` with the same documents returns
        the first submission (``replayed``); with other documents it is a
        :class:`ConflictError`.
        """
        if office not in self._offices:
            raise AuthorizationError(
                f"this node holds no signer key for office {office}: it cannot anchor its events"
            )
        _check_idempotency_key(idempotency_key)
        if not isinstance(documents, Sequence) or isinstance(documents, (str, bytes)):
            raise InvalidInputError("events: must be a JSON array", field="events")
        if not documents:
            raise InvalidInputError("events: at least one event is needed", field="events")
        if len(documents) > MAX_EVENTS_PER_SUBMISSION:
            raise InvalidInputError(
                f"events: at most {MAX_EVENTS_PER_SUBMISSION} events per submission",
                field="events",
            )
        prefix = "events[{}]" if batch else ""
        canonicals = [
            _canonical(document, prefix.format(index)) for index, document in enumerate(documents)
        ]
        request_sha256 = hashlib.sha256(b"[" + b",".join(canonicals) + b"]").digest()
        with self._office_lock(office):
            if idempotency_key is not None:
                existing = self._find_by_key(office, idempotency_key, request_sha256)
                if existing is not None:
                    return existing
            parsed = [
                _parse(document, office, prefix.format(index))
                for index, document in enumerate(documents)
            ]
            accepted = self._check_histories(parsed, canonicals, prefix)
            if self._check_links is not None:
                outcomes = self._check_links(parsed, prefix)
                accepted = [
                    dataclasses.replace(item, link_checks=tuple(checks))
                    for item, checks in zip(accepted, outcomes, strict=True)
                ]
            try:
                view = self._write(office, idempotency_key, request_sha256, accepted)
            except IntegrityError:
                # Another process took the same idempotency key between our look-up and write.
                if idempotency_key is None:
                    raise
                existing = self._find_by_key(office, idempotency_key, request_sha256)
                if existing is None:
                    raise
                return existing
        if self._on_accepted is not None:
            self._on_accepted()
        return view

    def _office_lock(self, office: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[office]

    def _find_by_key(
        self, office: str, idempotency_key: str, request_sha256: bytes
    ) -> SubmissionView | None:
        with self._session_factory() as session:
            found = session.execute(
                select(submissions.c.id, submissions.c.request_sha256).where(
                    submissions.c.office == office,
                    submissions.c.idempotency_key == idempotency_key,
                )
            ).first()
        if found is None:
            return None
        if found.request_sha256 != request_sha256:
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {idempotency_key!r} was already used for another request "
                f"(submission {found.id}); use a new key for new events"
            )
        view = self.get(office, found.id)
        return _replayed(view)

    def _check_histories(
        self,
        parsed: Sequence[RegisterEvent],
        canonicals: Sequence[bytes],
        prefix: str,
    ) -> list[_Accepted]:
        """Check each event against its record's state (index + outbox + earlier events of
        this request, in order)."""
        record_keys = [str(event.record_key) for event in parsed]
        with self._session_factory() as session:
            states = _record_states(session, sorted(set(record_keys)))
        accepted = []
        for index, (event, key, canonical) in enumerate(
            zip(parsed, record_keys, canonicals, strict=True)
        ):
            state = states[key]
            try:
                states[key] = state.after(event)
            except InvalidInputError as error:
                raise _relocated(error, prefix.format(index)) from None
            accepted.append(_Accepted(event, key, canonical, state.event_count + 1))
        return accepted

    def _write(
        self,
        office: str,
        idempotency_key: str | None,
        request_sha256: bytes,
        accepted: Sequence[_Accepted],
    ) -> SubmissionView:
        """Write the submission and its outbox rows; returns the submission as written (no
        need to read back what this transaction just wrote)."""
        submission_id = str(uuid.uuid4())
        now = _now()
        hashes = [hashlib.sha256(item.canonical).digest() for item in accepted]
        rows = [
            {
                "submission_id": submission_id,
                "office": office,
                "position": position,
                "record_key": item.record_key,
                "event_code": item.event.event_code,
                "document": item.canonical.decode("utf-8"),
                "document_hash": document_hash,
                "expected_seq": item.expected_seq,
                "state": OutboxState.PENDING,
                "attempts": 0,
                "link_checks": (
                    json.dumps(list(item.link_checks), ensure_ascii=False)
                    if item.link_checks
                    else None
                ),
            }
            for position, (item, document_hash) in enumerate(zip(accepted, hashes, strict=True))
        ]
        with self._session_factory() as session:
            connection = session.connection(execution_options=IMMEDIATE)
            if connection.dialect.name == "postgresql":
                # Durable when COMMIT returns, whatever the server's default (SQLite
                # connections run with synchronous=FULL: ipchain.db.base).
                session.execute(text("SET LOCAL synchronous_commit TO on"))
            session.execute(
                submissions.insert().values(
                    id=submission_id,
                    office=office,
                    idempotency_key=idempotency_key,
                    request_sha256=request_sha256,
                    status=SubmissionState.PENDING,
                    event_count=len(rows),
                    created_at=now,
                    updated_at=now,
                )
            )
            session.execute(outbox.insert(), rows)
            session.commit()
        entries = tuple(
            SubmissionEntryView(
                position=position,
                record_key=item.record_key,
                event_code=item.event.event_code,
                document_hash=hash_to_hex(document_hash),
                state=OutboxState.PENDING,
                seq=None,
                entry_hash=None,
                transaction_hash=None,
                block_number=None,
                error=None,
                links=item.link_checks,
            )
            for position, (item, document_hash) in enumerate(zip(accepted, hashes, strict=True))
        )
        return SubmissionView(
            id=submission_id,
            office=office,
            status=SubmissionState.PENDING,
            idempotency_key=idempotency_key,
            event_count=len(rows),
            created_at=now,
            updated_at=now,
            error_code=None,
            error_message=None,
            error_field=None,
            entries=entries,
            indexed=False,
        )

    # ------------------------------------------------------------------------------- read

    def find(self, office: str, idempotency_key: str) -> SubmissionView | None:
        """The submission ``office`` made with this ``Idempotency-Key``, if any."""
        with self._session_factory() as session:
            submission_id = session.scalar(
                select(submissions.c.id).where(
                    submissions.c.office == office,
                    submissions.c.idempotency_key == idempotency_key,
                )
            )
        return None if submission_id is None else self.get(office, submission_id)

    def get(self, office: str, submission_id: str) -> SubmissionView:
        """A submission of ``office``; :class:`NotFoundError` for an unknown id or another
        office's submission (which is not this caller's to see)."""
        with self._session_factory() as session:
            head = session.execute(
                select(submissions).where(
                    submissions.c.id == submission_id, submissions.c.office == office
                )
            ).first()
            if head is None:
                raise NotFoundError(f"no submission {submission_id} of office {office}")
            rows = session.execute(
                select(
                    outbox.c.position,
                    outbox.c.record_key,
                    outbox.c.event_code,
                    outbox.c.document_hash,
                    outbox.c.state,
                    outbox.c.seq,
                    outbox.c.entry_hash,
                    outbox.c.transaction_hash,
                    outbox.c.block_number,
                    outbox.c.error,
                    outbox.c.link_checks,
                )
                .where(outbox.c.submission_id == submission_id)
                .order_by(outbox.c.position)
            ).all()
        entries = tuple(
            SubmissionEntryView(
                position=row.position,
                record_key=row.record_key,
                event_code=row.event_code,
                document_hash=hash_to_hex(row.document_hash),
                state=row.state,
                seq=row.seq,
                entry_hash=_hex_or_none(row.entry_hash),
                transaction_hash=_hex_or_none(row.transaction_hash),
                block_number=row.block_number,
                error=row.error,
                links=tuple(json.loads(row.link_checks)) if row.link_checks else (),
            )
            for row in rows
        )
        anchored_blocks = [e.block_number for e in entries if e.block_number is not None]
        indexed = head.status == SubmissionState.ANCHORED and (
            not anchored_blocks or max(anchored_blocks) <= self._indexed_block()
        )
        return SubmissionView(
            id=head.id,
            office=head.office,
            status=head.status,
            idempotency_key=head.idempotency_key,
            event_count=head.event_count,
            created_at=_utc(head.created_at),
            updated_at=_utc(head.updated_at),
            error_code=head.error_code,
            error_message=head.error_message,
            error_field=head.error_field,
            entries=entries,
            indexed=indexed,
        )


# --- validation helpers -----------------------------------------------------------------------


def _check_idempotency_key(key: str | None) -> None:
    if key is None:
        return
    if not key or len(key) > IDEMPOTENCY_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInputError(
            f"Idempotency-Key: 1-{IDEMPOTENCY_KEY_LENGTH} printable ASCII characters",
            field="Idempotency-Key",
        )


def _canonical(document: Any, where: str) -> bytes:
    if not isinstance(document, Mapping):
        raise InvalidInputError(
            f"{where or 'body'}: an event must be a JSON object", field=where or "body"
        )
    try:
        canonical = canonical_bytes(document)
    except InvalidInputError as error:
        raise _relocated(error, where) from None
    if len(canonical) > MAX_DOCUMENT_BYTES:
        raise InvalidInputError(
            f"{where or 'body'}: the event document is {len(canonical)} bytes in canonical "
            f"form; at most {MAX_DOCUMENT_BYTES}",
            field=where or "body",
        )
    return canonical


def _parse(document: Mapping[str, Any], office: str, where: str) -> RegisterEvent:
    """Read one document strictly and check that the authenticated office may write it."""
    try:
        event = RegisterEvent.from_document(document)
    except InvalidInputError as error:
        raise _relocated(error, where) from None
    if event.record_key.office != office:
        field = _join(where, "record_key")
        raise ForeignRecordError(
            f"{field}: record {event.record_key} belongs to office {event.record_key.office}; "
            f"a token of office {office} may write only {office}/... records",
            field=field,
        )
    return event


def _record_states(session: Session, keys: Sequence[str]) -> dict[str, RecordState]:
    """Each record's state after its indexed events and its outbox rows not yet indexed.

    The index is read before the outbox: a row anchored and indexed in between is then seen in
    the outbox but not in the index, and so counted once.
    """
    codes: dict[str, list[str]] = {key: [] for key in keys}
    indexed_hashes: set[bytes] = set()
    for chunk in _chunks(keys):
        for row in session.execute(_INDEXED_EVENTS_OF, {"keys": chunk}):
            codes[row.record_key].append(row.event_code)
            indexed_hashes.add(row.entry_hash)
    for chunk in _chunks(keys):
        for pending in session.execute(_OUTBOX_EVENTS_OF, {"keys": chunk}):
            if not {pending.entry_hash, pending.expected_entry_hash} & indexed_hashes:
                codes[pending.record_key].append(pending.event_code)
    # History is a fact: what was accepted is replayed leniently; only new events are held
    # to RecordState.after.
    return {key: replay_codes(codes[key], strict=False) for key in keys}


# Built once: building the statements anew for every request cost more than running them.
_INDEXED_EVENTS_OF: Final = (
    select(indexed_events.c.record_key, indexed_events.c.entry_hash, indexed_events.c.event_code)
    .where(indexed_events.c.record_key.in_(bindparam("keys", expanding=True)))
    .order_by(indexed_events.c.record_key, indexed_events.c.seq)
)
_OUTBOX_EVENTS_OF: Final = (
    select(
        outbox.c.record_key, outbox.c.event_code, outbox.c.entry_hash, outbox.c.expected_entry_hash
    )
    .where(
        outbox.c.record_key.in_(bindparam("keys", expanding=True)),
        outbox.c.state != OutboxState.FAILED,
    )
    .order_by(outbox.c.id)
)


def _relocated(error: InvalidInputError, where: str) -> InvalidInputError:
    """The same error, its field (and message) prefixed with ``where``."""
    if not where:
        return error
    field = _join(where, error.field)
    message = str(error)
    if error.field and message.startswith(f"{error.field}:"):
        message = message[len(error.field) + 1 :].lstrip()
    relocated = type(error)(f"{field}: {message}", field=field)
    return relocated


def _join(where: str, field: str | None) -> str:
    if not where:
        return field or "body"
    if not field:
        return where
    return f"{where}.{field}"


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), _IN_CHUNK):
        yield keys[start : start + _IN_CHUNK]


def _replayed(view: SubmissionView) -> SubmissionView:
    from dataclasses import replace

    return replace(view, replayed=True)


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else hash_to_hex(value)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _utc(moment: datetime.datetime) -> datetime.datetime:
    # SQLite returns naive datetimes even for timezone-aware columns; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
