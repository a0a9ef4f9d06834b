"""RegisterLedger's two wire formats: ``recordEvents(Entry[])`` calldata, and the
``EventRecorded`` log decoded into :class:`AnchoredEvent`, the one model of an anchored register
event that the ledger, the indexer and the verifier share.

The codec is hand-written:
eth-abi is the reference and is used everywhere else; here it cost about 0.5 ms per entry
(encode + decode, pure Python walking the type tree), which alone capped anchoring far below
the targets. These two layouts are fixed by RegisterLedger.sol, so they are written out once,
word by word, and tests hold them to eth-abi's output byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ipchain.chain.addresses import checksum_address
from ipchain.chain.base import LogEntry
from ipchain.errors import ChainError

_WORD = 32

EVENT_RECORDED_TOPIC: Final = bytes.fromhex(
    "67e066e699fc27fad2cf5341bcb575bf2cf0520e96daf4335fb2c153a8d7d334"
)
"""Topic 0 of ``EventRecorded(bytes32 indexed recordId, bytes2 indexed office, uint64 seq,
bytes8 eventCode, bytes32 documentHash, bytes32 entryHash, bytes32 prevEntryHash, address signer,
string recordKey, bytes document)`` (a test holds it to the artifact's ABI)."""

RecordEntry = tuple[str, bytes, bytes, bytes, bytes]
"""(recordKey, eventCode bytes8, documentHash, prevEntryHash, document) as in ``Entry``."""


def _word(value: int) -> bytes:
    return value.to_bytes(_WORD, "big")


def _padded(data: bytes) -> bytes:
    """Length word + data right-padded to whole words (ABI ``bytes``/``string`` tail)."""
    remainder = len(data) % _WORD
    padding = b"\0" * (_WORD - remainder) if remainder else b""
    return _word(len(data)) + data + padding


def encode_record_events(selector: bytes, entries: Sequence[RecordEntry]) -> bytes:
    """Calldata of ``recordEvents((string,bytes8,bytes32,bytes32,bytes)[])``."""
    encoded_entries = []
    for record_key, event_code, document_hash, prev_entry_hash, document in entries:
        key_tail = _padded(record_key.encode("utf-8"))
        head_size = 5 * _WORD
        encoded_entries.append(
            b"".join(
                (
                    _word(head_size),  # offset of recordKey
                    event_code.ljust(_WORD, b"\0"),
                    document_hash,
                    prev_entry_hash,
                    _word(head_size + len(key_tail)),  # offset of document
                    key_tail,
                    _padded(document),
                )
            )
        )
    offsets = []
    position = len(entries) * _WORD
    for encoded in encoded_entries:
        offsets.append(_word(position))
        position += len(encoded)
    return b"".join((selector, _word(_WORD), _word(len(entries)), *offsets, *encoded_entries))


def _dynamic(data: bytes, offset_word: int) -> bytes:
    start = int.from_bytes(data[offset_word * _WORD : (offset_word + 1) * _WORD], "big")
    if start + _WORD > len(data):
        raise ValueError("EventRecorded data: dynamic field out of range")
    length = int.from_bytes(data[start : start + _WORD], "big")
    if start + _WORD + length > len(data):
        raise ValueError("EventRecorded data: dynamic field out of range")
    return data[start + _WORD : start + _WORD + length]


EventRecordedFields = tuple[int, bytes, bytes, bytes, bytes, bytes, bytes, bytes]
"""(seq, eventCode bytes8, documentHash, entryHash, prevEntryHash, 20-byte signer, recordKey
bytes, document bytes): the non-indexed arguments of ``EventRecorded``, undecoded."""


def event_recorded_fields(data: bytes) -> EventRecordedFields:
    """Split ``EventRecorded`` log data strictly: a verifier must not accept what the contract
    could never have emitted, so padding must be zero and every offset in range
    (``ValueError`` otherwise)."""
    if len(data) < 10 * _WORD:
        raise ValueError("EventRecorded data is truncated")
    seq = int.from_bytes(data[0:_WORD], "big")
    if seq >= 2**64 or any(data[40:64]) or any(data[160:172]):
        raise ValueError("EventRecorded data has non-zero padding")
    return (
        seq,
        data[32:40],
        data[64:96],
        data[96:128],
        data[128:160],
        data[172:192],
        _dynamic(data, 6),
        _dynamic(data, 7),
    )


@dataclass(frozen=True, slots=True)
class AnchoredEvent:
    """A register event as the chain recorded it: one ``EventRecorded`` log, decoded strictly.

    Everything here was written by some office through the contract; the contract guarantees the
    layout (and, when it is the genuine RegisterLedger, the hash chain), nothing about the
    document's content."""

    record_key: str
    """Record key as sent, UTF-8 (``{office}/{TM|DS}/{number}``)."""
    record_id: bytes
    """keccak256 of the record key (indexed topic 1)."""
    seq: int
    """Position in the record's history, from 1."""
    event_code: str
    """ST.61/ST.87 key event code (``A10``), from the ``bytes8`` right-padded with zeros."""
    document_hash: bytes
    """Anchored SHA-256 of the document's RFC 8785 bytes."""
    prev_entry_hash: bytes
    """Entry hash this one links to (zeros for a record's first event)."""
    entry_hash: bytes
    """keccak256 over the entry's fields, as the contract computed it."""
    office: str
    """ST.3 code of the writing office (indexed topic 2)."""
    signer: str
    """EIP-55 address of the account that sent the anchoring transaction."""
    document: bytes
    """Document bytes published with the entry (empty when only the hash was anchored)."""
    block_number: int
    """Block the entry was anchored in."""
    block_hash: bytes
    """Hash of that block, as the log reports it."""
    transaction_hash: bytes
    """Transaction that anchored it."""
    log_index: int
    """Position of the log in its block."""


def decode_event_recorded(log: LogEntry) -> AnchoredEvent:
    """The :class:`AnchoredEvent` of an ``EventRecorded`` log; :class:`ChainError` naming the
    log for anything the contract could not have emitted (wrong topics, non-zero padding,
    offsets out of range, a record key or event code that is not ASCII)."""
    where = f"log {log.log_index} of block {log.block_number}"
    topics = log.topics
    if len(topics) != 3 or topics[0] != EVENT_RECORDED_TOPIC:
        raise ChainError(f"{where} is not an EventRecorded log")
    office = topics[2]
    try:
        seq, code, document_hash, entry_hash, prev_entry_hash, signer, key, document = (
            event_recorded_fields(log.data)
        )
        if any(office[2:]):
            raise ValueError("office topic has non-zero padding")
        return AnchoredEvent(
            record_key=key.decode("utf-8"),
            record_id=topics[1],
            seq=seq,
            event_code=code.rstrip(b"\0").decode("ascii"),
            document_hash=document_hash,
            prev_entry_hash=prev_entry_hash,
            entry_hash=entry_hash,
            office=office[:2].decode("ascii"),
            signer=checksum_address("0x" + signer.hex()),
            document=document,
            block_number=log.block_number,
            block_hash=log.block_hash,
            transaction_hash=log.transaction_hash,
            log_index=log.log_index,
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise ChainError(f"{where} is a malformed EventRecorded log: {error}") from None
