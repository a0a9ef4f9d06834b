"""The embedded chain on a full disk: a block whose write fails is forgotten (nothing of it
outlives the failure in memory), the chain mines nothing until a write succeeds again, and it
resumes by itself once space returns; after a restart it holds exactly the blocks it reported
mined."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from ipchain.chain.embedded import EmbeddedChain
from ipchain.errors import ChainUnavailableError
from ipchain.register.ledger import EventToAnchor
from tests.faults.conftest import small_disk
from tests.helpers.consortium import deploy_test_consortium


def events(start: int, count: int) -> list[EventToAnchor]:
    return [
        EventToAnchor(
            f"EM/TM/0181{n:05d}", "A10", hashlib.sha256(f"doc {n}".encode()).digest(), b""
        )
        for n in range(start, start + count)
    ]


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_block_that_cannot_be_written_is_forgotten_and_mining_resumes_by_itself(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        chain = EmbeddedChain.open(disk.path / "chain")
        try:
            consortium = deploy_test_consortium(chain)
            em = consortium.signers["EM"]
            anchored = consortium.ledger.anchor(em, events(0, 20))
            head = chain.block_number()

            disk.fill()
            with pytest.raises(ChainUnavailableError, match=r"stopped mining.*No space left"):
                consortium.ledger.anchor(em, events(100, 200))
            assert chain.storage_fault is not None
            assert "No space left on device" in chain.storage_fault
            # Nothing of the failed block is left in memory: the head, the nonce and the
            # records are what the disk holds.
            assert chain.block_number() == head
            assert chain.get_nonce(em.address) == len({e.transaction_hash for e in anchored})
            assert consortium.ledger.head_of("EM/TM/018100100") == (bytes(32), 0)
            # While the disk is full, nothing is mined (refused at once, without mining).
            started = time.monotonic()
            with pytest.raises(ChainUnavailableError, match="stopped mining"):
                consortium.ledger.anchor(em, events(100, 1))
            assert time.monotonic() - started < 1.0
            assert chain.block_number() == head

            disk.free()

            # The next send after the back-off finds the disk writable again and mines.
            def resumed() -> bool:
                try:
                    consortium.ledger.anchor(em, events(100, 200))
                except ChainUnavailableError:
                    return False
                return True

            wait_for(resumed)
            assert chain.storage_fault is None
            final_head = chain.block_number()
            assert final_head > head
        finally:
            chain.close()

        # After a restart the chain holds exactly what it reported.
        reopened = EmbeddedChain.open(disk.path / "chain")
        try:
            assert reopened.block_number() == final_head
            ledger = consortium.ledger.__class__(reopened, consortium.deployment)
            for n in (0, 19, 100, 299):
                entries = ledger.record_entries(f"EM/TM/0181{n:05d}")
                assert [e.seq for e in entries] == [1]
        finally:
            reopened.close()


def test_reads_go_on_while_the_disk_is_full(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        chain = EmbeddedChain.open(disk.path / "chain")
        try:
            consortium = deploy_test_consortium(chain)
            em = consortium.signers["EM"]
            anchored = consortium.ledger.anchor(em, events(0, 50))
            head = chain.block_number()
            disk.fill()
            for _ in range(3):  # past the back-off too: no reopen on a full disk
                with pytest.raises(ChainUnavailableError):
                    consortium.ledger.anchor(em, events(100, 200))
                time.sleep(0.6)
            assert chain.block_number() == head
            assert consortium.ledger.record_entries("EM/TM/018100049") == [anchored[-1]]
            receipt = chain.get_receipt(anchored[0].transaction_hash)
            assert receipt is not None and receipt.status == 1
            disk.free()
        finally:
            chain.close()


def test_the_json_rpc_servers_path_fails_stop_too(tmp_path: Path) -> None:
    """``submit_raw_transactions`` (each block committed on its own, as ``ipchain chain
    serve`` mines) refuses on a full disk and mines again once space returns."""
    from ipchain.chain.embedded import FAUCET_ADDRESS, faucet_transfers

    with small_disk(tmp_path / "disk", 48) as disk:
        chain = EmbeddedChain.open(disk.path / "chain")
        try:
            recipients = {f"0x{n:040x}": 10**18 for n in range(1, 40)}

            def transfers() -> list[bytes]:
                return faucet_transfers(
                    chain.chain_id,
                    chain.get_nonce(FAUCET_ADDRESS),
                    2 * chain.base_fee_per_gas() + 1,
                    recipients,
                )

            chain.submit_raw_transactions(transfers())
            head = chain.block_number()
            disk.fill()
            with pytest.raises(ChainUnavailableError, match="stopped mining"):
                chain.submit_raw_transactions(transfers())
            assert chain.block_number() == head
            disk.free()

            def mined() -> bool:
                try:
                    outcomes = chain.submit_raw_transactions(transfers())
                except ChainUnavailableError:
                    return False
                return all(isinstance(outcome, bytes) for outcome in outcomes)

            wait_for(mined)
            assert chain.block_number() == head + 1
        finally:
            chain.close()
