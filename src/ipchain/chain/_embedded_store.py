"""The embedded chain's files and fixtures: the data directory lock, chain creation and
identity checks, ipchain's per-transaction records stored next to py-evm's data, and the dev
faucet.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import rlp
from eth.exceptions import Revert
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_keys.datatypes import PrivateKey
from eth_typing import Address

from ipchain.chain._pyevm_chain import Genesis, MinedBlock, chain_class
from ipchain.chain._pyevm_db import StagedLevelDB
from ipchain.encoding import keccak
from ipchain.errors import ChainMismatchError, ChainUnavailableError

DEFAULT_GENESIS = Path(__file__).with_name("embedded_genesis.json")
"""Genesis used when a new data directory is opened without one (same as
``node_config/embedded/genesis.json``)."""

FAUCET_PRIVATE_KEY = keccak(
    b"ipchain embedded chain dev faucet - public key, never use outside development"
)
"""Private key of the faucet funded by the default genesis. It is public (derived from a fixed
string): the embedded chain is for development and tests only."""

FAUCET_ADDRESS = "0xD2d81B97E9A20Aeb865a7DB18cb49693AFf87d5a"
"""Address of the dev faucet: that of :data:`FAUCET_PRIVATE_KEY` (a test holds the two
together), written out so that importing this module hashes nothing through eth-hash's
automatic backend."""

META_CHAIN_ID = b"ipchain:meta:chain-id"
"""Database key of the chain id (decimal ASCII)."""
META_GENESIS_HASH = b"ipchain:meta:genesis-hash"
"""Database key of the genesis block hash."""
TRANSACTION_RECORD_PREFIX = b"ipchain:tx:"
"""Prefix of each transaction's :class:`TransactionRecord` key (followed by its hash); written
in the same batch as the transaction's block."""


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """What ipchain stores per mined transaction, next to py-evm's receipts."""

    block_number: int
    """Block that includes it."""
    transaction_index: int
    """Its position in that block."""
    gas_used: int
    """Gas it used (py-evm receipts only hold the cumulative figure)."""
    first_log_index: int
    """Block-wide index of its first log."""
    contract_address: bytes
    """Address a deployment created, or empty."""
    revert_data: bytes
    """Raw revert data of a failed transaction (empty on success or a non-revert failure)."""

    def encode(self) -> bytes:
        encoded: bytes = rlp.encode(
            [
                self.block_number,
                self.transaction_index,
                self.gas_used,
                self.first_log_index,
                self.contract_address,
                self.revert_data,
            ]
        )
        return encoded

    @classmethod
    def decode(cls, encoded: bytes) -> TransactionRecord:
        number, index, gas, first_log, contract, revert = rlp.decode(encoded)
        return cls(
            block_number=int.from_bytes(number, "big"),
            transaction_index=int.from_bytes(index, "big"),
            gas_used=int.from_bytes(gas, "big"),
            first_log_index=int.from_bytes(first_log, "big"),
            contract_address=contract,
            revert_data=revert,
        )


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take the data directory's exclusive lock (held until :func:`unlock` or process exit,
    so a killed process never leaves a stale lock); raises :class:`ChainUnavailableError`
    when another process, or another open in this one, holds it."""
    lock_file = (data_dir / "ipchain.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock_file.seek(0)
        owner = lock_file.read().strip()
        lock_file.close()
        if owner == str(os.getpid()):
            raise ChainUnavailableError(
                f"the embedded chain in {data_dir} is already open in this process; "
                "share that EmbeddedChain instead of opening it twice"
            ) from None
        served_at = _served_at(data_dir, owner)
        if served_at is not None:
            raise ChainUnavailableError(
                f"the embedded chain in {data_dir} is served by 'ipchain chain serve' "
                f"(pid {owner}) at {served_at}: use it with --rpc {served_at}"
            ) from None
        by = f" (pid {owner})" if owner.isdigit() else ""
        raise ChainUnavailableError(
            f"the embedded chain in {data_dir} is already open in another process{by}; "
            "stop that process, or serve the chain as a node of its own with "
            f"'ipchain chain serve --data-dir {data_dir}' and use the JSON-RPC URL it "
            f"prints (also in {data_dir / 'chain-node.json'}) with --rpc"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def _served_at(data_dir: Path, owner: str) -> str | None:
    """The JSON-RPC URL ``chain-node.json`` gives when the lock's owner is that chain node."""
    try:
        info = json.loads((data_dir / "chain-node.json").read_text(encoding="utf-8"))
        if str(info["pid"]) == owner and isinstance(info["url"], str):
            return info["url"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def unlock(lock_file: IO[str]) -> None:
    """Release the lock taken by :func:`lock_data_dir`."""
    fcntl.flock(lock_file, fcntl.LOCK_UN)
    lock_file.close()


def initialise(
    database: StagedLevelDB, data_dir: Path, genesis_path: Path | None
) -> tuple[int, bytes]:
    """Create the chain in an empty database, or check an existing one; return its chain id
    and genesis hash."""
    stored_chain_id = database.get_committed(META_CHAIN_ID)
    genesis = Genesis.from_file(genesis_path) if genesis_path is not None else None
    if stored_chain_id is None:
        if database.get_committed(b"v1:canonical_head_hash") is not None:
            raise ChainMismatchError(f"{data_dir} holds a chain database ipchain did not create")
        genesis = genesis or Genesis.from_file(DEFAULT_GENESIS)
        chain = chain_class(genesis.chain_id).from_genesis(
            database, genesis.header_params(), genesis.state()
        )
        genesis_hash = bytes(chain.get_canonical_head().hash)
        # Genesis state, block 0 and the metadata reach the disk in one batch, so a crash
        # here leaves an empty database and the next open starts again.
        database.commit(
            {
                META_CHAIN_ID: str(genesis.chain_id).encode(),
                META_GENESIS_HASH: genesis_hash,
            }
        )
        return genesis.chain_id, genesis_hash
    chain_id = int(stored_chain_id)
    genesis_hash = database.get_committed(META_GENESIS_HASH) or b""
    if genesis is not None:
        if genesis.chain_id != chain_id:
            raise ChainMismatchError(
                f"data directory {data_dir} belongs to chain id {chain_id}, "
                f"expected {genesis.chain_id} (from {genesis_path})"
            )
        expected_hash = genesis.block_hash()
        if expected_hash != genesis_hash:
            raise ChainMismatchError(
                f"data directory {data_dir} belongs to chain id {chain_id} with genesis "
                f"0x{genesis_hash.hex()}, expected genesis 0x{expected_hash.hex()} "
                f"(from {genesis_path})"
            )
    return chain_id, genesis_hash


def write_chain_description(data_dir: Path, chain_id: int, genesis_hash: bytes) -> None:
    """Write ``chain.json`` (for people and scripts; the database is what is checked)."""
    path = data_dir / "chain.json"
    text = json.dumps(
        {"chainId": chain_id, "genesisHash": "0x" + genesis_hash.hex(), "engine": "py-evm"},
        indent=2,
    )
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)


def transaction_records(mined: MinedBlock) -> dict[bytes, bytes]:
    r"""The database entries of a freshly mined block's :class:`TransactionRecord`\ s."""
    block = mined.block
    entries = {}
    previous_cumulative = 0
    first_log_index = 0
    for index, (transaction, receipt, computation) in enumerate(
        zip(block.transactions, mined.receipts, mined.computations, strict=True)
    ):
        failed = computation.is_error
        created = b""
        if not transaction.to and not failed:
            created = bytes(computation.msg.storage_address)
        reverted = failed and isinstance(computation.error, Revert)
        record = TransactionRecord(
            block_number=block.number,
            transaction_index=index,
            gas_used=receipt.gas_used - previous_cumulative,
            first_log_index=first_log_index,
            contract_address=created,
            revert_data=bytes(computation.output) if reverted else b"",
        )
        entries[TRANSACTION_RECORD_PREFIX + bytes(transaction.hash)] = record.encode()
        previous_cumulative = receipt.gas_used
        first_log_index += len(receipt.logs)
    return entries


def faucet_transfer(
    chain_id: int, nonce: int, max_fee_per_gas: int, recipient: Address, wei: int, *, gas: int
) -> bytes:
    """A raw EIP-1559 transfer from the dev faucet."""
    unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=0,
        max_fee_per_gas=max_fee_per_gas,
        gas=gas,
        to=recipient,
        value=wei,
        data=b"",
        access_list=(),
    )
    raw: bytes = unsigned.as_signed_transaction(PrivateKey(FAUCET_PRIVATE_KEY)).encode()
    return raw
