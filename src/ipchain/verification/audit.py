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
own code first, as verification does (:mod:`ipchain.verification.verifier`). docs/audit.md
describes the checks and the JSON report; ``ipchain audit`` runs it (:mod:`ipchain.cli.audit`).

The audit covers the blocks the index claims to have read (its checkpoint), in one database
snapshot, so it can run beside a live indexer.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import URL, Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment
from ipchain.db.indexer import DEFAULT_NAME
from ipchain.db.register import event_flags, events, indexer_checkpoints, records
from ipchain.verification._audit_workers import (
    Collector,
    Pairing,
    RangeTask,
    audit_range,
    run_in_processes,
    snapshot_options,
    walk_all_stored_chains,
)
from ipchain.verification.compare import ClaimedEvent
from ipchain.verification.findings import Discrepancy, DiscrepancyKind
from ipchain.verification.reader import ChainReader
from ipchain.verification.stored import check_record_rows

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

REPORT_FORMAT_VERSION: Final = 2
"""Version of the JSON report's layout (docs/audit.md); 2 names discrepancies with the
verification vocabulary (``missing``, ``unanchored``)."""

MAX_LISTED: Final = 10_000
"""Discrepancies listed in a report; beyond, they are counted (by kind) but not listed."""

PARALLEL_FROM_EVENTS: Final = 200_000
"""Stored events from which an audit against a JSON-RPC node uses worker processes (below,
starting them costs more than it saves)."""

MAX_WORKERS: Final = 4
"""Most worker processes an audit starts by default."""

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
    quarantined_events: int = 0
    """Anchored entries this node quarantined (it could not parse or store them): left out of
    the comparison and named in the warnings."""
    flagged_events: int = 0
    """Stored events the indexer flagged (``event_flags``: odd but indexed)."""


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
                "quarantined_events": totals.quarantined_events,
                "flagged_events": totals.flagged_events,
            },
            "discrepancy_counts": dict(sorted(self.discrepancy_counts.items())),
            "discrepancy_total": self.discrepancy_total,
            "discrepancies_listed": len(self.discrepancies),
            "discrepancies": [item.to_json() for item in self.discrepancies],
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


def audit(
    session_factory: sessionmaker[Session],
    backend: ChainBackend,
    deployment: Deployment,
    *,
    progress: AuditProgress | None = None,
    max_listed: int = MAX_LISTED,
    indexer_name: str = DEFAULT_NAME,
    workers: int | None = None,
) -> AuditReport:
    """Cross-check the whole index database of ``session_factory`` against the chain.

    ``workers`` worker processes split the block range (a chain with an
    :attr:`~ipchain.chain.base.ChainBackend.endpoint` only: the embedded chain is one
    process's); by default large databases (:data:`PARALLEL_FROM_EVENTS`) use one per CPU.
    Discrepancies are reported, never raised; :class:`~ipchain.errors.ChainError` (or
    :class:`~ipchain.errors.ChainUnavailableError`) is raised when the chain cannot be read,
    including when it reorganises under the audit.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ledger_address = deployment.address("RegisterLedger")
    problems = contract_problems(backend, deployment)
    chain_head = backend.block_number()
    collector = Collector(max_listed)
    with session_factory() as session:
        options = snapshot_options(session.get_bind().dialect.name)
        connection = session.connection(execution_options=options)
        database_url = connection.engine.url
        indexed = _indexed_block(connection, indexer_name, deployment)
        to_block = indexed
        if indexed > chain_head:
            problems.append(
                f"the index claims block {indexed}, the chain's head is block {chain_head}: "
                "the chain lost blocks the index was built from (or the index is another "
                "chain's)"
            )
            to_block = chain_head
        from_block = deployment.block_number
        total_blocks = max(to_block - from_block + 1, 0)

        def show(blocks: int, events_read: int) -> None:
            if progress is not None:
                progress(blocks, total_blocks, events_read)

        count = _worker_count(workers, backend, connection)
        if count > 1:
            tasks = _tasks(
                connection,
                count,
                database_url,
                backend,
                ledger_address,
                from_block,
                to_block,
                max_listed,
            )
            ranges, walked = run_in_processes(
                tasks, show, lambda: walk_all_stored_chains(connection, max_listed)
            )
        else:
            ranges = [
                audit_range(
                    connection,
                    backend,
                    ledger_address,
                    from_block,
                    to_block,
                    first=True,
                    last=True,
                    listed=max_listed,
                    progress=show,
                )
            ]
            walked = walk_all_stored_chains(connection, max_listed)
        # Rows and entries a range could not pair may pair with another range's.
        pairing = Pairing(collector)
        chain_heads: dict[str, tuple[int, bytes]] = {}
        warnings: list[str] = []
        for part in ranges:
            collector.merge(part.collector)
            pairing.timestamps.update(part.timestamps)
            pairing.add(part.leftover_chain, part.leftover_stored)
            chain_heads.update(part.chain_heads)  # ranges in chain order: later heads win
            warnings.extend(part.warnings)
        pairing.finish(known_document=lambda claim: _duplicate_of(connection, claim))
        collector.merge(walked)
        flagged = connection.execute(
            select(func.count(func.distinct(event_flags.c.entry_hash)))
        ).scalar()
        stored_records = check_record_rows(
            connection.execute(
                select(records.c.record_key, records.c.head_entry_hash, records.c.event_count)
            ),
            chain_heads,
            collector.add,
        )
    totals = AuditTotals(
        anchored_events=sum(part.chain_events for part in ranges),
        stored_events=sum(part.stored_events for part in ranges),
        matched_events=sum(part.matched for part in ranges) + pairing.matched,
        verified_events=sum(part.verified for part in ranges) + pairing.verified,
        documents_rehashed=sum(part.rehashed for part in ranges) + pairing.rehashed,
        records=len(chain_heads),
        stored_records=stored_records,
        blocks=total_blocks,
        quarantined_events=sum(part.quarantined for part in ranges),
        flagged_events=int(flagged or 0),
    )
    return AuditReport(
        chain_id=backend.chain_id,
        registry_address=deployment.address("OfficeRegistry"),
        ledger_address=ledger_address,
        database=database_url.render_as_string(hide_password=True),
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
    """Why the deployment's contracts are not ipchain's own code (empty: they are)."""
    reader = ChainReader(
        backend, deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    )
    return reader.contract_problems()


# ------------------------------------------------------------------------------ helpers


def _indexed_block(connection: Connection, name: str, deployment: Deployment) -> int:
    block = connection.execute(
        select(indexer_checkpoints.c.block_number).where(indexer_checkpoints.c.name == name)
    ).scalar()
    return deployment.block_number - 1 if block is None else int(block)


def _worker_count(workers: int | None, backend: ChainBackend, connection: Connection) -> int:
    """Worker processes for this audit: only a chain reachable from other processes (a
    JSON-RPC node) can be read from several."""
    if backend.endpoint is None:
        return 1
    if workers is not None:
        return max(workers, 1)
    if (os.cpu_count() or 1) < 2:
        return 1
    stored = connection.execute(select(func.count()).select_from(events)).scalar() or 0
    return min(os.cpu_count() or 1, MAX_WORKERS) if stored >= PARALLEL_FROM_EVENTS else 1


def _tasks(
    connection: Connection,
    count: int,
    database_url: URL,
    backend: ChainBackend,
    ledger_address: str,
    from_block: int,
    to_block: int,
    listed: int,
) -> list[RangeTask]:
    """``count`` block ranges holding about as many stored events each."""
    stored = connection.execute(select(func.count()).select_from(events)).scalar() or 0
    bounds = [from_block - 1]
    for index in range(1, count):
        block = connection.execute(
            select(events.c.block_number)
            .order_by(events.c.block_number, events.c.log_index)
            .offset(stored * index // count)
            .limit(1)
        ).scalar()
        if isinstance(block, int) and bounds[-1] < block < to_block:
            bounds.append(block)
    bounds.append(to_block)
    url = database_url.render_as_string(hide_password=False)
    rpc_url = backend.endpoint
    assert rpc_url is not None  # _worker_count starts workers only then
    return [
        RangeTask(
            index=index,
            database_url=url,
            rpc_url=rpc_url,
            ledger_address=ledger_address,
            from_block=low + 1,
            to_block=high,
            first=index == 0,
            last=index == len(bounds) - 2,
            listed=listed,
        )
        for index, (low, high) in enumerate(itertools.pairwise(bounds))
    ]


def _duplicate_of(connection: Connection, claim: ClaimedEvent) -> int | None:
    """The seq of another stored event of the claim's record with the same document hash."""
    return connection.execute(
        select(events.c.seq)
        .where(
            events.c.record_key == claim.record_key,
            events.c.document_hash == claim.document_hash,
            events.c.entry_hash != claim.entry_hash,
        )
        .order_by(events.c.seq)
        .limit(1)
    ).scalar()
