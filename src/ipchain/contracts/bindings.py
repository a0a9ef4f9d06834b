"""Typed bindings over the committed contract artifacts: encode calls, decode results, logs
and custom errors, sign and send transactions, deploy the consortium's contracts.

ABI work is delegated to eth-abi / eth-utils; this module only knows ipchain's contracts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import eth_abi
from eth_utils import to_checksum_address
from eth_utils.abi import abi_to_signature, collapse_if_tuple

from ipchain.chain.base import ChainBackend, LogEntry, Receipt
from ipchain.encoding import keccak
from ipchain.errors import ChainMismatchError, ContractRevertError

if TYPE_CHECKING:  # types only (keys pulls in eth-account, ~1.5 s to import)
    from eth_typing import ABIElement

    from ipchain.keys import OfficeKey

CONTRACT_NAMES = ("OfficeRegistry", "RegisterLedger", "AttestationRegistry")
"""Contracts ipchain deploys, in deployment order."""

DEFAULT_MAX_FEE_PER_GAS = 10**10
"""Fee cap per gas (10 gwei). Consortium chains run with a zero or tiny base fee; the cap only
bounds what a transaction may cost if the base fee ever rises."""


def _types(params: Sequence[Mapping[str, Any]]) -> list[str]:
    return [collapse_if_tuple(dict(param)) for param in params]


def _checksummed(types: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
    """eth-abi returns addresses in lower case; ipchain shows them checksummed everywhere."""
    return tuple(
        to_checksum_address(value) if kind == "address" else value
        for kind, value in zip(types, values, strict=True)
    )


@dataclass(frozen=True)
class DecodedLog:
    """A contract log decoded with the contract's ABI."""

    event: str
    """Event name, e.g. ``EventRecorded``."""
    args: dict[str, Any]
    """Arguments by name (indexed and non-indexed)."""
    log: LogEntry
    """The raw log it came from (block, transaction, position)."""


def _signature_hash(abi: Mapping[str, Any]) -> bytes:
    """keccak256 of an ABI element's signature (``name(type,...)``): an event's topic 0; its
    first four bytes are a function's or custom error's selector."""
    signature = abi_to_signature(cast("ABIElement", abi))
    return keccak(signature.replace(" ", "").encode("ascii"))


class ContractInterface:
    """The ABI of one compiled contract, with fast encoders and decoders."""

    def __init__(self, artifact: Mapping[str, Any]) -> None:
        self.name: str = artifact["contractName"]
        self.abi: list[dict[str, Any]] = artifact["abi"]
        self.bytecode = bytes.fromhex(artifact["bytecode"][2:])
        self.deployed_bytecode = bytes.fromhex(artifact["deployedBytecode"][2:])
        self.compiler: Mapping[str, Any] = artifact["compiler"]
        self._functions = {e["name"]: e for e in self.abi if e["type"] == "function"}
        self._selectors = {name: _signature_hash(e)[:4] for name, e in self._functions.items()}
        self._events_by_topic = {_signature_hash(e): e for e in self.abi if e["type"] == "event"}
        self._event_topics = {e["name"]: topic for topic, e in self._events_by_topic.items()}
        self._errors_by_selector = {
            _signature_hash(e)[:4]: e for e in self.abi if e["type"] == "error"
        }
        self._constructor = next((e for e in self.abi if e["type"] == "constructor"), None)

    def event_topic(self, event: str) -> bytes:
        """Topic 0 of an event."""
        return self._event_topics[event]

    def encode_call(self, function: str, *args: Any) -> bytes:
        """Calldata for ``function(*args)``."""
        abi = self._functions[function]
        return self._selectors[function] + eth_abi.encode(_types(abi["inputs"]), args)

    def decode_result(self, function: str, data: bytes) -> tuple[Any, ...]:
        """Decode a call's return data."""
        types = _types(self._functions[function]["outputs"])
        return _checksummed(types, eth_abi.decode(types, data))

    def encode_deploy(self, *args: Any) -> bytes:
        """Creation code with ABI-encoded constructor arguments."""
        if self._constructor is None:
            return self.bytecode
        return self.bytecode + eth_abi.encode(_types(self._constructor["inputs"]), args)

    def decode_error(self, data: bytes) -> tuple[str, tuple[Any, ...]] | None:
        """Decode revert data as one of this contract's custom errors, if it is one."""
        abi = self._errors_by_selector.get(data[:4])
        if abi is None:
            return None
        types = _types(abi["inputs"])
        return abi["name"], _checksummed(types, eth_abi.decode(types, data[4:]))

    def decode_log(self, log: LogEntry) -> DecodedLog | None:
        """Decode a log of this contract; None when its topic is not one of our events."""
        if not log.topics:
            return None
        abi = self._events_by_topic.get(log.topics[0])
        if abi is None:
            return None
        indexed = [i for i in abi["inputs"] if i["indexed"]]
        plain = [i for i in abi["inputs"] if not i["indexed"]]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, log.topics[1:], strict=True):
            kind = collapse_if_tuple(param)
            args[param["name"]] = _checksummed([kind], eth_abi.decode([kind], topic))[0]
        plain_types = _types(plain)
        values = _checksummed(plain_types, eth_abi.decode(plain_types, log.data))
        for param, value in zip(plain, values, strict=True):
            args[param["name"]] = value
        return DecodedLog(event=abi["name"], args=args, log=log)


@cache
def load_interface(name: str) -> ContractInterface:
    """The interface of a committed artifact (``src/ipchain/data/contracts/{name}.json``)."""
    text = resources.files("ipchain.data.contracts").joinpath(f"{name}.json").read_text("utf-8")
    return ContractInterface(json.loads(text))


def revert_error(
    data: bytes | None, interfaces: Iterable[ContractInterface]
) -> ContractRevertError:
    """A :class:`ContractRevertError` naming the custom error in ``data`` when one matches."""
    if data:
        for interface in interfaces:
            decoded = interface.decode_error(data)
            if decoded is not None:
                name, args = decoded
                rendered = ", ".join(_render(arg) for arg in args)
                return ContractRevertError(f"{name}({rendered})", error_name=name, args=args)
        if data[:4] == bytes.fromhex("08c379a0"):  # Error(string)
            (reason,) = eth_abi.decode(["string"], data[4:])
            return ContractRevertError(f"reverted: {reason}", error_name="Error", args=(reason,))
        return ContractRevertError(f"reverted with data 0x{data.hex()}")
    return ContractRevertError("transaction reverted without a reason")


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        if len(value) <= 8 and value.rstrip(b"\0").isascii() and value.rstrip(b"\0").isalnum():
            return value.rstrip(b"\0").decode()
        return "0x" + value.hex()
    return str(value)


# ------------------------------------------------------------------------------ transactions


def sign_transaction(
    key: OfficeKey,
    *,
    chain_id: int,
    nonce: int,
    to: str | None,
    data: bytes,
    gas: int,
    max_fee_per_gas: int = DEFAULT_MAX_FEE_PER_GAS,
) -> bytes:
    """An EIP-1559 transaction with explicit gas and fees, signed by ``key``.

    Gas is never estimated: estimation costs a round trip per transaction and was measured
    four times slower than signing with an explicit limit (DESIGN §8).
    """
    transaction: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": max_fee_per_gas,
        "maxPriorityFeePerGas": 0,
        "value": 0,
        "data": data,
    }
    if to is not None:
        transaction["to"] = to
    return key.sign_transaction(transaction)


def call_function(
    backend: ChainBackend,
    interface: ContractInterface,
    address: str,
    function: str,
    *args: Any,
    block_number: int | None = None,
) -> tuple[Any, ...]:
    """Call a view function and decode its result; custom errors are decoded on revert."""
    data = interface.encode_call(function, *args)
    try:
        output = backend.call(address, data, block_number=block_number)
    except ContractRevertError as error:
        raw = (
            error.error_args[0]
            if error.error_args and isinstance(error.error_args[0], bytes)
            else None
        )
        raise revert_error(raw, [interface]) from None
    return interface.decode_result(function, output)


def explain_failure(
    backend: ChainBackend,
    receipt: Receipt,
    interfaces: Sequence[ContractInterface],
    *,
    to: str,
    data: bytes,
    sender: str,
) -> ContractRevertError:
    """Why a mined transaction reverted: from the receipt when the backend kept the revert data,
    else by replaying the call on the state just before its block."""
    revert_data = receipt.revert_data
    if revert_data is None:
        try:
            backend.call(to, data, sender=sender, block_number=max(receipt.block_number - 1, 0))
        except ContractRevertError as error:
            if error.error_args and isinstance(error.error_args[0], bytes):
                revert_data = error.error_args[0]
    return revert_error(revert_data, interfaces)


def send_and_confirm(
    backend: ChainBackend,
    key: OfficeKey,
    *,
    to: str | None,
    data: bytes,
    gas: int,
    interfaces: Sequence[ContractInterface],
    timeout: float = 120.0,
) -> Receipt:
    """Sign, send and wait for one transaction; raise the decoded custom error if it reverts."""
    raw = sign_transaction(
        key,
        chain_id=backend.chain_id,
        nonce=backend.get_nonce(key.address),
        to=to,
        data=data,
        gas=gas,
    )
    (transaction_hash,) = backend.send_raw_transactions([raw])
    (receipt,) = backend.wait_for_receipts([transaction_hash], timeout=timeout)
    if receipt.status != 1:
        if to is None:
            raise revert_error(receipt.revert_data, interfaces)
        raise explain_failure(backend, receipt, interfaces, to=to, data=data, sender=key.address)
    return receipt


# ------------------------------------------------------------------------------ deployment


@dataclass(frozen=True)
class FoundingOffice:
    """An office present at deployment."""

    code: str
    """ST.3 code, e.g. ``EM``."""
    name: str
    """Office name."""
    admin: str
    """Admin account (proposes and votes)."""
    signers: tuple[str, ...]
    """Signer accounts (write register events)."""
    profile_hash: bytes = b"\0" * 32
    """SHA-256 of the office's profile document (RFC 8785), or zeros."""


@dataclass(frozen=True)
class Deployment:
    """Where ipchain's contracts live on one chain."""

    chain_id: int
    """Chain they are deployed on."""
    addresses: Mapping[str, str]
    """Contract name → checksummed address."""
    block_number: int
    """Block of the first deployment transaction (indexers start here)."""

    def address(self, name: str) -> str:
        """Address of one contract."""
        return self.addresses[name]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, stored in the node's data directory and in proof bundles."""
        return {
            "chain_id": self.chain_id,
            "contracts": dict(self.addresses),
            "block_number": self.block_number,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        """Inverse of :meth:`to_json`."""
        return cls(
            chain_id=int(data["chain_id"]),
            addresses={k: to_checksum_address(v) for k, v in data["contracts"].items()},
            block_number=int(data["block_number"]),
        )

    def check(self, backend: ChainBackend) -> None:
        """Raise :class:`ChainMismatchError` unless every contract's code is on this chain."""
        if backend.chain_id != self.chain_id:
            raise ChainMismatchError(
                f"deployment is for chain id {self.chain_id}, node is chain id {backend.chain_id}"
            )
        for name, address in self.addresses.items():
            expected = load_interface(name).deployed_bytecode
            code = backend.get_code(address)
            # Immutables are patched into runtime code at deployment; compare lengths for those.
            if not code or (len(code) != len(expected)):
                raise ChainMismatchError(f"{name} is not deployed at {address} on this chain")


_DEPLOY_GAS = 8_000_000
_BIND_GAS = 100_000


def deploy_consortium(
    backend: ChainBackend,
    deployer: OfficeKey,
    founders: Sequence[FoundingOffice],
    *,
    threshold_bps: int = 5000,
    voting_period_seconds: int = 7 * 24 * 3600,
) -> Deployment:
    """Deploy OfficeRegistry with its founding offices, then RegisterLedger and
    AttestationRegistry bound to it, and bind the AttestationRegistry to the OfficeRegistry
    (so that consortium votes can revoke attestations)."""
    registry = load_interface("OfficeRegistry")
    founding = [
        (
            office.code.encode("ascii"),
            office.name,
            to_checksum_address(office.admin),
            [to_checksum_address(signer) for signer in office.signers],
            office.profile_hash,
        )
        for office in founders
    ]
    receipt = send_and_confirm(
        backend,
        deployer,
        to=None,
        data=registry.encode_deploy(founding, threshold_bps, voting_period_seconds),
        gas=_DEPLOY_GAS,
        interfaces=[registry],
    )
    first_block = receipt.block_number
    registry_address = _created_address(receipt, "OfficeRegistry")
    ledger = load_interface("RegisterLedger")
    receipt = send_and_confirm(
        backend,
        deployer,
        to=None,
        data=ledger.encode_deploy(registry_address),
        gas=_DEPLOY_GAS,
        interfaces=[ledger],
    )
    ledger_address = _created_address(receipt, "RegisterLedger")
    attestations = load_interface("AttestationRegistry")
    receipt = send_and_confirm(
        backend,
        deployer,
        to=None,
        data=attestations.encode_deploy(registry_address),
        gas=_DEPLOY_GAS,
        interfaces=[attestations],
    )
    attestations_address = _created_address(receipt, "AttestationRegistry")
    # The deployer binds the AttestationRegistry to the OfficeRegistry, once, so that votes
    # can revoke attestations; it has no other power over either contract.
    send_and_confirm(
        backend,
        deployer,
        to=registry_address,
        data=registry.encode_call("bindAttestationRegistry", attestations_address),
        gas=_BIND_GAS,
        interfaces=[registry],
    )
    addresses = {
        "OfficeRegistry": registry_address,
        "RegisterLedger": ledger_address,
        "AttestationRegistry": attestations_address,
    }
    return Deployment(chain_id=backend.chain_id, addresses=addresses, block_number=first_block)


def _created_address(receipt: Receipt, name: str) -> str:
    if receipt.contract_address is None:
        raise ChainMismatchError(f"deploying {name} created no contract")
    return receipt.contract_address
