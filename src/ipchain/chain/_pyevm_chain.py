"""py-evm pieces of the embedded chain: the genesis file, the chain class, block mining, and
reading logs back from blocks.

Kept apart from :mod:`ipchain.chain.embedded` so that module reads as the ``ChainBackend``
contract (locking, persistence, receipts, logs) while this one holds what is specific to
py-evm 0.12 and the Prague fork.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    BlockPersistResult,
    ChainDatabaseAPI,
    ComputationAPI,
    ReceiptAPI,
    SignedTransactionAPI,
)
from eth.chains.base import MiningChain
from eth.constants import POST_MERGE_DIFFICULTY, POST_MERGE_MIX_HASH, POST_MERGE_NONCE
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth_bloom.bloom import BloomFilter
from eth_typing import Address, BlockNumber
from eth_utils.address import to_canonical_address
from eth_utils.exceptions import ValidationError

from ipchain.chain.addresses import checksum_address
from ipchain.chain.base import LogEntry
from ipchain.errors import ChainError

GENESIS_FORMAT = "ipchain-embedded-genesis/1"
"""Value of the ``format`` field every embedded genesis file carries."""


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """An account allocated at genesis."""

    balance: int
    """Balance in wei."""
    nonce: int
    """Account nonce."""
    code: bytes
    """Runtime bytecode (empty for a plain account)."""
    storage: tuple[tuple[int, int], ...]
    """Storage slots as (slot, value) pairs."""


@dataclass(frozen=True, slots=True)
class Genesis:
    """The parameters of an embedded chain, read from a genesis JSON file."""

    chain_id: int
    """EIP-155 chain id."""
    gas_limit: int
    """Block gas limit, kept constant for every block."""
    base_fee_per_gas: int
    """EIP-1559 base fee of the genesis block (later blocks follow the EIP-1559 rule)."""
    timestamp: int
    """Genesis block time; fixed so that the genesis hash is reproducible."""
    extra_data: bytes
    """Genesis header extra data (at most 32 bytes)."""
    alloc: tuple[tuple[Address, GenesisAccount], ...]
    """Accounts funded at genesis, as (canonical address, account)."""

    @classmethod
    def from_file(cls, path: Path) -> Genesis:
        """Read and check a genesis file; raises :class:`ChainError` when it is malformed."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ChainError(f"cannot read genesis file {path}: {error}") from None
        try:
            return cls.from_json(document)
        except (KeyError, TypeError, ValueError) as error:
            raise ChainError(f"malformed genesis file {path}: {error!r}") from None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Genesis:
        """Parse the JSON document of a genesis file (numbers as JSON integers or 0x-hex)."""
        if document.get("format") != GENESIS_FORMAT:
            raise ValueError(f"'format' must be {GENESIS_FORMAT!r}")
        fork = document["config"].get("fork", "prague")
        if fork != "prague":
            raise ValueError(f"fork {fork!r} is not supported (only 'prague')")
        alloc: list[tuple[Address, GenesisAccount]] = []
        for address, account in sorted(document.get("alloc", {}).items()):
            storage = tuple(
                sorted(
                    (_integer(slot), _integer(value))
                    for slot, value in account.get("storage", {}).items()
                )
            )
            alloc.append(
                (
                    to_canonical_address(address),
                    GenesisAccount(
                        balance=_integer(account.get("balance", 0)),
                        nonce=_integer(account.get("nonce", 0)),
                        code=bytes.fromhex(_strip_0x(account.get("code", ""))),
                        storage=storage,
                    ),
                )
            )
        extra_data = bytes.fromhex(_strip_0x(document.get("extraData", "")))
        if len(extra_data) > 32:
            raise ValueError("extraData is longer than 32 bytes")
        return cls(
            chain_id=_integer(document["config"]["chainId"]),
            gas_limit=_integer(document["gasLimit"]),
            base_fee_per_gas=_integer(document["baseFeePerGas"]),
            timestamp=_integer(document["timestamp"]),
            extra_data=extra_data,
            alloc=tuple(alloc),
        )

    def header_params(self) -> dict[str, Any]:
        """Genesis header fields as py-evm's ``Chain.from_genesis`` takes them."""
        return {
            "coinbase": b"\x00" * 20,
            "difficulty": POST_MERGE_DIFFICULTY,
            "extra_data": self.extra_data,
            "gas_limit": self.gas_limit,
            "mix_hash": POST_MERGE_MIX_HASH,
            "nonce": POST_MERGE_NONCE,
            "timestamp": self.timestamp,
            "base_fee_per_gas": self.base_fee_per_gas,
        }

    def state(self) -> dict[Address, Any]:
        """Genesis state as py-evm's ``Chain.from_genesis`` takes it."""
        return {
            address: {
                "balance": account.balance,
                "nonce": account.nonce,
                "code": account.code,
                "storage": dict(account.storage),
            }
            for address, account in self.alloc
        }

    def block_hash(self) -> bytes:
        """Hash of the genesis block, computed in memory (nothing is written to disk)."""
        chain = chain_class(self.chain_id).from_genesis(
            AtomicDB(), self.header_params(), self.state()
        )
        return bytes(chain.get_canonical_head().hash)


def _strip_0x(text: str) -> str:
    return text[2:] if text.startswith(("0x", "0X")) else text


def _integer(value: int | str) -> int:
    if isinstance(value, bool):
        raise TypeError("a number cannot be a boolean")
    if isinstance(value, int):
        return value
    return int(value, 16) if value.startswith(("0x", "0X")) else int(value)


@dataclass(frozen=True, slots=True)
class MinedBlock:
    """One block mined by :meth:`EmbeddedMiningChain.mine_transactions`."""

    block: BlockAPI
    """The block, as persisted (staged until the caller commits)."""
    receipts: tuple[ReceiptAPI, ...]
    """Receipts of the block's transactions, in order."""
    computations: tuple[ComputationAPI, ...]
    """Their computations (revert data, created contract address)."""


@dataclass(frozen=True, slots=True)
class RejectedTransaction:
    """A transaction py-evm refused to include (nonce, balance, fee, gas)."""

    position: int
    """Index of the transaction in the list given to ``mine_transactions``."""
    reason: str
    """py-evm's validation message."""


class EmbeddedMiningChain(MiningChain):
    """A Prague ``MiningChain`` with a constant gas limit and wall-clock timestamps.

    Subclassed per chain id by :func:`chain_class` (py-evm reads the chain id from the class).
    """

    vm_configuration = ((BlockNumber(0), PragueVM),)

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        # A permissioned chain has no miners voting the gas limit: keep the genesis value.
        header_params.setdefault("gas_limit", parent_header.gas_limit)
        header_params.setdefault("timestamp", next_timestamp(parent_header))
        return super().create_header_from_parent(parent_header, **header_params)

    def persist_block(self, block: BlockAPI, perform_validation: bool = True) -> BlockPersistResult:
        # py-evm re-reads and re-decodes every newly canonical block to return it; this chain
        # never reorganises and already holds the block, which saves ~10% of mining time.
        if perform_validation:
            self.validate_block(block)
        self.chaindb.persist_block(block)
        return BlockPersistResult(
            imported_block=block, new_canonical_blocks=(block,), old_canonical_blocks=()
        )

    def mine_transactions(
        self, transactions: Sequence[SignedTransactionAPI]
    ) -> tuple[MinedBlock, list[RejectedTransaction]]:
        """Mine one block with every valid transaction; return it and the ones refused.

        The same steps as py-evm's ``mine_all``, except that a transaction failing validation
        is left out (and reported) instead of aborting the block. Validation runs before the
        transaction touches state, so leaving it out needs no rollback. The caller makes sure
        the transactions' gas limits fit in one block.
        """
        parent = self.get_canonical_head()
        pending = self.header.copy(timestamp=next_timestamp(parent))
        vm = self.get_vm(pending)
        header = pending
        included: list[SignedTransactionAPI] = []
        receipts: list[ReceiptAPI] = []
        computations: list[ComputationAPI] = []
        rejected: list[RejectedTransaction] = []
        for position, transaction in enumerate(transactions):
            try:
                receipt, computation = vm.apply_transaction(header, transaction)
            except ValidationError as error:
                rejected.append(RejectedTransaction(position, str(error)))
                continue
            header = vm.add_receipt_to_header(header, receipt)
            header = vm.increment_blob_gas_used(header, transaction)
            included.append(transaction)
            receipts.append(receipt)
            computations.append(computation)
        filled = vm.set_block_transactions_and_withdrawals(
            vm.get_block(), header, included, receipts
        )
        # pack + finalize, as vm.mine_block does, without re-validating a block built here.
        block = vm.finalize_block(vm.pack_block(filled)).block
        self.persist_block(block)
        self.header = self.create_header_from_parent(block.header)
        return MinedBlock(block, tuple(receipts), tuple(computations)), rejected


def next_timestamp(parent: BlockHeaderAPI) -> int:
    """Wall-clock time, but always after the parent block (blocks can come faster than 1/s)."""
    return max(int(time.time()), parent.timestamp + 1)


_CHAIN_CLASSES: dict[int, type[EmbeddedMiningChain]] = {}


def chain_class(chain_id: int) -> type[EmbeddedMiningChain]:
    """The ``EmbeddedMiningChain`` subclass for a chain id (one class per id, reused)."""
    if chain_id not in _CHAIN_CLASSES:
        _CHAIN_CLASSES[chain_id] = type(
            f"EmbeddedMiningChain{chain_id}", (EmbeddedMiningChain,), {"chain_id": chain_id}
        )
    return _CHAIN_CLASSES[chain_id]


def split_by_gas(
    transactions: Sequence[tuple[int, SignedTransactionAPI]], block_gas_limit: int
) -> tuple[list[list[tuple[int, SignedTransactionAPI]]], list[tuple[int, SignedTransactionAPI]]]:
    """Consecutive groups of (position, transaction) whose gas limits fit in one block each,
    and the transactions that fit in no block."""
    groups: list[list[tuple[int, SignedTransactionAPI]]] = []
    oversized: list[tuple[int, SignedTransactionAPI]] = []
    group: list[tuple[int, SignedTransactionAPI]] = []
    group_gas = 0
    for position, transaction in transactions:
        if transaction.gas > block_gas_limit:
            oversized.append((position, transaction))
            continue
        if group and group_gas + transaction.gas > block_gas_limit:
            groups.append(group)
            group, group_gas = [], 0
        group.append((position, transaction))
        group_gas += transaction.gas
    if group:
        groups.append(group)
    return groups, oversized


# --- reading blocks ----------------------------------------------------------------------------

RECEIPT_BUILDER = PragueVM.get_receipt_builder()
"""Decodes the receipts of every block (one fork from genesis on)."""


def block_logs(
    chaindb: ChainDatabaseAPI,
    header: BlockHeaderAPI,
    addresses: frozenset[bytes] | None,
    topics: Sequence[frozenset[bytes] | None],
) -> list[LogEntry]:
    """The logs of one block that match the filter (see :func:`log_matches`), with their
    block-wide log index."""
    receipts: tuple[ReceiptAPI, ...] = chaindb.get_receipts(header, RECEIPT_BUILDER)
    transaction_hashes: tuple[bytes, ...] | None = None
    block_hash = bytes(header.hash)
    found = []
    log_index = 0
    for transaction_index, receipt in enumerate(receipts):
        for log in receipt.logs:
            if log_matches(log, addresses, topics):
                if transaction_hashes is None:
                    transaction_hashes = chaindb.get_block_transaction_hashes(header)
                found.append(
                    log_entry(
                        log,
                        block_number=header.block_number,
                        block_hash=block_hash,
                        transaction_hash=bytes(transaction_hashes[transaction_index]),
                        transaction_index=transaction_index,
                        log_index=log_index,
                    )
                )
            log_index += 1
    return found


def log_entry(
    log: Any,
    *,
    block_number: int,
    block_hash: bytes,
    transaction_hash: bytes,
    transaction_index: int,
    log_index: int,
) -> LogEntry:
    """ipchain's view of a py-evm log."""
    return LogEntry(
        address=checksum_address(log.address),
        topics=tuple(topic.to_bytes(32, "big") for topic in log.topics),
        data=bytes(log.data),
        block_number=block_number,
        block_hash=block_hash,
        transaction_hash=transaction_hash,
        transaction_index=transaction_index,
        log_index=log_index,
    )


def log_matches(
    log: Any, addresses: frozenset[bytes] | None, topics: Sequence[frozenset[bytes] | None]
) -> bool:
    """eth_getLogs matching: the address is one of ``addresses`` (None: any), and topic i is
    one of ``topics[i]`` (None: any); a log with fewer topics than filtered never matches."""
    if addresses is not None and bytes(log.address) not in addresses:
        return False
    if len(topics) > len(log.topics):
        return False
    for wanted, topic in zip(topics, log.topics, strict=False):
        if wanted is not None and topic.to_bytes(32, "big") not in wanted:
            return False
    return True


def bloom_may_match(
    bloom_value: int, addresses: frozenset[bytes] | None, topics: Sequence[frozenset[bytes] | None]
) -> bool:
    """False when a block's logs bloom rules out any log matching the filter."""
    bloom = BloomFilter(bloom_value)
    if addresses is not None and not any(address in bloom for address in addresses):
        return False
    return all(wanted is None or any(topic in bloom for topic in wanted) for wanted in topics)


def transaction_chain_id(transaction: SignedTransactionAPI) -> int | None:
    """The chain id a transaction was signed for; None for a pre-EIP-155 legacy one."""
    if transaction.type_id is not None:
        return int(transaction.chain_id or 0)
    v = int(transaction.v)  # type: ignore[attr-defined]
    return None if v in (27, 28) else (v - 35) // 2  # EIP-155, or unprotected


def effective_gas_price(transaction: SignedTransactionAPI, header: BlockHeaderAPI) -> int:
    """Price per gas the transaction paid in the block with ``header``."""
    if transaction.type_id in (None, 1):
        return int(transaction.gas_price)
    return int(
        min(
            transaction.max_fee_per_gas,
            transaction.max_priority_fee_per_gas + (header.base_fee_per_gas or 0),
        )
    )
