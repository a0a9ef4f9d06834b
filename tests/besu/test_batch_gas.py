"""Every register batch fits a transaction gas cap of 16,777,216 (EIP-7825, Osaka), whatever the
document sizes: the default batch of typical documents fits whole, larger documents are split
by gas, and a document too large for any transaction is refused before anything is signed.

The gas limit a batch is signed with must also cover what it really uses, or it runs out of gas:
checked on anvil at the measured per-entry cost (docs/benchmarks.md, "Besu: gas per entry").
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.errors import InvalidInputError
from ipchain.register.ledger import (
    DEFAULT_BATCH_SIZE,
    MAX_TRANSACTION_GAS,
    EventToAnchor,
    _batches,
    _transaction_gas,
)
from tests.helpers.consortium import Consortium, deploy_test_consortium

TYPICAL_DOCUMENT = 700
"""Bytes of a typical event document (scripts/bench_opcodes.py)."""
MEASURED_GAS_PER_ENTRY = 72_178
"""scripts/bench_opcodes.py, 700-byte documents, 100 new records per transaction."""


def entry(number: int, document_bytes: int) -> tuple[str, bytes, bytes, bytes, bytes]:
    document = (b"x" * document_bytes)[: max(0, document_bytes - 9)] + f"{number:09d}".encode()
    document = document[:document_bytes]
    return (f"EM/TM/{number:09d}", b"A10\0\0\0\0\0", b"\1" * 32, b"\0" * 32, document)


def event(number: int, document_bytes: int) -> EventToAnchor:
    key, _code, _hash, _previous, document = entry(number, document_bytes)
    return EventToAnchor(key, "A10", hashlib.sha256(document).digest(), document)


def test_the_cap_is_eip_7825s() -> None:
    assert MAX_TRANSACTION_GAS == 2**24 == 16_777_216


def test_a_default_batch_of_typical_documents_fits_whole() -> None:
    entries = [entry(n, TYPICAL_DOCUMENT) for n in range(DEFAULT_BATCH_SIZE)]
    assert [len(b) for b in _batches(entries, DEFAULT_BATCH_SIZE)] == [DEFAULT_BATCH_SIZE]
    assert _transaction_gas(entries) <= MAX_TRANSACTION_GAS
    # And the cap still holds with the headroom the estimate keeps over the measured cost.
    assert _transaction_gas(entries) > MEASURED_GAS_PER_ENTRY * DEFAULT_BATCH_SIZE


@pytest.mark.parametrize("document_bytes", [0, 700, 4_096, 16_384, 65_536])
@pytest.mark.parametrize("batch_size", [1, DEFAULT_BATCH_SIZE, 10_000])
def test_every_batch_stays_within_the_cap(document_bytes: int, batch_size: int) -> None:
    entries = [entry(n, document_bytes) for n in range(400)]
    ranges = _batches(entries, batch_size)
    assert [i for r in ranges for i in r] == list(range(len(entries)))  # in order, all of them
    for batch in ranges:
        assert 1 <= len(batch) <= batch_size
        assert _transaction_gas(entries[batch.start : batch.stop]) <= MAX_TRANSACTION_GAS
    # Split only when needed: each batch but the last was full, by count or by gas.
    for batch, following in itertools.pairwise(ranges):
        chunk = entries[batch.start : batch.stop + 1]
        assert len(batch) == batch_size or _transaction_gas(chunk) > MAX_TRANSACTION_GAS
        assert following.start == batch.stop


def test_an_entry_no_transaction_can_hold_is_refused() -> None:
    huge = entry(1, 500_000)
    with pytest.raises(InvalidInputError, match="per-transaction cap"):
        _batches([entry(0, 700), huge], DEFAULT_BATCH_SIZE)


@pytest.fixture
def anvil_consortium(anvil: AnvilNode) -> Iterator[Consortium]:
    backend = RpcChain.connect(anvil.url)
    try:
        yield deploy_test_consortium(backend)
    finally:
        backend.close()


@pytest.mark.anvil
@pytest.mark.parametrize("document_bytes", [700, 65_536])
def test_split_batches_anchor_with_enough_gas(
    anvil_consortium: Consortium, document_bytes: int
) -> None:
    """On a real node: batches split by gas are mined, each within its signed limit."""
    consortium = anvil_consortium
    backend = consortium.backend
    count = DEFAULT_BATCH_SIZE if document_bytes == 700 else 8  # 8 x 64 KiB: split in two
    events = [event(n, document_bytes) for n in range(1, count + 1)]
    signer = consortium.signers["EM"]
    linked = consortium.ledger.link(events, "EM", {e.record_key: (b"\0" * 32, 0) for e in events})
    batches = consortium.ledger.sign_batches(signer, linked)
    assert len(batches) == (1 if document_bytes == 700 else 2)
    anchored = consortium.ledger.anchor(
        signer, events, known_heads={e.record_key: (b"\0" * 32, 0) for e in events}
    )
    assert len(anchored) == count
    for transaction_hash in {a.transaction_hash for a in anchored}:
        receipt = backend.get_receipt(transaction_hash)
        assert receipt is not None and receipt.status == 1
        mined = [a for a in anchored if a.transaction_hash == transaction_hash]
        entries = [entry(int(a.record_key[-9:]), document_bytes) for a in mined]
        assert receipt.gas_used < _transaction_gas(entries) <= MAX_TRANSACTION_GAS
        if document_bytes == 700:  # the measured figure, within 1 %
            assert abs(receipt.gas_used / len(mined) - MEASURED_GAS_PER_ENTRY) < 722
