"""The embedded chain: py-evm in the node's own process, persistent on disk, nothing to start.

One directory holds one chain::

    <data_dir>/ipchain.lock   exclusive lock (flock) while a process has the chain open
    <data_dir>/chaindb/       LevelDB: py-evm's chain database plus ipchain's transaction index
    <data_dir>/chain.json     chain id and genesis hash, for people (the database is the truth)

Transactions are mined as soon as they are sent: :meth:`EmbeddedChain.send_raw_transactions`
executes every transaction it is given in one block (several, only when their gas limits do not
fit in one) and writes the block with one atomic LevelDB batch before it returns. A process
killed at any moment therefore leaves every block it reported as mined on disk, and a block it
was still mining simply absent. There is no transaction pool, so ``get_nonce`` is the nonce in
the latest state.

**Fail-stop on storage faults.** When writing a block fails (a full disk, an I/O error), the
block is forgotten — its staged writes dropped and py-evm's state and head read back from the
database, which never took the failed batch — and :class:`ChainUnavailableError` says why.
From then on the chain mines nothing until a write succeeds again: each later send first
tries (at most every :data:`FAULT_RETRY_MAX_SECONDS`, backing off from
:data:`FAULT_RETRY_SECONDS`, and only once the disk has :data:`REOPEN_FREE_BYTES` free) to
close and reopen LevelDB — which drops a record the failed write tore — and to write a small
probe record, and refuses at once while that fails. Reads go on meanwhile, from the database
as it was before the failed write. :attr:`EmbeddedChain.storage_fault` gives the reason while
the fault lasts. A block a caller was told is mined is never lost; a block it was told failed
may still be on disk after a failed ``fsync`` (LevelDB cannot tell whether the bytes got
there), and its transactions then have receipts — what a submitter that lost its answer
looks for.

DESIGN.md §8 explains why this is py-evm driven directly and not eth-tester.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import plyvel
from eth.abc import BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI
from eth.exceptions import HeaderNotFound, Revert
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.exceptions import ValidationError

from ipchain.chain._embedded_store import (
    DEFAULT_GENESIS,
    FAUCET_ADDRESS,
    FAUCET_PRIVATE_KEY,
    TRANSACTION_RECORD_PREFIX,
    TransactionRecord,
    faucet_transfer,
    initialise,
    lock_data_dir,
    transaction_records,
    unlock,
    write_chain_description,
)
from ipchain.chain._pyevm_chain import (
    RECEIPT_BUILDER,
    EmbeddedMiningChain,
    block_logs,
    bloom_may_match,
    chain_class,
    effective_gas_price,
    log_entry,
    split_by_gas,
    transaction_chain_id,
)
from ipchain.chain._pyevm_db import StagedLevelDB
from ipchain.chain.base import BlockInfo, ChainBackend, LogEntry, Receipt, Topic
from ipchain.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    ReceiptTimeoutError,
    TransactionRejectedError,
)

__all__ = [
    "CALL_GAS",
    "DEFAULT_GENESIS",
    "EMBEDDED_CHAIN_ID",
    "FAUCET_ADDRESS",
    "FAUCET_PRIVATE_KEY",
    "EmbeddedChain",
    "TransactionDetails",
]

EMBEDDED_CHAIN_ID = 31_415_926
"""Chain id of the default embedded genesis (π·10⁷): distinct from mainnet, anvil (31337) and
public testnets, so a transaction signed for it is useless anywhere else."""

CALL_GAS = 50_000_000
"""Gas given to ``call`` (the same cap geth applies to eth_call)."""

FAULT_RETRY_SECONDS = 0.5
"""Wait after a failed write before the chain tries its database again (doubling)."""
FAULT_RETRY_MAX_SECONDS = 5.0
"""Longest wait between two tries while a storage fault lasts."""

REOPEN_FREE_BYTES = 16 * 1024 * 1024
"""Free space the chain's filesystem must have before the chain reopens its database after a
storage fault: reopening writes LevelDB's recovered log out as a table (up to its 4 MiB write
buffer) and starts a new log."""

_PROBE_KEY = b"ipchain:meta:last-write-check"
"""Written (and kept) when the chain checks its database takes writes again after a fault."""

logger = logging.getLogger(__name__)

_TRANSACTION_BUILDER = PragueTransactionBuilder
_BLOB_TRANSACTION_TYPE = 3


@dataclass(frozen=True, slots=True)
class TransactionDetails:
    """Everything the JSON-RPC server reports about a mined transaction."""

    transaction: SignedTransactionAPI
    """The transaction as py-evm decoded it."""
    receipt: Receipt
    """Its receipt."""
    header: BlockHeaderAPI
    """Header of its block."""
    transaction_index: int
    """Its position in the block."""
    cumulative_gas_used: int
    """Gas used by the block up to and including it."""
    effective_gas_price: int
    """Price per gas actually paid."""
    logs_bloom: int
    """Bloom filter of its logs."""


class EmbeddedChain(ChainBackend):
    """A py-evm chain in this process, stored in a data directory. Open with :meth:`open`.

    Thread-safe: one lock serialises every operation (py-evm is not thread-safe).
    """

    def __init__(
        self,
        data_dir: Path,
        database: StagedLevelDB,
        lock_file: IO[str],
        chain_id: int,
        genesis_hash: bytes,
    ) -> None:
        self.data_dir = data_dir
        self.genesis_hash = genesis_hash
        """Hash of block 0."""
        self._database = database
        self._lock_file: IO[str] | None = lock_file
        self._chain_id = chain_id
        self._chain: EmbeddedMiningChain = chain_class(chain_id)(database)
        self._head = self._chain.get_canonical_head()
        self._lock = threading.RLock()
        self._new_block = threading.Condition(self._lock)
        self._fault: str | None = None
        self._fault_retry_at = 0.0
        self._fault_wait = FAULT_RETRY_SECONDS

    # --- opening and closing ----------------------------------------------------------------

    @classmethod
    def open(
        cls, data_dir: Path, genesis: Path | None = None, *, sync: bool = True
    ) -> EmbeddedChain:
        """Open the chain in ``data_dir``, creating it from ``genesis`` (default: the dev
        genesis) the first time. Reopening checks ``genesis``, when given, is the one the chain
        was created from. ``sync=False`` skips the fsync per block: blocks still survive a
        killed process, but not a power cut.

        Raises :class:`ChainUnavailableError` when another process has the directory open and
        :class:`ChainMismatchError` when it holds another chain.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock_file = lock_data_dir(data_dir)
        database: StagedLevelDB | None = None
        try:
            try:
                database = StagedLevelDB(data_dir / "chaindb", sync=sync)
            except plyvel.Error as error:
                raise ChainUnavailableError(
                    f"cannot open the embedded chain database in {data_dir}: {error}"
                ) from None
            chain_id, genesis_hash = initialise(database, data_dir, genesis)
            chain = cls(data_dir, database, lock_file, chain_id, genesis_hash)
            write_chain_description(data_dir, chain_id, genesis_hash)
            return chain
        except BaseException:
            if database is not None:
                database.close()
            unlock(lock_file)
            raise

    def close(self) -> None:
        with self._lock:
            if self._lock_file is None:
                return
            self._database.close()
            unlock(self._lock_file)
            self._lock_file = None

    def _check_open(self) -> None:
        if self._lock_file is None:
            raise ChainUnavailableError(f"the embedded chain in {self.data_dir} is closed")
        # A storage fault may have left the database closed: try to open it again.
        if self._database.closed and (
            time.monotonic() < self._fault_retry_at or not self._reopen()
        ):
            raise ChainUnavailableError(
                f"the embedded chain's database in {self.data_dir} cannot be opened: {self._fault}"
            )

    # --- storage faults -----------------------------------------------------------------------

    @property
    def storage_fault(self) -> str | None:
        """Why the chain mines nothing (a write to its database failed and no write has
        succeeded since), or None."""
        return self._fault

    def _check_writable(self) -> None:
        """Refuse to mine while a storage fault lasts. After the back-off, and once the disk
        has room again, reopen the database (LevelDB must not append after a torn record) and
        check it takes a write; the fault is cleared when it does."""
        if self._fault is None:
            return
        if time.monotonic() < self._fault_retry_at:
            raise self._unavailable()
        if not self._database.closed:
            # Reads go on through the open handle meanwhile: only reopen once the disk has
            # room, since a reopen on a full disk fails and leaves nothing to read with.
            if _free_bytes(self._database.path) < REOPEN_FREE_BYTES:
                self._fault_retry_at = time.monotonic() + self._fault_wait
                raise self._unavailable()
            self._database.close()
        if not self._reopen():
            raise self._unavailable()
        failure = None
        try:
            self._database.commit({_PROBE_KEY: str(time.time()).encode()})
        except (plyvel.Error, OSError) as error:
            failure = f"cannot write to its database ({_reason(error)})"
        if failure is not None:
            self._storage_failed(failure)  # raised outside the handler: one line, no chain
        logger.warning("embedded chain in %s: its database takes writes again", self.data_dir)
        self._fault = None
        self._fault_wait = FAULT_RETRY_SECONDS

    def _storage_failed(self, what: str) -> None:
        """Record a failed write, forget everything it left in memory (the staged writes are
        gone already; py-evm's pending block is rebuilt from the database, which never saw
        the failed batch), and raise :class:`ChainUnavailableError`."""
        first = self._fault is None
        self._fault = what
        self._fault_retry_at = time.monotonic() + self._fault_wait
        self._fault_wait = min(self._fault_wait * 2, FAULT_RETRY_MAX_SECONDS)
        if first:
            logger.error(
                "embedded chain in %s: %s; no block is mined until a write succeeds",
                self.data_dir,
                what,
            )
        self._database.discard()
        self._chain = chain_class(self._chain_id)(self._database)
        self._head = self._chain.get_canonical_head()
        raise self._unavailable()

    def _reopen(self) -> bool:
        """Open LevelDB again (it recovers its log, dropping a record a failed write tore) and
        read the head from disk; False (the database left closed) when it cannot be opened
        yet."""
        try:
            self._database.reopen()
        except (plyvel.Error, OSError) as error:
            if self._fault is None:
                self._fault = f"cannot open its database ({_reason(error)})"
            self._fault_retry_at = time.monotonic() + self._fault_wait
            return False
        self._chain = chain_class(self._chain_id)(self._database)
        self._head = self._chain.get_canonical_head()
        return True

    def _unavailable(self) -> ChainUnavailableError:
        return ChainUnavailableError(
            f"the embedded chain in {self.data_dir} stopped mining: {self._fault}; it mines "
            "again once its database takes writes"
        )

    # --- reading ------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def block_number(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._head.block_number)

    def header(self, number: int | None = None) -> BlockHeaderAPI:
        """The py-evm header of a block (default: the latest)."""
        with self._lock:
            self._check_open()
            if number is None:
                return self._head
            if not 0 <= number <= self._head.block_number:
                raise ChainError(
                    f"block {number} does not exist (latest is {self._head.block_number})"
                )
            try:
                return self._chain.get_canonical_block_header_by_number(BlockNumber(number))
            except HeaderNotFound:
                raise ChainError(f"block {number} is missing from {self.data_dir}") from None

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        """The header of a canonical block by hash, or None."""
        with self._lock:
            self._check_open()
            try:
                header = self._chain.get_block_header_by_hash(Hash32(bytes(block_hash)))
            except (HeaderNotFound, ValidationError):
                return None
            number = header.block_number
            if number > self._head.block_number or self.header(number).hash != header.hash:
                return None
            return header

    def block_transactions(self, number: int) -> tuple[SignedTransactionAPI, ...]:
        """The transactions of a block, decoded."""
        with self._lock:
            header = self.header(number)
            return tuple(self._chain.get_block_by_header(header).transactions)

    def get_block(self, number: int) -> BlockInfo:
        with self._lock:
            header = self.header(number)
            hashes = self._chain.chaindb.get_block_transaction_hashes(header)
            return BlockInfo(
                number=header.block_number,
                hash=bytes(header.hash),
                parent_hash=bytes(header.parent_hash),
                timestamp=header.timestamp,
                transaction_hashes=tuple(bytes(h) for h in hashes),
            )

    def base_fee_per_gas(self) -> int:
        """Base fee the next block will charge."""
        with self._lock:
            self._check_open()
            return int(self._chain.header.base_fee_per_gas or 0)

    def _state(self, block_number: int | None = None) -> Any:
        return self._chain.get_vm(self.header(block_number)).state

    def get_nonce(self, address: str, block_number: int | None = None) -> int:
        with self._lock:
            return int(self._state(block_number).get_nonce(to_canonical_address(address)))

    def get_balance(self, address: str, block_number: int | None = None) -> int:
        with self._lock:
            return int(self._state(block_number).get_balance(to_canonical_address(address)))

    def get_code(self, address: str, block_number: int | None = None) -> bytes:
        with self._lock:
            return bytes(self._state(block_number).get_code(to_canonical_address(address)))

    def get_storage_at(self, address: str, slot: int, block_number: int | None = None) -> int:
        """Value of a storage slot."""
        with self._lock:
            state = self._state(block_number)
            return int(state.get_storage(to_canonical_address(address), slot))

    def call(
        self,
        to: str,
        data: bytes,
        *,
        sender: str | None = None,
        block_number: int | None = None,
        value: int = 0,
        gas: int = CALL_GAS,
    ) -> bytes:
        computation = self._execute(to, data, sender, block_number, value, gas)
        if computation.is_error:
            error = computation.error
            revert_data = bytes(computation.output) if isinstance(error, Revert) else b""
            what = "reverted" if isinstance(error, Revert) else f"failed ({error!r})"
            raise ContractRevertError(f"call to {to} {what}", args=(revert_data,))
        return bytes(computation.output)

    def estimate_gas(
        self,
        to: str | None,
        data: bytes,
        *,
        sender: str | None = None,
        value: int = 0,
        block_number: int | None = None,
    ) -> int:
        """Gas to give a transaction: what it uses now plus a margin for the 63/64 rule and
        refunds. Raises :class:`ContractRevertError` when it would revert."""
        computation = self._execute(to, data, sender, block_number, value, CALL_GAS)
        if computation.is_error:
            error = computation.error
            revert_data = bytes(computation.output) if isinstance(error, Revert) else b""
            raise ContractRevertError("transaction would revert", args=(revert_data,))
        used = CALL_GAS - computation.get_gas_remaining()  # intrinsic gas included
        return min(used * 3 // 2 + 10_000, int(self._head.gas_limit))

    def _execute(
        self,
        to: str | None,
        data: bytes,
        sender: str | None,
        block_number: int | None,
        value: int,
        gas: int,
    ) -> ComputationAPI:
        with self._lock:
            vm = self._chain.get_vm(self.header(block_number))
            origin = to_canonical_address(sender) if sender else Address(b"\x00" * 20)
            # Executed on a throw-away child of the block's state with gas price 0: nothing
            # is charged and nothing is kept.
            with vm.in_costless_state() as state:
                unsigned = vm.create_unsigned_transaction(
                    nonce=state.get_nonce(origin),
                    gas_price=0,
                    gas=gas,
                    to=to_canonical_address(to) if to else Address(b""),
                    value=value,
                    data=data,
                )
                spoofed: Any = SpoofTransaction(unsigned, from_=origin)
                return state.costless_execute_transaction(spoofed)

    # --- receipts and logs -------------------------------------------------------------------

    def _record(self, transaction_hash: bytes) -> TransactionRecord | None:
        encoded = self._database.get_committed(TRANSACTION_RECORD_PREFIX + transaction_hash)
        return None if encoded is None else TransactionRecord.decode(encoded)

    def get_receipt(self, transaction_hash: bytes) -> Receipt | None:
        with self._lock:
            self._check_open()
            record = self._record(bytes(transaction_hash))
            if record is None:
                return None
            return self._receipt(bytes(transaction_hash), record)[0]

    def _receipt(
        self, transaction_hash: bytes, record: TransactionRecord
    ) -> tuple[Receipt, ReceiptAPI, BlockHeaderAPI]:
        header = self.header(record.block_number)
        receipt = self._chain.chaindb.get_receipt_by_index(
            BlockNumber(record.block_number), record.transaction_index, RECEIPT_BUILDER
        )
        block_hash = bytes(header.hash)
        logs = tuple(
            log_entry(
                log,
                block_number=record.block_number,
                block_hash=block_hash,
                transaction_hash=transaction_hash,
                transaction_index=record.transaction_index,
                log_index=record.first_log_index + offset,
            )
            for offset, log in enumerate(receipt.logs)
        )
        status = 1 if receipt.state_root == b"\x01" else 0
        contract = record.contract_address
        converted = Receipt(
            transaction_hash=transaction_hash,
            block_number=record.block_number,
            block_hash=block_hash,
            status=status,
            gas_used=record.gas_used,
            logs=logs,
            revert_data=None if status else record.revert_data,
            contract_address=to_checksum_address(contract) if contract else None,
        )
        return converted, receipt, header

    def transaction_details(self, transaction_hash: bytes) -> TransactionDetails | None:
        """The mined transaction with its receipt and block, or None when unknown."""
        with self._lock:
            self._check_open()
            record = self._record(bytes(transaction_hash))
            if record is None:
                return None
            receipt, raw_receipt, header = self._receipt(bytes(transaction_hash), record)
            transaction = self._chain.chaindb.get_transaction_by_index(
                BlockNumber(record.block_number), record.transaction_index, _TRANSACTION_BUILDER
            )
            return TransactionDetails(
                transaction=transaction,
                receipt=receipt,
                header=header,
                transaction_index=record.transaction_index,
                cumulative_gas_used=raw_receipt.gas_used,
                effective_gas_price=effective_gas_price(transaction, header),
                logs_bloom=raw_receipt.bloom,
            )

    def wait_for_receipts(
        self, transaction_hashes: Sequence[bytes], timeout: float = 120.0
    ) -> list[Receipt]:
        deadline = time.monotonic() + timeout
        with self._new_block:
            while True:
                receipts = [self.get_receipt(h) for h in transaction_hashes]
                missing = [
                    h for h, r in zip(transaction_hashes, receipts, strict=True) if r is None
                ]
                if not missing:
                    return [r for r in receipts if r is not None]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReceiptTimeoutError(
                        f"no receipt for transaction 0x{bytes(missing[0]).hex()} after "
                        f"{timeout:g} s ({len(missing)} of {len(transaction_hashes)} missing)"
                    )
                self._new_block.wait(remaining)

    def get_logs(
        self,
        *,
        address: str | Sequence[str],
        from_block: int,
        to_block: int,
        topics: Sequence[Topic] | None = None,
    ) -> list[LogEntry]:
        addresses = [address] if isinstance(address, str) else list(address)
        return self.find_logs(
            addresses=frozenset(to_canonical_address(a) for a in addresses),
            from_block=from_block,
            to_block=to_block,
            topics=[_topic_set(topic) for topic in topics or ()],
        )

    def find_logs(
        self,
        *,
        addresses: frozenset[bytes] | None,
        from_block: int,
        to_block: int,
        topics: Sequence[frozenset[bytes] | None] = (),
    ) -> list[LogEntry]:
        """Logs in an inclusive block range, in chain order. ``addresses`` None means any
        contract; ``topics[i]`` None means any topic in position i, otherwise one of the set
        (eth_getLogs semantics). Only the range's blocks are read, and only those whose bloom
        filter may match are decoded."""
        if from_block < 0:
            raise ChainError(f"from_block must not be negative (got {from_block})")
        matched: list[LogEntry] = []
        with self._lock:
            self._check_open()
            last = min(to_block, int(self._head.block_number))
            for number in range(from_block, last + 1):
                header = self._chain.get_canonical_block_header_by_number(BlockNumber(number))
                if not bloom_may_match(header.bloom, addresses, topics):
                    continue
                matched.extend(block_logs(self._chain.chaindb, header, addresses, topics))
        return matched

    # --- sending -----------------------------------------------------------------------------

    def send_raw_transactions(self, raw_transactions: Sequence[bytes]) -> list[bytes]:
        """Mine the transactions in one block (more only when their gas does not fit) and
        return their hashes. All or nothing: when any one is invalid (undecodable, bad
        signature, wrong chain id, nonce, balance, fee) nothing is mined and
        :class:`TransactionRejectedError` says which and why. Transactions already mined
        are not mined again; their hashes are returned (a resend after a crash is safe)."""
        outcomes = self._submit(raw_transactions, all_or_nothing=True)
        return [outcome for outcome in outcomes if isinstance(outcome, bytes)]

    def submit_raw_transactions(
        self, raw_transactions: Sequence[bytes]
    ) -> list[bytes | TransactionRejectedError]:
        """Like :meth:`send_raw_transactions`, but mine the valid transactions and return, in
        place of each invalid one, why it was rejected (for the JSON-RPC server, where
        unrelated clients' transactions share a block)."""
        return self._submit(raw_transactions, all_or_nothing=False)

    def _submit(
        self, raw_transactions: Sequence[bytes], *, all_or_nothing: bool
    ) -> list[bytes | TransactionRejectedError]:
        outcomes: list[bytes | TransactionRejectedError] = []
        pending: list[tuple[int, SignedTransactionAPI]] = []
        first_position: dict[bytes, int] = {}
        repeats: list[tuple[int, int]] = []
        with self._lock:
            self._check_open()
            self._check_writable()
            for position, raw in enumerate(raw_transactions):
                try:
                    transaction = self._decode(position, bytes(raw))
                except TransactionRejectedError as error:
                    if all_or_nothing:
                        raise
                    outcomes.append(error)
                    continue
                transaction_hash = bytes(transaction.hash)
                outcomes.append(transaction_hash)
                if transaction_hash in first_position:  # twice in this batch: mine it once
                    repeats.append((position, first_position[transaction_hash]))
                elif self._record(transaction_hash) is None:  # not mined before
                    first_position[transaction_hash] = position
                    pending.append((position, transaction))
            for group in self._blocks_for(pending, outcomes, all_or_nothing):
                self._mine_group(group, outcomes, all_or_nothing)
            if all_or_nothing and self._database.has_staged_writes:
                self._commit()
        for position, first in repeats:
            outcomes[position] = outcomes[first]
        return outcomes

    def _decode(self, position: int, raw: bytes) -> SignedTransactionAPI:
        try:
            transaction = _TRANSACTION_BUILDER.decode(raw)
        except Exception as error:  # rlp, type byte and field errors all mean "malformed"
            raise TransactionRejectedError(
                f"transaction {position}: cannot decode it ({error})"
            ) from None
        where = f"transaction {position} (0x{bytes(transaction.hash).hex()})"
        if transaction.type_id == _BLOB_TRANSACTION_TYPE:
            raise TransactionRejectedError(f"{where}: blob transactions are not supported")
        chain_id = transaction_chain_id(transaction)
        if chain_id is not None and chain_id != self._chain_id:
            raise TransactionRejectedError(
                f"{where}: signed for chain id {chain_id}, this chain is {self._chain_id}"
            )
        try:
            # Recovering the sender (cached on the transaction) catches garbage signatures
            # here, with a clear message; py-evm checks the signature's ranges when it runs.
            transaction.sender  # noqa: B018
        except Exception as error:
            raise TransactionRejectedError(f"{where}: invalid signature ({error})") from None
        return transaction

    def _blocks_for(
        self,
        pending: list[tuple[int, SignedTransactionAPI]],
        outcomes: list[bytes | TransactionRejectedError],
        all_or_nothing: bool,
    ) -> list[list[tuple[int, SignedTransactionAPI]]]:
        limit = int(self._head.gas_limit)
        groups, oversized = split_by_gas(pending, limit)
        for position, transaction in oversized:
            error = TransactionRejectedError(
                f"transaction {position} (0x{bytes(transaction.hash).hex()}): gas limit "
                f"{transaction.gas} exceeds the block gas limit {limit}"
            )
            if all_or_nothing:
                raise error
            outcomes[position] = error
        return groups

    def _mine_group(
        self,
        group: list[tuple[int, SignedTransactionAPI]],
        outcomes: list[bytes | TransactionRejectedError],
        all_or_nothing: bool,
    ) -> None:
        try:
            mined, rejected = self._chain.mine_transactions([t for _, t in group])
            if rejected and all_or_nothing:
                first = rejected[0]
                position, transaction = group[first.position]
                raise TransactionRejectedError(
                    f"transaction {position} (0x{bytes(transaction.hash).hex()}) from "
                    f"{to_checksum_address(transaction.sender)}: {first.reason}"
                )
            for refused in rejected:
                position, transaction = group[refused.position]
                outcomes[position] = TransactionRejectedError(
                    f"transaction 0x{bytes(transaction.hash).hex()} from "
                    f"{to_checksum_address(transaction.sender)}: {refused.reason}"
                )
            if not mined.receipts:
                self._discard()  # every transaction was refused: mine no empty block
                return
            for key, value in transaction_records(mined).items():
                self._database[key] = value
            if not all_or_nothing:
                self._commit()
        except BaseException:
            self._discard()
            raise

    def _commit(self) -> None:
        number = self._chain.header.block_number - 1  # py-evm's pending header is the next
        failure = None
        try:
            self._database.commit()
        except (plyvel.Error, OSError) as error:
            failure = f"cannot write block {number} ({_reason(error)})"
        if failure is not None:
            self._storage_failed(failure)  # raised outside the handler: one line, no chain
        self._head = self._chain.get_canonical_head()
        self._new_block.notify_all()

    def _discard(self) -> None:
        self._database.discard()
        if self._database.closed:  # a storage fault: _reopen() rebuilds the chain later
            return
        # py-evm keeps the pending header in memory; rebuild it from what is on disk.
        self._chain = chain_class(self._chain_id)(self._database)
        self._head = self._chain.get_canonical_head()

    # --- dev faucet --------------------------------------------------------------------------

    def fund(self, address: str, wei: int) -> Receipt:
        """Send ``wei`` from the dev faucet to ``address`` (a mined transfer)."""
        return self.fund_many({address: wei})[0]

    def fund_many(self, amounts: Mapping[str, int]) -> list[Receipt]:
        """Fund several accounts from the dev faucet in one block."""
        with self._lock:
            self._check_open()
            total = sum(amounts.values())
            available = self.get_balance(FAUCET_ADDRESS)
            if available < total + 10**18:
                raise ChainError(
                    f"the dev faucet {FAUCET_ADDRESS} holds {available} wei, not enough to "
                    f"give {total}: this chain's genesis does not fund it"
                )
            nonce = self.get_nonce(FAUCET_ADDRESS)
            max_fee = 2 * self.base_fee_per_gas() + 1
            raws = [
                faucet_transfer(
                    self._chain_id,
                    nonce + offset,
                    max_fee,
                    to_canonical_address(address),
                    wei,
                    # a contract's receive() may need more than a plain transfer
                    gas=100_000 if self.get_code(address) else 21_000,
                )
                for offset, (address, wei) in enumerate(amounts.items())
            ]
            hashes = self.send_raw_transactions(raws)
            return self.wait_for_receipts(hashes, timeout=0)


def _free_bytes(path: Path) -> int:
    """Bytes free for unprivileged writers on ``path``'s filesystem (large when unknown)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return 2**62
    return stats.f_bavail * stats.f_frsize


def _reason(error: BaseException) -> str:
    """An I/O error in one line (plyvel gives LevelDB's status as bytes)."""
    text = error.args[0] if error.args else error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).splitlines()[0] if str(text) else type(error).__name__


def _topic_set(topic: Topic) -> frozenset[bytes] | None:
    if topic is None:
        return None
    if isinstance(topic, bytes):
        return frozenset((topic,))
    return frozenset(bytes(value) for value in topic)


def faucet_transfers(
    chain_id: int, first_nonce: int, max_fee_per_gas: int, amounts: Mapping[str, int]
) -> list[bytes]:
    """Raw transfers from the dev faucet (its key is public: dev chains only), for a process
    that reaches an embedded chain over JSON-RPC (``ipchain chain serve``)."""
    return [
        faucet_transfer(
            chain_id,
            first_nonce + offset,
            max_fee_per_gas,
            to_canonical_address(address),
            wei,
            gas=21_000,
        )
        for offset, (address, wei) in enumerate(amounts.items())
    ]
