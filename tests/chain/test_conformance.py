"""ChainBackend conformance: the same behaviour from the embedded chain and a JSON-RPC node.

Everything above the chain layer relies on these semantics; each test runs once per backend
(the ``backend`` fixture is parametrized: embedded, anvil).
"""

from __future__ import annotations

import pytest

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import load_interface, send_and_confirm, sign_transaction
from ipchain.encoding import ZERO_HASH, record_id
from ipchain.errors import ContractRevertError, ReceiptTimeoutError, TransactionRejectedError
from ipchain.node.setup import fund
from ipchain.register.ledger import EventToAnchor
from tests.helpers.consortium import Consortium, deploy_test_consortium, new_key


def transfer(
    backend: ChainBackend, sender_key, to: str, value: int, nonce: int | None = None
) -> bytes:  # type: ignore[no-untyped-def]
    return sender_key.sign_transaction(
        {
            "type": 2,
            "chainId": backend.chain_id,
            "nonce": backend.get_nonce(sender_key.address) if nonce is None else nonce,
            "to": to,
            "value": value,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 0,
        }
    )


def test_chain_identity_and_blocks(backend: ChainBackend) -> None:
    assert backend.chain_id > 0
    head = backend.block_number()
    block = backend.get_block(head)
    assert block.number == head
    assert len(block.hash) == 32
    if head > 0:
        assert backend.get_block(head - 1).hash == block.parent_hash


def test_value_transfer_moves_balance_and_nonce(backend: ChainBackend) -> None:
    sender, receiver = new_key(), new_key()
    fund(backend, [sender.address])
    before = backend.block_number()
    (tx_hash,) = backend.send_raw_transactions([transfer(backend, sender, receiver.address, 12345)])
    (receipt,) = backend.wait_for_receipts([tx_hash], timeout=30)
    assert receipt.status == 1
    assert receipt.transaction_hash == tx_hash
    assert receipt.block_number > before
    assert backend.get_block(receipt.block_number).hash == receipt.block_hash
    assert tx_hash in backend.get_block(receipt.block_number).transaction_hashes
    assert backend.get_balance(receiver.address) == 12345
    assert backend.get_nonce(sender.address) == 1
    assert backend.get_receipt(tx_hash) == receipt


def test_unknown_transaction_has_no_receipt(backend: ChainBackend) -> None:
    assert backend.get_receipt(b"\x42" * 32) is None
    with pytest.raises(ReceiptTimeoutError):
        backend.wait_for_receipts([b"\x42" * 32], timeout=0.2)


def test_transaction_with_a_used_nonce_is_rejected(backend: ChainBackend) -> None:
    sender = new_key()
    fund(backend, [sender.address])
    first = transfer(backend, sender, new_key().address, 1)
    backend.wait_for_receipts(backend.send_raw_transactions([first]), timeout=30)
    with pytest.raises(TransactionRejectedError):
        backend.send_raw_transactions([transfer(backend, sender, new_key().address, 1, nonce=0)])


def test_transactions_sent_together_are_all_mined_in_order(backend: ChainBackend) -> None:
    sender = new_key()
    fund(backend, [sender.address])
    nonce = backend.get_nonce(sender.address)
    raws = [transfer(backend, sender, new_key().address, 1, nonce=nonce + n) for n in range(5)]
    receipts = backend.wait_for_receipts(backend.send_raw_transactions(raws), timeout=30)
    assert all(r.status == 1 for r in receipts)
    positions = [
        (
            r.block_number,
            backend.get_block(r.block_number).transaction_hashes.index(r.transaction_hash),
        )
        for r in receipts
    ]
    assert positions == sorted(positions)


def test_deployed_code_and_view_calls(consortium: Consortium) -> None:
    backend = consortium.backend
    ledger_address = consortium.deployment.address("RegisterLedger")
    assert len(backend.get_code(ledger_address)) == len(
        load_interface("RegisterLedger").deployed_bytecode
    )
    assert backend.get_code(new_key().address) == b""
    head, seq = consortium.ledger.head_of("EM/TM/000000042")
    assert (head, seq) == (ZERO_HASH, 0)


def test_reverted_transaction_is_mined_and_explained(consortium: Consortium) -> None:
    ledger = consortium.ledger
    with pytest.raises(ContractRevertError) as excinfo:
        send_and_confirm(
            consortium.backend,
            consortium.outsider,
            to=ledger.ledger_address,
            data=ledger.ledger.encode_call(
                "recordEvents", [("EM/TM/1", b"A10".ljust(8, b"\0"), b"\1" * 32, ZERO_HASH, b"")]
            ),
            gas=500_000,
            interfaces=[ledger.ledger],
        )
    assert excinfo.value.error_name == "RegisterUnauthorizedOffice"
    # The failed transaction was mined: the outsider's nonce moved on.
    assert consortium.backend.get_nonce(consortium.outsider.address) == 1


def test_reverting_call_carries_the_custom_error(consortium: Consortium) -> None:
    registry = load_interface("OfficeRegistry")
    data = registry.encode_call("office", b"ZZ")
    with pytest.raises(ContractRevertError) as excinfo:
        consortium.backend.call(consortium.deployment.address("OfficeRegistry"), data)
    raw = excinfo.value.error_args[0]
    assert isinstance(raw, bytes)
    assert registry.decode_error(raw) == ("OfficeRegistryUnknownOffice", (b"ZZ",))


def test_logs_by_block_range_and_topic(consortium: Consortium) -> None:
    ledger = consortium.ledger
    first = ledger.anchor(
        consortium.signers["EM"], [EventToAnchor("EM/TM/000000001", "A10", b"\1" * 32)]
    )
    second = ledger.anchor(
        consortium.signers["AU"], [EventToAnchor("AU/TM/0000002", "A10", b"\2" * 32)]
    )
    topic = ledger.ledger.event_topic("EventRecorded")
    start, end = first[0].block_number, second[0].block_number
    logs = consortium.backend.get_logs(
        address=ledger.ledger_address, from_block=start, to_block=end, topics=[topic]
    )
    assert [log.topics[1] for log in logs] == [
        record_id("EM/TM/000000001"),
        record_id("AU/TM/0000002"),
    ]
    only_au = consortium.backend.get_logs(
        address=ledger.ledger_address,
        from_block=start,
        to_block=end,
        topics=[topic, record_id("AU/TM/0000002")],
    )
    assert len(only_au) == 1 and only_au[0].transaction_hash == second[0].transaction_hash
    assert (
        consortium.backend.get_logs(
            address=ledger.ledger_address,
            from_block=start,
            to_block=start - 1 if start else 0,
            topics=[topic, b"\x09" * 32],
        )
        == []
    )
    # Other contracts' logs are not returned.
    assert (
        consortium.backend.get_logs(address=new_key().address, from_block=start, to_block=end) == []
    )


def test_signed_transaction_for_another_chain_is_rejected(backend: ChainBackend) -> None:
    sender = new_key()
    fund(backend, [sender.address])
    raw = sign_transaction(
        sender, chain_id=backend.chain_id + 1, nonce=0, to=new_key().address, data=b"", gas=21_000
    )
    with pytest.raises(TransactionRejectedError):
        backend.send_raw_transactions([raw])


def test_second_consortium_on_the_same_chain_is_independent(backend: ChainBackend) -> None:
    one = deploy_test_consortium(backend)
    two = deploy_test_consortium(backend)
    one.ledger.anchor(one.signers["EM"], [EventToAnchor("EM/TM/7", "A10", b"\7" * 32)])
    assert one.ledger.head_of("EM/TM/7")[1] == 1
    assert two.ledger.head_of("EM/TM/7")[1] == 0
