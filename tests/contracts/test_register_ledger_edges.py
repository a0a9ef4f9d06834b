"""RegisterLedger at the edges of its input: record keys of boundary lengths and non-ASCII bytes,
documents of every padding, which error wins when an entry breaks several rules, and malformed
calldata (out-of-range offsets, overlong lengths, dirty ``bytes8``), which must revert cleanly
rather than be misread. The log data is held byte for byte to eth-abi's encoding, since the
node decodes it with a hand-written decoder. Runs against both backends, one consortium per
module (every test writes records of its own)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import eth_abi
import pytest

from ipchain.chain.base import ChainBackend, Receipt
from ipchain.contracts.bindings import call_function, send_and_confirm, sign_transaction
from ipchain.encoding import ZERO_HASH, entry_hash, event_code_bytes8, record_id
from ipchain.errors import ContractRevertError
from tests.helpers.consortium import Consortium, deploy_test_consortium

RawEntry = tuple[str, bytes, bytes, bytes, bytes]
LOG_TYPES = ["uint64", "bytes8", "bytes32", "bytes32", "bytes32", "address", "string", "bytes"]
GAS = 3_000_000
_numbers = itertools.count(1)
CODE = event_code_bytes8("A10")


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def consortium_shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Consortium]:
    node = None
    backend: ChainBackend
    if request.param == "embedded":
        from ipchain.chain.embedded import EmbeddedChain

        backend = EmbeddedChain.open(tmp_path_factory.mktemp("embedded") / "chain")
    else:
        from ipchain.chain.anvil import AnvilNode, find_anvil_binary
        from ipchain.chain.rpc import RpcChain

        if find_anvil_binary() is None:
            pytest.skip("anvil is not installed (run 'npm ci')")
        node = AnvilNode.start()
        backend = RpcChain.connect(node.url)
    try:
        yield deploy_test_consortium(backend)
    finally:
        backend.close()
        if node is not None:
            node.stop()


def fresh_key(office: str = "EM", kind: str = "TM") -> str:
    """A record key no other test uses."""
    return f"{office}/{kind}/{next(_numbers):09d}"


def entry(
    key: str,
    document: bytes = b"",
    *,
    code: str = "A10",
    prev: bytes = ZERO_HASH,
    document_hash: bytes | None = None,
) -> RawEntry:
    digest = (
        document_hash
        if document_hash is not None
        else hashlib.sha256(document or key.encode()).digest()
    )
    return (key, event_code_bytes8(code), digest, prev, document)


def calldata(consortium: Consortium, entries: list[RawEntry]) -> bytes:
    return consortium.ledger.ledger.encode_call("recordEvents", entries)


def send(consortium: Consortium, entries: list[RawEntry]) -> Receipt:
    """Send recordEvents as EM's signer; raise the decoded custom error when it reverts."""
    ledger = consortium.ledger
    return send_and_confirm(
        consortium.backend,
        consortium.signers["EM"],
        to=ledger.ledger_address,
        data=calldata(consortium, entries),
        gas=GAS,
        interfaces=[ledger.ledger, ledger.registry],
    )


def send_raw(consortium: Consortium, data: bytes) -> Receipt:
    """Send hand-made calldata and return the receipt, reverted or not."""
    backend, key = consortium.backend, consortium.signers["EM"]
    raw = sign_transaction(
        key,
        chain_id=backend.chain_id,
        nonce=backend.get_nonce(key.address),
        to=consortium.ledger.ledger_address,
        data=data,
        gas=GAS,
    )
    (transaction_hash,) = backend.send_raw_transactions([raw])
    (receipt,) = backend.wait_for_receipts([transaction_hash], timeout=60)
    return receipt


def rejection(consortium: Consortium, entries: list[RawEntry]) -> tuple[object, ...]:
    """(error name, *arguments) of a batch that must be rejected."""
    with pytest.raises(ContractRevertError) as excinfo:
        send(consortium, entries)
    return (excinfo.value.error_name, *excinfo.value.error_args)


def assert_reverts_cleanly(consortium: Consortium, data: bytes) -> None:
    """The transaction reverts (without a custom error) and does not burn all its gas."""
    receipt = send_raw(consortium, data)
    assert receipt.status == 0
    assert receipt.gas_used < GAS // 2


def expected_log_data(consortium: Consortium, raw: RawEntry, seq: int, anchored: bytes) -> bytes:
    key, code, digest, prev, document = raw
    signer = consortium.signers["EM"].address
    return eth_abi.encode(LOG_TYPES, [seq, code, digest, anchored, prev, signer, key, document])


def entry_count(consortium: Consortium) -> int:
    ledger = consortium.ledger
    (count,) = call_function(consortium.backend, ledger.ledger, ledger.ledger_address, "entryCount")
    return int(count)


# Byte offsets in the calldata of a one-entry batch: selector, array offset, array length,
# the entry's offset, then the entry's head (key offset, event code, document hash, previous
# hash, document offset) and its tails.
ENTRY = 4 + 3 * 32


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _patched(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + _word(value) + data[position + 32 :]


# ------------------------------------------------------------------------- accepted edge cases


def test_log_data_is_abi_encoding_for_every_key_and_document_padding(
    consortium_shared: Consortium,
) -> None:
    consortium = consortium_shared
    entries = []
    for key_length, document_length in [(7, 0), (31, 1), (32, 31), (33, 32), (63, 33), (64, 700)]:
        width = key_length - len("EM/TM/")
        suffix = "L" if width == 1 else str(next(_numbers)).rjust(width, "0")
        document = bytes((n * 7 + 1) % 256 for n in range(document_length))
        entries.append(entry(f"EM/TM/{suffix}", document))
    receipt = send(consortium, entries)
    ledger = consortium.ledger
    topic = ledger.ledger.event_topic("EventRecorded")
    assert len(receipt.logs) == len(entries)
    for raw, log in zip(entries, receipt.logs, strict=True):
        key, code, digest, _prev, _document = raw
        identifier = record_id(key)
        anchored = entry_hash(identifier, 1, code, digest, ZERO_HASH, "EM")
        assert log.topics == (topic, identifier, b"EM".ljust(32, b"\0"))
        assert log.data == expected_log_data(consortium, raw, 1, anchored)
        assert ledger.head_of(key) == (anchored, 1)
        ((seq, block_number, office),) = call_function(
            consortium.backend, ledger.ledger, ledger.ledger_address, "entryOf", anchored
        )
        assert (seq, block_number, office) == (1, receipt.block_number, b"EM")


def test_non_ascii_record_key_is_hashed_and_published_as_utf8(
    consortium_shared: Consortium,
) -> None:
    consortium = consortium_shared
    key = f"EM/DS/{next(_numbers)}-ÅÄÖ-é-€"
    exact = key + "x" * (64 - len(key.encode()))
    assert len(exact.encode()) == 64
    raw = entry(exact, '{"é":"€"}'.encode())
    receipt = send(consortium, [raw])
    anchored = entry_hash(record_id(exact), 1, raw[1], raw[2], ZERO_HASH, "EM")
    assert receipt.logs[0].topics[1] == record_id(exact)
    assert receipt.logs[0].data == expected_log_data(consortium, raw, 1, anchored)
    (read_back,) = consortium.ledger.record_entries(exact)
    assert (read_back.record_key, read_back.document) == (exact, raw[4])


def test_entries_of_one_record_chain_within_a_batch_and_across_transactions(
    consortium_shared: Consortium,
) -> None:
    consortium = consortium_shared
    key = fresh_key("EM", "DS")
    identifier = record_id(key)
    first = entry(key, b"first", code="A10")
    first_hash = entry_hash(identifier, 1, first[1], first[2], ZERO_HASH, "EM")
    second = entry(key, b"second", code="Q10", prev=first_hash)
    second_hash = entry_hash(identifier, 2, second[1], second[2], first_hash, "EM")
    count_before = entry_count(consortium)
    receipt = send(consortium, [first, second, entry(fresh_key())])
    assert receipt.logs[1].data == expected_log_data(consortium, second, 2, second_hash)
    third = entry(key, b"", code="F10", prev=second_hash)
    third_hash = entry_hash(identifier, 3, third[1], third[2], second_hash, "EM")
    receipt = send(consortium, [third])
    assert receipt.logs[0].data == expected_log_data(consortium, third, 3, third_hash)
    assert consortium.ledger.head_of(key) == (third_hash, 3)
    assert entry_count(consortium) == count_before + 4


def test_dirty_calldata_padding_is_not_published(consortium_shared: Consortium) -> None:
    """Bytes after a key or document inside its padding word are not part of it: the log is
    still the canonical encoding (zero padding), so every decoder reads the same value."""
    consortium = consortium_shared
    raw = entry(fresh_key(), b"doc")  # key of 15 bytes, document of 3: both padded
    data = bytearray(calldata(consortium, [raw]))
    key_data = ENTRY + 6 * 32
    document_data = key_data + 2 * 32
    data[key_data + 20] = 0xFF
    data[document_data + 10] = 0xEE
    receipt = send_raw(consortium, bytes(data))
    assert receipt.status == 1
    anchored = entry_hash(record_id(raw[0]), 1, raw[1], raw[2], ZERO_HASH, "EM")
    assert receipt.logs[0].data == expected_log_data(consortium, raw, 1, anchored)


# ------------------------------------------------------------------------- rejected entries


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("EM/TM/", "RegisterInvalidRecordKey"),  # 6 bytes: one short
        ("EM/TM/" + "1" * 59, "RegisterInvalidRecordKey"),  # 65 bytes: one too long
        ("EM/tm/1234", "RegisterInvalidRecordKey"),
        ("EM/TD/1234", "RegisterInvalidRecordKey"),
        ("EM-TM/1234", "RegisterInvalidRecordKey"),
        ("EM/TM-1234", "RegisterInvalidRecordKey"),
        ("AU/XX/1234", "RegisterInvalidRecordKey"),  # malformed beats foreign
        ("AU/DS/1234", "RegisterForeignRecord"),
        ("em/TM/1234", "RegisterForeignRecord"),
        ("ÉM/TM/1234", "RegisterInvalidRecordKey"),  # É is two bytes: the '/' moves
    ],
)
def test_record_key_rules(consortium_shared: Consortium, key: str, error: str) -> None:
    result = rejection(consortium_shared, [entry(fresh_key()), entry(key)])
    assert result[0] == error
    assert result[1] == 1  # the index of the offending entry
    assert result[-1] == key


def test_shortest_and_longest_record_keys_are_accepted(consortium_shared: Consortium) -> None:
    consortium = consortium_shared
    shortest = "EM/TM/S"  # the only seven-byte key of this module
    longest = f"EM/DS/{next(_numbers):058d}"
    assert (len(shortest), len(longest)) == (7, 64)
    send(consortium, [entry(shortest), entry(longest)])
    assert consortium.ledger.head_of(longest)[1] == 1


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (("EM/XX/1", CODE, ZERO_HASH, ZERO_HASH, b""), "RegisterInvalidRecordKey"),
        (
            ("EM/TM/900000001", b"\0A1" + b"\0" * 5, ZERO_HASH, ZERO_HASH, b""),
            "RegisterZeroDocumentHash",
        ),
        (
            ("EM/TM/900000002", b"\0A1" + b"\0" * 5, b"\1" * 32, ZERO_HASH, b"x"),
            "RegisterInvalidEventCode",
        ),
        (("EM/TM/900000003", CODE, b"\1" * 32, b"\2" * 32, b"x"), "RegisterDocumentHashMismatch"),
    ],
)
def test_first_broken_rule_in_ledger_order_is_reported(
    consortium_shared: Consortium, raw: RawEntry, error: str
) -> None:
    """Each entry breaks two rules; the ledger checks the key, then the document hash, then
    the event code, then the document, then the head link, and names the first it finds."""
    assert rejection(consortium_shared, [raw])[:2] == (error, 0)


def test_stale_head_and_replay_inside_one_batch(consortium_shared: Consortium) -> None:
    consortium = consortium_shared
    key = fresh_key()
    first = entry(key, b"one")
    first_hash = entry_hash(record_id(key), 1, first[1], first[2], ZERO_HASH, "EM")
    assert rejection(consortium, [first, first]) == ("RegisterEntryAlreadyRecorded", 1, first_hash)
    stale = entry(key, b"two", code="Q10")
    assert rejection(consortium, [first, stale]) == (
        "RegisterStaleHead",
        1,
        record_id(key),
        first_hash,
        ZERO_HASH,
    )
    assert consortium.ledger.head_of(key) == (ZERO_HASH, 0)


# ------------------------------------------------------------------------- malformed calldata


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param((4 + 2 * 32, 2**255), id="entry-offset-negative-huge"),
        pytest.param((4 + 2 * 32, 10_000), id="entry-offset-past-end"),
        pytest.param((ENTRY, 2**64), id="key-offset-past-end"),
        pytest.param((ENTRY + 5 * 32, 2**64), id="key-length-over-2^64"),
        pytest.param((ENTRY + 5 * 32, 2**256 - 1), id="key-length-all-ones"),
        pytest.param((ENTRY + 4 * 32, 10_000), id="document-offset-past-end"),
        pytest.param((ENTRY + 7 * 32, 1_000), id="document-length-past-end"),
        pytest.param((ENTRY + 7 * 32, 2**255), id="document-length-huge"),
    ],
)
def test_out_of_range_offsets_and_lengths_revert(
    consortium_shared: Consortium, patch: tuple[int, int]
) -> None:
    consortium = consortium_shared
    raw = entry(fresh_key(), b"document")
    data = calldata(consortium, [raw])
    assert data[ENTRY + 5 * 32 : ENTRY + 6 * 32] == _word(len(raw[0]))  # layout as assumed
    assert_reverts_cleanly(consortium, _patched(data, *patch))
    assert consortium.ledger.head_of(raw[0]) == (ZERO_HASH, 0)


def test_truncated_calldata_reverts(consortium_shared: Consortium) -> None:
    consortium = consortium_shared
    raw = entry(fresh_key(), b"d" * 40)
    data = calldata(consortium, [raw])
    assert_reverts_cleanly(consortium, data[:-32])
    assert_reverts_cleanly(consortium, data[: ENTRY + 3 * 32])
    assert consortium.ledger.head_of(raw[0]) == (ZERO_HASH, 0)


def test_event_code_with_dirty_low_bytes_reverts(consortium_shared: Consortium) -> None:
    consortium = consortium_shared
    raw = entry(fresh_key())
    data = bytearray(calldata(consortium, [raw]))
    data[ENTRY + 32 + 8] = 1  # the first byte after the eight of the bytes8
    assert_reverts_cleanly(consortium, bytes(data))
    assert consortium.ledger.head_of(raw[0]) == (ZERO_HASH, 0)
