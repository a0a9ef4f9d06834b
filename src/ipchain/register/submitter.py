"""The submitter: anchors the outbox on the chain, in batches across requests, crash-safely.

One thread per node runs :meth:`Submitter.run_forever`. Each round takes the oldest pending
outbox rows of every office (up to ``max_rows``), links them to their records' heads, and sends
each office's rows as ``recordEvents`` transactions of ``batch_size`` entries signed by the
office's signer key. Whatever arrived while a round was on the chain goes into the next one, so
many small requests become few large transactions: that, not faster requests, is what makes
throughput.

Crash safety rests on writing down what is about to happen before it happens. Before sending,
rows become ``sent`` with the entry hash each will have and the transaction it is in (both are
known beforehand: :meth:`ipchain.register.ledger.Ledger.link`). A node that stops at any moment
finds, on its next start (:meth:`Submitter.reconcile`), its ``sent`` rows and asks the chain about
each: anchored ones are marked so, the others go back to ``pending``. Nothing is anchored twice
because the contract refuses an entry it already holds (``RegisterEntryAlreadyRecorded``), which
the submitter takes as "done".

An ``anchored`` row is only as good as the chain that holds it. When the indexer rewinds (a
reorg, or a chain that lost blocks), :func:`recheck_anchored_above` turns every row anchored
above the rewind point back into ``sent``, and the submitter's next reconcile looks each up on
the chain again: still (or again) there, it is anchored anew; gone, it is sent again. At start
(and after a failed round) rows anchored above the chain's head are re-checked the same way.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, bindparam, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import Receipt
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.base import IMMEDIATE, describe_error
from ipchain.db.indexer import DEFAULT_NAME
from ipchain.db.register import events, indexer_checkpoints, quarantined_events
from ipchain.db.submissions import OutboxState, SubmissionState, outbox, submissions
from ipchain.encoding import ZERO_HASH
from ipchain.errors import ChainError, ContractRevertError, VerificationError
from ipchain.keys import OfficeKey
from ipchain.register.ledger import (
    DEFAULT_BATCH_SIZE,
    EventToAnchor,
    Ledger,
    SignedBatch,
)

logger = logging.getLogger("ipchain.register.submitter")

MAX_ATTEMPTS: Final = 5
"""Transactions an event may be sent in without being anchored before its submission fails."""

_HEAD_CACHE_SIZE: Final = 200_000
# Contract errors that name the entry at fault (first argument: its index in the batch) and
# mean the entry can never be anchored as it is.
_FATAL_ENTRY_ERRORS: Final = frozenset(
    {
        "RegisterInvalidRecordKey",
        "RegisterForeignRecord",
        "RegisterZeroDocumentHash",
        "RegisterInvalidEventCode",
        "RegisterDocumentHashMismatch",
    }
)
# Contract errors about the sender, not an entry: no entry of the batch can be anchored.
_FATAL_BATCH_ERRORS: Final = frozenset({"RegisterUnauthorizedOffice"})


@dataclass(slots=True)
class _Row:
    """An outbox row taken for a round."""

    id: int
    submission_id: str
    office: str
    position: int
    record_key: str
    event_code: str
    document: bytes
    document_hash: bytes
    expected_seq: int
    attempts: int
    sent_before: bytes | None
    """Entry hash it was to have when it was last sent, if a node restart could not tell
    whether that transaction made it."""


@dataclass(slots=True)
class _RoundOutcome:
    """What a round learned, written to the database in one transaction."""

    anchored: list[dict[str, Any]] = field(default_factory=list)
    requeued: list[dict[str, Any]] = field(default_factory=list)
    released: list[dict[str, Any]] = field(default_factory=list)
    failed_submissions: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    touched_submissions: set[str] = field(default_factory=set)


class Submitter:
    """Anchors pending outbox rows of the offices whose signer keys it holds."""

    def __init__(
        self,
        ledger: Ledger,
        session_factory: sessionmaker[Session],
        keys: Mapping[str, OfficeKey],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_rows: int = 2_000,
        receipt_timeout: float = 120.0,
        reconcile_grace: float = 5.0,
    ) -> None:
        """``keys`` maps office codes to their signer keys (decrypted once, kept in memory)."""
        self.ledger = ledger
        self._session_factory = session_factory
        self._keys = keys  # not copied: a mapping may decrypt each key on first use
        self.batch_size = batch_size
        self.max_rows = max_rows
        self.receipt_timeout = receipt_timeout
        self.reconcile_grace = reconcile_grace
        # Heads of records this submitter anchored: (entry hash, seq). A stale one only makes
        # a transaction revert (the contract checks every link), after which the chain is asked.
        self._heads: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._ask_chain: set[str] = set()
        self._wake = threading.Event()
        self.on_failure: Callable[[BaseException], None] | None = None
        """Called with the error when a round fails (the node's health listens)."""
        self.on_success: Callable[[], None] | None = None
        """Called after each round that succeeds (idle ones too)."""

    @property
    def offices(self) -> frozenset[str]:
        """Offices whose events this submitter can anchor."""
        return frozenset(self._keys)

    def wake(self) -> None:
        """Start the next round now (called when a submission is accepted)."""
        self._wake.set()

    # --------------------------------------------------------------------------- the loop

    def run_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Reconcile, then anchor rounds until ``stop`` is set; idle rounds wait for
        :meth:`wake` or ``interval`` seconds. A failed round (the chain refusing to mine, a
        full disk, a node restarting) is retried after a wait doubling up to 30 s, and
        reported to ``on_failure``; its first failure of a kind is logged with the traceback,
        repeats in one line. Rows the indexer sent back to ``sent`` are reconciled before the
        next round."""
        backoff = interval
        reconciled = False
        last_error: str | None = None
        while not stop.is_set():
            try:
                self.reconcile(check_head=not reconciled)
                reconciled = True
                if self.run_once() == 0:
                    self._wake.wait(interval)
                    self._wake.clear()
            except Exception as error:
                described = describe_error(error)
                if described != last_error:
                    logger.exception("submitter round failed; retrying in %.1f s", backoff)
                else:
                    logger.warning(
                        "submitter round failed again (%s); retrying in %.1f s", described, backoff
                    )
                last_error = described
                reconciled = False  # rows may be left 'sent': look them up before going on
                if self.on_failure is not None:
                    self.on_failure(error)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if last_error is not None:
                logger.warning("submitter: anchoring again")
            last_error = None
            backoff = interval
            if self.on_success is not None:
                self.on_success()

    def run_until_idle(self, timeout: float = 600.0) -> None:
        """Anchor rounds until no row is pending (for tests, demo loading and tools)."""
        deadline = time.monotonic() + timeout
        self.reconcile()
        while self.run_once() > 0:
            if time.monotonic() > deadline:
                raise ChainError(f"the outbox did not drain in {timeout:.0f} s")

    def run_once(self) -> int:
        """One round: anchor up to ``max_rows`` pending rows. Returns how many it took."""
        rows = self._take_pending()
        if not rows:
            return 0
        outcome = _RoundOutcome()
        by_office: defaultdict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            if row.sent_before is not None:
                # Released by reconcile() because the chain did not have it then; a late
                # transaction may have brought it since. Never anchor an event twice.
                entry = self._already_anchored(row.sent_before)
                if entry is not None:
                    outcome.anchored.append(_anchored_update(row.id, entry))
                    outcome.touched_submissions.add(row.submission_id)
                    continue
            by_office[row.office].append(row)
        batches: list[tuple[SignedBatch, list[_Row]]] = []
        for office, office_rows in by_office.items():
            key = self._keys.get(office)
            if key is None:
                for row in office_rows:
                    outcome.failed_submissions[row.submission_id] = (
                        "no-signer-key",
                        f"this node holds no signer key for office {office}",
                        None,
                    )
                continue
            batches += self._prepare(office, key, office_rows)
        self._mark_sent(batches)
        if batches:
            self._send(batches, outcome)
        self._write_outcome(outcome)
        return len(rows)

    # ----------------------------------------------------------------------- the steps

    def _take_pending(self) -> list[_Row]:
        with self._session_factory() as session:
            result = session.execute(
                select(
                    outbox.c.id,
                    outbox.c.submission_id,
                    outbox.c.office,
                    outbox.c.position,
                    outbox.c.record_key,
                    outbox.c.event_code,
                    outbox.c.document,
                    outbox.c.document_hash,
                    outbox.c.expected_seq,
                    outbox.c.attempts,
                    outbox.c.expected_entry_hash,
                )
                .where(outbox.c.state == OutboxState.PENDING)
                .order_by(outbox.c.id)
                .limit(self.max_rows)
            ).all()
        return [
            _Row(
                id=row.id,
                submission_id=row.submission_id,
                office=row.office,
                position=row.position,
                record_key=row.record_key,
                event_code=row.event_code,
                document=row.document.encode("utf-8"),
                document_hash=row.document_hash,
                expected_seq=row.expected_seq,
                attempts=row.attempts,
                sent_before=row.expected_entry_hash,
            )
            for row in result
        ]

    def _prepare(
        self, office: str, key: OfficeKey, rows: Sequence[_Row]
    ) -> list[tuple[SignedBatch, list[_Row]]]:
        """Link the rows to their records' heads and sign them into transactions."""
        known: dict[str, tuple[bytes, int]] = {}
        for row in rows:
            if row.record_key in known or row.record_key in self._ask_chain:
                continue
            cached = self._heads.get(row.record_key)
            if cached is not None:
                known[row.record_key] = cached
            elif row.expected_seq == 1:  # validated as a new record: no chain call needed
                known[row.record_key] = (ZERO_HASH, 0)
        events = [
            EventToAnchor(row.record_key, row.event_code, row.document_hash, row.document)
            for row in rows
        ]
        linked = self.ledger.link(events, office, known)
        self._ask_chain.difference_update(row.record_key for row in rows)
        signed = self.ledger.sign_batches(key, linked, batch_size=self.batch_size)
        batches = []
        start = 0
        for batch in signed:
            batches.append((batch, list(rows[start : start + len(batch.entries)])))
            start += len(batch.entries)
        return batches

    def _mark_sent(self, batches: Sequence[tuple[SignedBatch, list[_Row]]]) -> None:
        """Write down, before sending, the entry hash each row will have and its transaction."""
        updates = [
            {
                "row_id": row.id,
                "seq": entry.seq,
                "expected": entry.entry_hash,
                "transaction": batch.transaction_hash,
            }
            for batch, rows in batches
            for entry, row in zip(batch.entries, rows, strict=True)
        ]
        if not updates:
            return
        with self._session_factory() as session:
            session.connection(execution_options=IMMEDIATE)
            session.execute(
                update(outbox)
                .where(outbox.c.id == bindparam("row_id"))
                .values(
                    state=OutboxState.SENT,
                    seq=bindparam("seq"),
                    expected_entry_hash=bindparam("expected"),
                    transaction_hash=bindparam("transaction"),
                ),
                updates,
            )
            session.commit()

    def _send(
        self, batches: Sequence[tuple[SignedBatch, list[_Row]]], outcome: _RoundOutcome
    ) -> None:
        backend = self.ledger.backend
        hashes = backend.send_raw_transactions([batch.raw_transaction for batch, _ in batches])
        receipts = backend.wait_for_receipts(hashes, timeout=self.receipt_timeout)
        failures: list[tuple[SignedBatch, list[_Row], Receipt]] = []
        for (batch, rows), receipt in zip(batches, receipts, strict=True):
            if receipt.status == 1:
                entries = self.ledger.batch_outcome(batch, receipt)
                self._anchored(rows, entries, outcome)
            else:
                failures.append((batch, rows, receipt))
        for batch, rows, receipt in failures:
            self._reverted(batch, rows, self.ledger.explain_revert(batch, receipt), outcome)

    def _anchored(
        self, rows: Sequence[_Row], entries: Sequence[AnchoredEvent], outcome: _RoundOutcome
    ) -> None:
        for row, entry in zip(rows, entries, strict=True):
            outcome.anchored.append(_anchored_update(row.id, entry))
            outcome.touched_submissions.add(row.submission_id)
            self._remember_head(entry.record_key, entry.entry_hash, entry.seq)

    def _reverted(
        self,
        batch: SignedBatch,
        rows: Sequence[_Row],
        error: ContractRevertError,
        outcome: _RoundOutcome,
    ) -> None:
        """Sort out a reverted batch: the entry at fault fails its submission (or, for a
        replay, is anchored already); every other entry goes back to ``pending``."""
        logger.warning("batch 0x%s reverted: %s", batch.transaction_hash.hex(), error)
        for row in rows:  # the chain is the truth for these records from now on
            self._heads.pop(row.record_key, None)
            self._ask_chain.add(row.record_key)
        culprit: int | None = None
        if error.error_args and isinstance(error.error_args[0], int):
            culprit = error.error_args[0] if error.error_args[0] < len(rows) else None
        name = error.error_name or ""
        for index, row in enumerate(rows):
            if name in _FATAL_BATCH_ERRORS or (index == culprit and name in _FATAL_ENTRY_ERRORS):
                outcome.failed_submissions.setdefault(
                    row.submission_id, (error.code, str(error), f"events[{row.position}]")
                )
                continue
            if name == "RegisterEntryAlreadyRecorded":
                # A replay (e.g. of a transaction still unmined when the node restarted):
                # whatever of this batch the chain already holds is done.
                anchored = self._already_anchored(batch.entries[index].entry_hash)
                if anchored is not None:
                    outcome.anchored.append(_anchored_update(row.id, anchored))
                    outcome.touched_submissions.add(row.submission_id)
                    continue
            attempts = row.attempts + (1 if index == culprit or culprit is None else 0)
            if attempts >= MAX_ATTEMPTS:
                outcome.failed_submissions.setdefault(
                    row.submission_id, (error.code, str(error), f"events[{row.position}]")
                )
                continue
            outcome.requeued.append({"row_id": row.id, "attempts": attempts, "error": str(error)})

    def _already_anchored(self, entry_hash: object) -> AnchoredEvent | None:
        if not isinstance(entry_hash, bytes):
            return None
        try:
            return self.ledger.entry_by_hash(entry_hash)
        except VerificationError:
            return None

    def _remember_head(self, record_key: str, entry_hash: bytes, seq: int) -> None:
        current = self._heads.get(record_key)
        if current is not None and current[1] >= seq:
            return
        self._heads[record_key] = (entry_hash, seq)
        self._heads.move_to_end(record_key)
        if len(self._heads) > _HEAD_CACHE_SIZE:
            self._heads.popitem(last=False)

    def _write_outcome(self, outcome: _RoundOutcome) -> None:
        if not (
            outcome.anchored or outcome.requeued or outcome.released or outcome.failed_submissions
        ):
            return
        now = _now()
        with self._session_factory() as session:
            session.connection(execution_options=IMMEDIATE)
            contradicted = _contradicted_by_index(session, outcome.anchored)
            if contradicted:
                logger.warning(
                    "%d rows were mined in blocks the index holds without them (the chain "
                    "reorganised since): they go back to be looked up on the chain",
                    len(contradicted),
                )
                outcome.anchored = [u for u in outcome.anchored if u["row_id"] not in contradicted]
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(state=OutboxState.SENT, expected_entry_hash=bindparam("wanted")),
                    [{"row_id": r, "wanted": h} for r, h in contradicted.items()],
                )
            if outcome.anchored:
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(
                        state=OutboxState.ANCHORED,
                        seq=bindparam("seq"),
                        entry_hash=bindparam("entry_hash"),
                        transaction_hash=bindparam("transaction"),
                        block_number=bindparam("block"),
                        error=None,
                    ),
                    outcome.anchored,
                )
            if outcome.requeued:
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(
                        state=OutboxState.PENDING,
                        attempts=bindparam("attempts"),
                        error=bindparam("error"),
                        expected_entry_hash=None,
                    ),
                    outcome.requeued,
                )
            if outcome.released:
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(state=OutboxState.PENDING),  # expected_entry_hash is kept
                    outcome.released,
                )
            for submission_id, (code, message, where) in outcome.failed_submissions.items():
                _fail_submission(session, submission_id, code, message, where, now)
            _complete_submissions(session, outcome.touched_submissions, now)
            session.commit()

    # ----------------------------------------------------------------------- recovery

    def reconcile(self, *, check_head: bool = True) -> int:
        """Settle rows left ``sent`` (by a crash, a round that failed midway, or an indexer
        that rewound) from what the chain says: anchored ones are marked anchored, the others
        go back to ``pending``. With ``check_head``, rows anchored above the chain's head (a
        chain that lost blocks) are looked up again first. Returns how many rows it
        settled."""
        if check_head:
            head = self.ledger.backend.block_number()
            with self._session_factory() as session:
                session.connection(execution_options=IMMEDIATE)
                recheck_anchored_above(session, head)
                session.commit()
        with self._session_factory() as session:
            rows = session.execute(
                select(
                    outbox.c.id,
                    outbox.c.submission_id,
                    outbox.c.record_key,
                    outbox.c.expected_entry_hash,
                    outbox.c.transaction_hash,
                ).where(outbox.c.state == OutboxState.SENT)
            ).all()
        if not rows:
            return 0
        by_transaction: defaultdict[bytes, list[Any]] = defaultdict(list)
        for row in rows:
            by_transaction[row.transaction_hash].append(row)
        receipts = self._receipts(list(by_transaction))
        outcome = _RoundOutcome()
        for transaction_hash, transaction_rows in by_transaction.items():
            receipt = receipts.get(transaction_hash)
            found: dict[bytes, AnchoredEvent] = {}
            if receipt is not None and receipt.status == 1:
                found = {e.entry_hash: e for e in self.ledger.entries_from_receipt(receipt)}
            for row in transaction_rows:
                self._heads.pop(row.record_key, None)
                self._ask_chain.add(row.record_key)
                entry = found.get(row.expected_entry_hash) or self._already_anchored(
                    row.expected_entry_hash
                )
                if entry is not None:
                    outcome.anchored.append(_anchored_update(row.id, entry))
                    outcome.touched_submissions.add(row.submission_id)
                else:
                    outcome.released.append({"row_id": row.id})
        self._write_outcome(outcome)
        logger.info(
            "reconciled %d sent rows: %d anchored, %d back to pending",
            len(rows),
            len(outcome.anchored),
            len(outcome.released),
        )
        return len(rows)

    def _receipts(self, transaction_hashes: Sequence[bytes]) -> dict[bytes, Receipt]:
        """Receipts of the transactions that have one; a JSON-RPC node is given
        ``reconcile_grace`` seconds to mine those it may still hold in its pool (the
        embedded chain has no pool: what it has not mined, it never will)."""
        from ipchain.chain.embedded import EmbeddedChain

        backend = self.ledger.backend
        grace = 0.0 if isinstance(backend, EmbeddedChain) else self.reconcile_grace
        deadline = time.monotonic() + grace
        receipts: dict[bytes, Receipt] = {}
        missing = list(transaction_hashes)
        while True:
            for transaction_hash in missing:
                receipt = backend.get_receipt(transaction_hash)
                if receipt is not None:
                    receipts[transaction_hash] = receipt
            missing = [h for h in missing if h not in receipts]
            if not missing or time.monotonic() >= deadline:
                return receipts
            time.sleep(0.2)


# --- database helpers -----------------------------------------------------------------------


def _contradicted_by_index(
    session: Session, anchored: Sequence[Mapping[str, Any]]
) -> dict[int, bytes]:
    """Of ``anchored`` (row updates from receipts), those mined in a block the index has
    already passed without their entry: the chain dropped that block after the receipt was
    read, and the indexer's rewind (which re-checks anchored rows) ran before they were
    marked. By row id, their entry hash. The checkpoint is read locked for share, so an
    indexer range in progress finishes first (SQLite's ``BEGIN IMMEDIATE`` already
    serialises the two)."""
    if not anchored:
        return {}
    indexed = session.scalar(
        select(indexer_checkpoints.c.block_number)
        .where(indexer_checkpoints.c.name == DEFAULT_NAME)
        .with_for_update(read=True)
    )
    passed = [u for u in anchored if indexed is not None and u["block"] <= indexed]
    if not passed:
        return {}
    hashes = [u["entry_hash"] for u in passed]
    present = set(
        bytes(h)
        for h in session.scalars(select(events.c.entry_hash).where(events.c.entry_hash.in_(hashes)))
    ) | set(
        bytes(h)
        for h in session.scalars(
            select(quarantined_events.c.entry_hash).where(
                quarantined_events.c.entry_hash.in_(hashes)
            )
        )
    )
    return {u["row_id"]: u["entry_hash"] for u in passed if u["entry_hash"] not in present}


def recheck_unindexed_in(session: Session, first: int, last: int) -> int:
    """Send back to be looked up on the chain every outbox row anchored in blocks ``first`` to
    ``last`` whose entry the index did not find there (neither indexed nor quarantined): the
    block its receipt named was replaced. The indexer calls it after indexing that range, in
    the same transaction. Returns how many rows."""
    missing = session.scalars(
        select(outbox.c.id).where(
            outbox.c.state == OutboxState.ANCHORED,
            outbox.c.block_number.between(first, last),
            ~exists().where(events.c.entry_hash == outbox.c.entry_hash),
            ~exists().where(quarantined_events.c.entry_hash == outbox.c.entry_hash),
        )
    ).all()
    if not missing:
        return 0
    logger.warning(
        "%d outbox rows anchored in blocks %d-%d are not in those blocks: they go back to be "
        "looked up on the chain",
        len(missing),
        first,
        last,
    )
    return _recheck(session, outbox.c.id.in_(missing))


def recheck_anchored_above(session: Session, block_number: int) -> int:
    """Send every outbox row anchored above ``block_number`` back to be looked up on the chain
    (in the caller's transaction; the indexer calls it when it rewinds to ``block_number``).

    Each becomes ``sent`` with the entry hash it had as the one to look for, and its submission
    ``pending`` again: the submitter's reconcile then marks it anchored again when the chain
    still (or again) holds that entry, and sends it anew otherwise. Returns how many rows."""
    above = and_(outbox.c.state == OutboxState.ANCHORED, outbox.c.block_number > block_number)
    moved = _recheck(session, above)
    if moved:
        logger.warning(
            "%d outbox rows anchored above block %d go back to be looked up on the chain",
            moved,
            block_number,
        )
    return moved


def _recheck(session: Session, which: ColumnElement[bool]) -> int:
    """Turn the anchored outbox rows ``which`` selects back into ``sent`` rows looking for
    the entry hash they had, and their submissions back into ``pending``."""
    chosen = and_(outbox.c.state == OutboxState.ANCHORED, which)
    session.execute(
        update(submissions)
        .where(
            submissions.c.status == SubmissionState.ANCHORED,
            submissions.c.id.in_(select(outbox.c.submission_id).where(chosen)),
        )
        .values(status=SubmissionState.PENDING, updated_at=_now())
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(outbox)
        .where(chosen)
        .values(
            state=OutboxState.SENT,
            expected_entry_hash=outbox.c.entry_hash,
            entry_hash=None,
            block_number=None,
        )
        .execution_options(synchronize_session=False)
    )
    moved: int = result.rowcount  # type: ignore[attr-defined]
    return moved


def _anchored_update(row_id: int, entry: AnchoredEvent) -> dict[str, Any]:
    return {
        "row_id": row_id,
        "seq": entry.seq,
        "entry_hash": entry.entry_hash,
        "transaction": entry.transaction_hash,
        "block": entry.block_number,
    }


def _fail_submission(
    session: Session,
    submission_id: str,
    code: str,
    message: str,
    where: str | None,
    now: datetime.datetime,
) -> None:
    """Mark a submission failed and its events not yet anchored failed with it."""
    session.execute(
        update(submissions)
        .where(submissions.c.id == submission_id, submissions.c.status == SubmissionState.PENDING)
        .values(
            status=SubmissionState.FAILED,
            error_code=code,
            error_message=message,
            error_field=where,
            updated_at=now,
        )
    )
    session.execute(
        update(outbox)
        .where(
            outbox.c.submission_id == submission_id,
            outbox.c.state.in_((OutboxState.PENDING, OutboxState.SENT)),
        )
        .values(state=OutboxState.FAILED, error=message)
    )


def _complete_submissions(
    session: Session, submission_ids: Iterable[str], now: datetime.datetime
) -> None:
    """Mark anchored every pending submission among these whose events are all anchored."""
    ids = sorted(submission_ids)
    not_anchored = exists().where(
        and_(outbox.c.submission_id == submissions.c.id, outbox.c.state != OutboxState.ANCHORED)
    )
    for start in range(0, len(ids), 500):
        session.execute(
            update(submissions)
            .where(
                submissions.c.id.in_(ids[start : start + 500]),
                submissions.c.status == SubmissionState.PENDING,
                ~not_anchored,
            )
            .values(status=SubmissionState.ANCHORED, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


__all__ = ["MAX_ATTEMPTS", "Submitter", "recheck_anchored_above", "recheck_unindexed_in"]
