#!/usr/bin/env python3
"""Register events anchored per second, embedded chain vs anvil, by events per transaction.

Anchoring = canonicalise + hash each document, link it to its record's head, pack entries into
``recordEvents`` transactions, sign with explicit gas, send, wait for receipts, decode the logs.
Documents are published with their entries (about 600 bytes each, like the demo's filings).

    python scripts/bench.py                 # both backends, batch sizes 1 10 100 500
    python scripts/bench.py --backend anvil --batch 100 --events 20000

Not a test: it prints a table of figures for the closing notes and docs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import FoundingOffice, deploy_consortium
from ipchain.encoding import canonical_bytes, document_hash, prefer_pysha3_for_libraries
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import EventToAnchor, Ledger

DEFAULT_EVENTS = {1: 300, 10: 2_000, 100: 10_000, 500: 20_000}


def sample_document(office: str, number: int) -> dict[str, object]:
    """A filing event document of realistic size."""
    return {
        "schema": "ipchain/register-event/v1",
        "record_key": f"{office}/TM/{number:09d}",
        "event_code": "A10",
        "event_date": "2026-03-14",
        "record_data": {
            "mark_verbal_element_text": f"AURELIA {number}",
            "mark_feature_category": "Word",
            "goods_services": [
                {
                    "class_number": 9,
                    "nice_edition": "12-2025",
                    "descriptions": [
                        {"language_code": "en", "text": "Computer software; downloadable apps"}
                    ],
                },
                {
                    "class_number": 42,
                    "nice_edition": "12-2025",
                    "descriptions": [{"language_code": "en", "text": "Software as a service"}],
                },
            ],
            "applicants": [{"name": "Aurelia Systems GmbH", "country_code": "DE"}],
            "application_date": "2026-03-14",
        },
    }


def prepare(office: str, start: int, count: int, publish: bool = True) -> list[EventToAnchor]:
    events = []
    for number in range(start, start + count):
        document = sample_document(office, number)
        events.append(
            EventToAnchor(
                record_key=str(document["record_key"]),
                event_code="A10",
                document_hash=document_hash(document),
                document=canonical_bytes(document) if publish else b"",
            )
        )
    return events


def measure(
    backend: ChainBackend, batch_sizes: list[int], events_override: int | None, publish: bool
) -> list[tuple[int, int, float]]:
    deployer, admin, signer = OfficeKey.generate(), OfficeKey.generate(), OfficeKey.generate()
    fund(backend, [deployer.address, admin.address, signer.address])
    deployment = deploy_consortium(
        backend, deployer, [FoundingOffice("EM", "EUIPO", admin.address, (signer.address,))]
    )
    ledger = Ledger(backend, deployment)
    results = []
    next_number = 1
    for batch in batch_sizes:
        count = events_override or DEFAULT_EVENTS.get(batch, 100 * batch)
        events = prepare("EM", next_number, count, publish)
        next_number += count
        # New records: their heads are known to be empty, as a node's index would know.
        heads = {event.record_key: (b"\0" * 32, 0) for event in events}
        started = time.perf_counter()
        anchored = ledger.anchor(signer, events, batch_size=batch, known_heads=heads)
        elapsed = time.perf_counter() - started
        assert len(anchored) == count
        results.append((batch, count, count / elapsed))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["embedded", "anvil", "both"], default="both")
    parser.add_argument("--batch", type=int, nargs="*", default=[1, 10, 100, 500])
    parser.add_argument("--events", type=int, default=None, help="events per batch size")
    parser.add_argument(
        "--hash-only",
        action="store_true",
        help="anchor document hashes only (documents not published on chain)",
    )
    parser.add_argument(
        "--anvil-block-time",
        type=float,
        default=None,
        help="anvil interval mining in seconds (default: automine, one block per transaction)",
    )
    arguments = parser.parse_args()
    console = Console()
    mode = "hash only" if arguments.hash_only else "documents published"
    table = Table(title=f"Register events anchored per second (one office, new records, {mode})")
    for column in ("backend", "events/tx", "events", "events/s"):
        table.add_column(column, justify="right")
    backends = ["embedded", "anvil"] if arguments.backend == "both" else [arguments.backend]
    for kind in backends:
        with tempfile.TemporaryDirectory() as directory:
            if kind == "embedded":
                from ipchain.chain.embedded import EmbeddedChain

                chain: ChainBackend = EmbeddedChain.open(Path(directory) / "chain")
                node = None
            else:
                from ipchain.chain.rpc import RpcChain

                node = AnvilNode.start(block_time=arguments.anvil_block_time)
                chain = RpcChain.connect(node.url)
            try:
                with console.status(f"measuring {kind}…"):
                    for batch, count, rate in measure(
                        chain, arguments.batch, arguments.events, not arguments.hash_only
                    ):
                        table.add_row(kind, str(batch), str(count), f"{rate:,.0f}")
            finally:
                chain.close()
                if node is not None:
                    node.stop()
    console.print(table)


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
