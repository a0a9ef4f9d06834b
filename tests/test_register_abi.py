"""The hand-written codec of the anchoring hot path is byte-for-byte eth-abi's, and the one
EventRecorded decoder is strict."""

from __future__ import annotations

import eth_abi
import pytest

from ipchain.chain.base import LogEntry
from ipchain.contracts.bindings import load_interface
from ipchain.contracts.register_ledger import (
    EVENT_RECORDED_TOPIC,
    decode_event_recorded,
    encode_record_events,
)
from ipchain.encoding import record_id
from ipchain.errors import ChainError

ENTRIES = [
    ("EM/TM/018123456", b"A10\0\0\0\0\0", b"\x01" * 32, b"\0" * 32, b'{"a":1}'),
    ("AU/DS/202312345", b"Q10\0\0\0\0\0", b"\x02" * 32, b"\x03" * 32, b""),
    ("RU/TM/2023712345", b"F10\0\0\0\0\0", b"\x04" * 32, b"\x05" * 32, b"x" * 64),
    ("EM/TM/" + "9" * 58, b"M10\0\0\0\0\0", b"\x06" * 32, b"\x07" * 32, "é".encode() * 33),
]


def test_record_events_calldata_matches_eth_abi() -> None:
    ledger = load_interface("RegisterLedger")
    expected = ledger.encode_call("recordEvents", ENTRIES)
    assert encode_record_events(expected[:4], ENTRIES) == expected
    assert encode_record_events(expected[:4], []) == ledger.encode_call("recordEvents", [])


def _log(key: str, data: bytes, office: bytes = b"EM" + bytes(30)) -> LogEntry:
    return LogEntry(
        address="0x" + "11" * 20,
        topics=(EVENT_RECORDED_TOPIC, record_id(key), office),
        data=data,
        block_number=7,
        block_hash=b"\x07" * 32,
        transaction_hash=b"\x08" * 32,
        transaction_index=0,
        log_index=3,
    )


TYPES = ["uint64", "bytes8", "bytes32", "bytes32", "bytes32", "address", "string", "bytes"]
SIGNER = "0x" + "ab" * 20


def test_event_recorded_topic_is_the_artifacts() -> None:
    assert load_interface("RegisterLedger").event_topic("EventRecorded") == EVENT_RECORDED_TOPIC


def test_event_recorded_data_decodes_like_eth_abi() -> None:
    for seq, (key, code, document_hash, prev, document) in enumerate(ENTRIES, start=1):
        data = eth_abi.encode(
            TYPES, [seq, code, document_hash, b"\x09" * 32, prev, SIGNER, key, document]
        )
        event = decode_event_recorded(_log(key, data))
        assert (event.seq, event.event_code) == (seq, code.rstrip(b"\0").decode())
        assert (event.document_hash, event.entry_hash) == (document_hash, b"\x09" * 32)
        assert event.prev_entry_hash == prev
        assert event.signer.lower() == SIGNER
        assert (event.record_key, event.document) == (key, document)
        assert (event.record_id, event.office) == (record_id(key), "EM")
        assert (event.block_number, event.log_index) == (7, 3)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:200],  # truncated
        lambda data: data[:40] + b"\x01" + data[41:],  # dirty event-code padding
        lambda data: data[:192] + (10**6).to_bytes(32, "big") + data[224:],  # offset out of range
    ],
)
def test_malformed_event_recorded_data_is_a_chain_error(damage: object) -> None:
    key, code, document_hash, prev, document = ENTRIES[0]
    data = eth_abi.encode(
        TYPES, [1, code, document_hash, b"\x09" * 32, prev, SIGNER, key, document]
    )
    with pytest.raises(ChainError, match="malformed EventRecorded"):
        decode_event_recorded(_log(key, damage(data)))  # type: ignore[operator]


def test_a_log_of_another_event_is_a_chain_error() -> None:
    log = _log("EM/TM/018123456", b"")
    wrong = LogEntry(
        address=log.address,
        topics=(b"\x00" * 32, *log.topics[1:]),
        data=log.data,
        block_number=log.block_number,
        block_hash=log.block_hash,
        transaction_hash=log.transaction_hash,
        transaction_index=log.transaction_index,
        log_index=log.log_index,
    )
    with pytest.raises(ChainError, match="not an EventRecorded log"):
        decode_event_recorded(wrong)
