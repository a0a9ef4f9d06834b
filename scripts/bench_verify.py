"""Benchmark proof-bundle verification: proofs per second against anvil and the embedded chain.

Anchors RECORDS records of EVENTS events each (register-event documents of about 600 bytes),
makes one proof bundle per record, then times verification from the bundle files' bytes:

* ``one by one, cold``  — ``verify_bundle`` per bundle with a fresh connection, as the CLI does;
* ``one by one, warm``  — one :class:`~ipchain.verification.Verifier` for all bundles (code and
  signer answers kept);
* ``batched``           — ``Verifier.verify_bundles`` over BATCH bundles at a time (a few
  JSON-RPC batch round trips per batch), the path for auditing many records.

A proof is one bundle (a record's whole history); events/s counts the events those proofs
cover. Results are printed, not asserted (DESIGN §7). Run::

    python scripts/bench_verify.py                      # both backends, 1000 records x 3
    python scripts/bench_verify.py --backend anvil --records 200
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.table import Table

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.encoding import canonical_bytes, keccak, prefer_pysha3_for_libraries, record_id
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import EventToAnchor, Ledger
from ipchain.verification import Verifier, build_bundle, verify_bundle
from ipchain.verification.bundle import (
    FORMAT_VERSION,
    Bundle,
    BundleContract,
    BundleEntry,
    dump_bundle,
    load_bundle,
)

EVENT_CODES = ("A10", "Q10", "F10", "M10", "P10", "R10", "S10", "U10")


@dataclass
class Result:
    backend: str
    mode: str
    bundles: int
    events: int
    seconds: float


def _key() -> OfficeKey:
    return OfficeKey.from_private_key(bytes(Account.create().key))


def _document(record_key: str, event_code: str, day: int) -> dict[str, object]:
    return {
        "schema": "ipchain/register-event/1",
        "record_key": record_key,
        "event_code": event_code,
        "event_date": f"2024-{1 + day % 12:02d}-{1 + day % 28:02d}",
        "record_data": {
            "mark_verbal_element": f"MARK {record_key[-6:]}",
            "mark_feature_category": "Word",
            "nice_classes": [
                {
                    "class_number": 9,
                    "edition": "12-2024",
                    "goods_services": [
                        {
                            "language": "en",
                            "text": "Computer software; downloadable mobile apps; "
                            "electronic publications; data processing equipment",
                        }
                    ],
                },
                {
                    "class_number": 42,
                    "edition": "12-2024",
                    "goods_services": [
                        {"language": "en", "text": "Software as a service; cloud computing"}
                    ],
                },
            ],
            "applicants": [{"name": "Acme Widgets GmbH", "country_code": "DE"}],
        },
    }


def _consortium(backend: ChainBackend) -> tuple[Deployment, OfficeKey]:
    deployer, admin, signer = _key(), _key(), _key()
    fund(backend, [deployer.address, admin.address, signer.address])
    founders = [FoundingOffice("EM", "Office EM", admin.address, (signer.address,))]
    return deploy_consortium(backend, deployer, founders), signer


def _anchor(
    backend: ChainBackend, deployment: Deployment, signer: OfficeKey, records: int, events: int
) -> dict[str, list[AnchoredEvent]]:
    ledger = Ledger(backend, deployment)
    histories: dict[str, list[AnchoredEvent]] = {}
    # Event n of every record, then event n+1: records' entries spread over blocks, as in life.
    for round_ in range(events):
        batch = []
        for number in range(records):
            key = f"EM/TM/{18_000_000 + number:09d}"
            document = canonical_bytes(_document(key, EVENT_CODES[round_ % 8], number + round_))
            digest = hashlib.sha256(document).digest()
            batch.append(EventToAnchor(key, EVENT_CODES[round_ % 8], digest, document))
        for entry in ledger.anchor(signer, batch):
            histories.setdefault(entry.record_key, []).append(entry)
    return histories


def _bundle(
    backend: ChainBackend, deployment: Deployment, key: str, history: Sequence[AnchoredEvent]
) -> bytes:
    """The bundle build_bundle makes, assembled from the anchoring receipts (build_bundle reads
    the chain per record, which is timed separately on a sample)."""
    registry, ledger = deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    return dump_bundle(
        Bundle(
            format_version=FORMAT_VERSION,
            chain_id=backend.chain_id,
            registry=BundleContract(registry, keccak(backend.get_code(registry))),
            ledger=BundleContract(ledger, keccak(backend.get_code(ledger))),
            record_key=key,
            record_id=record_id(key),
            entries=tuple(
                BundleEntry(
                    seq=e.seq,
                    event_code=e.event_code,
                    document=e.document,
                    document_hash=e.document_hash,
                    prev_entry_hash=e.prev_entry_hash,
                    entry_hash=e.entry_hash,
                    office=e.office,
                    signer=e.signer,
                    block_number=e.block_number,
                    block_hash=e.block_hash,
                    transaction_hash=e.transaction_hash,
                    log_index=e.log_index,
                )
                for e in history
            ),
            head_seq=history[-1].seq,
            head_entry_hash=history[-1].entry_hash,
            created_at="2025-01-01T00:00:00Z",
        )
    )


@contextmanager
def _open(kind: str) -> Iterator[tuple[ChainBackend, Callable[[], ChainBackend]]]:
    """The backend, and a way to open another connection to it (None for embedded)."""
    if kind == "anvil":
        from ipchain.chain.anvil import AnvilNode
        from ipchain.chain.rpc import RpcChain

        with AnvilNode.start() as node:
            backend = RpcChain.connect(node.url)
            try:
                yield backend, lambda: RpcChain.connect(node.url)
            finally:
                backend.close()
    else:
        from ipchain.chain.embedded import EmbeddedChain

        with tempfile.TemporaryDirectory() as directory:
            backend = EmbeddedChain.open(Path(directory) / "chain")
            try:
                yield backend, lambda: backend
            finally:
                backend.close()


def run(kind: str, records: int, events: int, batch: int, console: Console) -> list[Result]:
    results = []
    with _open(kind) as (backend, connect):
        with console.status(f"{kind}: anchoring {records} × {events} events…"):
            deployment, signer = _consortium(backend)
            started = time.perf_counter()
            histories = _anchor(backend, deployment, signer, records, events)
            console.print(
                f"{kind}: anchored {records * events} events in "
                f"{time.perf_counter() - started:.1f} s"
            )
            files = [_bundle(backend, deployment, k, h) for k, h in histories.items()]
        total_events = records * events
        sample = list(histories)[: min(records, 50 if kind == "anvil" else 10)]
        started = time.perf_counter()
        for key in sample:
            built = build_bundle(backend, deployment, key)
        results.append(
            Result(
                kind,
                "build_bundle",
                len(sample),
                len(sample) * events,
                time.perf_counter() - started,
            )
        )
        assert len(built["entries"]) == events

        cold = files[: min(records, 200 if kind == "anvil" else 20)]
        started = time.perf_counter()
        for data in cold:
            fresh = connect()
            report = verify_bundle(load_bundle(data), fresh)
            if fresh is not backend:
                fresh.close()
            assert report.ok, report
        results.append(
            Result(
                kind,
                "one by one, cold",
                len(cold),
                len(cold) * events,
                time.perf_counter() - started,
            )
        )

        verifier = Verifier(backend)
        verifier.verify_bundles([load_bundle(files[0])])  # contract code, once per verifier
        started = time.perf_counter()
        for data in files:
            assert verifier.verify_bundle(load_bundle(data)).ok
        results.append(
            Result(kind, "one by one, warm", records, total_events, time.perf_counter() - started)
        )

        verifier = Verifier(backend)
        started = time.perf_counter()
        for start in range(0, len(files), batch):
            bundles = [load_bundle(data) for data in files[start : start + batch]]
            assert all(report.ok for report in verifier.verify_bundles(bundles))
        results.append(
            Result(kind, f"batched ({batch})", records, total_events, time.perf_counter() - started)
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("anvil", "embedded", "both"), default="both")
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    console = Console()
    kinds = ("anvil", "embedded") if args.backend == "both" else (args.backend,)
    results = []
    for kind in kinds:
        results += run(kind, args.records, args.events, args.batch, console)
    table = Table(title="Proof bundle verification (a proof = one record's bundle)")
    for column in ("backend", "mode", "bundles", "events", "seconds", "proofs/s", "events/s"):
        table.add_column(column, justify="left" if column in ("backend", "mode") else "right")
    for result in results:
        table.add_row(
            result.backend,
            result.mode,
            str(result.bundles),
            str(result.events),
            f"{result.seconds:.2f}",
            f"{result.bundles / result.seconds:,.0f}",
            f"{result.events / result.seconds:,.0f}",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    sys.exit(main())
