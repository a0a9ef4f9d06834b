#!/usr/bin/env python3
"""Mining speed of the embedded chain: transactions per second by transactions per block.

Each run opens a fresh chain in a temporary directory (fsync per block, as in production),
funds 100 senders, signs every transaction up front, then times ``send_raw_transactions`` only:
decoding, signature recovery, execution, state root, block and receipts tries, the atomic
LevelDB write. Two workloads: plain value transfers, and calls to a tiny contract that emits one
log (the cost of entering the EVM at all).

    python scripts/bench_embedded.py
    python scripts/bench_embedded.py --sizes 100 500 --transactions 2000 --no-sync

Not a test: it prints figures. For register events end to end, see scripts/bench.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ipchain.chain.embedded import EmbeddedChain
from ipchain.encoding import prefer_pysha3_for_libraries

SENDERS = 100
# log1(data = calldata word 1, topic = calldata word 0); see tests/chain/test_embedded.py.
RUNTIME = bytes.fromhex("602035600052600035801560145760206000a1005b63deadbeef6000526004601cfd")
INIT_CODE = bytes.fromhex(f"60{len(RUNTIME):02x}600c60003960{len(RUNTIME):02x}6000f3") + RUNTIME


def signed(
    sender: LocalAccount, chain_id: int, nonce: int, to: str, data: bytes, gas: int
) -> bytes:
    transaction = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "value": 0 if data else 1,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 0,
    }
    return bytes(sender.sign_transaction(transaction).raw_transaction)


def run(per_block: int, total: int, workload: str, sync: bool) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds spent mining ``total`` transactions ``per_block`` at a time,
    and the number of blocks mined. CPU time is the steadier figure on a shared machine."""
    with (
        tempfile.TemporaryDirectory() as directory,
        EmbeddedChain.open(Path(directory), sync=sync) as chain,
    ):
        assert isinstance(chain, EmbeddedChain)
        senders = [Account.create() for _ in range(SENDERS)]
        chain.fund_many({sender.address: 10**21 for sender in senders})
        target = "0x" + "11" * 20
        if workload == "log":
            deployer = senders[0]
            raw = signed(deployer, chain.chain_id, 0, "", INIT_CODE, 200_000)
            (receipt,) = chain.wait_for_receipts(chain.send_raw_transactions([raw]))
            assert receipt.contract_address is not None
            target = receipt.contract_address
        nonces = {sender.address: chain.get_nonce(sender.address) for sender in senders}
        blocks = []
        for start in range(0, total, per_block):
            batch = []
            for index in range(start, min(start + per_block, total)):
                sender = senders[index % SENDERS]
                data = b""
                if workload == "log":
                    data = (index + 1).to_bytes(32, "big") + index.to_bytes(32, "big")
                gas = 60_000 if data else 21_000
                batch.append(
                    signed(sender, chain.chain_id, nonces[sender.address], target, data, gas)
                )
                nonces[sender.address] += 1
            blocks.append(batch)
        first = chain.block_number()
        started, cpu_started = time.perf_counter(), time.process_time()
        for batch in blocks:
            chain.send_raw_transactions(batch)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        return elapsed, cpu, chain.block_number() - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--transactions", type=int, default=1000, help="per size and workload")
    parser.add_argument("--workloads", nargs="+", default=["transfer", "log"])
    parser.add_argument("--no-sync", action="store_true", help="skip the fsync per block")
    arguments = parser.parse_args()
    print(
        f"{'workload':>9} {'tx/block':>9} {'blocks':>7} {'tx/s':>8} {'tx/cpu-s':>9} {'ms/block':>9}"
    )
    for workload in arguments.workloads:
        for size in arguments.sizes:
            total = max(arguments.transactions, size * 3)
            if size == 1:
                total = min(total, 300)  # one-transaction blocks are slow; 300 is plenty
            elapsed, cpu, blocks = run(size, total, workload, not arguments.no_sync)
            print(
                f"{workload:>9} {size:>9} {blocks:>7} {total / elapsed:>8.0f} "
                f"{total / cpu:>9.0f} {1000 * elapsed / blocks:>9.1f}"
            )


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
