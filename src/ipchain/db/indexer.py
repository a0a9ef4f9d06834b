"""Following the chain into the SQL index: checkpointed, resumable, idempotent, reorg-aware.

The :class:`Indexer` reads the logs of the consortium's contracts block range by block range
(``chunk_blocks`` at a time), from the block after its checkpoint up to ``confirmations``
blocks below the head. Each range is written in **one** database transaction together with the
new checkpoint, so a crash leaves the index at the previous checkpoint and the range is simply
read again; rows are keyed by what the chain made unique (the entry hash), so reading a range
twice never duplicates anything.

Reorgs: the checkpoint keeps the hash of its block. When the chain has another block at that
height, the indexer walks back through the blocks it stored events of until it finds one the
chain still has, removes everything above it (every table, through the rollback handlers) and
reads on from there. On a finalising chain (QBFT) this never happens; on a dev node or a
reorg-prone network, ``confirmations`` keeps the index that many blocks behind the head.

What gets indexed is the caller's :class:`HandlerRegistry`: each domain package registers
functions writing the rows of its contracts' events (per log, or per block range in bulk, as
the register's ``EventRecorded`` is) and a rollback undoing them above a block; the node
composes the domains it follows (:func:`ipchain.node.service.node_handlers`).

Untrusted content never stops the indexer. Whatever is on the chain was written by someone
else; a log a handler cannot parse or store is **quarantined** (:func:`quarantine`: kept raw
in ``quarantined_events`` with the reason, one log line) and the range goes on with the next
log. Each handler call runs in a savepoint: when a batch handler fails on its range, its logs
are handled again one by one and only those that fail are quarantined. Storage faults are told
apart (:func:`ipchain.db.base.is_storage_fault`: a full disk, a lost connection, a chain that
does not answer): they stop the range, whose transaction is rolled back whole, and
:meth:`Indexer.run_forever` retries with back-off, reporting the failure to ``on_failure``.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import BlockInfo, ChainBackend, LogEntry
from ipchain.contracts.bindings import ContractInterface, DecodedLog, Deployment, load_interface
from ipchain.db.base import (
    IMMEDIATE,
    describe_error,
    is_storage_fault,
    refresh_statistics,
    storable_text,
)
from ipchain.db.register import events, indexer_checkpoints, quarantined_events
from ipchain.errors import ChainError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_BLOCKS: Final = 2_000
"""Blocks per read-and-write step: one ``eth_getLogs`` call and one database transaction."""

DEFAULT_NAME: Final = "main"
"""Checkpoint name of a node's indexer."""

_REORG_CANDIDATES_PER_QUERY: Final = 64

STATISTICS_EVERY: Final = 50_000
"""Logs indexed between two refreshes of the database's query-planner statistics."""

MAX_RETRY_SECONDS: Final = 30.0
"""Longest wait between two tries of a failing indexer step (the wait doubles from the poll
interval)."""

_REASON_LENGTH: Final = 1_000


@dataclass(frozen=True, slots=True)
class IndexedLog:
    """A log of a followed event, with its block and its contract's ABI."""

    log: LogEntry
    """The raw log."""
    block: BlockInfo
    """Its block (number, hash, time)."""
    interface: ContractInterface
    """The emitting contract's interface."""
    contract: str = ""
    """The emitting contract's name in the deployment."""
    event: str = ""
    """The event's name."""

    def decode(self) -> DecodedLog:
        """The log decoded with the contract's ABI (done on demand: ABI decoding is the
        costly part, and bulk handlers may have a faster decoder of their own)."""
        decoded = self.interface.decode_log(self.log)
        assert decoded is not None  # only logs of the contract's own events are grouped
        return decoded


LogHandler = Callable[[Session, DecodedLog, BlockInfo], None]
"""Writes the rows of one log, inside the indexer's transaction."""
BatchHandler = Callable[[Session, Sequence[IndexedLog]], None]
"""Writes the rows of all logs of one event in a block range (chain order), in one go."""
RollbackHandler = Callable[[Session, int], None]
"""Removes every row derived from blocks above the given block number."""
RangeHandler = Callable[[Session, int, int], None]
"""Called once a block range (first, last) is indexed, in its transaction."""


class HandlerRegistry:
    """Which contract events the indexer follows, and how rows are undone after a reorg.

    In each block range, batch handlers run first, each once with all its event's logs; then
    per-log handlers run log by log in chain order, across every followed event and contract
    (so a ``SignerAdded`` reaches its handler before a later ``SignerRevoked``).
    """

    def __init__(self) -> None:
        self._each: dict[tuple[str, str], list[LogHandler]] = {}
        self._batch: dict[tuple[str, str], list[BatchHandler]] = {}
        self._rollbacks: list[RollbackHandler] = []
        self._after_range: list[RangeHandler] = []

    def register(self, contract_name: str, event_name: str, handler: LogHandler) -> None:
        """Call ``handler(session, decoded_log, block)`` for each log of the event."""
        self._each.setdefault((contract_name, event_name), []).append(handler)

    def register_batch(self, contract_name: str, event_name: str, handler: BatchHandler) -> None:
        """Call ``handler(session, logs)`` once per block range with all the event's logs."""
        self._batch.setdefault((contract_name, event_name), []).append(handler)

    def register_rollback(self, handler: RollbackHandler) -> None:
        """Call ``handler(session, block_number)`` when a reorg drops the blocks above it."""
        self._rollbacks.append(handler)

    def register_after_range(self, handler: RangeHandler) -> None:
        """Call ``handler(session, first, last)`` once a block range is indexed, in its
        transaction (checks that need the range's rows, such as the outbox's)."""
        self._after_range.append(handler)

    @property
    def after_range(self) -> list[RangeHandler]:
        """After-range handlers, in registration order."""
        return list(self._after_range)

    @property
    def contract_names(self) -> set[str]:
        """Contracts with at least one handler."""
        return {contract for contract, _ in (*self._each, *self._batch)}

    def follows(self, contract_name: str, event_name: str) -> bool:
        """Whether any handler wants this event."""
        key = (contract_name, event_name)
        return key in self._each or key in self._batch

    def handlers(self, contract_name: str, event_name: str) -> list[BatchHandler]:
        """Batch handlers of one event, in registration order."""
        return self._batch.get((contract_name, event_name), [])

    def log_handlers(self, contract_name: str, event_name: str) -> list[LogHandler]:
        """Per-log handlers of one event, in registration order."""
        return self._each.get((contract_name, event_name), [])

    @property
    def rollbacks(self) -> list[RollbackHandler]:
        """Rollback handlers, in registration order."""
        return list(self._rollbacks)


# --- quarantine ------------------------------------------------------------------------------


def quarantine(
    session: Session,
    indexed_log: IndexedLog,
    reason: str,
    *,
    entry_hash: bytes | None = None,
    record_id: bytes | None = None,
    record_key: str | None = None,
) -> None:
    """Keep a log the index cannot hold, raw, with why (in the range's transaction), and say
    so in one log line. A register entry's hashes and record key, when known, make it easy to
    find (the record key is made printable; ``record_id`` is exact)."""
    log = indexed_log.log
    reason = storable_text(reason, _REASON_LENGTH)
    shown_key = None if record_key is None else storable_text(record_key, 200)
    row = {
        "block_number": log.block_number,
        "log_index": log.log_index,
        "block_hash": log.block_hash,
        "transaction_hash": log.transaction_hash,
        "block_timestamp": indexed_log.block.timestamp,
        "address": log.address,
        "contract": indexed_log.contract or "?",
        "event": indexed_log.event or "?",
        "entry_hash": entry_hash,
        "record_id": record_id,
        "record_key": shown_key,
        "topics": b"".join(log.topics),
        "data": log.data,
        "reason": reason,
    }
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(module.insert(quarantined_events).values(row).on_conflict_do_nothing())
    entry = "" if entry_hash is None else f" (entry 0x{entry_hash.hex()})"
    logger.warning(
        "quarantined %s.%s log %d of block %d%s: %s",
        row["contract"],
        row["event"],
        log.log_index,
        log.block_number,
        entry,
        reason,
    )


def remove_quarantined_above(session: Session, block_number: int) -> None:
    """Forget quarantined logs above ``block_number`` (a reorg dropped their blocks)."""
    session.execute(
        delete(quarantined_events).where(quarantined_events.c.block_number > block_number)
    )


# --- the indexer -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last block an indexer has fully indexed."""

    block_number: int
    """Block number (the deployment block minus one before anything is indexed)."""
    block_hash: bytes | None
    """Its hash as indexed (None before anything is indexed)."""


class _ChainMoved(ChainError):
    """The chain changed under a range being read; the range is read again next time."""


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    """What :meth:`Indexer.retry_quarantined` did."""

    quarantined: int
    """Logs quarantined before the retry."""
    retried: int
    """Logs read again from the chain and handed to the handlers."""
    still_quarantined: int
    """Logs quarantined after it (those that still fail, and those not retried)."""

    @property
    def indexed(self) -> int:
        """Logs the retry took out of quarantine."""
        return self.quarantined - self.still_quarantined


class Indexer:
    """Indexes one deployment's contract logs into the database of ``session_factory``."""

    def __init__(
        self,
        backend: ChainBackend,
        deployment: Deployment,
        session_factory: sessionmaker[Session],
        handlers: HandlerRegistry,
        confirmations: int = 0,
        *,
        name: str = DEFAULT_NAME,
        chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    ) -> None:
        if confirmations < 0 or chunk_blocks < 1:
            raise ValueError("confirmations must be >= 0 and chunk_blocks >= 1")
        self.backend = backend
        self.deployment = deployment
        self.session_factory = session_factory
        self.confirmations = confirmations
        self.name = name
        self.chunk_blocks = chunk_blocks
        self.handlers = handlers
        self.on_failure: Callable[[BaseException], None] | None = None
        """Called with the error when a step fails (the node's health listens)."""
        self.on_success: Callable[[], None] | None = None
        """Called after each step that succeeds."""
        self._since_statistics = 0
        # Address -> (contract name, interface, event name by topic 0).
        self._contracts: dict[str, tuple[str, ContractInterface, dict[bytes, str]]] = {}
        for contract in sorted(self.handlers.contract_names):
            if contract not in deployment.addresses:
                continue  # a contract this deployment does not have (yet)
            interface = load_interface(contract)
            topics = {
                interface.event_topic(entry["name"]): entry["name"]
                for entry in interface.abi
                if entry["type"] == "event" and self.handlers.follows(contract, entry["name"])
            }
            self._contracts[deployment.address(contract)] = (contract, interface, topics)

    # ------------------------------------------------------------------ public

    def checkpoint(self) -> Checkpoint:
        """Where the index stands."""
        with self.session_factory() as session:
            return self._read_checkpoint(session)

    def target_block(self) -> int:
        """The highest block the indexer may index now (head minus confirmations)."""
        return self.backend.block_number() - self.confirmations

    def run_once(self, max_blocks: int | None = None) -> int:
        """Index from the checkpoint up to the target block (at most ``max_blocks`` blocks);
        returns the number of logs indexed. Rewinds first if the chain reorganised."""
        target = self.target_block()
        checkpoint = self._check_for_reorg(self.checkpoint())
        end = target if max_blocks is None else min(target, checkpoint.block_number + max_blocks)
        indexed = 0
        start = checkpoint.block_number + 1
        while start <= end:
            stop = min(end, start + self.chunk_blocks - 1)
            try:
                indexed += self._index_range(start, stop)
            except _ChainMoved as moved:
                logger.info("chain moved while indexing blocks %d-%d: %s", start, stop, moved)
                break
            start = stop + 1
        self._since_statistics += indexed
        if self._since_statistics >= STATISTICS_EVERY:
            with self.session_factory() as session, session.begin():
                refresh_statistics(session.connection())
            self._since_statistics = 0
        return indexed

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Index until ``stop`` is set, polling the chain every ``interval`` seconds when
        caught up. A failed step (a storage fault, a chain node restarting, a database busy)
        is rolled back whole and retried after a wait doubling from ``interval`` up to
        :data:`MAX_RETRY_SECONDS`: a long-running indexer should not die of a transient
        failure, nor flood its log — the first failure of a kind is logged with its
        traceback, repeats in one line."""
        wait = interval
        last_error: str | None = None
        while not stop.is_set():
            try:
                self.run_once()
                caught_up = self.checkpoint().block_number >= self.target_block()
            except Exception as error:
                described = describe_error(error)
                if described != last_error:
                    logger.exception("indexer %s: step failed, retrying", self.name)
                else:
                    logger.warning(
                        "indexer %s: step failed again (%s), retrying in %.1f s",
                        self.name,
                        described,
                        wait,
                    )
                last_error = described
                if self.on_failure is not None:
                    self.on_failure(error)
                stop.wait(wait)
                wait = min(wait * 2, MAX_RETRY_SECONDS)
                continue
            if last_error is not None:
                logger.warning("indexer %s: indexing again", self.name)
            last_error = None
            wait = interval
            if self.on_success is not None:
                self.on_success()
            if caught_up:
                stop.wait(interval)

    # ------------------------------------------------------------------ ranges

    def retry_quarantined(self) -> RetryOutcome:
        """Index again every log this index quarantined, as the chain holds it now: for a node
        whose software now reads what an older version could not (a newer catalogue, a fixed
        parser). Each log is read afresh from the chain (a quarantined row only says where
        it is) and goes through the handlers in chain order; what still fails is quarantined
        again, with its reason. A row whose block the chain no longer holds is left to the
        reorg handling."""
        with self.session_factory() as session:
            places = session.execute(
                select(
                    quarantined_events.c.block_number,
                    quarantined_events.c.log_index,
                    quarantined_events.c.block_hash,
                ).order_by(quarantined_events.c.block_number, quarantined_events.c.log_index)
            ).all()
        wanted = {(int(block), int(index)): bytes(digest) for block, index, digest in places}
        retried: list[IndexedLog] = []
        for block_number in sorted({block for block, _ in wanted}):
            block = self.backend.get_block(block_number)
            logs = self.backend.get_logs(
                address=list(self._contracts), from_block=block_number, to_block=block_number
            )
            retried.extend(
                indexed_log
                for indexed_log in self._followed(logs, {block_number: block})
                if wanted.get((block_number, indexed_log.log.log_index)) == block.hash
            )
        with self.session_factory() as session, session.begin():
            session.connection(execution_options=IMMEDIATE)
            checkpoint = self._read_checkpoint(session, for_update=True)
            retried = [item for item in retried if item.log.block_number <= checkpoint.block_number]
            for item in retried:
                session.execute(
                    delete(quarantined_events).where(
                        quarantined_events.c.block_number == item.log.block_number,
                        quarantined_events.c.log_index == item.log.log_index,
                    )
                )
            self._dispatch(session, retried)
            remaining = int(
                session.scalar(select(func.count()).select_from(quarantined_events)) or 0
            )
        return RetryOutcome(
            quarantined=len(places), retried=len(retried), still_quarantined=remaining
        )

    def _index_range(self, start: int, stop: int) -> int:
        # A range makes tens of thousands of short-lived objects, none in reference cycles;
        # the cyclic collector would otherwise run dozens of times over the whole heap for
        # nothing (measured: a fifth to a third of the write time).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._read_and_write_range(start, stop)
        finally:
            if was_enabled:
                gc.enable()

    def _read_and_write_range(self, start: int, stop: int) -> int:
        # The checkpoint's block is read before the logs: if the chain reorganises in between,
        # the stored hash is the old one and the next step detects it.
        stop_block = self.backend.get_block(stop)
        logs = (
            self.backend.get_logs(address=list(self._contracts), from_block=start, to_block=stop)
            if self._contracts
            else []
        )
        blocks = self._blocks_of(logs, stop_block)
        followed = self._followed(logs, blocks)
        with self.session_factory() as session, session.begin():
            session.connection(execution_options=IMMEDIATE)
            current = self._read_checkpoint(session, for_update=True)
            if current.block_number != start - 1:
                raise _ChainMoved(f"checkpoint is at {current.block_number}, another indexer ran")
            self._dispatch(session, followed)
            for after_range in self.handlers.after_range:
                after_range(session, start, stop)
            self._write_checkpoint(session, Checkpoint(stop, stop_block.hash))
        return len(followed)

    def _followed(self, logs: Sequence[LogEntry], blocks: dict[int, BlockInfo]) -> list[IndexedLog]:
        """The logs of followed events among ``logs``, in chain order."""
        followed: list[IndexedLog] = []
        for log in logs:
            contract = self._contracts.get(log.address)
            event_name = (
                None if contract is None or not log.topics else contract[2].get(log.topics[0])
            )
            if contract is None or event_name is None:
                continue
            followed.append(
                IndexedLog(log, blocks[log.block_number], contract[1], contract[0], event_name)
            )
        return followed

    def _dispatch(self, session: Session, followed: Sequence[IndexedLog]) -> None:
        """Run the handlers over ``followed`` (chain order): each event's batch handlers over
        its logs, then the per-log handlers in chain order; what fails on the data is
        quarantined (:func:`_run_batch_handler`, :func:`_run_log_handlers`)."""
        grouped: dict[tuple[str, str], list[IndexedLog]] = {}
        for indexed_log in followed:
            grouped.setdefault((indexed_log.contract, indexed_log.event), []).append(indexed_log)
        for (contract_name, event_name), event_logs in grouped.items():
            for batch_handler in self.handlers.handlers(contract_name, event_name):
                _run_batch_handler(session, batch_handler, event_logs)
        for indexed_log in followed:
            log_handlers = self.handlers.log_handlers(indexed_log.contract, indexed_log.event)
            if log_handlers:
                _run_log_handlers(session, log_handlers, indexed_log)

    def _blocks_of(self, logs: Sequence[LogEntry], stop_block: BlockInfo) -> dict[int, BlockInfo]:
        """Each block with logs, fetched once; checks the logs come from the blocks' chain."""
        blocks = {stop_block.number: stop_block}
        for log in logs:
            block = blocks.get(log.block_number)
            if block is None:
                block = blocks[log.block_number] = self.backend.get_block(log.block_number)
            if block.hash != log.block_hash:
                raise _ChainMoved(f"block {log.block_number} changed while reading its logs")
        return blocks

    # ------------------------------------------------------------------ checkpoints

    def _read_checkpoint(self, session: Session, *, for_update: bool = False) -> Checkpoint:
        statement = select(indexer_checkpoints.c.block_number, indexer_checkpoints.c.block_hash)
        statement = statement.where(indexer_checkpoints.c.name == self.name)
        if for_update:
            statement = statement.with_for_update()
        row = session.execute(statement).first()
        if row is None:
            return Checkpoint(self.deployment.block_number - 1, None)
        return Checkpoint(row.block_number, row.block_hash)

    def _write_checkpoint(self, session: Session, checkpoint: Checkpoint) -> None:
        values = {"block_number": checkpoint.block_number, "block_hash": checkpoint.block_hash}
        updated = session.execute(
            indexer_checkpoints.update()
            .where(indexer_checkpoints.c.name == self.name)
            .values(**values)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.execute(indexer_checkpoints.insert().values(name=self.name, **values))

    # ------------------------------------------------------------------ reorgs

    def _chain_has(self, block_number: int, block_hash: bytes) -> bool:
        try:
            return self.backend.get_block(block_number).hash == block_hash
        except ChainError:  # the chain is shorter now
            return False

    def _check_for_reorg(self, checkpoint: Checkpoint) -> Checkpoint:
        if checkpoint.block_hash is None or self._chain_has(
            checkpoint.block_number, checkpoint.block_hash
        ):
            return checkpoint
        fork = self._last_common_block(checkpoint.block_number)
        logger.warning(
            "indexer %s: reorg below block %d, rewinding to block %d",
            self.name,
            checkpoint.block_number,
            fork.block_number,
        )
        with self.session_factory() as session, session.begin():
            session.connection(execution_options=IMMEDIATE)
            for rollback in self.handlers.rollbacks:
                rollback(session, fork.block_number)
            remove_quarantined_above(session, fork.block_number)
            self._write_checkpoint(session, fork)
        return fork

    def _last_common_block(self, below: int) -> Checkpoint:
        """The highest block with stored events that the chain still has, or the block before
        the deployment when there is none."""
        with self.session_factory() as session:
            while True:
                candidates = session.execute(
                    select(events.c.block_number, events.c.block_hash)
                    .where(events.c.block_number < below)
                    .group_by(events.c.block_number, events.c.block_hash)
                    .order_by(events.c.block_number.desc())
                    .limit(_REORG_CANDIDATES_PER_QUERY)
                ).all()
                for block_number, block_hash in candidates:
                    if self._chain_has(block_number, block_hash):
                        return Checkpoint(block_number, block_hash)
                if len(candidates) < _REORG_CANDIDATES_PER_QUERY:
                    return Checkpoint(self.deployment.block_number - 1, None)
                below = candidates[-1][0]


def _run_batch_handler(session: Session, handler: BatchHandler, logs: Sequence[IndexedLog]) -> None:
    """Run a batch handler in a savepoint; when it fails on the data (not on a storage
    fault), run it again log by log and quarantine the logs it cannot take."""
    try:
        with session.begin_nested():
            handler(session, logs)
        return
    except Exception as error:
        if is_storage_fault(error):
            raise
        logger.warning(
            "indexer: %s failed on %d logs (%s); indexing them one by one",
            getattr(handler, "__name__", "a handler"),
            len(logs),
            describe_error(error),
        )
    for log in logs:
        try:
            with session.begin_nested():
                handler(session, [log])
        except Exception as error:
            if is_storage_fault(error):
                raise
            quarantine(session, log, f"cannot index it: {describe_error(error)}")


def _run_log_handlers(
    session: Session, handlers: Sequence[LogHandler], indexed_log: IndexedLog
) -> None:
    """Decode one log and run its handlers in a savepoint; quarantine it when that fails on
    the data."""
    try:
        with session.begin_nested():
            decoded = indexed_log.decode()
            for handler in handlers:
                handler(session, decoded, indexed_log.block)
    except Exception as error:
        if is_storage_fault(error):
            raise
        quarantine(session, indexed_log, f"cannot index it: {describe_error(error)}")


__all__ = [
    "DEFAULT_CHUNK_BLOCKS",
    "BatchHandler",
    "Checkpoint",
    "HandlerRegistry",
    "IndexedLog",
    "Indexer",
    "LogHandler",
    "RangeHandler",
    "RetryOutcome",
    "RollbackHandler",
    "quarantine",
    "remove_quarantined_above",
]
