"""Reading what verification needs from a chain node: batched, cached, decoded by hand.

:class:`ChainReader` answers a list of reads (calls, code, block hashes, a block's
``EventRecorded`` logs, signer authorisations) in one JSON-RPC batch per 500 requests, or one
by one through :class:`~ipchain.chain.base.ChainBackend` for the embedded chain. Block data is
cached: consortium chains have immediate finality. Logs are decoded by their ABI layout, which
the verified contract code fixes. docs/proof-bundle.md lists the same reads for reimplementers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from ipchain.chain.base import ChainBackend, LogEntry
from ipchain.contracts.bindings import load_interface
from ipchain.contracts.register_ledger import event_recorded_fields
from ipchain.encoding import ZERO_HASH, record_id
from ipchain.errors import ChainError, ChainUnavailableError, ContractRevertError


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An ``EventRecorded`` log as the chain holds it: decoded, not yet checked."""

    record_id: bytes
    """Indexed record id (keccak256 of the record key)."""
    office: str
    """Indexed ST.3 code of the writing office."""
    seq: int
    """Position in the record's history."""
    event_code: bytes
    """The ``bytes8`` event code."""
    document_hash: bytes
    """Anchored SHA-256 of the document."""
    entry_hash: bytes
    """Entry hash the contract computed."""
    prev_entry_hash: bytes
    """Entry hash it links to."""
    signer: bytes
    """20-byte signer address (the transaction sender)."""
    record_key: bytes
    """Record key as sent (UTF-8)."""
    document: bytes
    """Published document bytes (empty when only the hash was anchored)."""
    block_number: int
    """Block of the log."""
    block_hash: bytes
    """Hash of that block, as the log reports it."""
    transaction_hash: bytes
    """Transaction that emitted the log."""
    log_index: int
    """Position of the log in its block."""

    @property
    def event_code_text(self) -> str:
        """The event code as text (``A10``)."""
        return self.event_code.rstrip(b"\0").decode("ascii", "replace")


_EVENT_RECORDED = load_interface("RegisterLedger").event_topic("EventRecorded")
_WORD = 32


def _word_int(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + _WORD], "big")


def decode_recorded(log: LogEntry) -> RecordedEvent:
    """Decode an ``EventRecorded`` log by its ABI layout, strictly (the hand-written codec of
    :mod:`ipchain.contracts.register_ledger`, held to eth-abi by the tests). Raises
    :class:`ChainError` for anything else."""
    topics = log.topics
    if len(topics) != 3 or topics[0] != _EVENT_RECORDED:
        raise ChainError(f"log {log.log_index} of block {log.block_number} is not EventRecorded")
    office = topics[2]
    if any(office[2:]) or not office[:2].isascii():
        raise ChainError(f"log {log.log_index} of block {log.block_number} is malformed")
    try:
        fields = event_recorded_fields(log.data)
    except ValueError as error:
        raise ChainError(
            f"log {log.log_index} of block {log.block_number} is malformed: {error}"
        ) from None
    seq, event_code, document_hash, entry_hash, prev_entry_hash, signer, key, document = fields
    return RecordedEvent(
        record_id=topics[1],
        office=office[:2].decode("ascii"),
        seq=seq,
        event_code=event_code,
        document_hash=document_hash,
        entry_hash=entry_hash,
        prev_entry_hash=prev_entry_hash,
        signer=signer,
        record_key=key,
        document=document,
        block_number=log.block_number,
        block_hash=log.block_hash,
        transaction_hash=log.transaction_hash,
        log_index=log.log_index,
    )


# ------------------------------------------------------------------------------ contracts


@cache
def _ledger_immutable_offsets() -> tuple[int, ...]:
    """Where the ``_registry`` immutable sits in RegisterLedger's runtime code.

    solc leaves immutables as 32 zero bytes after a PUSH32 in ``deployedBytecode`` and the
    constructor writes the value there. A literal zero is never a PUSH32 (solc uses PUSH0), so
    every PUSH32 of zeros found by walking the opcodes is one.
    """
    code = load_interface("RegisterLedger").deployed_bytecode
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


def expected_ledger_code(registry_address: str) -> bytes:
    """The runtime code of a genuine RegisterLedger bound to ``registry_address``."""
    code = bytearray(load_interface("RegisterLedger").deployed_bytecode)
    value = bytes(12) + bytes.fromhex(registry_address[2:])
    for offset in _ledger_immutable_offsets():
        code[offset : offset + _WORD] = value
    return bytes(code)


def code_problems(
    registry_address: str, registry_code: bytes, ledger_address: str, ledger_code: bytes
) -> list[str]:
    """Why the code at these addresses is not ipchain's contracts (empty list: it is)."""
    problems = []
    if not registry_code:
        problems.append(f"no contract at OfficeRegistry address {registry_address}")
    elif registry_code != load_interface("OfficeRegistry").deployed_bytecode:
        problems.append(f"the contract at {registry_address} is not ipchain's OfficeRegistry")
    if not ledger_code:
        problems.append(f"no contract at RegisterLedger address {ledger_address}")
    elif ledger_code != expected_ledger_code(registry_address):
        problems.append(
            f"the contract at {ledger_address} is not ipchain's RegisterLedger "
            f"bound to OfficeRegistry {registry_address}"
        )
    return problems


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class Call:
    """``eth_call`` of ``data`` on ``to`` at a block (None: latest)."""

    to: str
    data: bytes
    block_number: int | None = None


@dataclass(frozen=True, slots=True)
class Code:
    """``eth_getCode`` of an address at the latest block."""

    address: str


@dataclass(frozen=True, slots=True)
class BlockHash:
    """The hash of the canonical block with this number (``eth_getBlockByNumber``)."""

    number: int


@dataclass(frozen=True, slots=True)
class RecordedLogs:
    """The ledger's ``EventRecorded`` logs of one block, for some records (empty: all)."""

    number: int
    record_ids: tuple[bytes, ...] = ()


Request = Call | Code | BlockHash | RecordedLogs
"""One read a verification needs."""

SignerStatus = tuple[str | None, bool] | ChainError
"""``officeOf(signer)`` at a block: (office code or None, active), or why it is unknown."""

_RECENT_BLOCKS = 16  # in-process chains: whole blocks' events kept (a full block is a few MB)
_BATCH_LIMIT = 500  # requests per HTTP round trip; Besu refuses batches above 1024 by default
_SELECTOR_OFFICE_OF = load_interface("OfficeRegistry").encode_call("officeOf", "0x" + "00" * 20)[:4]
_SELECTOR_HEAD_OF = load_interface("RegisterLedger").encode_call("headOf", ZERO_HASH)[:4]
_SELECTOR_ENTRY_OF = load_interface("RegisterLedger").encode_call("entryOf", ZERO_HASH)[:4]


def office_of_call(registry_address: str, signer: bytes, block_number: int | None) -> Call:
    """``OfficeRegistry.officeOf(signer)`` at a block."""
    return Call(registry_address, _SELECTOR_OFFICE_OF + bytes(12) + signer, block_number)


def decode_office_of(output: bytes) -> tuple[str | None, bool]:
    """(office code or None, active) from ``officeOf``'s return data (empty: no contract)."""
    if len(output) != 2 * _WORD:
        return None, False
    code = output[:2]
    office = code.decode("ascii", "replace") if code != b"\0\0" else None
    return office, output[_WORD:] == (1).to_bytes(_WORD, "big")


def head_of_call(ledger_address: str, identifier: bytes) -> Call:
    """``RegisterLedger.headOf(recordId)`` at the latest block."""
    return Call(ledger_address, _SELECTOR_HEAD_OF + identifier)


def decode_head_of(output: bytes) -> tuple[bytes, int]:
    """(head entry hash, seq) from ``headOf``'s return data."""
    if len(output) != 2 * _WORD:
        raise ChainError("headOf returned malformed data")
    return output[:_WORD], _word_int(output, _WORD)


def entry_of_call(ledger_address: str, anchored_hash: bytes) -> Call:
    """``RegisterLedger.entryOf(entryHash)`` at the latest block."""
    return Call(ledger_address, _SELECTOR_ENTRY_OF + anchored_hash)


def decode_entry_of(output: bytes) -> tuple[int, int, str]:
    """(seq, block number, office) from ``entryOf``'s return data; seq 0: not anchored."""
    if len(output) != 3 * _WORD:
        raise ChainError("entryOf returned malformed data")
    office = output[64:66]
    return _word_int(output, 0), _word_int(output, _WORD), office.decode("ascii", "replace")


class ChainReader:
    """Reads for verification from one chain node, batched and cached.

    ``fetch`` answers a list of :data:`Request` in order; each answer is the value or the
    :class:`ChainError` that request met, so one unreadable block does not hide the others. A
    node that does not answer at all raises :class:`ChainUnavailableError`. Over JSON-RPC the
    whole list goes in batch requests (one round trip per 500); other backends are asked one
    request at a time through :class:`ChainBackend`.
    """

    def __init__(self, backend: ChainBackend, registry_address: str, ledger_address: str) -> None:
        from ipchain.chain.rpc import RpcChain

        self.backend = backend
        self.registry_address = registry_address
        self.ledger_address = ledger_address
        self._rpc_url = backend.url if isinstance(backend, RpcChain) else None
        read_storage = getattr(backend, "get_storage_at", None)  # the embedded chain has it
        self._read_storage: Callable[[str, int], int] | None = (
            None if self._rpc_url is not None else read_storage
        )
        self._session: requests.Session | None = None
        self._block_hashes: dict[int, bytes] = {}
        self._code: dict[str, bytes] = {}
        self._signers: dict[tuple[bytes, int], SignerStatus] = {}
        self._recent_blocks: dict[int, list[RecordedEvent]] = {}

    def close(self) -> None:
        """Close the reader's own HTTP session (the backend stays open)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # Blocks and code do not change once read (consortium chains have immediate finality), so
    # they are cached for the reader's life; heads and calls at the latest block are not.

    def fetch(self, requests_: Sequence[Request]) -> list[Any]:
        """The answer to each request, in order (a value, or the ChainError it met)."""
        answers: list[Any] = [None] * len(requests_)
        pending: list[int] = []
        for index, request in enumerate(requests_):
            if isinstance(request, BlockHash) and request.number in self._block_hashes:
                answers[index] = self._block_hashes[request.number]
            elif isinstance(request, Code) and request.address in self._code:
                answers[index] = self._code[request.address]
            else:
                pending.append(index)
        if self._rpc_url is not None:
            results = self._fetch_rpc([requests_[index] for index in pending])
        else:
            results = [self._fetch_one(requests_[index]) for index in pending]
        for index, result in zip(pending, results, strict=True):
            answers[index] = result
            request = requests_[index]
            if isinstance(request, BlockHash) and isinstance(result, bytes):
                self._block_hashes[request.number] = result
            elif isinstance(request, Code) and isinstance(result, bytes):
                self._code[request.address] = result
        return answers

    def fetch_with_signers(
        self, requests_: Sequence[Request], signers: Iterable[tuple[bytes, int]]
    ) -> tuple[list[Any], dict[tuple[bytes, int], SignerStatus]]:
        """:meth:`fetch`, plus ``officeOf(signer)`` for each (signer, block) in the same round
        trip: on the state just before the block and, where that does not show an active
        signer, at the end of the block (a key added earlier in the same block)."""
        wanted = set(signers)
        unknown = sorted(key for key in wanted if key not in self._signers)
        calls = [
            office_of_call(self.registry_address, signer, max(block - 1, 0))
            for signer, block in unknown
        ]
        answers = self.fetch([*requests_, *calls])
        retry = []
        for key, answer in zip(unknown, answers[len(requests_) :], strict=True):
            status = answer if isinstance(answer, ChainError) else decode_office_of(answer)
            self._signers[key] = status
            if not isinstance(status, ChainError) and not status[1]:
                retry.append(key)
        late = self.fetch([office_of_call(self.registry_address, s, b) for s, b in retry])
        for key, answer in zip(retry, late, strict=True):
            if not isinstance(answer, ChainError) and decode_office_of(answer)[1]:
                self._signers[key] = decode_office_of(answer)
        return answers[: len(requests_)], {key: self._signers[key] for key in wanted}

    def _fetch_one(self, request: Request) -> Any:
        backend = self.backend
        try:
            if isinstance(request, Call):
                if self._read_storage is not None and self._is_head_of(request):
                    return self._head_from_storage(request.data[4:])
                return backend.call(request.to, request.data, block_number=request.block_number)
            if isinstance(request, Code):
                return backend.get_code(request.address)
            if isinstance(request, BlockHash):
                return backend.get_block(request.number).hash
            return self._block_events(request)
        except ChainUnavailableError:
            raise
        except ChainError as error:
            return error

    # An in-process chain runs an eth_call through a fresh py-evm VM (milliseconds each), which
    # bounds verifying many records by their heads. Where the backend reads storage directly,
    # headOf is answered from the ledger's storage instead: two slot reads. The layout is the
    # one of the genuine code every verification checks first: _heads is slot 0, _entries is
    # slot 1, and an EntryInfo keeps seq in its low 8 bytes. The tests hold it to headOf.

    def _is_head_of(self, request: Call) -> bool:
        return (
            request.block_number is None
            and request.to == self.ledger_address
            and request.data[:4] == _SELECTOR_HEAD_OF
            and len(request.data) == 4 + _WORD
        )

    def _head_from_storage(self, identifier: bytes) -> bytes:
        assert self._read_storage is not None
        head = self._read_storage(self.ledger_address, _mapping_slot(identifier, 0))
        head_hash = head.to_bytes(_WORD, "big")
        seq = 0
        if head:
            info = self._read_storage(self.ledger_address, _mapping_slot(head_hash, 1))
            seq = info & (2**64 - 1)
        return head_hash + seq.to_bytes(_WORD, "big")

    def _block_events(self, request: RecordedLogs) -> list[RecordedEvent]:
        """A block's events for some records, from the in-process chain.

        Reading a block's logs in process decodes all its receipts whatever the filter, so the
        whole block's events are read once and kept (for the last few blocks) for the
        verifications that follow; a JSON-RPC node filters by record on its side instead.
        """
        events = self._recent_blocks.pop(request.number, None)
        if events is None:
            logs = self.backend.get_logs(
                address=self.ledger_address,
                from_block=request.number,
                to_block=request.number,
                topics=[_EVENT_RECORDED],
            )
            events = self._decode_logs(logs, ())
        self._recent_blocks[request.number] = events  # most recently used last
        while len(self._recent_blocks) > _RECENT_BLOCKS:
            del self._recent_blocks[next(iter(self._recent_blocks))]
        wanted = frozenset(request.record_ids)
        return [event for event in events if not wanted or event.record_id in wanted]

    def _decode_logs(self, logs: Sequence[LogEntry], record_ids: tuple[bytes, ...]) -> Any:
        wanted = frozenset(record_ids)
        decoded = []
        for log in logs:
            if log.address.lower() != self.ledger_address.lower():
                continue
            if wanted and (len(log.topics) < 2 or log.topics[1] not in wanted):
                continue
            decoded.append(decode_recorded(log))
        return decoded

    # --- JSON-RPC ----------------------------------------------------------------------------

    def _payload(self, request: Request) -> tuple[str, list[Any]]:
        if isinstance(request, Call):
            block = "latest" if request.block_number is None else hex(request.block_number)
            return "eth_call", [{"to": request.to, "data": "0x" + request.data.hex()}, block]
        if isinstance(request, Code):
            return "eth_getCode", [request.address, "latest"]
        if isinstance(request, BlockHash):
            return "eth_getBlockByNumber", [hex(request.number), False]
        ids = ["0x" + identifier.hex() for identifier in request.record_ids]
        log_filter = {
            "address": self.ledger_address,
            "fromBlock": hex(request.number),
            "toBlock": hex(request.number),
            "topics": ["0x" + _EVENT_RECORDED.hex(), ids or None],
        }
        return "eth_getLogs", [log_filter]

    def _fetch_rpc(self, requests_: Sequence[Request]) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(requests_), _BATCH_LIMIT):
            chunk = requests_[start : start + _BATCH_LIMIT]
            payload = []
            for number, request in enumerate(chunk):
                method, params = self._payload(request)
                payload.append({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
            responses = self._post(payload)
            by_id = {
                response.get("id"): response for response in responses if isinstance(response, dict)
            }
            for number, request in enumerate(chunk):
                results.append(self._answer(request, by_id.get(number)))
        return results

    def _post(self, payload: list[dict[str, Any]]) -> list[Any]:
        assert self._rpc_url is not None
        if self._session is None:
            self._session = requests.Session()
        try:
            reply = self._session.post(self._rpc_url, json=payload, timeout=60)
            reply.raise_for_status()
            responses = reply.json()
        except (requests.RequestException, ValueError) as error:
            raise ChainUnavailableError(
                f"JSON-RPC node at {self._rpc_url} does not answer ({type(error).__name__})"
            ) from None
        if not isinstance(responses, list):
            raise ChainUnavailableError(
                f"JSON-RPC node at {self._rpc_url} does not answer batch requests"
            )
        return responses

    def _answer(self, request: Request, response: dict[str, Any] | None) -> Any:
        if response is None:
            return ChainError("the node left a request of the batch unanswered")
        if "error" in response:
            error = response["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            if isinstance(request, Call) and isinstance(error, dict) and "data" in error:
                return ContractRevertError(f"call reverted: {message}")
            return ChainError(message)
        result: Any = response.get("result")
        try:
            if isinstance(request, Call | Code):
                return bytes.fromhex(result[2:])
            if isinstance(request, BlockHash):
                if result is None:
                    return ChainError(f"block {request.number} does not exist")
                return bytes.fromhex(result["hash"][2:])
            logs = [_log_from_json(raw) for raw in result]
            return self._decode_logs(logs, request.record_ids)
        except ChainError as error:
            return error
        except (TypeError, KeyError, ValueError):
            return ChainError(f"malformed answer to {self._payload(request)[0]}")


def _mapping_slot(key: bytes, slot: int) -> int:
    """Storage slot of ``mapping[key]`` for a mapping at ``slot`` (Solidity layout)."""
    return int.from_bytes(keccak(key + slot.to_bytes(_WORD, "big")), "big")


def _log_from_json(raw: Mapping[str, Any]) -> LogEntry:
    return LogEntry(
        address=raw["address"],
        topics=tuple(bytes.fromhex(topic[2:]) for topic in raw["topics"]),
        data=bytes.fromhex(raw["data"][2:]),
        block_number=int(raw["blockNumber"], 16),
        block_hash=bytes.fromhex(raw["blockHash"][2:]),
        transaction_hash=bytes.fromhex(raw["transactionHash"][2:]),
        transaction_index=int(raw["transactionIndex"], 16),
        log_index=int(raw["logIndex"], 16),
    )


def signer_verdict(
    status: SignerStatus | None, office: str, signer: bytes, block: int
) -> tuple[str | None, str | None]:
    """(problem, warning) about a signer's authorisation at a block."""
    if status is None or isinstance(status, ChainError):
        reason = f" ({status})" if status is not None else ""
        return None, (
            f"signer authorisation at block {block} not cross-checked: the node has no state "
            f"for that block{reason}; the genuine RegisterLedger checked it when it accepted "
            "the entry"
        )
    code, active = status
    if code != office or not active:
        return (
            f"signer {to_checksum_address(signer)} was not an active signer of office {office} "
            f"at block {block}"
        ), None
    return None, None


def read_history(reader: ChainReader, record_key: str) -> tuple[list[RecordedEvent], bytes]:
    """A record's anchored entries, oldest first, and its head, walked back from the head.

    Each step reads ``entryOf(hash)`` for the block, then that block's logs of the record; the
    record's other entries in the same block come with them, so a batch costs one step.
    """
    identifier = record_id(record_key)
    (answer,) = reader.fetch([head_of_call(reader.ledger_address, identifier)])
    if isinstance(answer, ChainError):
        raise answer
    head, _seq = decode_head_of(answer)
    found: dict[bytes, RecordedEvent] = {}
    history: list[RecordedEvent] = []
    cursor = head
    while cursor != ZERO_HASH:
        if cursor not in found:
            (located,) = reader.fetch([entry_of_call(reader.ledger_address, cursor)])
            if isinstance(located, ChainError):
                raise located
            seq, block, _office = decode_entry_of(located)
            if seq == 0:
                raise ChainError(f"entry 0x{cursor.hex()} of {record_key} is not anchored")
            (logs,) = reader.fetch([RecordedLogs(block, (identifier,))])
            if isinstance(logs, ChainError):
                raise logs
            found.update((event.entry_hash, event) for event in logs)
            if cursor not in found:
                raise ChainError(f"log of entry 0x{cursor.hex()} missing in block {block}")
        event = found[cursor]
        history.append(event)
        cursor = event.prev_entry_hash
    history.reverse()
    return history, head
