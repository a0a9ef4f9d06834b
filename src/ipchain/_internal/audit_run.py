"""How :func:`ipchain.audit.audit` reads: block ranges of the chain paired with the same ranges of
the database, in this process or in worker processes.

A range is read window by window: one ``eth_getLogs`` for the ledger's ``EventRecorded`` logs of
a few hundred blocks, and the database's ``events`` rows of the same blocks from one query
streamed in chain order (block, log index), so both sides advance together and memory stays
bounded. Against a JSON-RPC node, large audits split the block range between worker processes
(each with its own chain connection and database connection); rows a range could not pair come
back to the parent, which pairs them with the other ranges' leftovers.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select

from ipchain._internal.audit_checks import (
    CHAIN_COLUMNS,
    STORED_COLUMNS,
    Discrepancy,
    Reconciler,
    StoredRow,
    expected_row,
    walk_stored_chains,
)
from ipchain.chain.base import ChainBackend, LogEntry
from ipchain.contracts import load_interface
from ipchain.db.register import events
from ipchain.errors import ChainError, ChainUnavailableError, IpchainError
from ipchain.ledger import entry_from_raw_log

_EVENT_RECORDED: Final = load_interface("RegisterLedger").event_topic("EventRecorded")
_FIRST_CHUNK_BLOCKS: Final = 512
_TARGET_LOGS: Final = 10_000  # per eth_getLogs: large enough to amortise, small to stream
_ROWS_PER_FETCH: Final = 5_000
_PROGRESS_SECONDS: Final = 0.25

RangeProgress = Callable[[int, int], None]
"""(blocks of the range read, anchored events read)."""


@dataclass
class Collector:
    """Keeps the first discrepancies and counts them all, by kind."""

    limit: int
    listed: list[Discrepancy] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, discrepancy: Discrepancy) -> None:
        self.counts[discrepancy.kind.value] += 1
        if len(self.listed) < self.limit:
            self.listed.append(discrepancy)

    def merge(self, other: Collector) -> None:
        self.counts.update(other.counts)
        room = self.limit - len(self.listed)
        self.listed.extend(other.listed[: max(room, 0)])


@dataclass
class RangeResult:
    """What auditing one block range found, and what it could not pair."""

    collector: Collector
    chain_events: int
    stored_events: int
    matched: int
    verified: int
    rehashed: int
    chain_heads: dict[str, tuple[int, bytes]]
    leftover_chain: list[dict[str, Any]]
    leftover_stored: list[Any]
    warnings: list[str]


def audit_range(
    connection: Connection,
    backend: ChainBackend,
    ledger_address: str,
    from_block: int,
    to_block: int,
    *,
    first: bool,
    last: bool,
    listed: int,
    progress: RangeProgress | None = None,
) -> RangeResult:
    """Pair and compare the entries and stored rows of blocks ``from_block``..``to_block``;
    the ``first`` range also takes stored rows below it, the ``last`` those above it."""
    collector = Collector(listed)
    warnings: list[str] = []
    reconciler = Reconciler(collector.add)
    stored = _StoredStream(connection, None if first else from_block, None if last else to_block)
    for last_block, expected in _anchored_windows(
        backend, ledger_address, from_block, to_block, warnings
    ):
        reconciler.add(expected, stored.until(last_block))
        if progress is not None:
            progress(last_block - from_block + 1, reconciler.chain_events)
    reconciler.add((), stored.until(None))
    leftover_chain, leftover_stored = reconciler.leftovers()
    return RangeResult(
        collector=collector,
        chain_events=reconciler.chain_events,
        stored_events=reconciler.stored_events,
        matched=reconciler.matched,
        verified=reconciler.verified,
        rehashed=reconciler.rehashed,
        chain_heads=reconciler.chain_heads,
        leftover_chain=leftover_chain,
        leftover_stored=leftover_stored,
        warnings=warnings,
    )


def walk_all_stored_chains(connection: Connection, listed: int) -> Collector:
    """Every record's stored hash chain, in (record, seq) order (the unique index's order)."""
    collector = Collector(listed)
    result = connection.execution_options(yield_per=_ROWS_PER_FETCH).execute(
        select(*CHAIN_COLUMNS).order_by(events.c.record_key, events.c.seq)
    )
    walk_stored_chains(result, collector.add)
    return collector


# ------------------------------------------------------------------------------ the database


class _StoredStream:
    """The ``events`` rows of a block range in chain order, handed out window by window."""

    def __init__(self, connection: Connection, low: int | None, high: int | None) -> None:
        statement = select(*STORED_COLUMNS).order_by(events.c.block_number, events.c.log_index)
        if low is not None:
            statement = statement.where(events.c.block_number >= low)
        if high is not None:
            statement = statement.where(events.c.block_number <= high)
        result = connection.execution_options(yield_per=_ROWS_PER_FETCH).execute(statement)
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


# ------------------------------------------------------------------------------ processes


@dataclass(frozen=True, slots=True)
class RangeTask:
    """One worker's share of the audit."""

    index: int
    database_url: str
    rpc_url: str
    ledger_address: str
    from_block: int
    to_block: int
    first: bool
    last: bool
    listed: int


def run_in_processes(
    tasks: list[RangeTask], progress: RangeProgress | None, while_waiting: Callable[[], Any]
) -> tuple[list[RangeResult], Any]:
    """Run each task in a worker process; ``while_waiting()`` runs here meanwhile (its result
    is returned beside the ranges'). Worker failures are raised here, as one line."""
    # Not plain fork: this process may hold threads (a progress bar's, a server's). A fork
    # server imports ipchain once, then forks workers from its clean, single-threaded state.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    messages = context.Queue()
    workers = [
        context.Process(target=_worker, args=(task, messages), daemon=True) for task in tasks
    ]
    for worker in workers:
        worker.start()
    results: dict[int, RangeResult] = {}
    blocks = [0] * len(tasks)
    events_read = [0] * len(tasks)
    try:
        own = while_waiting()
        while len(results) < len(tasks):
            try:
                kind, index, payload = messages.get(timeout=1.0)
            except queue_module.Empty:
                dead = [w for i, w in enumerate(workers) if i not in results and not w.is_alive()]
                if dead:
                    raise IpchainError(
                        f"an audit worker process stopped (exit code {dead[0].exitcode})"
                    ) from None
                continue
            if kind == "progress":
                blocks[index], events_read[index] = payload
                if progress is not None:
                    progress(sum(blocks), sum(events_read))
            elif kind == "error":
                name, message = payload
                error_class = {
                    "ChainUnavailableError": ChainUnavailableError,
                    "ChainError": ChainError,
                }.get(name, IpchainError)
                raise error_class(message)
            else:
                results[index] = payload
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join(timeout=10)
        messages.close()
    return [results[index] for index in range(len(tasks))], own


def _worker(task: RangeTask, messages: Any) -> None:
    """A worker process: audit one range with its own connections, report back."""
    from ipchain.chain.rpc import RpcChain
    from ipchain.db.base import make_engine

    last_report = 0.0

    def report(blocks: int, events_read: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report >= _PROGRESS_SECONDS:
            last_report = now
            messages.put(("progress", task.index, (blocks, events_read)))

    try:
        engine = make_engine(task.database_url, pool_size=1)
        backend = RpcChain.connect(task.rpc_url)
        try:
            options = snapshot_options(engine.dialect.name)
            with engine.connect().execution_options(**options) as connection:
                result = audit_range(
                    connection,
                    backend,
                    task.ledger_address,
                    task.from_block,
                    task.to_block,
                    first=task.first,
                    last=task.last,
                    listed=task.listed,
                    progress=report,
                )
        finally:
            backend.close()
            engine.dispose()
        result.leftover_stored = [StoredRow(*row) for row in result.leftover_stored]
        blocks = task.to_block - task.from_block + 1
        messages.put(("progress", task.index, (blocks, result.chain_events)))
        messages.put(("done", task.index, result))
    except IpchainError as error:
        messages.put(("error", task.index, (type(error).__name__, str(error))))
    except Exception as error:  # reported as one line by the parent
        messages.put(("error", task.index, ("internal", f"{type(error).__name__}: {error}")))


def snapshot_options(dialect_name: str) -> dict[str, Any]:
    """Execution options for a transaction that reads one state of the database from its first
    read to its last (SQLite's transactions always do; PostgreSQL's default isolation would
    let a live indexer's commits show up halfway). Set before the transaction begins."""
    if dialect_name == "postgresql":
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    return {}
