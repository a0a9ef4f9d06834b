"""Verification for a running node's API: one record's stored history against the chain, proof
bundles, and documents or bundles sent by anyone.

:meth:`VerificationService.verify_stored_record` is the audit of one record: the node's stored
events for it are compared, column by column and document by document, with the entries the
chain holds (the same checks as :func:`ipchain.verification.audit.audit`), and each anchored entry is
checked on its own as :func:`ipchain.verification.records.verify_record` does (genuine contracts, recomputed
entry hash, published document, signer authorised at its block). So the answer is computed
against the chain, and a database changed behind the node's back shows, event by event.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import ChainBackend
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import events, records
from ipchain.encoding import parse_json_strict
from ipchain.errors import (
    ChainError,
    ChainMismatchError,
    InvalidInputError,
    MalformedBodyError,
    NotFoundError,
)
from ipchain.register.catalog import RecordKey
from ipchain.verification.audit import contract_problems
from ipchain.verification.audit_checks import (
    STORED_COLUMNS,
    Discrepancy,
    DiscrepancyKind,
    Reconciler,
    check_record_rows,
    expected_row,
    walk_stored_chains,
)
from ipchain.verification.bundle import (
    FORMAT,
    build_bundle,
    dump_bundle,
    load_bundle,
    verify_bundle,
)
from ipchain.verification.reader import ChainReader, RecordedEvent, read_history, signer_verdict
from ipchain.verification.records import (
    BundleReport,
    DocumentVerification,
    EventVerdict,
    entry_problems,
    verify_document,
)

__all__ = [
    "StoredEventCheck",
    "StoredRecordVerification",
    "VerificationService",
]

_ORDER_KINDS = frozenset((DiscrepancyKind.OUT_OF_ORDER, DiscrepancyKind.CHAIN_BROKEN))

_GENUINE: weakref.WeakKeyDictionary[ChainBackend, set[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
"""Per chain connection, the (registry, ledger) address pairs already found genuine."""

_SHARED_READERS: weakref.WeakKeyDictionary[
    ChainBackend, dict[tuple[str, str], tuple[threading.Lock, ChainReader]]
] = weakref.WeakKeyDictionary()
"""Per in-process chain, one reader for each (registry, ledger) pair, with its lock."""

_BLOCK_TIMES: weakref.WeakKeyDictionary[ChainBackend, dict[int, tuple[bytes, int]]] = (
    weakref.WeakKeyDictionary()
)
"""Per chain connection, (hash, time) of blocks read: reading a block on the embedded chain
lists its transactions, milliseconds for a full block."""

_BLOCK_TIMES_KEPT = 65_536


@dataclass(frozen=True, slots=True)
class StoredEventCheck:
    """The verdict on one event of a record, as the node stores it, against the chain."""

    seq: int | None
    """Position in the record's history: as anchored, or as stored for an event not on chain."""
    entry_hash: bytes | None
    """Its entry hash (as anchored, or as stored for an event not on chain)."""
    event_code: str | None
    """Key event code (as anchored, or as stored)."""
    verdict: EventVerdict
    """VERIFIED, TAMPERED (stored data differs), MISSING (anchored, not stored), UNANCHORED
    (stored, not anchored) or OUT_OF_ORDER (stored at another position)."""
    detail: str
    """Why, in one line (empty when verified)."""
    discrepancies: tuple[Discrepancy, ...] = ()
    """Every difference found for the event."""


@dataclass(frozen=True, slots=True)
class StoredRecordVerification:
    """A record's stored history checked against the chain."""

    record_key: str
    """The record."""
    ok: bool
    """True only when every stored event is exactly what is anchored, none is missing, and
    every anchored entry checks out."""
    chain_id: int
    """Chain checked against."""
    head_seq: int
    """Events anchored for the record."""
    head_entry_hash: bytes
    """The record's head entry hash on chain (zeros when none is anchored)."""
    stored_events: int
    """Events the node stores for the record."""
    events: tuple[StoredEventCheck, ...]
    """One check per anchored event, in order, then one per stored event not on chain."""
    discrepancies: tuple[Discrepancy, ...]
    """Every difference found (also those about the record as a whole)."""
    problems: tuple[str, ...]
    """Failures of the anchored entries themselves or of the contracts."""
    warnings: tuple[str, ...]
    """Checks that could not be made (e.g. a node without historical state)."""
    checked_at: str
    """When (RFC 3339, UTC)."""


class VerificationService:
    """Verification over one node's index database and chain connection."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        backend: ChainBackend,
        deployment: Deployment,
    ) -> None:
        self.session_factory = session_factory
        self.backend = backend
        self.deployment = deployment

    # ------------------------------------------------------------------ a stored record

    def verify_stored_record(self, record_key: str) -> StoredRecordVerification:
        """Check the node's stored events of ``record_key`` against the chain; raises
        :class:`NotFoundError` when neither the node nor the chain knows the record."""
        key = _normalised_key(record_key)
        stored_rows, record_row = self._stored(key)
        problems = self._contract_problems()
        history, head, warnings = self._history(key, problems)
        if not stored_rows and not history and record_row is None:
            raise NotFoundError(f"no record {key}, neither stored nor anchored")
        expected = self._expected_rows(history)
        found: list[Discrepancy] = []
        reconciler = Reconciler(found.append, duplicate_of=_duplicates_in(stored_rows))
        reconciler.add(expected, stored_rows)
        reconciler.finish()
        walk_stored_chains(
            [(row.record_key, row.seq, row.entry_hash, row.prev_entry_hash) for row in stored_rows],
            found.append,
        )
        record_rows = [] if record_row is None else [(key, *record_row)]
        check_record_rows(record_rows, reconciler.chain_heads, found.append)
        checks = _event_checks(history, stored_rows, found)
        return StoredRecordVerification(
            record_key=key,
            ok=not found and not problems,
            chain_id=self.backend.chain_id,
            head_seq=len(history),
            head_entry_hash=head,
            stored_events=len(stored_rows),
            events=tuple(checks),
            discrepancies=tuple(found),
            problems=tuple(problems),
            warnings=tuple(warnings),
            checked_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def _contract_problems(self) -> list[str]:
        """Whether the deployment's contracts are ipchain's code, checked once per chain
        connection: deployed code does not change (a genuine ledger has no way to)."""
        addresses = (
            self.deployment.address("OfficeRegistry"),
            self.deployment.address("RegisterLedger"),
        )
        checked = _GENUINE.setdefault(self.backend, set())
        if addresses in checked:
            return []
        problems = contract_problems(self.backend, self.deployment)
        if not problems:
            checked.add(addresses)
        return problems

    @contextmanager
    def _reader(self) -> Iterator[ChainReader]:
        """A reader of the chain. Over JSON-RPC, a new one (the node does the filtering). On
        an in-process chain, reading a block's logs decodes the whole block, so one reader per
        chain is shared (one verification at a time, as the chain itself allows): the recent
        blocks it keeps serve the records anchored beside the last one verified."""
        registry = self.deployment.address("OfficeRegistry")
        ledger = self.deployment.address("RegisterLedger")
        if isinstance(self.backend, RpcChain):
            reader = ChainReader(self.backend, registry, ledger)
            try:
                yield reader
            finally:
                reader.close()
            return
        readers = _SHARED_READERS.setdefault(self.backend, {})
        lock, reader = readers.setdefault(
            (registry, ledger), (threading.Lock(), ChainReader(self.backend, registry, ledger))
        )
        with lock:
            yield reader

    def _stored(self, key: str) -> tuple[list[Any], Any]:
        with self.session_factory() as session:
            rows = session.execute(
                select(*STORED_COLUMNS).where(events.c.record_key == key).order_by(events.c.seq)
            ).all()
            record_row = session.execute(
                select(records.c.head_entry_hash, records.c.event_count).where(
                    records.c.record_key == key
                )
            ).first()
        return list(rows), record_row

    def _history(
        self, key: str, problems: list[str]
    ) -> tuple[list[RecordedEvent], bytes, list[str]]:
        """The record's anchored entries, each checked on its own (entry hash, published
        document, signer authorised at its block); failures go to ``problems``."""
        with self._reader() as reader:
            history, head = read_history(reader, key)
            _, status = reader.fetch_with_signers([], [(e.signer, e.block_number) for e in history])
        warnings: list[str] = []
        for event in history:
            issues = entry_problems(event)
            issue, warning = signer_verdict(
                status.get((event.signer, event.block_number)),
                event.office,
                event.signer,
                event.block_number,
            )
            if issue:
                issues.append(issue)
            problems.extend(f"anchored event {event.seq}: {text}" for text in issues)
            if warning and warning not in warnings:
                warnings.append(warning)
        return history, head, warnings

    def _expected_rows(self, history: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
        """The rows the indexer writes for these entries (which need their blocks' times)."""
        times = _BLOCK_TIMES.setdefault(self.backend, {})
        rows = []
        for event in history:
            known = times.get(event.block_number)
            if known is None or known[0] != event.block_hash:
                block = self.backend.get_block(event.block_number)
                if block.hash != event.block_hash:
                    raise ChainError(f"block {event.block_number} changed while it was read")
                if len(times) >= _BLOCK_TIMES_KEPT:
                    times.clear()
                known = times[event.block_number] = (block.hash, block.timestamp)
            rows.append(expected_row(_anchored(event), known[1]))
        return rows

    # ------------------------------------------------------------------ bundles, uploads

    def proof_bundle(self, record_key: str) -> tuple[str, bytes]:
        """The normalised record key and the proof bundle of its anchored history (the JSON
        file's bytes), built from the chain alone; :class:`NotFoundError` when nothing is
        anchored for it."""
        key = _normalised_key(record_key)
        return key, dump_bundle(build_bundle(self.backend, self.deployment, key))

    def verify_upload(self, body: bytes) -> DocumentVerification | BundleReport:
        """Verify what someone sent: a proof bundle (a JSON object whose ``format`` is
        ``ipchain-proof-bundle``) against the chain, or else a register event document (is it
        anchored for its ``record_key``?). Bad input raises :class:`InvalidInputError`."""
        if not body.strip():
            raise MalformedBodyError("the request body is empty", field="body")
        try:
            parsed = parse_json_strict(body)
        except InvalidInputError as error:
            raise MalformedBodyError(f"body: {error}", field="body") from None
        if not isinstance(parsed, dict):
            raise InvalidInputError(
                "body: must be a JSON object (a proof bundle or a register event document)",
                field="body",
            )
        if "format" in parsed:
            return self._verify_bundle(body, parsed)
        record_key = parsed.get("record_key")
        if not isinstance(record_key, str):
            raise InvalidInputError(
                "record_key: a register event document names its record (or send a proof "
                f"bundle, format {FORMAT!r})",
                field="record_key",
            )
        return verify_document(
            self.backend, self.deployment, parsed, record_key=_normalised_key(record_key)
        )

    def _verify_bundle(self, body: bytes, parsed: Mapping[str, Any]) -> BundleReport:
        bundle = load_bundle(body)
        try:
            return verify_bundle(bundle, self.backend, expected=self.deployment)
        except ChainMismatchError as error:
            raise InvalidInputError(str(error), field="chain_id") from None


# ------------------------------------------------------------------------------ helpers


def _normalised_key(record_key: str) -> str:
    try:
        return str(RecordKey.parse(record_key))
    except InvalidInputError as error:
        error.field = "record_key"
        raise


def _anchored(event: RecordedEvent) -> AnchoredEvent:
    """A log as read for verification, in the form the indexer reads logs."""
    return AnchoredEvent(
        record_key=event.record_key.decode("utf-8", "replace"),
        record_id=event.record_id,
        seq=event.seq,
        event_code=event.event_code_text,
        document_hash=event.document_hash,
        prev_entry_hash=event.prev_entry_hash,
        entry_hash=event.entry_hash,
        office=event.office,
        signer=to_checksum_address(event.signer),
        block_number=event.block_number,
        block_hash=event.block_hash,
        transaction_hash=event.transaction_hash,
        log_index=event.log_index,
        document=event.document,
    )


def _duplicates_in(rows: Sequence[Any]) -> Any:
    def duplicate_of(row: Any) -> int | None:
        for other in rows:
            if other.document_hash == row.document_hash and other.entry_hash != row.entry_hash:
                return int(other.seq)
        return None

    return duplicate_of


def _event_checks(
    history: Sequence[RecordedEvent], stored_rows: Sequence[Any], found: Sequence[Discrepancy]
) -> list[StoredEventCheck]:
    """One check per anchored event (with the discrepancies about it), then one per stored
    event that no anchored entry accounts for."""
    by_hash = {event.entry_hash: event.seq for event in history}
    seqs = set(by_hash.values())
    about: dict[int, list[Discrepancy]] = {}
    foreign: list[Discrepancy] = []
    for discrepancy in found:
        if discrepancy.kind in (DiscrepancyKind.NOT_ON_CHAIN, DiscrepancyKind.DUPLICATE):
            if discrepancy.seq is not None:
                foreign.append(discrepancy)
            continue
        seq = by_hash.get(discrepancy.entry_hash or b"", discrepancy.seq)
        if seq in seqs:
            about.setdefault(seq, []).append(discrepancy)  # type: ignore[arg-type]
    checks = []
    for event in history:
        items = about.get(event.seq, [])
        checks.append(
            StoredEventCheck(
                seq=event.seq,
                entry_hash=event.entry_hash,
                event_code=event.event_code_text,
                verdict=_verdict(items),
                detail="; ".join(item.detail for item in items),
                discrepancies=tuple(items),
            )
        )
    codes = {row.entry_hash: row.event_code for row in stored_rows}
    for item in foreign:
        checks.append(
            StoredEventCheck(
                seq=item.seq,
                entry_hash=item.entry_hash,
                event_code=codes.get(item.entry_hash or b""),
                verdict=EventVerdict.UNANCHORED,
                detail=item.detail,
                discrepancies=(item,),
            )
        )
    return checks


def _verdict(items: Sequence[Discrepancy]) -> EventVerdict:
    kinds = {item.kind for item in items}
    if not kinds:
        return EventVerdict.VERIFIED
    if DiscrepancyKind.MISSING_IN_DB in kinds:
        return EventVerdict.MISSING
    if DiscrepancyKind.OUT_OF_ORDER in kinds and kinds <= _ORDER_KINDS:
        return EventVerdict.OUT_OF_ORDER
    return EventVerdict.TAMPERED
