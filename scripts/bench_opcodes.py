#!/usr/bin/env python3
"""EVM opcodes executed per anchored register event, counted in py-evm.

On the embedded chain every opcode is a Python call (about 400,000 per second on a 2-core
machine), so opcodes per entry of ``RegisterLedger.recordEvents`` bound anchoring throughput
more directly than gas does, and unlike wall-clock time they do not move with the machine's
load. This script anchors batches of new records on a fresh embedded chain and counts every
opcode py-evm dispatches while it does (by swapping the Prague opcode table for counting
wrappers), with published documents (about 700 bytes) and with hashes alone.

    python scripts/bench_opcodes.py
    python scripts/bench_opcodes.py --batch 100 --breakdown 15

Not a test: it prints figures. For events per second end to end, see scripts/bench.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth.vm.forks.prague.computation import PragueComputation
from rich.console import Console
from rich.table import Table

from ipchain.chain.embedded import EmbeddedChain
from ipchain.contracts.bindings import FoundingOffice, deploy_consortium
from ipchain.encoding import canonical_bytes, document_hash, prefer_pysha3_for_libraries
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import EventToAnchor, Ledger

DOCUMENT_SIZE = 700


def sample_document(office: str, number: int) -> dict[str, object]:
    """A filing event document whose canonical form is about ``DOCUMENT_SIZE`` bytes."""
    document: dict[str, object] = {
        "schema": "ipchain/register-event/v1",
        "record_key": f"{office}/TM/{number:09d}",
        "event_code": "A10",
        "event_date": "2026-03-14",
        "record_data": {
            "mark_verbal_element_text": f"AURELIA {number}",
            "goods_services": [
                {"class_number": 9, "text": "Computer software; downloadable applications"},
                {"class_number": 42, "text": "Software as a service; hosting of platforms"},
            ],
            "applicants": [{"name": "Aurelia Systems GmbH", "country_code": "DE"}],
        },
    }
    padding = DOCUMENT_SIZE - len(canonical_bytes(document)) - len(',"remarks":""')
    document["remarks"] = "x" * max(0, padding)
    return document


def prepare(start: int, count: int, publish: bool) -> list[EventToAnchor]:
    events = []
    for number in range(start, start + count):
        document = sample_document("EM", number)
        events.append(
            EventToAnchor(
                record_key=str(document["record_key"]),
                event_code="A10",
                document_hash=document_hash(document),
                document=canonical_bytes(document) if publish else b"",
            )
        )
    return events


@contextmanager
def counting_opcodes() -> Iterator[Counter[str]]:
    """Count opcodes by mnemonic meanwhile (py-evm looks the table up for every computation)."""
    counts: Counter[str] = Counter()
    original = PragueComputation.opcodes

    def counted(mnemonic: str, opcode_fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(computation: Any) -> Any:
            counts[mnemonic] += 1
            return opcode_fn(computation=computation)

        return call

    counting: dict[int, Any] = {
        value: counted(getattr(fn, "mnemonic", f"0x{value:02x}"), fn)
        for value, fn in original.items()
    }
    PragueComputation.opcodes = counting
    try:
        yield counts
    finally:
        PragueComputation.opcodes = original


def measure(batch: int, batches: int, publish: bool) -> tuple[Counter[str], int, int, float]:
    """(opcode counts, entries, gas used, CPU seconds of an uncounted run of the same size)."""
    with tempfile.TemporaryDirectory() as directory:
        chain = EmbeddedChain.open(Path(directory) / "chain", sync=False)
        try:
            deployer, admin, signer = (OfficeKey.generate() for _ in range(3))
            fund(chain, [deployer.address, admin.address, signer.address])
            deployment = deploy_consortium(
                chain, deployer, [FoundingOffice("EM", "EUIPO", admin.address, (signer.address,))]
            )
            ledger = Ledger(chain, deployment)
            count = batch * batches
            counted_events = prepare(1, count, publish)
            timed_events = prepare(count + 1, count, publish)
            office_of = ledger.office_of(signer.address)  # warm: not part of the counted run
            assert office_of == ("EM", True)

            def anchor(events: list[EventToAnchor]) -> list[Any]:
                heads = {event.record_key: (b"\0" * 32, 0) for event in events}
                return ledger.anchor(signer, events, batch_size=batch, known_heads=heads)

            with counting_opcodes() as counts:
                anchored = anchor(counted_events)
            gas = 0
            for transaction_hash in {entry.transaction_hash for entry in anchored}:
                receipt = chain.get_receipt(transaction_hash)
                assert receipt is not None and receipt.status == 1
                gas += receipt.gas_used
            started = time.process_time()
            anchor(timed_events)
            cpu_seconds = time.process_time() - started
            return counts, count, gas, cpu_seconds
        finally:
            chain.close()


def batch_fit(measured: float) -> Table:
    """What the measured gas per entry (700-byte documents) means for the ledger's batches and
    the Besu network's blocks (docs/benchmarks.md, "Besu: gas per entry")."""
    from ipchain.besu.genesis import BLOCK_GAS_LIMIT, BLOCK_PERIOD_SECONDS
    from ipchain.register.ledger import DEFAULT_BATCH_SIZE, MAX_TRANSACTION_GAS, _transaction_gas

    key = "EM/TM/000000001"
    entry = (key, b"A10", b"\1" * 32, b"\0" * 32, b"x" * DOCUMENT_SIZE)
    limit = _transaction_gas([entry] * DEFAULT_BATCH_SIZE)
    # Besu adds a transaction to a block while its gas *limit* fits the gas left after what the
    # block's transactions so far have *used*.
    used, batches = 0.0, 0
    while BLOCK_GAS_LIMIT - used >= limit:
        used += measured * DEFAULT_BATCH_SIZE
        batches += 1
    per_block = batches * DEFAULT_BATCH_SIZE
    table = Table(title=f"batches and blocks at {measured:,.0f} gas per entry")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("DEFAULT_BATCH_SIZE", f"{DEFAULT_BATCH_SIZE}")
    table.add_row("gas used by a default batch", f"{measured * DEFAULT_BATCH_SIZE:,.0f}")
    table.add_row("gas limit it is signed with", f"{limit:,}")
    table.add_row("per-transaction cap (EIP-7825)", f"{MAX_TRANSACTION_GAS:,}")
    table.add_row("Besu block gas limit", f"{BLOCK_GAS_LIMIT:,}")
    table.add_row("default batches per full block", f"{batches} ({used:,.0f} gas used)")
    table.add_row("entries per full block", f"{per_block:,}")
    table.add_row("entries per second (full blocks)", f"{per_block / BLOCK_PERIOD_SECONDS:,.0f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100, help="entries per transaction")
    parser.add_argument("--batches", type=int, default=5, help="transactions per workload")
    parser.add_argument("--breakdown", type=int, default=0, help="show the N commonest opcodes")
    arguments = parser.parse_args()
    console = Console()
    table = Table(title=f"recordEvents on py-evm, {arguments.batch} new records per transaction")
    for column in ("documents", "opcodes/entry", "gas/entry", "events/s (CPU time, noisy)"):
        table.add_column(column, justify="right")
    breakdowns = []
    gas_per_entry: list[float] = []
    for publish in (True, False):
        label = f"{DOCUMENT_SIZE} bytes" if publish else "none (hash only)"
        counts, entries, gas, cpu_seconds = measure(arguments.batch, arguments.batches, publish)
        table.add_row(
            label,
            f"{sum(counts.values()) / entries:,.1f}",
            f"{gas / entries:,.0f}",
            f"{entries / cpu_seconds:,.0f}",
        )
        breakdowns.append((label, counts, entries))
        gas_per_entry.append(gas / entries)
    console.print(table)
    console.print(batch_fit(gas_per_entry[0]))
    for label, counts, entries in breakdowns if arguments.breakdown else ():
        detail = Table(title=f"commonest opcodes per entry, documents: {label}")
        detail.add_column("opcode")
        detail.add_column("per entry", justify="right")
        for mnemonic, number in counts.most_common(arguments.breakdown):
            detail.add_row(mnemonic, f"{number / entries:.1f}")
        console.print(detail)


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
