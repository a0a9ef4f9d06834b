"""Benchmark the local network (issue 9): time from ``ipchain network up`` to every node ready,
and the latency from a submit on one office's node to the event showing on another's.

Brings a fresh network up in a temporary directory (with the founders' demo data, as the
workshop does, unless ``--no-demo``), then files EVENTS applications one after the other on EM's
node and, for each, measures until AU's node serves the record (its API polled every few
milliseconds: the time includes the submitter's batching, a block, the other node's indexer and
its API). Prints the figures; asserts nothing. Run::

    python scripts/bench_network.py               # 100 events
    python scripts/bench_network.py --events 300 --no-demo
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ipchain.network.layout import read_state
from ipchain.node.service import example_events

IPCHAIN = [sys.executable, "-m", "api.cli"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rpc-port", type=int, default=28545)
    parser.add_argument("--base-port", type=int, default=28101)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ipchain-bench-network-")) / "net"
    up = [*IPCHAIN, "network", "up", "--dir", str(root), "--rpc-port", str(args.rpc_port)]
    up += ["--base-port", str(args.base_port), "--demo" if args.demo else "--no-demo"]
    started = time.perf_counter()
    subprocess.run(up, check=True, capture_output=True)
    ready = time.perf_counter() - started
    try:
        state = read_state(root)
        assert state is not None
        em, au = state.node("EM"), state.node("AU")
        created = subprocess.run(
            [*IPCHAIN, "token", "create", "--office", "EM", "--data-dir", em.data_dir],
            check=True,
            capture_output=True,
            text=True,
        )
        headers = {"Authorization": f"Bearer {created.stdout.split()[-1]}"}
        latencies = []
        with httpx.Client(timeout=30) as client:
            for _ in range(args.events):
                filing, _ = example_events("EM")
                filing["record_key"] = filing["record_key"][:-4] + f"{len(latencies):04d}"
                began = time.perf_counter()
                reply = client.post(
                    f"{em.url}/api/v1/offices/EM/events", json=filing, headers=headers
                )
                assert reply.status_code == 202, reply.text
                target = f"{au.url}/api/v1/records/{filing['record_key']}"
                while client.get(target).status_code != 200:
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - began)
    finally:
        subprocess.run([*IPCHAIN, "network", "down", "--dir", str(root)], capture_output=True)
    demo = "with the founders' demo data" if args.demo else "without demo data"
    print(f"network up to all 4 nodes ready ({demo}): {ready:.1f} s")
    print(
        f"submit on EM's node -> record served by AU's node, {len(latencies)} events: "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
