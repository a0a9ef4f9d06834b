"""Hand-written ABI codec for the two hot paths of anchoring: ``recordEvents(Entry[])`` calldata
and ``EventRecorded`` log data.

eth-abi is the reference and is used everywhere else; here it cost about 0.5 ms per entry
(encode + decode, pure Python walking the type tree), which alone capped anchoring far below
the targets. These two layouts are fixed by RegisterLedger.sol, so they are written out once,
word by word, and tests hold them to eth-abi's output byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from eth_utils import to_checksum_address

_WORD = 32

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


@lru_cache(maxsize=4096)
def checksum_address(address: str) -> str:
    """EIP-55 form of an address, cached: a node sees the same few accounts over and over."""
    return to_checksum_address(address)


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


def decode_event_recorded(data: bytes) -> dict[str, object]:
    """Non-indexed arguments of ``EventRecorded`` by name (the indexed ones are in topics)."""
    seq, code, document_hash, entry_hash, prev_entry_hash, signer, key, document = (
        event_recorded_fields(data)
    )
    return {
        "seq": seq,
        "eventCode": code,
        "documentHash": document_hash,
        "entryHash": entry_hash,
        "prevEntryHash": prev_entry_hash,
        "signer": checksum_address("0x" + signer.hex()),
        "recordKey": key.decode("utf-8"),
        "document": document,
    }
