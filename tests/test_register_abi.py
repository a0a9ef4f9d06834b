"""The hand-written codec of the anchoring hot path is byte-for-byte eth-abi's."""

from __future__ import annotations

import eth_abi

from ipchain.contracts.bindings import load_interface
from ipchain.contracts.register_ledger import decode_event_recorded, encode_record_events

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


def test_event_recorded_data_decodes_like_eth_abi() -> None:
    signer = "0x" + "ab" * 20
    types = ["uint64", "bytes8", "bytes32", "bytes32", "bytes32", "address", "string", "bytes"]
    for seq, (key, code, document_hash, prev, document) in enumerate(ENTRIES, start=1):
        data = eth_abi.encode(
            types, [seq, code, document_hash, b"\x09" * 32, prev, signer, key, document]
        )
        decoded = decode_event_recorded(data)
        assert decoded["seq"] == seq
        assert decoded["eventCode"] == code
        assert decoded["documentHash"] == document_hash
        assert decoded["entryHash"] == b"\x09" * 32
        assert decoded["prevEntryHash"] == prev
        assert str(decoded["signer"]).lower() == signer
        assert decoded["recordKey"] == key
        assert decoded["document"] == document
