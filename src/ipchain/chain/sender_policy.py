"""Who may send transactions to an embedded chain served over JSON-RPC (``ipchain chain serve``).

The embedded chain has no validators and no permissioning of its own: whoever reaches its
JSON-RPC port could write. The chain node therefore checks the sender of every
``eth_sendRawTransaction`` before the transaction is queued for a block, against the chain's
own state (read in-process, at the latest block):

a. **Accounts of an Active office.** A signer key the OfficeRegistry binds to an Active office
   (``officeOf(sender)`` says *active*), or the admin key of an Active office (``officeCodes()``
   and ``office(code)``: its ``admin`` and ``status``). They send anything: the contracts
   decide what each may do.
b. **The deployer, until the consortium is set up.** The account named with ``--deployer`` may
   send while it has not yet created the OfficeRegistry, or while that OfficeRegistry's
   ``attestationRegistry()`` is still the zero address: binding the AttestationRegistry is
   the deployer's last act in ``deploy_consortium``. The OfficeRegistry is learned as the
   first contract the deployer creates (from its receipt; it must answer as an
   OfficeRegistry) and kept in ``<chain dir>/consortium.json`` with the deployer, so a
   restart knows both (``--deployer`` may then be left out, and may not name another account).
c. **The dev faucet, for plain value transfers only.** The genesis account whose key is public
   (:data:`~ipchain.chain.embedded.FAUCET_ADDRESS`) may send value with no data to an
   existing address (no contract creation, no call). Funding any account is harmless: an
   account bound to no Active office still cannot send.

Nothing else is accepted: without ``--deployer`` and with no OfficeRegistry known, only (c).
A refusal is a :class:`SenderRefusedError` whose message names the sender and why; the server
answers it as a JSON-RPC error and the transaction never reaches a block. A transaction that
is already mined is never refused (resending it changes nothing). Read-only methods are not
checked. What rule (a) reads is cached per sender until a block carries a log of the
OfficeRegistry: every change of an office's status, admin key or signer keys emits one (the
governance index follows the same logs), so a suspension or revocation takes effect from the
next block while a stream of register writes costs no registry call per block.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address

from ipchain.chain.embedded import FAUCET_ADDRESS, EmbeddedChain
from ipchain.errors import ChainMismatchError, InvalidInputError, TransactionRejectedError

CONSORTIUM_FILE = "consortium.json"
"""File of the chain directory that keeps the deployer and the OfficeRegistry it created."""

OFFICE_STATUS_ACTIVE = 1
"""``IOfficeRegistry.OfficeStatus.Active``."""

ZERO_ADDRESS = "0x" + "00" * 20

_MAX_BLOCKS_SCANNED = 1_000
"""Beyond this many new blocks the cache is dropped rather than their logs looked through."""

JSON_RPC_TRANSACTION_REJECTED = -32003
"""EIP-1474's error code for a rejected transaction."""


class SenderRefusedError(TransactionRejectedError):
    """The sender of a transaction may not write to this chain."""

    code = "sender-refused"


class RegistryInterface(Protocol):
    """What the policy needs of the OfficeRegistry's ABI: ``ContractInterface`` from
    ``ipchain.contracts.bindings.load_interface("OfficeRegistry")`` (passed in, since the
    bindings sit above the chain backends)."""

    abi: list[dict[str, Any]]

    def encode_call(self, function: str, *args: Any) -> bytes: ...

    def decode_result(self, function: str, data: bytes) -> tuple[Any, ...]: ...


def checked_address(value: str, what: str) -> str:
    """``value`` checksummed; :class:`InvalidInputError` naming ``what`` when it is no address."""
    if not is_hex_address(value):
        raise InvalidInputError(
            f"{what} {value!r} is not an account address (0x and 40 hex digits)"
        )
    return to_checksum_address(value)


def _struct_fields(abi: Sequence[Mapping[str, Any]], function: str) -> dict[str, int]:
    """Positions of the named fields of the struct ``function`` returns."""
    for element in abi:
        if element.get("type") == "function" and element.get("name") == function:
            components = element["outputs"][0].get("components") or []
            return {component["name"]: index for index, component in enumerate(components)}
    raise ChainMismatchError(f"the OfficeRegistry ABI has no function {function}")


class SenderPolicy:
    """The sender rules of the module docstring over one open chain. Thread-safe."""

    def __init__(
        self,
        chain: EmbeddedChain,
        registry_interface: RegistryInterface,
        *,
        state_file: Path,
        deployer: str | None = None,
        office_registry: str | None = None,
    ) -> None:
        self.chain = chain
        self.deployer = deployer
        """The account allowed to set the consortium up (rule b), if any."""
        self.office_registry = office_registry
        """The OfficeRegistry the deployer created, once known."""
        self._abi = registry_interface
        fields = _struct_fields(registry_interface.abi, "office")
        self._admin_field, self._status_field = fields["admin"], fields["status"]
        self._state_file = state_file
        self._lock = threading.Lock()
        self._set_up = False  # the registry's AttestationRegistry is bound (for good)
        self._cached_block = -1
        self._admins: frozenset[str] | None = None
        self._signers: dict[str, bool] = {}

    @classmethod
    def load(
        cls,
        chain: EmbeddedChain,
        registry_interface: RegistryInterface,
        deployer: str | None = None,
    ) -> SenderPolicy:
        """The policy of the chain in ``chain.data_dir``: what its ``consortium.json`` keeps,
        with ``deployer`` (``--deployer``). Raises :class:`InvalidInputError` when ``deployer``
        is not the account that created the known OfficeRegistry, and
        :class:`ChainMismatchError` when the file names a registry this chain does not hold."""
        state_file = Path(chain.data_dir) / CONSORTIUM_FILE
        if deployer is not None:
            deployer = checked_address(deployer, "--deployer")
        stored: dict[str, Any] = {}
        if state_file.exists():
            try:
                stored = json.loads(state_file.read_text("utf-8"))
                registry = checked_address(str(stored["officeRegistry"]), "officeRegistry")
                creator = checked_address(str(stored["deployer"]), "deployer")
            except (ValueError, KeyError, TypeError, InvalidInputError):
                raise ChainMismatchError(
                    f"{state_file} is not an ipchain consortium file; remove it only if this "
                    "chain holds no consortium"
                ) from None
            if not chain.get_code(registry):
                raise ChainMismatchError(
                    f"{state_file} names the OfficeRegistry {registry}, which this chain does "
                    "not hold: the file belongs to another chain"
                )
            if deployer is not None and deployer != creator:
                raise InvalidInputError(
                    f"--deployer {deployer} is not the deployer of this chain's consortium "
                    f"({creator} created its OfficeRegistry {registry}, see {state_file}); "
                    "leave --deployer out"
                )
            return cls(
                chain,
                registry_interface,
                state_file=state_file,
                deployer=creator,
                office_registry=registry,
            )
        return cls(chain, registry_interface, state_file=state_file, deployer=deployer)

    # --- the rules ------------------------------------------------------------------------

    def check_raw(self, raw: bytes) -> None:
        """Refuse (:class:`SenderRefusedError`) a raw transaction whose sender may not send.
        A transaction that cannot be decoded is let through: the chain rejects it with the
        precise reason."""
        try:
            transaction = PragueTransactionBuilder.decode(raw)
            sender = to_checksum_address(transaction.sender)
        except Exception:  # malformed: the chain says why when it refuses it
            return
        creates = not transaction.to
        refusal = self.refusal(sender, creates=creates, has_data=bool(transaction.data))
        if refusal is not None:
            if self.chain.get_receipt(bytes(transaction.hash)) is not None:
                return  # already mined: a resend changes nothing
            raise SenderRefusedError(refusal)

    def refusal(self, sender: str, *, creates: bool, has_data: bool) -> str | None:
        """Why ``sender`` may not send such a transaction, or None when it may."""
        sender = to_checksum_address(sender)
        if sender == FAUCET_ADDRESS:
            if creates or has_data:
                return (
                    f"sender {sender} is the dev faucet, whose key is public: it may only send "
                    "plain value transfers (no data, no contract creation)"
                )
            return None
        with self._lock:
            self._refresh()
            registry = self.office_registry
            if sender == self.deployer and not self._is_set_up():
                return None
            if registry is None:
                named = (
                    f"only the deployer {self.deployer} may send until it creates one"
                    if self.deployer
                    else "no deployer was named (ipchain chain serve --deployer ADDRESS)"
                )
                return (
                    f"sender {sender} is not allowed: no consortium is deployed on this chain "
                    f"yet and {named}"
                )
            if self._is_office_account(sender, registry):
                return None
            if sender == self.deployer:
                return (
                    f"sender {sender} is the deployer, whose set-up is complete (the "
                    f"OfficeRegistry {registry} has its AttestationRegistry), and is not bound "
                    "to an active office"
                )
            return f"sender {sender} is not bound to an active office"

    def set_up_complete(self) -> bool:
        """Whether the deployer's set-up is over (its OfficeRegistry has an AttestationRegistry)."""
        with self._lock:
            return self._is_set_up()

    # --- chain state, cached per block ----------------------------------------------------

    def _refresh(self) -> None:
        """Forget the office accounts read so far when the OfficeRegistry may have changed:
        it logged something in a block since they were read (or too many blocks passed to
        look cheaply)."""
        head = self.chain.block_number()
        since = self._cached_block
        if head == since:
            return
        registry = self.office_registry
        stale = (
            registry is None
            or since < 0
            or not 0 < head - since <= _MAX_BLOCKS_SCANNED
            or bool(
                self.chain.find_logs(
                    addresses=frozenset((to_canonical_address(registry),)),
                    from_block=since + 1,
                    to_block=head,
                )
            )
        )
        if stale:
            self._admins = None
            self._signers = {}
        self._cached_block = head

    def _call(self, registry: str, function: str, *args: Any) -> tuple[Any, ...]:
        data = self.chain.call(registry, self._abi.encode_call(function, *args))
        return self._abi.decode_result(function, data)

    def _is_set_up(self) -> bool:
        """The OfficeRegistry exists and its AttestationRegistry is bound (rule b is over)."""
        if not self._set_up and self.office_registry is not None:
            (bound,) = self._call(self.office_registry, "attestationRegistry")
            self._set_up = to_checksum_address(bound) != ZERO_ADDRESS
        return self._set_up

    def _is_office_account(self, sender: str, registry: str) -> bool:
        active = self._signers.get(sender)
        if active is None:
            _code, signer_active = self._call(registry, "officeOf", sender)
            active = bool(signer_active) or sender in self._active_admins(registry)
            self._signers[sender] = active
        return active

    def _active_admins(self, registry: str) -> frozenset[str]:
        if self._admins is None:
            (codes,) = self._call(registry, "officeCodes")
            admins = set()
            for code in codes:
                (office,) = self._call(registry, "office", code)
                if int(office[self._status_field]) == OFFICE_STATUS_ACTIVE:
                    admins.add(to_checksum_address(office[self._admin_field]))
            self._admins = frozenset(admins)
        return self._admins

    # --- learning the OfficeRegistry ------------------------------------------------------

    def mined(self, transaction_hashes: Sequence[bytes]) -> str | None:
        """Look at freshly mined transactions for the deployer's first created contract
        (while the OfficeRegistry is unknown); keep it, in memory and in ``consortium.json``,
        before anyone hears the transactions were mined. Returns the registry when learned."""
        if self.deployer is None or self.office_registry is not None:
            return None
        for transaction_hash in transaction_hashes:
            details = self.chain.transaction_details(transaction_hash)
            if details is None or to_checksum_address(details.transaction.sender) != (
                self.deployer
            ):
                continue
            created = details.receipt.contract_address
            if details.transaction.to or details.receipt.status != 1 or created is None:
                continue
            if not self._answers_as_registry(created):
                continue
            with self._lock:
                self.office_registry = to_checksum_address(created)
                self._cached_block = -1
            self._save()
            return self.office_registry
        return None

    def _answers_as_registry(self, address: str) -> bool:
        try:
            self._call(address, "attestationRegistry")
            self._call(address, "officeCodes")
        except Exception:  # not an OfficeRegistry (reverts, or returns nothing decodable)
            return False
        return True

    def _save(self) -> None:
        """Write ``consortium.json`` atomically (a crash leaves the old file or the new one)."""
        text = json.dumps(
            {"deployer": self.deployer, "officeRegistry": self.office_registry}, indent=2
        )
        temporary = self._state_file.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self._state_file)
        directory = os.open(self._state_file.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
