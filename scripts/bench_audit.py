#!/usr/bin/env python3
"""Audit benchmarks: full-audit time per 100k events, and record verifications per second.

1. **Anvil**: anchor ``--events`` synthetic register events (realistic documents and
   histories, 1,000 per transaction, heads known up front), index them with the node's
   :class:`~ipchain.db.indexer.Indexer`, then time :func:`ipchain.verification.audit` over the
   whole database in one process and in two worker processes (``--workers``), with the time split
   into its parts (reading the chain's logs, streaming the database), and time
   ``verify_stored_record`` (what ``GET /records/{key}/verify`` runs) on a sample of records.
2. **Embedded chain**: the same with ``--embedded-events`` (fewer: py-evm anchors slowly).

    python scripts/bench_audit.py                              # 100k on anvil, 10k embedded
    python scripts/bench_audit.py --events 1000000 --embedded-events 0
    python scripts/bench_audit.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

Not a test: it prints figures for the notes and docs (DESIGN §7 target: 1M events in 60 s).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import OFFICES, synthetic_entries

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium, load_interface
from ipchain.contracts.register_ledger import decode_event_recorded
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.db.indexer import Indexer
from ipchain.db.register import events
from ipchain.encoding import ZERO_HASH, prefer_pysha3_for_libraries
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.indexing import register_handlers
from ipchain.register.ledger import EventToAnchor, Ledger
from ipchain.verification import Verifier
from ipchain.verification.audit import audit
from ipchain.verification.stored import STORED_COLUMNS, expected_columns

BATCH = 1_000
"""Entries per transaction (about 100M gas with these documents; anvil's and the embedded
chain's blocks hold 1,000M)."""

VERIFY_SAMPLE = 200
"""Records verified one by one for the verifications-per-second figure."""


def anchor(backend: ChainBackend, count: int, console: Console) -> tuple[Deployment, int, float]:
    """Deploy a consortium of the synthetic offices and anchor ``count`` events; returns the
    deployment, the events anchored and the anchoring rate."""
    deployer = OfficeKey.generate()
    admins = {office: OfficeKey.generate() for office, _, _ in OFFICES}
    signers = {office: OfficeKey.generate() for office, _, _ in OFFICES}
    fund(backend, [key.address for key in (deployer, *admins.values(), *signers.values())])
    deployment = deploy_consortium(
        backend,
        deployer,
        [
            FoundingOffice(office, f"Office {office}", admins[office].address, (signer.address,))
            for office, signer in signers.items()
        ],
    )
    ledger = Ledger(backend, deployment)
    by_office: dict[str, list[EventToAnchor]] = {office: [] for office in signers}
    for chunk, _ in synthetic_entries(count, seed=23):
        for entry in chunk:
            by_office[entry.office].append(
                EventToAnchor(
                    entry.record_key, entry.event_code, entry.document_hash, entry.document
                )
            )
    heads: dict[str, tuple[bytes, int]] = {}
    anchored = 0
    started = time.perf_counter()
    with console.status("anchoring…") as status:
        # Round robin over the offices, a few transactions each, so histories interleave.
        queues = {office: iter(_slices(items, 8 * BATCH)) for office, items in by_office.items()}
        while queues:
            for office in list(queues):
                part = next(queues[office], None)
                if part is None:
                    del queues[office]
                    continue
                known = {e.record_key: heads.get(e.record_key, (ZERO_HASH, 0)) for e in part}
                for entry in ledger.anchor(
                    signers[office], part, batch_size=BATCH, known_heads=known
                ):
                    heads[entry.record_key] = (entry.entry_hash, entry.seq)
                anchored += len(part)
                status.update(f"anchoring… {anchored:,} / {count:,} events")
    return deployment, anchored, anchored / (time.perf_counter() - started)


def _slices(items: list[EventToAnchor], size: int) -> Iterator[list[EventToAnchor]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def timed(results: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    results[name] = time.perf_counter() - started


def measure(
    label: str,
    backend: ChainBackend,
    deployment: Deployment,
    url: str,
    console: Console,
    *,
    profile: bool,
    workers: list[int],
) -> None:
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with console.status("indexing…"):
        started = time.perf_counter()
        # Small index steps: each is one eth_getLogs, and these blocks hold 1,000 entries each.
        indexed = Indexer(
            backend, deployment, sessions, register_handlers(), chunk_blocks=10
        ).run_once()
        index_rate = indexed / (time.perf_counter() - started)
    console.print(f"{label}: indexed {indexed:,} events at {index_rate:,.0f} events/s")

    from ipchain.chain.rpc import RpcChain

    summaries: list[str] = []
    parts: dict[str, float] = {}
    with console.status("timing the parts…"):
        with timed(parts, "read the chain's logs"):
            logs = read_all_logs(backend, deployment)
        with timed(parts, "decode entries, derive expected rows"):
            columns = expected_columns({log.block_number: 0 for log in logs})
            for log in logs:
                columns(decode_event_recorded(log))
        with timed(parts, "stream the events table"), engine.connect() as connection:
            result = connection.execution_options(yield_per=5_000).execute(
                select(*STORED_COLUMNS).order_by(events.c.block_number, events.c.log_index)
            )
            for _row in result:
                pass
        del logs
    events_count = indexed
    table = Table(title=f"Full audit, {label}, {events_count:,} events ({engine.dialect.name})")
    table.add_column("part")
    table.add_column("seconds", justify="right")
    table.add_column("µs / event", justify="right")
    for name, value in parts.items():
        table.add_row(name, f"{value:.1f}", f"{value / events_count * 1e6:.1f}")
    for count in workers if isinstance(backend, RpcChain) else [1]:
        profiler = cProfile.Profile() if profile else None
        with console.status(f"auditing with {count} process(es)…"):
            if profiler is not None:
                profiler.enable()
            report = audit(sessions, backend, deployment, workers=count)
            if profiler is not None:
                profiler.disable()
        assert report.ok, report.discrepancies[:5]
        assert report.totals.stored_events == events_count
        seconds = report.seconds
        table.add_row(
            f"whole audit, {count} process(es)",
            f"{seconds:.1f}",
            f"{seconds / events_count * 1e6:.1f}",
        )
        summaries.append(
            f"{label}, {count} process(es): {events_count / seconds:,.0f} events/s audited; "
            f"{seconds / events_count * 100_000:.1f} s per 100k events, "
            f"1M events ≈ {seconds / events_count * 1_000_000:.0f} s"
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    console.print(table)
    for line in summaries:
        console.print(line)

    verification = Verifier(backend, deployment, session_factory=sessions)
    with engine.connect() as connection:
        keys = [row[0] for row in connection.execute(text("SELECT record_key FROM records"))]
    sample = random.Random(5).sample(keys, min(VERIFY_SAMPLE, len(keys)))
    started = time.perf_counter()
    checked = 0
    for key in sample:
        result = verification.verify_stored_record(key)
        assert result.ok, result.discrepancies
        checked += result.stored_events
    elapsed = time.perf_counter() - started
    console.print(
        f"{label}: verify_stored_record (GET .../verify): {len(sample) / elapsed:,.0f} records/s, "
        f"{checked / elapsed:,.0f} events/s, {elapsed / len(sample) * 1000:.1f} ms per record"
    )
    engine.dispose()


def read_all_logs(backend: ChainBackend, deployment: Deployment) -> list[object]:
    topic = load_interface("RegisterLedger").event_topic("EventRecorded")
    head = backend.block_number()
    logs = []
    start, chunk = deployment.block_number, 10  # about 10,000 entries
    while start <= head:
        stop = min(head, start + chunk - 1)
        logs.extend(
            backend.get_logs(
                address=deployment.address("RegisterLedger"),
                from_block=start,
                to_block=stop,
                topics=[topic],
            )
        )
        start = stop + 1
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events on anvil (0: skip)")
    parser.add_argument(
        "--embedded-events", type=int, default=10_000, help="events on the embedded chain (0: skip)"
    )
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--profile", action="store_true", help="print the audit's profile")
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker process counts to time on anvil, comma-separated (default 1,2)",
    )
    arguments = parser.parse_args()
    console = Console()
    counts = [int(part) for part in arguments.workers.split(",")]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        if arguments.events:
            from ipchain.chain.anvil import AnvilNode
            from ipchain.chain.rpc import RpcChain

            node = AnvilNode.start()
            backend = RpcChain.connect(node.url)
            try:
                deployment, anchored, rate = anchor(backend, arguments.events, console)
                console.print(f"anvil: anchored {anchored:,} events at {rate:,.0f} events/s")
                url = arguments.database_url or f"sqlite:///{root / 'anvil.db'}"
                _reset(url)
                measure(
                    "anvil",
                    backend,
                    deployment,
                    url,
                    console,
                    profile=arguments.profile,
                    workers=counts,
                )
            finally:
                backend.close()
                node.stop()
        if arguments.embedded_events:
            from ipchain.chain.embedded import EmbeddedChain

            chain = EmbeddedChain.open(root / "chain")
            try:
                deployment, anchored, rate = anchor(chain, arguments.embedded_events, console)
                console.print(f"embedded: anchored {anchored:,} events at {rate:,.0f} events/s")
                url = arguments.database_url or f"sqlite:///{root / 'embedded.db'}"
                _reset(url)
                measure(
                    "embedded",
                    chain,
                    deployment,
                    url,
                    console,
                    profile=arguments.profile,
                    workers=counts,
                )
            finally:
                chain.close()


def _reset(url: str) -> None:
    """Empty the register tables of a database given on the command line."""
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in (
            "record_nice_classes",
            "record_locarno_classes",
            "record_data",
            "events",
            "records",
            "indexer_checkpoints",
        ):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
