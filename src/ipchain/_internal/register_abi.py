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
    length = int.from_bytes(data[start : start + _WORD], "big")
    value = data[start + _WORD : start + _WORD + length]
    if len(value) != length:
        raise ValueError("EventRecorded data is truncated")
    return value


def decode_event_recorded(data: bytes) -> dict[str, object]:
    """Non-indexed arguments of ``EventRecorded`` by name (the indexed ones are in topics)."""

    def word(index: int) -> bytes:
        return data[index * _WORD : (index + 1) * _WORD]

    return {
        "seq": int.from_bytes(word(0), "big"),
        "eventCode": word(1)[:8],
        "documentHash": word(2),
        "entryHash": word(3),
        "prevEntryHash": word(4),
        "signer": checksum_address("0x" + word(5)[12:].hex()),
        "recordKey": _dynamic(data, 6).decode("utf-8"),
        "document": _dynamic(data, 7),
    }
