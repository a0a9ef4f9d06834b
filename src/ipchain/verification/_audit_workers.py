"""How :func:`ipchain.verification.audit.audit` reads: block ranges of the chain paired with the
same ranges of the database, in this process or in worker processes.

A range is read window by window: one ``eth_getLogs`` for the ledger's ``EventRecorded`` logs of
a few hundred blocks, and the database's ``events`` rows of the same blocks from one query
streamed in chain order (block, log index), so both sides advance together and memory stays
bounded. Against a JSON-RPC node, large audits split the block range between worker processes
(each with its own chain connection and database connection); rows a range could not pair come
back to the parent, which pairs them with the other ranges' leftovers.
"""

from __future__ import annotations

import pickle
import queue as queue_module
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select

from ipchain.chain.base import BlockInfo, ChainBackend, LogEntry
from ipchain.contracts.register_ledger import (
    EVENT_RECORDED_TOPIC,
    AnchoredEvent,
    decode_event_recorded,
)
from ipchain.db.register import events, quarantined_events
from ipchain.errors import ChainError, ChainUnavailableError, IpchainError
from ipchain.verification.compare import ClaimedEvent, check_hash_chain, compare
from ipchain.verification.findings import Discrepancy
from ipchain.verification.stored import STORED_COLUMNS, chain_rows, expected_columns, stored_claim

_FIRST_CHUNK_BLOCKS: Final = 16  # small: a dense chain has thousands of entries per block
_MAX_CHUNK_BLOCKS: Final = 100_000
_TARGET_LOGS: Final = 10_000  # per eth_getLogs: large enough to amortise, small to stream
_ROWS_PER_FETCH: Final = 5_000
_PROGRESS_SECONDS: Final = 0.25
_FRAME_HEADER: Final = struct.Struct(">Q")  # length of the pickle that follows
_QUARANTINE_NAMED: Final = 100  # quarantined events named in a range's warnings

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


_MAX_PENDING: Final = 100_000
"""Anchored events kept waiting for a stored row seen later; beyond, they go to the final
comparison at once (bounds memory when a database lost most of its rows)."""


@dataclass
class Pairing:
    """Streams claims and anchored events into :func:`compare`, a chunk at a time: what pairs
    by entry hash within the chunks seen so far is compared at once; the rest waits for later
    chunks, and what is left at the end is compared together by :meth:`finish`."""

    collector: Collector
    timestamps: dict[int, int] = field(default_factory=dict)
    claims: dict[Any, ClaimedEvent] = field(default_factory=dict)
    anchored: dict[bytes, AnchoredEvent] = field(default_factory=dict)
    chain_heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    chain_events: int = 0
    stored_events: int = 0
    matched: int = 0
    verified: int = 0
    rehashed: int = 0

    def add(self, anchored: list[AnchoredEvent], claims: list[ClaimedEvent]) -> None:
        """One chunk: anchored events (chain order) and claims, in any grouping."""
        for event in anchored:
            self.chain_events += 1
            self.chain_heads[event.record_key] = (event.seq, event.entry_hash)
            self.anchored[event.entry_hash] = event
        self.stored_events += len(claims)
        for claim in claims:
            self.claims[claim.entry_hash if isinstance(claim.entry_hash, bytes) else id(claim)] = (
                claim
            )
        pairs = [(h, self.anchored.pop(h)) for h in list(self.claims) if h in self.anchored]
        if pairs:
            self._compare([self.claims.pop(h) for h, _ in pairs], [event for _, event in pairs])
        if len(self.anchored) > _MAX_PENDING:
            self.finish()

    def _compare(
        self, claims: list[ClaimedEvent], anchored: list[AnchoredEvent], known_document: Any = None
    ) -> None:
        columns = expected_columns(self.timestamps)
        findings = compare(
            claims, anchored, expected_columns=columns, known_document=known_document
        )
        for finding in findings:
            for discrepancy in finding.discrepancies:
                self.collector.add(discrepancy)
            if finding.position is None and finding.seq is not None and not finding.failed:
                self.verified += 1
        paired = len(anchored) - sum(f.verdict == "missing" for f in findings)
        self.matched += paired
        self.rehashed += sum(claim.document is not None for claim in claims)

    def leftovers(self) -> tuple[list[AnchoredEvent], list[ClaimedEvent]]:
        """Take what is not paired so far (to pair it with another range's)."""
        anchored, claims = list(self.anchored.values()), list(self.claims.values())
        self.anchored, self.claims = {}, {}
        return anchored, claims

    def finish(self, known_document: Any = None) -> None:
        """Compare what is left: pairs by record and seq or by chain position, and report
        the rest as missing or unanchored."""
        anchored, claims = self.leftovers()
        self._compare(claims, anchored, known_document)


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
    leftover_chain: list[AnchoredEvent]
    leftover_stored: list[ClaimedEvent]
    timestamps: dict[int, int]
    warnings: list[str]
    quarantined: int = 0
    """Anchored logs left out because this node quarantined them (named in ``warnings``)."""


@dataclass
class _Quarantine:
    """The node's quarantined logs (``quarantined_events``), by chain position: the audit
    leaves out an anchored log the node quarantined — the very log, same data — and names
    it, instead of reporting it missing."""

    rows: dict[tuple[int, int], Any]
    count: int = 0

    @classmethod
    def load(cls, connection: Connection, from_block: int, to_block: int) -> _Quarantine:
        """The quarantined logs of blocks ``from_block`` to ``to_block``."""
        result = connection.execute(
            select(
                quarantined_events.c.block_number,
                quarantined_events.c.log_index,
                quarantined_events.c.entry_hash,
                quarantined_events.c.record_key,
                quarantined_events.c.data,
                quarantined_events.c.reason,
            ).where(quarantined_events.c.block_number.between(from_block, to_block))
        )
        return cls({(row.block_number, row.log_index): row for row in result})

    def take(self, log: LogEntry, warnings: list[str]) -> bool:
        """True (and the log named in ``warnings``) when the node quarantined this log."""
        row = self.rows.get((log.block_number, log.log_index))
        if row is None or bytes(row.data) != log.data:
            return False
        self.count += 1
        if self.count <= _QUARANTINE_NAMED:
            entry = "" if row.entry_hash is None else f", entry 0x{bytes(row.entry_hash).hex()}"
            record = "" if row.record_key is None else f", record {row.record_key!r}"
            warnings.append(
                f"quarantined by this node, not audited: log {log.log_index} of block "
                f"{log.block_number}{entry}{record}: {row.reason}"
            )
        elif self.count == _QUARANTINE_NAMED + 1:
            warnings.append("more quarantined logs, not named (see the totals)")
        return True


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
    """Pair and compare the anchored events and stored rows of blocks ``from_block`` to
    ``to_block``; the ``first`` range also takes stored rows below it, the ``last`` those
    above it."""
    pairing = Pairing(Collector(listed))
    warnings: list[str] = []
    quarantine = _Quarantine.load(connection, from_block, to_block)
    stored = _StoredStream(connection, None if first else from_block, None if last else to_block)
    for last_block, anchored in _anchored_windows(
        backend, ledger_address, from_block, to_block, warnings, pairing.timestamps, quarantine
    ):
        pairing.add(anchored, [stored_claim(row) for row in stored.until(last_block)])
        if progress is not None:
            progress(last_block - from_block + 1, pairing.chain_events)
    pairing.add([], [stored_claim(row) for row in stored.until(None)])
    leftover_chain, leftover_stored = pairing.leftovers()
    wanted = {event.block_number for event in leftover_chain}
    return RangeResult(
        collector=pairing.collector,
        chain_events=pairing.chain_events,
        stored_events=pairing.stored_events,
        matched=pairing.matched,
        verified=pairing.verified,
        rehashed=pairing.rehashed,
        chain_heads=pairing.chain_heads,
        leftover_chain=leftover_chain,
        leftover_stored=leftover_stored,
        timestamps={n: t for n, t in pairing.timestamps.items() if n in wanted},
        warnings=warnings,
        quarantined=quarantine.count,
    )


def walk_all_stored_chains(connection: Connection, listed: int) -> Collector:
    """Every record's stored hash chain, in (record, seq) order (the unique index's order)."""
    collector = Collector(listed)
    result = connection.execution_options(yield_per=_ROWS_PER_FETCH).execute(
        select(
            events.c.record_key, events.c.seq, events.c.entry_hash, events.c.prev_entry_hash
        ).order_by(events.c.record_key, events.c.seq)
    )
    check_hash_chain(chain_rows(result), collector.add)
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
    backend: ChainBackend,
    ledger_address: str,
    from_block: int,
    to_block: int,
    warnings: list[str],
    timestamps: dict[int, int],
    quarantine: _Quarantine,
) -> Iterator[tuple[int, list[AnchoredEvent]]]:
    """(last block, its range's anchored events), range after range, each read with
    one ``eth_getLogs``. Each range is sized from the last one's density to hold about
    :data:`_TARGET_LOGS` logs.

    The next range is read by a helper thread while this one is checked: the node takes a
    while to answer a large ``eth_getLogs``, time this thread would otherwise spend waiting.
    Only the helper thread talks to the node."""
    chunk = _FIRST_CHUNK_BLOCKS

    def read(start: int) -> tuple[int, int, list[LogEntry], dict[int, BlockInfo]]:
        stop = min(to_block, start + chunk - 1)
        logs = backend.get_logs(
            address=ledger_address, from_block=start, to_block=stop, topics=[EVENT_RECORDED_TOPIC]
        )
        blocks = {
            number: backend.get_block(number) for number in {log.block_number for log in logs}
        }
        return start, stop, logs, blocks

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipchain-audit-read") as reader:
        pending = reader.submit(read, from_block) if from_block <= to_block else None
        while pending is not None:
            start, stop, logs, blocks = pending.result()
            span = stop - start + 1
            wanted = span * _TARGET_LOGS // len(logs) if logs else span * 4
            chunk = max(1, min(wanted, _MAX_CHUNK_BLOCKS))
            pending = reader.submit(read, stop + 1) if stop < to_block else None
            yield stop, _decoded(logs, blocks, warnings, timestamps, quarantine)


def _decoded(
    logs: list[LogEntry],
    blocks: dict[int, BlockInfo],
    warnings: list[str],
    timestamps: dict[int, int],
    quarantine: _Quarantine,
) -> list[AnchoredEvent]:
    decoded = []
    for log in logs:
        block = blocks[log.block_number]
        if block.hash != log.block_hash:
            raise ChainError(
                f"block {log.block_number} changed while it was audited (a reorganisation): "
                "run the audit again"
            )
        if quarantine.take(log, warnings):
            continue
        try:
            event = decode_event_recorded(log)
        except ChainError:
            # The indexer skips such an entry too (nothing can show it).
            warnings.append(
                f"log {log.log_index} of block {log.block_number} is not a readable "
                "EventRecorded entry; not audited"
            )
            continue
        timestamps[log.block_number] = block.timestamp
        decoded.append(event)
    return decoded


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
    is returned beside the ranges'). A worker's failure is raised here, as one line.

    Workers are fresh interpreters (``python -m ipchain.verification._audit_workers``) rather than
    multiprocessing children: nothing of this process (threads, connections, an unguarded main
    script) is inherited or re-run. Each reads its task from stdin and writes framed pickles to
    stdout: progress reports, then its result.
    """
    messages: queue_module.Queue[tuple[str, int, Any]] = queue_module.Queue()
    workers: list[tuple[subprocess.Popen[bytes], Any]] = []
    try:
        for task in tasks:
            errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, with the worker
            worker = subprocess.Popen(
                [sys.executable, "-m", "ipchain.verification._audit_workers"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            workers.append((worker, errors))
            assert worker.stdin is not None
            worker.stdin.write(pickle.dumps(task))
            worker.stdin.close()
            threading.Thread(
                target=_read_frames, args=(worker, task.index, messages), daemon=True
            ).start()
        own = while_waiting()
        results: dict[int, RangeResult] = {}
        blocks = [0] * len(tasks)
        events_read = [0] * len(tasks)
        while len(results) < len(tasks):
            kind, index, payload = messages.get()
            if kind == "progress":
                blocks[index], events_read[index] = payload
                if progress is not None:
                    progress(sum(blocks), sum(events_read))
            elif kind == "done":
                results[index] = payload
            else:
                worker, errors = workers[index]
                raise _worker_failure(kind, payload, worker, errors)
    finally:
        for worker, errors in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            errors.close()
    return [results[index] for index in range(len(tasks))], own


def _read_frames(
    worker: subprocess.Popen[bytes], index: int, messages: queue_module.Queue[Any]
) -> None:
    """Forward a worker's messages to ``messages``; ("ended", index, None) when it stops
    without a result."""
    stream = worker.stdout
    assert stream is not None
    try:
        while True:
            header = stream.read(_FRAME_HEADER.size)
            if len(header) < _FRAME_HEADER.size:
                messages.put(("ended", index, None))
                return
            (length,) = _FRAME_HEADER.unpack(header)
            kind, payload = pickle.loads(stream.read(length))
            messages.put((kind, index, payload))
            if kind in ("done", "error"):
                return
    except Exception as error:  # a garbled stream: the worker is as good as dead
        messages.put(("error", index, ("internal", f"unreadable worker output ({error})")))


def _worker_failure(kind: str, payload: Any, worker: Any, errors: Any) -> IpchainError:
    if kind == "error":
        name, message = payload
        error_class = {
            "ChainUnavailableError": ChainUnavailableError,
            "ChainError": ChainError,
        }.get(name, IpchainError)
        return error_class(message)
    worker.wait()
    errors.seek(0)
    lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    last = f": {lines[-1]}" if lines else ""
    return IpchainError(f"an audit worker process stopped (exit code {worker.returncode}){last}")


def _send(stream: Any, kind: str, payload: Any) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME_HEADER.pack(len(data)) + data)
    stream.flush()


def _worker_main() -> None:
    """A worker process: audit the range read from stdin, report to stdout."""
    from ipchain.chain.rpc import RpcChain
    from ipchain.config import Settings
    from ipchain.db.base import make_engine

    task: RangeTask = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    last_report = 0.0

    def report(blocks: int, events_read: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report >= _PROGRESS_SECONDS:
            last_report = now
            _send(out, "progress", (blocks, events_read))

    try:
        engine = make_engine(task.database_url, pool_size=1)
        token = Settings().rpc_token  # the parent's environment: IPCHAIN_RPC_TOKEN
        backend = RpcChain.connect(task.rpc_url, token=token.get_secret_value() if token else None)
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
        _send(out, "progress", (task.to_block - task.from_block + 1, result.chain_events))
        _send(out, "done", result)
    except IpchainError as error:
        _send(out, "error", (type(error).__name__, str(error)))
    except Exception as error:  # reported as one line by the parent
        _send(out, "error", ("internal", f"{type(error).__name__}: {error}"))


def snapshot_options(dialect_name: str) -> dict[str, Any]:
    """Execution options for a transaction that reads one state of the database from its first
    read to its last (SQLite's transactions always do; PostgreSQL's default isolation would
    let a live indexer's commits show up halfway). Set before the transaction begins."""
    if dialect_name == "postgresql":
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    return {}


if __name__ == "__main__":
    # Run as the module itself, not as __main__, so that pickled results name its classes.
    from ipchain.verification._audit_workers import _worker_main as worker_main

    worker_main()
