"""The interface every chain backend implements.

ipchain talks to a chain only through :class:`ChainBackend`, so the embedded py-evm chain and
any JSON-RPC node (anvil, Besu) are interchangeable, and py-evm (archived upstream) can be
replaced by another engine without touching the rest of the node.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ipchain.errors import ChainError, ChainUnavailableError

Topic = bytes | Sequence[bytes] | None
"""A log filter's topic in one position: one value, any of several (OR), or any (None)."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One EVM log, as emitted by a contract."""

    address: str
    """Checksummed address of the emitting contract."""
    topics: tuple[bytes, ...]
    """Topic 0 is the event signature hash; the rest are indexed arguments."""
    data: bytes
    """ABI-encoded non-indexed arguments."""
    block_number: int
    """Block the log was included in."""
    block_hash: bytes
    """Hash of that block."""
    transaction_hash: bytes
    """Transaction that emitted the log."""
    transaction_index: int
    """Position of the transaction in its block."""
    log_index: int
    """Position of the log in its block (across transactions)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of a mined transaction."""

    transaction_hash: bytes
    """Hash of the transaction."""
    block_number: int
    """Block it was mined in."""
    block_hash: bytes
    """Hash of that block."""
    status: int
    """1 when it succeeded, 0 when it reverted."""
    gas_used: int
    """Gas it used."""
    logs: tuple[LogEntry, ...]
    """Logs it emitted (empty when it reverted)."""
    revert_data: bytes | None = None
    """Raw revert data (a Solidity custom error) when known; None when the backend cannot tell."""
    contract_address: str | None = None
    """Address of the contract a deployment created."""


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """The parts of a block header ipchain needs."""

    number: int
    """Block number."""
    hash: bytes
    """Block hash."""
    parent_hash: bytes
    """Parent block hash."""
    timestamp: int
    """Unix time the block was made."""
    transaction_hashes: tuple[bytes, ...]
    """Hashes of the block's transactions, in order."""


@dataclass(frozen=True, slots=True)
class Call:
    """Read: ``eth_call`` of ``data`` on ``to``, at a block (None: the latest). Answer: the
    returned bytes, or a :class:`~ipchain.errors.ContractRevertError` with the revert data."""

    to: str
    """Contract called."""
    data: bytes
    """Calldata."""
    block_number: int | None = None
    """State after this block; None for the latest."""


@dataclass(frozen=True, slots=True)
class GetCode:
    """Read: the runtime code at an address, at the latest block. Answer: bytes."""

    address: str
    """Account read."""


@dataclass(frozen=True, slots=True)
class GetBlock:
    """Read: the canonical block with this number. Answer: :class:`BlockInfo`."""

    number: int
    """Block number."""


@dataclass(frozen=True, slots=True)
class GetLogs:
    """Read: logs of one contract in an inclusive block range. Answer: a list of
    :class:`LogEntry` in chain order."""

    address: str
    """Emitting contract."""
    from_block: int
    """First block."""
    to_block: int
    """Last block."""
    topics: tuple[bytes | tuple[bytes, ...] | None, ...] = ()
    """Topic filter per position (see :data:`Topic`)."""


Read = Call | GetCode | GetBlock | GetLogs
"""One read of :meth:`ChainBackend.read_batch`."""


class ChainBackend(ABC):
    """A connection to one EVM chain."""

    @property
    def endpoint(self) -> str | None:
        """A URL other processes can reach the same chain at (None: this process only)."""
        return None

    @property
    @abstractmethod
    def chain_id(self) -> int:
        """EIP-155 chain id."""

    @abstractmethod
    def block_number(self) -> int:
        """Number of the latest block."""

    def block_number_within(self, seconds: float) -> int:
        """:meth:`block_number`, giving up (:class:`~ipchain.errors.ChainUnavailableError`)
        after ``seconds``: what a health check asks, which must answer while the chain does
        not. A backend in this process answers at once."""
        return self.block_number()

    @abstractmethod
    def get_block(self, number: int) -> BlockInfo:
        """A block by number; raises :class:`~ipchain.errors.ChainError` if it does not exist."""

    @abstractmethod
    def get_nonce(self, address: str) -> int:
        """Next nonce of an account, counting transactions not yet mined."""

    @abstractmethod
    def get_balance(self, address: str) -> int:
        """Balance in wei."""

    @abstractmethod
    def get_code(self, address: str, block_number: int | None = None) -> bytes:
        """Runtime bytecode at an address (empty for accounts)."""

    @abstractmethod
    def call(
        self, to: str, data: bytes, *, sender: str | None = None, block_number: int | None = None
    ) -> bytes:
        """Execute a read-only call; raises :class:`~ipchain.errors.ContractRevertError` with
        the raw revert data in ``error_args`` on revert (decoded by the contract layer)."""

    @abstractmethod
    def send_raw_transactions(self, raw_transactions: Sequence[bytes]) -> list[bytes]:
        """Submit signed transactions; returns their hashes. The embedded backend mines them
        into one block before returning; a JSON-RPC node mines them when it does."""

    @abstractmethod
    def get_receipt(self, transaction_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction, or None while it is pending or unknown."""

    @abstractmethod
    def wait_for_receipts(
        self, transaction_hashes: Sequence[bytes], timeout: float = 120.0
    ) -> list[Receipt]:
        """Receipts of all given transactions, in order; raises
        :class:`~ipchain.errors.ReceiptTimeoutError` when one does not come in time."""

    @abstractmethod
    def get_logs(
        self,
        *,
        address: str | Sequence[str],
        from_block: int,
        to_block: int,
        topics: Sequence[Topic] | None = None,
    ) -> list[LogEntry]:
        """Logs of the given contract(s) in an inclusive block range, in chain order. Must not
        scan the whole chain (see DESIGN §8 on eth-tester's O(n²) get_logs)."""

    def read_batch(self, reads: Sequence[Read]) -> list[Any]:
        """The answer to each read, in order: its value, or the
        :class:`~ipchain.errors.ChainError` that read met, so one unreadable block does not hide
        the others. A node that does not answer at all raises
        :class:`~ipchain.errors.ChainUnavailableError`.

        Batching belongs to the backend, as web3.py puts it on the provider: this default asks
        one read at a time; a JSON-RPC backend sends the list as batch requests.
        """
        answers: list[Any] = []
        for read in reads:
            try:
                answers.append(self._read_one(read))
            except ChainUnavailableError:
                raise
            except ChainError as error:
                answers.append(error)
        return answers

    def _read_one(self, read: Read) -> Any:
        if isinstance(read, Call):
            return self.call(read.to, read.data, block_number=read.block_number)
        if isinstance(read, GetCode):
            return self.get_code(read.address)
        if isinstance(read, GetBlock):
            return self.get_block(read.number)
        return self.get_logs(
            address=read.address,
            from_block=read.from_block,
            to_block=read.to_block,
            topics=read.topics,
        )

    @abstractmethod
    def close(self) -> None:
        """Release the connection or the on-disk database."""

    def __enter__(self) -> ChainBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
