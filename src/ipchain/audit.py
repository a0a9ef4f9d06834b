"""Full audit: an office node's whole index database cross-checked against the chain.

:func:`audit` reads the ledger's ``EventRecorded`` logs over the whole indexed block range once,
in chunks, and streams the database's ``events`` rows in the same order (block, log index), so
the two streams pair up as they go and memory stays bounded whatever the register's size. For
every stored event it

* re-hashes the stored document (SHA-256 of the stored bytes, or of their RFC 8785 form when
  those are not the anchored bytes) and compares it with the anchored document hash: the values
  are checked, not only the hashes (immudb's audit missed tampered values);
* compares every other stored column with what the indexer writes for the anchored entry (event
  code, dates and national code read from the anchored document, office, signer, position...);
* recomputes the entry hash from the stored fields (:func:`ipchain.encoding.entry_hash`);
* walks each record's stored hash chain in stored order (seq from 1, each ``prev_entry_hash``
  the entry hash before it);

and it reports anchored entries absent from the database, stored events not on chain, and the
``records`` rows whose head disagrees with the chain. The contracts are checked to be ipchain's
own code first, as verification does (:mod:`ipchain.verify`). docs/audit.md describes the checks
and the JSON report; ``ipchain audit`` runs it (:mod:`ipchain._internal.audit_cli`).

The audit covers the blocks the index claims to have read (its checkpoint), in one database
snapshot, so it can run beside a live indexer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from ipchain._internal.audit_checks import (
    STORED_COLUMNS,
    Discrepancy,
    DiscrepancyKind,
    Reconciler,
    expected_row,
)
from ipchain._internal.verify_chain import ChainReader, Code, code_problems
from ipchain.chain.base import ChainBackend, LogEntry
from ipchain.contracts import Deployment, load_interface
from ipchain.db.register import events, indexer_checkpoints, records
from ipchain.errors import ChainError
from ipchain.indexer import DEFAULT_NAME
from ipchain.ledger import entry_from_raw_log

__all__ = [
    "REPORT_FORMAT",
    "REPORT_FORMAT_VERSION",
    "AuditProgress",
    "AuditReport",
    "AuditTotals",
    "Discrepancy",
    "DiscrepancyKind",
    "audit",
]

REPORT_FORMAT: Final = "ipchain-audit-report"
"""Value of the JSON report's ``format`` member."""

REPORT_FORMAT_VERSION: Final = 1
"""Version of the JSON report's layout (docs/audit.md)."""

MAX_LISTED: Final = 10_000
"""Discrepancies listed in a report; beyond, they are counted (by kind) but not listed."""

_EVENT_RECORDED: Final = load_interface("RegisterLedger").event_topic("EventRecorded")
_FIRST_CHUNK_BLOCKS: Final = 512
_TARGET_LOGS: Final = 10_000  # per eth_getLogs: large enough to amortise, small to stream
_STORED_ROWS_PER_FETCH: Final = 5_000

AuditProgress = Callable[[int, int, int], None]
"""Called as the audit advances: (blocks read, blocks to read, anchored events read)."""


@dataclass(frozen=True, slots=True)
class AuditTotals:
    """What the audit read and how much of it checked out."""

    anchored_events: int
    """``EventRecorded`` entries read from the chain in the audited blocks."""
    stored_events: int
    """``events`` rows read from the database."""
    matched_events: int
    """Stored events paired with an anchored entry."""
    verified_events: int
    """Paired events with no difference at all."""
    documents_rehashed: int
    """Stored documents re-hashed."""
    records: int
    """Records with anchored or stored events."""
    stored_records: int
    """``records`` rows read."""
    blocks: int
    """Blocks audited."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of a full audit."""

    chain_id: int
    """Chain audited against."""
    registry_address: str
    """The consortium's OfficeRegistry."""
    ledger_address: str
    """The RegisterLedger whose entries were read."""
    database: str
    """The audited database (URL without its password)."""
    from_block: int
    """First block audited (the deployment block)."""
    to_block: int
    """Last block audited: the index's checkpoint (or the chain's head, if that is lower)."""
    chain_head: int
    """The chain's head when the audit started; blocks above ``to_block`` are not indexed yet
    and not audited."""
    totals: AuditTotals
    """Counts."""
    discrepancies: tuple[Discrepancy, ...]
    """The differences found, in the order found (at most :data:`MAX_LISTED`)."""
    discrepancy_counts: Mapping[str, int]
    """Number of discrepancies of each kind (all of them, listed or not)."""
    problems: tuple[str, ...] = ()
    """Failures not about one event (contracts not genuine, index ahead of the chain)."""
    warnings: tuple[str, ...] = ()
    """Things the audit could not check."""
    started_at: str = ""
    """When the audit started (RFC 3339, UTC)."""
    seconds: float = 0.0
    """How long it took."""

    @property
    def discrepancy_total(self) -> int:
        """Number of discrepancies found (listed or not)."""
        return sum(self.discrepancy_counts.values())

    @property
    def ok(self) -> bool:
        """True only when the database is exactly what the chain holds."""
        return not self.discrepancy_total and not self.problems

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (schema in docs/audit.md)."""
        totals = self.totals
        return {
            "format": REPORT_FORMAT,
            "format_version": REPORT_FORMAT_VERSION,
            "ok": self.ok,
            "chain_id": self.chain_id,
            "contracts": {
                "OfficeRegistry": self.registry_address,
                "RegisterLedger": self.ledger_address,
            },
            "database": self.database,
            "blocks": {
                "from": self.from_block,
                "to": self.to_block,
                "chain_head": self.chain_head,
            },
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "totals": {
                "anchored_events": totals.anchored_events,
                "stored_events": totals.stored_events,
                "matched_events": totals.matched_events,
                "verified_events": totals.verified_events,
                "documents_rehashed": totals.documents_rehashed,
                "records": totals.records,
                "stored_records": totals.stored_records,
                "blocks": totals.blocks,
            },
            "discrepancy_counts": dict(sorted(self.discrepancy_counts.items())),
            "discrepancy_total": self.discrepancy_total,
            "discrepancies_listed": len(self.discrepancies),
            "discrepancies": [item.to_json() for item in self.discrepancies],
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


@dataclass
class _Collector:
    """Keeps the first discrepancies and counts them all."""

    limit: int
    listed: list[Discrepancy] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, discrepancy: Discrepancy) -> None:
        self.counts[discrepancy.kind.value] += 1
        if len(self.listed) < self.limit:
            self.listed.append(discrepancy)


def audit(
    session_factory: sessionmaker[Session],
    backend: ChainBackend,
    deployment: Deployment,
    *,
    progress: AuditProgress | None = None,
    max_listed: int = MAX_LISTED,
    indexer_name: str = DEFAULT_NAME,
) -> AuditReport:
    """Cross-check the whole index database of ``session_factory`` against the chain.

    Discrepancies are reported, never raised; :class:`~ipchain.errors.ChainError` (or
    :class:`~ipchain.errors.ChainUnavailableError`) is raised when the chain cannot be read,
    including when it reorganises under the audit.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    registry_address = deployment.address("OfficeRegistry")
    ledger_address = deployment.address("RegisterLedger")
    problems = contract_problems(backend, deployment)
    warnings: list[str] = []
    chain_head = backend.block_number()
    collector = _Collector(max_listed)
    with session_factory() as session:
        connection = _snapshot(session)
        database = connection.engine.url.render_as_string(hide_password=True)
        indexed = _indexed_block(connection, indexer_name, deployment)
        to_block = indexed
        if indexed > chain_head:
            problems.append(
                f"the index claims block {indexed}, the chain's head is block {chain_head}: "
                "the chain lost blocks the index was built from (or the index is another "
                "chain's)"
            )
            to_block = chain_head
        reconciler = Reconciler(
            collector.add, duplicate_of=lambda row: _duplicate_of(connection, row)
        )
        stored = _StoredStream(connection)
        from_block = deployment.block_number
        total_blocks = max(to_block - from_block + 1, 0)
        for last_block, expected in _anchored_windows(
            backend, ledger_address, from_block, to_block, warnings
        ):
            reconciler.add(expected, stored.until(last_block))
            if progress is not None:
                progress(last_block - from_block + 1, total_blocks, reconciler.chain_events)
        reconciler.add((), stored.until(None))  # rows beyond the audited blocks
        reconciler.finish()
        stored_records = _check_record_rows(connection, reconciler)
    totals = AuditTotals(
        anchored_events=reconciler.chain_events,
        stored_events=reconciler.stored_events,
        matched_events=reconciler.matched,
        verified_events=reconciler.verified,
        documents_rehashed=reconciler.rehashed,
        records=len(reconciler.records),
        stored_records=stored_records,
        blocks=total_blocks,
    )
    return AuditReport(
        chain_id=backend.chain_id,
        registry_address=registry_address,
        ledger_address=ledger_address,
        database=database,
        from_block=from_block,
        to_block=to_block,
        chain_head=chain_head,
        totals=totals,
        discrepancies=tuple(collector.listed),
        discrepancy_counts=dict(collector.counts),
        problems=tuple(problems),
        warnings=tuple(warnings),
        started_at=started_at,
        seconds=time.perf_counter() - started,
    )


def contract_problems(backend: ChainBackend, deployment: Deployment) -> list[str]:
    """Why the deployment's contracts are not ipchain's own code (empty: they are). A
    genuine RegisterLedger is what makes its logs evidence (see :mod:`ipchain.verify`)."""
    reader = ChainReader(
        backend, deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    )
    try:
        registry_code, ledger_code = reader.fetch(
            [Code(reader.registry_address), Code(reader.ledger_address)]
        )
    finally:
        reader.close()
    for answer in (registry_code, ledger_code):
        if isinstance(answer, ChainError):
            raise answer
    return code_problems(reader.registry_address, registry_code, reader.ledger_address, ledger_code)


# ------------------------------------------------------------------------------ the database


def _snapshot(session: Session) -> Connection:
    """The session's connection, in a transaction that sees one state of the database from
    the first read to the last (SQLite's transactions always do; PostgreSQL's default
    isolation would let a live indexer's commits show up halfway)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    return session.connection()


def _indexed_block(connection: Connection, name: str, deployment: Deployment) -> int:
    block = connection.execute(
        select(indexer_checkpoints.c.block_number).where(indexer_checkpoints.c.name == name)
    ).scalar()
    return deployment.block_number - 1 if block is None else int(block)


class _StoredStream:
    """The ``events`` rows in chain order, handed out block range by block range."""

    def __init__(self, connection: Connection) -> None:
        result = connection.execution_options(yield_per=_STORED_ROWS_PER_FETCH).execute(
            select(*STORED_COLUMNS).order_by(events.c.block_number, events.c.log_index)
        )
        self._rows: Iterator[Any] = iter(result)
        self._next: Any = next(self._rows, None)

    def until(self, block: int | None) -> list[Any]:
        """The rows up to ``block`` included (all that are left when None). Rows whose block
        is not a number at all (a tampered SQLite value) sort last and come with the rest."""
        taken = []
        row = self._next
        rows = self._rows
        while row is not None:
            if block is not None:
                number = row.block_number
                if type(number) is not int or number > block:
                    break
            taken.append(row)
            row = next(rows, None)
        self._next = row
        return taken


def _duplicate_of(connection: Connection, row: Any) -> int | None:
    """The seq of another stored event of the row's record with the same document hash."""
    return connection.execute(
        select(events.c.seq)
        .where(
            events.c.record_key == row.record_key,
            events.c.document_hash == row.document_hash,
            events.c.entry_hash != row.entry_hash,
        )
        .order_by(events.c.seq)
        .limit(1)
    ).scalar()


def _check_record_rows(connection: Connection, reconciler: Reconciler) -> int:
    seen: set[str] = set()
    result = connection.execution_options(yield_per=_STORED_ROWS_PER_FETCH).execute(
        select(records.c.record_key, records.c.head_entry_hash, records.c.event_count)
    )
    for record_key, head, event_count in result:
        seen.add(record_key)
        reconciler.check_record_row(record_key, head, event_count)
    reconciler.missing_record_rows(seen)
    return len(seen)


# ------------------------------------------------------------------------------ the chain


def _anchored_windows(
    backend: ChainBackend, ledger_address: str, from_block: int, to_block: int, warnings: list[str]
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(last block, expected rows of its range's entries), range after range, each read with
    one ``eth_getLogs``. Ranges grow or shrink to hold about :data:`_TARGET_LOGS` logs."""
    chunk = _FIRST_CHUNK_BLOCKS
    start = from_block
    while start <= to_block:
        stop = min(to_block, start + chunk - 1)
        logs = backend.get_logs(
            address=ledger_address, from_block=start, to_block=stop, topics=[_EVENT_RECORDED]
        )
        yield stop, _expected_rows(backend, logs, warnings)
        if len(logs) > 2 * _TARGET_LOGS:
            chunk = max(chunk // 2, 1)
        elif len(logs) < _TARGET_LOGS // 2:
            chunk *= 2
        start = stop + 1


def _expected_rows(
    backend: ChainBackend, logs: list[LogEntry], warnings: list[str]
) -> list[dict[str, Any]]:
    timestamps: dict[int, int] = {}
    rows = []
    for log in logs:
        timestamp = timestamps.get(log.block_number)
        if timestamp is None:
            block = backend.get_block(log.block_number)
            if block.hash != log.block_hash:
                raise ChainError(
                    f"block {log.block_number} changed while it was audited (a reorganisation): "
                    "run the audit again"
                )
            timestamp = timestamps[log.block_number] = block.timestamp
        try:
            entry = entry_from_raw_log(log)
        except (ValueError, UnicodeDecodeError):
            # The indexer skips such an entry too (a record key that is not UTF-8).
            warnings.append(
                f"log {log.log_index} of block {log.block_number} is not a readable "
                "EventRecorded entry; not audited"
            )
            continue
        rows.append(expected_row(entry, timestamp))
    return rows
