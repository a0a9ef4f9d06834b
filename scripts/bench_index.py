#!/usr/bin/env python3
"""Index benchmarks: bulk writes, query latency under 64 concurrent clients, indexer catch-up.

1. **Fill**: N synthetic register events (realistic documents, offices and history lengths)
   written through the indexer's own writer (``store_entries``), bypassing the chain, in
   10,000-event transactions — the database half of catch-up.
2. **Queries**: ``RegisterQueries.record_events`` (a record's history) and filtered
   ``search_records``, each from ``--clients`` threads at once, p50/p95/p99 in milliseconds.
3. **Catch-up**: anchor ``--chain-events`` events on an anvil node (250 per transaction), then
   time a fresh :class:`~ipchain.db.indexer.Indexer` reading them all into an empty database.

    python scripts/bench_index.py                       # 100k events, SQLite
    python scripts/bench_index.py --events 1000000      # the DESIGN §7 size
    python scripts/bench_index.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

Not a test: it prints tables of figures for the notes and docs.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.base import make_engine, refresh_statistics, session_factory, upgrade
from ipchain.encoding import (
    ZERO_HASH,
    canonical_bytes,
    entry_hash,
    event_code_bytes8,
    prefer_pysha3_for_libraries,
    record_id,
)
from ipchain.register.indexing import store_entries
from ipchain.register.queries import RecordFilter, RegisterQueries

# Offices by share of records, with their number shapes.
OFFICES = (
    ("EM", 0.40, "018{:06d}"),
    ("AU", 0.20, "2024{:07d}"),
    ("RU", 0.25, "2024{:07d}"),
    ("WO", 0.15, "1{:06d}"),
)
TRADEMARK_LIFE = (
    "A10",
    "D10",
    "Q10",
    "F10",
    "R30",
    "M10",
    "R10",
    "S10",
    "P10",
    "M10",
    "M10",
    "H10",
)
DESIGN_LIFE = ("A10", "F10", "Q11", "M10", "R10", "M10", "M10", "H10")
HISTORY_WEIGHTS = (0.10, 0.10, 0.15, 0.25, 0.15, 0.10, 0.05, 0.04, 0.03, 0.02, 0.01)  # 1..11 events
WORDS = (
    "AURELIA",
    "NORD",
    "ROCKET",
    "ZENITH",
    "PIXEL",
    "TERRA",
    "ROMASHKA",
    "VOLGA",
    "KOALA",
    "ORBIT",
    "LUMEN",
    "SOLAR",
)
_SYLLABLES = tuple(
    consonant + vowel
    for consonant in "BDFGKLMNPRSTVZ"
    for vowel in ("A", "E", "I", "O", "U", "AI", "OU")
)
MARK_WORDS = tuple(
    sorted(
        {
            "".join(random.Random(n).choices(_SYLLABLES, k=random.Random(-n).randint(2, 4)))
            for n in range(25_000)
        }
    )
)
"""A register's vocabulary of invented words (about 20,000): text search is only as selective
as the marks are varied, and a dozen words would make every trigram match a sixth of them."""

EVENTS_PER_BLOCK = 250
WRITE_CHUNK = 10_000
SIGNERS = {
    office: "0x" + hashlib.sha256(office.encode()).hexdigest()[:40] for office, _, _ in OFFICES
}


def canonical(document: dict[str, object]) -> bytes:
    """RFC 8785 bytes of an ASCII document with integers and strings only (what json gives)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class OpenRecord:
    key: str
    ip_type: str
    planned: int
    seq: int = 0
    head: bytes = ZERO_HASH


def document_for(record: OpenRecord, code: str, rng: random.Random, day: str) -> dict[str, object]:
    document: dict[str, object] = {
        "schema": "ipchain/register-event/v1",
        "record_key": record.key,
        "event_code": code,
        "event_date": day,
    }
    if code == "A10" and record.ip_type == "TM":
        classes = sorted(rng.sample(range(1, 46), rng.choice((1, 1, 2, 3))))
        document["record_data"] = {
            "mark_verbal_element_text": " ".join(
                rng.choices(MARK_WORDS, k=rng.choice((1, 2, 2, 3)))
            ),
            "mark_feature_category": "Word",
            "nice_classes": [
                {
                    "class_number": n,
                    "descriptions": [
                        {"language_code": "en", "text": f"Goods and services of class {n}"}
                    ],
                }
                for n in classes
            ],
            "applicants": [
                {"name": f"{rng.choice(WORDS).title()} Holdings Ltd", "country_code": "GB"}
            ],
            "application_date": day,
        }
    elif code == "A10":
        document["record_data"] = {
            "locarno_classes": [f"{rng.randrange(1, 32):02d}-{rng.randrange(1, 10):02d}"],
            "product_indications": [
                {"language_code": "en", "text": f"{rng.choice(WORDS).title()} chair"}
            ],
            "applicants": [{"name": "Design Works Pty Ltd", "country_code": "AU"}],
            "application_date": day,
        }
    elif code == "F10":
        document["record_data"] = {"registration_date": day, "expiry_date": "2034-01-01"}
    else:
        document["national_code"] = f"N{code}"
    return document


def synthetic_entries(count: int, seed: int = 7) -> Iterator[tuple[list[AnchoredEvent], list[str]]]:
    """Chunks of entries in chain order, with the record keys each chunk created. Records'
    histories interleave, so most span several chunks (as on a real chain)."""
    rng = random.Random(seed)
    active: list[OpenRecord] = []
    numbers = {office: 0 for office, _, _ in OFFICES}
    offices = [office for office, _, _ in OFFICES]
    shares = [share for _, share, _ in OFFICES]
    shapes = {office: shape for office, _, shape in OFFICES}
    emitted = 0
    block = 1_000
    chunk: list[AnchoredEvent] = []
    created: list[str] = []
    while emitted < count:
        if len(active) < 5_000 or rng.random() < 0.2:
            office = rng.choices(offices, shares)[0]
            numbers[office] += 1
            ip_type = "TM" if rng.random() < 0.8 else "DS"
            key = f"{office}/{ip_type}/{shapes[office].format(numbers[office])}"
            planned = rng.choices(range(1, len(HISTORY_WEIGHTS) + 1), HISTORY_WEIGHTS)[0]
            active.append(OpenRecord(key, ip_type, planned))
            created.append(key)
            position = len(active) - 1
        else:
            position = rng.randrange(len(active))
        record = active[position]
        life = TRADEMARK_LIFE if record.ip_type == "TM" else DESIGN_LIFE
        code = life[min(record.seq, len(life) - 1)]
        day = f"20{10 + record.seq:02d}-0{1 + emitted % 9}-1{emitted % 10}"
        document = canonical(document_for(record, code, rng, day))
        digest = hashlib.sha256(document).digest()
        office = record.key[:2]
        new_hash = entry_hash(
            record_id(record.key),
            record.seq + 1,
            event_code_bytes8(code),
            digest,
            record.head,
            office,
        )
        block_number = block + emitted // EVENTS_PER_BLOCK
        chunk.append(
            AnchoredEvent(
                record_key=record.key,
                record_id=b"",
                seq=record.seq + 1,
                event_code=code,
                document_hash=digest,
                prev_entry_hash=record.head,
                entry_hash=new_hash,
                office=office,
                signer=SIGNERS[office],
                block_number=block_number,
                block_hash=block_number.to_bytes(32, "big"),
                transaction_hash=hashlib.sha256(b"%d" % block_number).digest(),
                log_index=emitted % EVENTS_PER_BLOCK,
                document=document,
            )
        )
        record.seq += 1
        record.head = new_hash
        if record.seq >= record.planned:  # retire it: swap with the last, O(1)
            active[position] = active[-1]
            active.pop()
        emitted += 1
        if len(chunk) == WRITE_CHUNK:
            yield chunk, created
            chunk, created = [], []
    if chunk:
        yield chunk, created


def fill(url: str, count: int, console: Console) -> tuple[list[str], float, float]:
    """Write ``count`` synthetic events; returns the record keys and the events written per
    second of database work, by the clock and per second of this process's CPU (generating
    the events is not counted). On a shared machine the CPU rate is the steadier figure."""
    first, _ = next(synthetic_entries(3))
    document = json.loads(first[0].document)
    assert canonical(document) == canonical_bytes(document), "the fast encoder must be RFC 8785"
    sessions = session_factory(make_engine(url))
    keys: list[str] = []
    written = 0
    writing = 0.0
    cpu = 0.0
    with console.status("filling…") as status:
        for chunk, created in synthetic_entries(count):
            times = {entry.block_number: 1_700_000_000 + entry.block_number for entry in chunk}
            started, cpu_started = time.perf_counter(), time.process_time()
            gc.disable()  # as the indexer does around each range
            with sessions() as session, session.begin():
                store_entries(session, chunk, times)
            gc.enable()
            writing += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            keys.extend(created)
            written += len(chunk)
            status.update(f"filling… {written:,} events")
    with sessions() as session, session.begin():
        refresh_statistics(session.connection())  # as the indexer does after a catch-up
    return keys, written / writing, written / cpu


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def hammer(
    clients: int, per_client: int, query: Callable[[random.Random], object]
) -> tuple[list[float], float]:
    """Run ``query`` ``per_client`` times in each of ``clients`` threads started together;
    latencies in milliseconds and overall queries per second."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        rng = random.Random(index)
        barrier.wait()
        for _ in range(per_client):
            started = time.perf_counter()
            query(rng)
            latencies[index].append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [value for values in latencies for value in values]
    return flat, len(flat) / elapsed


# Set before worker processes fork, so they inherit it instead of receiving a copy.
_SHARED: dict[str, object] = {}


def _query(
    kind: str, queries: RegisterQueries, keys: list[str]
) -> Callable[[random.Random], object]:
    def history(rng: random.Random) -> object:
        return queries.record_events(keys[rng.randrange(len(keys))])

    def search(rng: random.Random) -> object:
        office = rng.choice(("EM", "AU", "RU", "WO"))
        criteria = rng.choice(
            (
                RecordFilter(office=office, status="registered"),
                RecordFilter(office=office, ip_type="TM", nice_class=rng.randrange(1, 46)),
                RecordFilter(text=rng.choice(WORDS).lower()[:4], office=office),
            )
        )
        return queries.search_records(criteria, limit=20)

    def text_search(rng: random.Random) -> object:
        # What a TMview user types: part of a mark's words ("rocket zen"), over every office.
        words = f"{rng.choice(WORDS)} {rng.choice(WORDS)}".lower()
        return queries.search_records(
            RecordFilter(text=words[: rng.randrange(8, len(words) + 1)]), limit=20
        )

    def word_search(rng: random.Random) -> object:
        return queries.search_records(RecordFilter(text=rng.choice(WORDS).lower()), limit=20)

    return {"history": history, "search": search, "text": text_search, "word": word_search}[kind]


def _run_in_process(arguments: tuple[str, int, int]) -> tuple[list[float], float]:
    """One worker process: ``threads`` clients on its own engine (like one API worker)."""
    kind, threads, per_client = arguments
    url, keys = str(_SHARED["url"]), _SHARED["keys"]
    assert isinstance(keys, list)
    # PostgreSQL connections are server processes shared with everyone else on the machine:
    # threads queue for a few (as API workers would), SQLite gets one per thread.
    pool_size = threads if url.startswith("sqlite") else min(threads, 8)
    queries = RegisterQueries(session_factory(make_engine(url, pool_size=pool_size)))
    samples, rate = hammer(threads, per_client, _query(kind, queries, keys))
    return samples, len(samples) / rate


def query_latencies(
    url: str,
    keys: list[str],
    clients: int,
    processes: int,
    per_client: int,
    table: Table,
    kinds: set[str],
) -> None:
    _SHARED.update(url=url, keys=keys)
    for name, kind, count in (
        ("record history", "history", per_client),
        ("filtered search", "search", max(per_client // 10, 5)),
        ("text search (a word)", "text", max(per_client // 10, 5)),
        ("text search (4 letters)", "word", max(per_client // 10, 5)),
    ):
        if kind not in kinds:
            continue
        layouts = [(1, 1), (1, clients)]
        if processes > 1:
            layouts.append((processes, clients // processes))
        for process_count, threads in layouts:
            runs = count * 4 if threads == 1 else count
            if process_count == 1:
                results = [_run_in_process((kind, threads, runs))]
            else:
                with multiprocessing.get_context("fork").Pool(process_count) as pool:
                    results = pool.map(_run_in_process, [(kind, threads, runs)] * process_count)
            samples = [value for run_samples, _ in results for value in run_samples]
            rate = len(samples) / max(elapsed for _, elapsed in results)
            table.add_row(
                name,
                f"{process_count} × {threads}",
                f"{statistics.median(samples):.2f}",
                f"{percentile(samples, 0.95):.2f}",
                f"{percentile(samples, 0.99):.2f}",
                f"{rate:,.0f}",
            )


def catch_up(events: int, url: str) -> tuple[int, float, float, float]:
    """Anchor ``events`` on anvil, then index them all with a fresh indexer."""
    from ipchain.chain.anvil import AnvilNode
    from ipchain.chain.rpc import RpcChain
    from ipchain.contracts.bindings import FoundingOffice, deploy_consortium
    from ipchain.db.indexer import Indexer
    from ipchain.keys import OfficeKey
    from ipchain.node.setup import fund
    from ipchain.register.indexing import register_handlers
    from ipchain.register.ledger import EventToAnchor, Ledger

    node = AnvilNode.start()
    chain = RpcChain.connect(node.url)
    try:
        deployer, admin, signer = OfficeKey.generate(), OfficeKey.generate(), OfficeKey.generate()
        fund(chain, [deployer.address, admin.address, signer.address])
        deployment = deploy_consortium(
            chain, deployer, [FoundingOffice("EM", "EUIPO", admin.address, (signer.address,))]
        )
        to_anchor = []
        for chunk, _ in synthetic_entries(events * 3, seed=11):
            for entry in chunk:
                if entry.office != "EM":
                    continue
                to_anchor.append(
                    EventToAnchor(
                        entry.record_key, entry.event_code, entry.document_hash, entry.document
                    )
                )
        to_anchor = to_anchor[:events]
        started = time.perf_counter()
        # The records are new: their heads are known to be empty, as a node's index would know.
        heads = {event.record_key: (ZERO_HASH, 0) for event in to_anchor}
        Ledger(chain, deployment).anchor(signer, to_anchor, batch_size=250, known_heads=heads)
        anchoring = len(to_anchor) / (time.perf_counter() - started)
        upgrade(url)
        indexer = Indexer(chain, deployment, session_factory(make_engine(url)), register_handlers())
        started, cpu_started = time.perf_counter(), time.process_time()
        indexed = indexer.run_once()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return indexed, indexed / elapsed, indexed / cpu, anchoring
    finally:
        chain.close()
        node.stop()


def reset(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in (
            "record_nice_classes",
            "record_locarno_classes",
            "events",
            "records",
            "indexer_checkpoints",
        ):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="synthetic events to fill")
    parser.add_argument("--clients", type=int, default=64, help="concurrent query threads")
    parser.add_argument("--queries", type=int, default=200, help="history queries per client")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="also run the clients split over this many processes (like API workers)",
    )
    parser.add_argument(
        "--chain-events", type=int, default=20_000, help="events for catch-up (0: skip)"
    )
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--kinds",
        default="history,search,text,word",
        help="queries to time: history, search (filters), text (words of a mark), word",
    )
    arguments = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as directory:
        url = arguments.database_url or f"sqlite:///{Path(directory) / 'index.db'}"
        upgrade(url)
        reset(url)
        keys, write_rate, write_cpu_rate = fill(url, arguments.events, console)
        console.print(
            f"filled {arguments.events:,} events in {len(keys):,} records: "
            f"{write_rate:,.0f} events/s written ({write_cpu_rate:,.0f} per CPU second)"
        )
        latency = Table(
            title=f"Query latency, {arguments.events:,} events ({make_engine(url).dialect.name})"
        )
        for column in ("query", "processes × threads", "p50 ms", "p95 ms", "p99 ms", "queries/s"):
            latency.add_column(column, justify="right")
        with console.status("querying…"):
            query_latencies(
                url,
                keys,
                arguments.clients,
                arguments.processes,
                arguments.queries,
                latency,
                set(arguments.kinds.split(",")),
            )
        console.print(latency)
        if arguments.chain_events:
            reset(url)
            with console.status("anchoring on anvil, then indexing…"):
                indexed, rate, cpu_rate, anchoring = catch_up(arguments.chain_events, url)
            console.print(
                f"catch-up from anvil: {indexed:,} events indexed at {rate:,.0f} events/s "
                f"({cpu_rate:,.0f} per CPU second of the indexer; anchored at "
                f"{anchoring:,.0f} events/s)"
            )


if __name__ == "__main__":
    prefer_pysha3_for_libraries()  # py-evm's and eth-utils' keccak: see ipchain.encoding
    main()
