"""What verification reads from a chain node, through :meth:`ChainBackend.read_batch`.

:class:`ChainReader` knows the reads a verifier needs — are the contracts genuine, a record's
history walked back from its head, the anchored events of given blocks, a signer's office at a
block — and asks them of the backend in batches (one JSON-RPC round trip per batch on a node;
the embedded chain answers one by one). Deployed code and signer status at a past block do not
change on a finalising chain, so they are cached for the reader's life; heads are not.
docs/proof-bundle.md lists the same reads for reimplementers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final

from ipchain.chain.base import Call, ChainBackend, GetCode, GetLogs, Read
from ipchain.contracts.bindings import load_interface
from ipchain.contracts.register_ledger import (
    EVENT_RECORDED_TOPIC,
    AnchoredEvent,
    decode_event_recorded,
)
from ipchain.encoding import ZERO_HASH, record_id
from ipchain.errors import ChainError
from ipchain.verification.findings import Discrepancy, DiscrepancyKind

_WORD: Final = 32
_SELECTOR_OFFICE_OF: Final = load_interface("OfficeRegistry").encode_call(
    "officeOf", "0x" + "00" * 20
)[:4]
_SELECTOR_STATUS_AT: Final = load_interface("OfficeRegistry").encode_call("statusAt", b"\0\0", 0)[
    :4
]
_SELECTOR_HEAD_OF: Final = load_interface("RegisterLedger").encode_call("headOf", ZERO_HASH)[:4]
_SELECTOR_ENTRY_OF: Final = load_interface("RegisterLedger").encode_call("entryOf", ZERO_HASH)[:4]

_STATUS_ACTIVE: Final = 1
"""``OfficeStatus.Active``."""

SignerStatus = tuple[str | None, bool] | ChainError
"""``officeOf(signer)`` at a block: (office code or None, active), or why it is unknown."""


# ------------------------------------------------------------------------------ contracts


@cache
def _immutable_offsets(contract: str) -> tuple[int, ...]:
    """Where a contract's immutables sit in its runtime code.

    solc leaves immutables as 32 zero bytes after a PUSH32 in ``deployedBytecode`` and the
    constructor writes the value there. A literal zero is never a PUSH32 (solc uses PUSH0), so
    every PUSH32 of zeros found by walking the opcodes is one.
    """
    code = load_interface(contract).deployed_bytecode
    offsets = []
    position = 0
    while position < len(code):
        opcode = code[position]
        if 0x60 <= opcode <= 0x7F:  # PUSH1..PUSH32
            width = opcode - 0x5F
            if width == _WORD and code[position + 1 : position + 1 + _WORD] == bytes(_WORD):
                offsets.append(position + 1)
            position += 1 + width
        else:
            position += 1
    return tuple(offsets)


def _with_immutables(contract: str, code: bytes, value: bytes | None) -> bytes:
    """``contract``'s artifact code with its immutables set to ``value`` (a 32-byte word), or
    to whatever ``code`` holds there when ``value`` is None (an immutable the verifier has no
    way to know, such as OfficeRegistry's deployer: the logic around it is still compared)."""
    expected = bytearray(load_interface(contract).deployed_bytecode)
    for offset in _immutable_offsets(contract):
        word = value if value is not None else code[offset : offset + _WORD]
        expected[offset : offset + _WORD] = word.ljust(_WORD, b"\0")[:_WORD]
    return bytes(expected)


def expected_ledger_code(registry_address: str) -> bytes:
    """The runtime code of a genuine RegisterLedger bound to ``registry_address``."""
    value = bytes(12) + bytes.fromhex(registry_address[2:])
    return _with_immutables("RegisterLedger", b"", value)


def code_problems(
    registry_address: str, registry_code: bytes, ledger_address: str, ledger_code: bytes
) -> list[str]:
    """Why the code at these addresses is not ipchain's contracts (empty list: it is)."""
    problems = []
    if not registry_code:
        problems.append(f"no contract at OfficeRegistry address {registry_address}")
    elif registry_code != _with_immutables("OfficeRegistry", registry_code, None):
        problems.append(f"the contract at {registry_address} is not ipchain's OfficeRegistry")
    if not ledger_code:
        problems.append(f"no contract at RegisterLedger address {ledger_address}")
    elif ledger_code != expected_ledger_code(registry_address):
        problems.append(
            f"the contract at {ledger_address} is not ipchain's RegisterLedger "
            f"bound to OfficeRegistry {registry_address}"
        )
    return problems


# ------------------------------------------------------------------------------ the reader


class ChainReader:
    """Batched reads of one consortium's contracts on one chain node."""

    def __init__(self, backend: ChainBackend, registry_address: str, ledger_address: str) -> None:
        self.backend = backend
        self.registry_address = registry_address
        self.ledger_address = ledger_address
        self._code: dict[str, bytes] = {}
        self._signers: dict[tuple[str, int], SignerStatus] = {}

    def codes(self) -> tuple[bytes, bytes]:
        """The runtime code at the OfficeRegistry and RegisterLedger addresses."""
        wanted = [a for a in (self.registry_address, self.ledger_address) if a not in self._code]
        for address, answer in zip(
            wanted, self.backend.read_batch([GetCode(a) for a in wanted]), strict=True
        ):
            if isinstance(answer, ChainError):
                raise answer
            self._code[address] = answer
        return self._code[self.registry_address], self._code[self.ledger_address]

    def contract_problems(self) -> list[str]:
        """Why the contracts are not ipchain's own code (empty: they are). A genuine
        RegisterLedger refuses entries from inactive offices and entries that do not extend
        their record's head, which is what makes its logs evidence."""
        registry_code, ledger_code = self.codes()
        return code_problems(self.registry_address, registry_code, self.ledger_address, ledger_code)

    def heads(self, record_keys: Sequence[str]) -> list[tuple[bytes, int]]:
        """Each record's (head entry hash, seq) now (zeros for a record with no event)."""
        answers = self.backend.read_batch([self._head_of(key) for key in record_keys])
        return [_head(_value(answer)) for answer in answers]

    def history(self, record_key: str) -> list[AnchoredEvent]:
        """A record's anchored events, oldest first, walked back from its head.

        Each step reads ``entryOf(hash)`` for the block, then that block's logs of the record;
        the record's other events in the same block come with them, so a batch costs one step
        (never a whole-chain log scan: DESIGN §8).
        """
        identifier = record_id(record_key)
        (head, _seq) = self.heads([record_key])[0]
        found: dict[bytes, AnchoredEvent] = {}
        history: list[AnchoredEvent] = []
        cursor = head
        while cursor != ZERO_HASH:
            if cursor not in found:
                (located,) = self.backend.read_batch([self._entry_of(cursor)])
                seq, block = _entry(_value(located))
                if seq == 0:
                    raise ChainError(f"entry 0x{cursor.hex()} of {record_key} is not anchored")
                for event in self.block_events({block: {identifier}})[block]:
                    found[event.entry_hash] = event
                if cursor not in found:
                    raise ChainError(f"log of entry 0x{cursor.hex()} missing in block {block}")
            event = found[cursor]
            history.append(event)
            cursor = event.prev_entry_hash
        history.reverse()
        return history

    def office_active_at(self, office: str, timestamp: int) -> bool:
        """Whether ``office`` was an active member at Unix time ``timestamp``
        (``OfficeRegistry.statusAt``: its status history, no historical state needed)."""
        code = office.encode("ascii")[:2].ljust(2, b"\0")
        call = Call(
            self.registry_address,
            _SELECTOR_STATUS_AT + code.ljust(_WORD, b"\0") + timestamp.to_bytes(_WORD, "big"),
        )
        (answer,) = self.backend.read_batch([call])
        return _word(_value(answer), 0) == _STATUS_ACTIVE

    def block_events(self, wanted: dict[int, set[bytes]]) -> dict[int, list[AnchoredEvent]]:
        """The anchored events of some records (by record id) in each of some blocks; none for
        a block the node cannot read (one that does not exist, say)."""
        blocks = sorted(wanted)
        reads: list[Read] = [
            GetLogs(
                self.ledger_address,
                number,
                number,
                (EVENT_RECORDED_TOPIC, tuple(sorted(wanted[number]))),
            )
            for number in blocks
        ]
        events: dict[int, list[AnchoredEvent]] = {}
        for number, answer in zip(blocks, self.backend.read_batch(reads), strict=True):
            if isinstance(answer, ChainError):
                events[number] = []
                continue
            events[number] = [
                decode_event_recorded(log)
                for log in _value(answer)
                if log.address.lower() == self.ledger_address.lower()
            ]
        return events

    def signer_discrepancies(
        self, events: Iterable[AnchoredEvent]
    ) -> tuple[dict[bytes, list[Discrepancy]], list[str]]:
        """Per entry hash, the discrepancy of an event whose signer was not an active signer of
        its office at its block; and warnings for the checks the node could not make."""
        events = list(events)
        self._read_signers({(event.signer, event.block_number) for event in events})
        found: dict[bytes, list[Discrepancy]] = {}
        warnings: list[str] = []
        for event in events:
            status = self._signers[(event.signer, event.block_number)]
            if isinstance(status, ChainError):
                warning = (
                    f"signer authorisation at block {event.block_number} not cross-checked: "
                    f"the node has no state for that block ({status}); the genuine "
                    "RegisterLedger checked it when it accepted the entry"
                )
                if warning not in warnings:
                    warnings.append(warning)
                continue
            office, active = status
            if office != event.office or not active:
                found.setdefault(event.entry_hash, []).append(
                    Discrepancy(
                        event.record_key,
                        event.seq,
                        event.entry_hash,
                        DiscrepancyKind.FIELD_MISMATCH,
                        f"signer {event.signer} was not an active signer of office "
                        f"{event.office} at block {event.block_number}",
                        "signer",
                    )
                )
        return found, warnings

    def _read_signers(self, wanted: set[tuple[str, int]]) -> None:
        """``officeOf(signer)`` on the state just before each block and, where that does not
        show an active signer, at the end of the block (a key added earlier in the block)."""
        unknown = sorted(key for key in wanted if key not in self._signers)
        answers = self.backend.read_batch(
            [self._office_of(signer, max(block - 1, 0)) for signer, block in unknown]
        )
        retry = []
        for key, answer in zip(unknown, answers, strict=True):
            status = answer if isinstance(answer, ChainError) else _office(answer)
            self._signers[key] = status
            if not isinstance(status, ChainError) and not status[1]:
                retry.append(key)
        late = self.backend.read_batch([self._office_of(s, b) for s, b in retry])
        for key, answer in zip(retry, late, strict=True):
            if not isinstance(answer, ChainError) and _office(answer)[1]:
                self._signers[key] = _office(answer)

    # --- calls -----------------------------------------------------------------------------

    def _head_of(self, record_key: str) -> Call:
        return Call(self.ledger_address, _SELECTOR_HEAD_OF + record_id(record_key))

    def _entry_of(self, anchored_hash: bytes) -> Call:
        return Call(self.ledger_address, _SELECTOR_ENTRY_OF + anchored_hash)

    def _office_of(self, signer: str, block_number: int) -> Call:
        account = bytes.fromhex(signer[2:])
        return Call(self.registry_address, _SELECTOR_OFFICE_OF + bytes(12) + account, block_number)


def _value(answer: Any) -> Any:
    if isinstance(answer, ChainError):
        raise answer
    return answer


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[index * _WORD : (index + 1) * _WORD], "big")


def _head(output: bytes) -> tuple[bytes, int]:
    if len(output) != 2 * _WORD:
        raise ChainError("headOf returned malformed data")
    return output[:_WORD], _word(output, 1)


def _entry(output: bytes) -> tuple[int, int]:
    if len(output) != 3 * _WORD:
        raise ChainError("entryOf returned malformed data")
    return _word(output, 0), _word(output, 1)


def _office(output: bytes) -> tuple[str | None, bool]:
    if len(output) != 2 * _WORD:
        return None, False
    code = output[:2]
    office = code.decode("ascii", "replace") if code != b"\0\0" else None
    return office, output[_WORD:] == (1).to_bytes(_WORD, "big")
