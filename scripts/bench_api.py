"""End-to-end throughput of register events: HTTP submit → anchored on chain → indexed.

Starts a node (embedded chain, or anvil) with a real uvicorn server on 127.0.0.1, then several
client processes POST batches of trademark filings for the three demo offices as fast as the API
takes them. Measured:

* **accepted/s** — events the API validated and wrote to the outbox (HTTP 202), per second;
* **end to end/s** — events from the first POST until the last one is anchored *and* indexed
  (visible to queries), per second: the number the design targets;
* **chain-only/s** — the same events anchored by :meth:`Ledger.anchor` directly (no HTTP, no
  database), to show how much of the end-to-end time is the chain itself.

Usage::

    python scripts/bench_api.py                       # embedded chain, 6,000 events
    python scripts/bench_api.py --backend anvil --events 20000
    python scripts/bench_api.py --clients 8 --per-request 250 --tx-batch 250
    python scripts/bench_api.py --accept-only         # the API alone, nothing anchored

Numbers are printed, not asserted (DESIGN §7).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from api.app import create_app
from ipchain.config import Settings
from ipchain.encoding import canonical_bytes, document_hash, prefer_pysha3_for_libraries
from ipchain.node.service import NodeService, ServiceOptions
from ipchain.node.setup import init_node
from ipchain.register.ledger import EventToAnchor

OFFICES = ("EM", "AU", "RU")
# Application numbers each office's format accepts, numbered from a per-run base.
NUMBER_FORMATS = {"EM": "{:09d}", "AU": "{:07d}", "RU": "2025{:07d}"}


def filing(office: str, serial: int) -> dict[str, Any]:
    """A trademark filing (A10) of a new record."""
    number = NUMBER_FORMATS[office].format(serial)
    return {
        "schema": "ipchain/register-event/v1",
        "record_key": f"{office}/TM/{number}",
        "event_code": "A10",
        "event_date": "2025-03-14",
        "record_data": {
            "mark_verbal_element_text": f"BENCH MARK {serial}",
            "mark_feature_category": "Word",
            "nice_classes": [
                {"class_number": 9, "descriptions": [{"language_code": "en", "text": "Software"}]}
            ],
            "applicants": [{"name": "Benchmark Holdings Ltd", "country_code": "GB"}],
            "application_date": "2025-03-14",
        },
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(service: NodeService) -> Iterator[str]:
    """A uvicorn server on a free local port, in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service), host="127.0.0.1", port=port, log_level="warning", workers=1
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def node_settings(backend: str, directory: Path) -> Iterator[Settings]:
    if backend == "embedded":
        settings = Settings(data_dir=directory, keystore_fast_kdf=True)
        init_node(settings).close()
        yield settings
        return
    from ipchain.chain.anvil import AnvilNode

    with AnvilNode.start() as anvil:
        settings = Settings(data_dir=directory, rpc_url=anvil.url, keystore_fast_kdf=True)
        init_node(settings).close()
        yield settings


def post_filings(job: tuple[str, dict[str, str], int, int, int, int]) -> tuple[int, str | None]:
    """One client process: POST its share of filings; returns (requests sent, first error)."""
    url, tokens, index, requests, per_request, base = job
    sent = 0
    with httpx.Client(base_url=url, timeout=300) as http:
        for request in range(requests):
            office = OFFICES[(index + request) % len(OFFICES)]
            first = base + (index * requests + request) * per_request
            documents = [filing(office, first + i) for i in range(per_request)]
            response = http.post(
                f"/api/v1/offices/{office}/events",
                json={"events": documents},
                headers={"Authorization": f"Bearer {tokens[office]}"},
            )
            if response.status_code != 202:
                return sent, response.text[:300]
            sent += 1
    return sent, None


def run_clients(
    url: str, tokens: dict[str, str], events: int, clients: int, per_request: int, base: int
) -> tuple[float, float, int]:
    """POST ``events`` filings from ``clients`` processes (so that building and encoding the
    requests does not take the server's CPU time under its GIL); returns (start, end,
    requests)."""
    requests_per_client = -(-events // (per_request * clients))
    jobs = [(url, tokens, i, requests_per_client, per_request, base) for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        pool.map(abs, range(clients))  # start the workers before the clock does
        start = time.perf_counter()
        results = pool.map(post_filings, jobs)
        end = time.perf_counter()
    errors = [error for _, error in results if error]
    if errors:
        raise SystemExit(f"a POST failed: {errors[0]}")
    return start, end, sum(sent for sent, _ in results)


def chain_only(service: NodeService, events: int, per_tx: int, base: int) -> float:
    """Events/s of Ledger.anchor alone for the same kind of events (new records)."""
    from ipchain.encoding import ZERO_HASH

    office = "EM"
    key = service.submitter._keys[office]
    documents = [filing(office, base + i) for i in range(events)]
    anchors = [
        EventToAnchor(d["record_key"], "A10", document_hash(d), canonical_bytes(d))
        for d in documents
    ]
    heads = {a.record_key: (ZERO_HASH, 0) for a in anchors}
    start = time.perf_counter()
    service.node.ledger.anchor(key, anchors, batch_size=per_tx, known_heads=heads)
    return events / (time.perf_counter() - start)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="ipchain-bench-api-"))
    try:
        with node_settings(args.backend, directory / "node") as settings:
            options = ServiceOptions(
                batch_size=args.tx_batch,
                max_rows=args.max_rows,
                run_submitter=not args.accept_only,
                run_indexer=not args.accept_only,
            )
            service = NodeService(settings, options).start()
            try:
                tokens = {office: service.create_token(office) for office in OFFICES}
                with serving(service) as url:
                    start, accepted_at, requests = run_clients(
                        url, tokens, args.events, args.clients, args.per_request, 10_000_000
                    )
                    total = requests * args.per_request
                    if args.accept_only:
                        return {
                            "backend": args.backend,
                            "events": total,
                            "requests": requests,
                            "accepted/s (API alone)": total / (accepted_at - start),
                        }
                    service.wait_until_idle(timeout=3_600)
                    done = time.perf_counter()
                stats = service.queries.office_stats()
                indexed = sum(office["events"] for office in stats.values())
                assert indexed == total, (indexed, total)
                chain_rate = chain_only(service, args.chain_events, args.tx_batch, 20_000_000)
                return {
                    "backend": args.backend,
                    "events": total,
                    "requests": requests,
                    "accepted/s": total / (accepted_at - start),
                    "end to end/s": total / (done - start),
                    "chain-only/s": chain_rate,
                    "seconds": done - start,
                }
            finally:
                service.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "anvil"], default="embedded")
    parser.add_argument("--events", type=int, default=6_000, help="events to submit")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--per-request", type=int, default=100, help="events per POST")
    parser.add_argument("--tx-batch", type=int, default=250, help="entries per transaction")
    parser.add_argument("--max-rows", type=int, default=2_000, help="outbox rows per round")
    parser.add_argument(
        "--chain-events", type=int, default=2_000, help="events for the chain-only run"
    )
    parser.add_argument(
        "--accept-only",
        action="store_true",
        help="measure the API alone: no submitter, no indexer (events stay in the outbox)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    with console.status(f"benchmarking on {args.backend}…"):
        result = bench(args)
    table = Table(title="ipchain API: HTTP submit → anchored → indexed")
    for column in result:
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{value:,.0f}" if isinstance(value, float) else str(value) for value in result.values())
    )
    console.print(table)
    console.print(
        f"{args.clients} client processes × {args.per_request} events per POST; "
        f"{args.tx_batch} entries per transaction, up to {args.max_rows} per round"
    )


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
