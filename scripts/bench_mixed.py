"""Benchmark reads while writes flow (issue 13): a record's history under 16 concurrent clients
while small submissions arrive open-loop, against ``ipchain serve`` as it runs for users —
the embedded chain in its own process, the writer, and the API's uvicorn workers — on SQLite
(or ``--database-url`` PostgreSQL).

Starts a node with the demo data in a temporary directory, then for ``--seconds``:

* READERS client processes × threads (16 clients by default) ask
  ``GET /api/v1/records/{key}/events`` for random demo records, back to back (closed loop);
* one process submits RATE events per second open-loop, in requests of 1–2 events, and records
  when each was accepted; afterwards each submission's anchoring time is read back.

Prints read requests/s with p50/p99 latency, the submission rate achieved and the accepted →
anchored latency (p50/p99), and the CPU seconds each of the node's processes used per request
and per event. The load generator runs on the same cores as the node. Asserts nothing. Run::

    python scripts/bench_mixed.py                        # 100 events/s, 30 s, SQLite
    python scripts/bench_mixed.py --rate 50 --seconds 60
    python scripts/bench_mixed.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

IPCHAIN = [sys.executable, "-m", "api.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU of a process and of its live children (uvicorn's workers)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parent = int(stat.split(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                total += cpu_seconds(int(entry.name))
    return total


def reader(base: str, keys: list[str], seconds: float, threads: int, out: Any) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        own: list[float] = []
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                key = random.choice(keys)
                began = time.perf_counter()
                reply = client.get(f"{base}/records/{key}/events")
                own.append(time.perf_counter() - began)
                assert reply.status_code == 200, reply.text
        with lock:
            latencies.extend(own)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--readers", type=int, default=4, help="reader processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per reader process")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ipchain-bench-mixed-"))
    port, rpc_port = free_port(), free_port()
    argv = [*IPCHAIN, "serve", "--demo", "--data-dir", str(root / "node"), "--port", str(port)]
    argv += ["--rpc-port", str(rpc_port), "--workers", str(args.workers)]
    environment = dict(os.environ)
    if args.database_url:
        environment["IPCHAIN_DATABASE_URL"] = args.database_url
    log = (root / "serve.log").open("w")
    node = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        while "Try it" not in (root / "serve.log").read_text():
            if node.poll() is not None:
                raise SystemExit((root / "serve.log").read_text())
            time.sleep(0.5)
        tokens = json.loads((root / "node" / "secrets" / "demo-tokens.json").read_text())
        with httpx.Client(timeout=30) as client:
            page = client.get(f"{base}/records?limit=500").json()
            keys = [record["record_key"] for record in page["items"]]
        state = json.loads((root / "node" / "run" / "processes.json").read_text())
        pids = {name: info["pid"] for name, info in state["processes"].items()}
        before = {name: tree_cpu(pid) for name, pid in pids.items()}
        queue: Any = multiprocessing.Queue()
        readers = [
            multiprocessing.Process(
                target=reader, args=(base, keys, args.seconds, args.threads, queue)
            )
            for _ in range(args.readers)
        ]
        for process in readers:
            process.start()
        accepted: list[tuple[str, float, int]] = []
        office = "EM"
        headers = {"Authorization": f"Bearer {tokens[office]}"}
        began = time.monotonic()
        sent = 0
        number = random.randrange(10**8)
        from ipchain.node.service import example_events

        filing, _ = example_events(office)
        with httpx.Client(timeout=30) as client:
            while (now := time.monotonic()) < began + args.seconds:
                due = int((now - began) * args.rate)
                while sent < due:
                    size = 1 if random.random() < 0.5 else 2
                    events = []
                    for _ in range(size):
                        number += 1
                        events.append({**filing, "record_key": f"EM/TM/0{number:08d}"})
                    reply = client.post(
                        f"{base}/offices/{office}/events", json={"events": events}, headers=headers
                    )
                    assert reply.status_code == 202, reply.text
                    accepted.append((reply.json()["id"], time.time(), size))
                    sent += size
                time.sleep(0.002)
        latencies: list[float] = []
        for _ in readers:
            latencies += queue.get()
        for process in readers:
            process.join()
        after = {name: tree_cpu(pid) for name, pid in pids.items()}
        anchored: list[float] = []
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 120
            for submission, _, _ in accepted:
                while True:
                    view = client.get(f"{base}/submissions/{submission}", headers=headers).json()
                    if view["status"] == "anchored" or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                created = datetime.fromisoformat(view["created_at"].replace("Z", "+00:00"))
                finished = datetime.fromisoformat(view["updated_at"].replace("Z", "+00:00"))
                anchored.append((finished - created).total_seconds())
    finally:
        node.terminate()
        node.wait(timeout=120)
    requests = len(latencies)
    events = sum(size for _, _, size in accepted)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"mixed load, {database}, {os.cpu_count()} cores, {args.workers} API workers:")
    print(
        f"  record history: {requests / args.seconds:,.0f} requests/s at "
        f"{args.readers * args.threads} clients, p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  submissions: {events / args.seconds:.0f} events/s in {len(accepted)} requests; "
        f"accepted -> anchored p50 {statistics.median(anchored):.2f} s, "
        f"p99 {percentile(anchored, 0.99):.2f} s"
    )
    for name in pids:
        spent = after[name] - before[name]
        print(
            f"  CPU {name}: {spent:.1f} s ({spent / max(requests, 1) * 1e6:.0f} µs/request, "
            f"{spent / max(events, 1) * 1e6:.0f} µs/event)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
