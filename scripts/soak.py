"""Fault and load suite (issue 13, item 5): a real ``ipchain serve`` node on loopback, faults
injected while submissions flow in bursts, and proof at the end that every accepted event was
anchored exactly once.

Starts ``ipchain serve --demo`` (embedded chain, SQLite by default; ``--database-url`` for
PostgreSQL, which must point at an empty database) in a temporary directory and runs the
selected scenarios one after the other, each while a load generator posts bursts of
submissions (1–3 new records each, every request with its own ``Idempotency-Key``):

``kill``
    ``kill -9`` of the chain, the writer, one uvicorn API worker and the API's uvicorn master
    (``--kill-targets``), ``--kills-per-process`` times each, at a random moment of a burst.
    The supervisor (or uvicorn, for a worker) must restart the process, and the node must then
    report ``ok`` and anchor a probe submission. After every scenario, a node process whose
    parent is gone (an orphan: nothing supervises it, yet it may hold the API's port) fails it.
``disk``
    (root only: it mounts tmpfs) The data directory lives on one small tmpfs and the chain on
    another. The chain's disk is filled while submissions flow (disk full during anchoring),
    held, freed; then the data directory's disk (SQLite index, outbox, the processes' logs and
    state files: disk full during indexing). The node must say so (``/health`` unavailable,
    ``503`` + ``Retry-After`` on submit) and recover by itself once space returns.
``pg``
    (only with ``--database-url``) ``pg_ctlcluster 15 main restart`` mid-run.
``unreachable``
    The chain process is stopped (SIGSTOP) for ``--unreachable-seconds``, then continued.
``soak``
    ``--soak-minutes`` of mixed reads and writes; RSS of every node process every
    ``--rss-interval`` seconds, and its growth after a warm-up (the first minute, or the first
    quarter of a soak shorter than four minutes); more than ``--max-rss-growth-mb``, or a
    process replaced during the soak (a crash), fails it.

A ``503`` with ``Retry-After`` is a refusal ("not accepted, retry later"), never an error: the
generator retries the same request after ``Retry-After``. A request that got no answer (a
killed worker, a timeout) is in doubt: it is retried with the same ``Idempotency-Key`` until the
node says whether it had taken it (``200``: it had; ``202``: it takes it now). Errors are any
other ``5xx`` (or ``4xx``), connection errors outside a fault window (from the fault until the
node has recovered), reads failing during the soak, and lost or duplicated events.

At the end the backlog drains and every accepted event is checked three ways: each submission
is ``anchored`` (and indexed) through the API; ``ipchain audit`` finds no discrepancy; the
chain's ``EventRecorded`` entries are the demo data's plus exactly one per accepted event (none
for a refused one). A table gives one row per scenario; the exit code is 1 when any check
failed. Everything is bounded (bursts of ``--burst-requests`` every ``--burst-interval``
seconds, every wait has a deadline) and talks to 127.0.0.1 only. Run::

    python scripts/soak.py --short                          # CI profile, about 3 minutes
    python scripts/soak.py                                  # long profile (30 min soak)
    python scripts/soak.py --scenarios kill,soak --soak-minutes 10
    python scripts/soak.py --short --scenarios kill,pg,unreachable,soak \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

IPCHAIN = [sys.executable, "-m", "api.cli"]
SCENARIOS = ("kill", "disk", "pg", "unreachable", "soak")
KILL_TARGETS = ("chain", "writer", "api-worker", "api")

PROFILES: dict[str, dict[str, Any]] = {
    "long": {
        "kills_per_process": 3,
        "unreachable_seconds": 30.0,
        "soak_minutes": 30.0,
        "disk_hold_seconds": 20.0,
        "disk_mb": 512,
        "pg_restarts": 2,
        "burst_requests": 10,
        "burst_interval": 2.0,
        "recovery_timeout": 180.0,
        "rss_interval": 60.0,
        "pause": (1.0, 2.5),
    },
    "short": {
        "kills_per_process": 1,
        "unreachable_seconds": 5.0,
        "soak_minutes": 0.5,
        "disk_hold_seconds": 3.0,
        "disk_mb": 128,
        "pg_restarts": 1,
        "burst_requests": 6,
        "burst_interval": 1.0,
        "recovery_timeout": 30.0,
        "rss_interval": 10.0,
        "pause": (0.3, 1.0),
    },
}

HTTP_TIMEOUT = 30.0
"""Seconds a request may take: a submit during a fault may wait for a busy database."""

WINDOW_GRACE = 2.0
"""A request ending this long after a fault window closed still belongs to it (its connection
was set up against the dead process)."""

# Wide enough for the results table when the output goes to a file or a pipe (CI logs).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class ScenarioFailure(Exception):
    """A check of a scenario failed (the node did not recover, health lied ...)."""


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command (state is [0], parent [1])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Node:
    """A running ``ipchain serve`` and where it is."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    base: str
    rpc_url: str
    env: dict[str, str]
    workers: int
    tokens: dict[str, str] = field(default_factory=dict)
    demo_events: int = 0
    """What ``--demo`` said it loaded."""
    before: Counter[str] = field(default_factory=Counter)
    """EventRecorded entries by record key when the node was up, before any load: the demo
    data's."""

    def processes(self) -> dict[str, int]:
        """The supervisor's children by name (chain, writer, api) from run/processes.json."""
        try:
            state = json.loads((self.data_dir / "run" / "processes.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return {name: int(info["pid"]) for name, info in state["processes"].items()}

    def api_workers(self) -> list[int]:
        """uvicorn's worker processes under the current API master (not its resource tracker)."""
        master = self.processes().get("api")
        if master is None:
            return []
        return [pid for pid in children(master) if "spawn_main" in cmdline(pid)]

    def orphans(self) -> list[int]:
        """Processes of the node's process group whose parent is no longer a node process
        (reparented to init): nothing supervises them, yet they may hold the node's ports."""
        group = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields and fields[2] == str(self.process.pid) and fields[0] not in "ZX":
                    group[int(entry.name)] = int(fields[1])
        return sorted(
            pid for pid, parent in group.items() if pid != self.process.pid and parent not in group
        )

    def pids(self) -> dict[str, int]:
        """Every node process by role, for RSS and crash detection."""
        found = {"supervisor": self.process.pid, **self.processes()}
        for number, pid in enumerate(self.api_workers(), 1):
            found[f"api-worker-{number}"] = pid
        for pid in self.orphans():
            found[f"orphan {pid}"] = pid
        return found

    def log_lines(self, needle: str) -> list[str]:
        text = self.log.read_text("utf-8", "replace")
        return [line for line in text.splitlines() if needle in line]


def start_node(args: argparse.Namespace, data_dir: Path, log: Path) -> Node:
    port, rpc_port = free_port(), free_port()
    # Only this run's settings: an IPCHAIN_DATABASE_URL (or data directory) left in the
    # caller's environment must not point the node at another database.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IPCHAIN_")}
    environment |= {"IPCHAIN_KEYSTORE_FAST_KDF": "1", "COLUMNS": "200"}
    if args.database_url:
        environment["IPCHAIN_DATABASE_URL"] = args.database_url
    argv = [*IPCHAIN, "serve", "--demo", "--data-dir", str(data_dir), "--port", str(port)]
    argv += ["--rpc-port", str(rpc_port), "--workers", str(args.workers)]
    with log.open("w") as sink:
        # A session of its own: API workers orphaned by a killed uvicorn master keep the
        # process group, so the clean-up can still find and stop them.
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
    node = Node(
        process,
        data_dir,
        log,
        f"http://127.0.0.1:{port}/api/v1",
        f"http://127.0.0.1:{rpc_port}",
        environment,
        args.workers,
    )
    deadline = time.monotonic() + 300
    while "Try it" not in log.read_text("utf-8", "replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the node did not start:\n" + log.read_text("utf-8", "replace"))
        time.sleep(0.3)
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
    node.tokens = {office: str(token) for office, token in tokens.items()}
    loaded = re.search(r"demo data loaded: (\d+) events", log.read_text("utf-8", "replace"))
    node.demo_events = int(loaded.group(1)) if loaded else 0
    return node


def stop_node(node: Node) -> None:
    """SIGTERM and a wait, as an operator would; then SIGKILL whatever is left in the node's
    process group (orphans of a killed process)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.process.pid, signal.SIGCONT)  # a chain left stopped cannot exit
    if node.process.poll() is None:
        node.process.terminate()
        try:
            node.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(node.process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- disks


@dataclass
class SmallDisk:
    """A tmpfs of its own that can be filled to the last byte and freed again."""

    path: Path

    @property
    def filler(self) -> Path:
        return self.path / ".soak-filler"

    def fill(self) -> None:
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = 1 << 20
            while size:
                try:
                    os.write(descriptor, b"\0" * size)
                except OSError:
                    size //= 2
        finally:
            os.close(descriptor)

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()


def mount_tmpfs(target: Path, size_mb: int) -> SmallDisk:
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(target)],
        check=True,
        capture_output=True,
    )
    return SmallDisk(target)


def unmount(disk: SmallDisk) -> None:
    disk.free()
    subprocess.run(["umount", "-l", str(disk.path)], check=False, capture_output=True)


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class Attempt:
    """One submission request with its own Idempotency-Key, sent until the node answers."""

    key: str
    office: str
    record_keys: list[str]
    body: bytes
    scenario: str
    state: str = "new"  # new, accepted, refused, doubt, rejected, dropped
    submission: str | None = None
    not_before: float = 0.0
    in_flight: bool = False
    verified: bool = False


@dataclass
class Stats:
    """What one scenario's requests got."""

    requests: int = 0
    accepted_events: int = 0
    refused: int = 0
    replayed: int = 0
    errors: list[str] = field(default_factory=list)
    transport: list[tuple[float, float, str]] = field(default_factory=list)
    reads: int = 0


@dataclass
class Window:
    start: float
    end: float | None = None


class Ledger:
    """Every attempt and outcome, by scenario (thread-safe: the load's threads write here)."""

    def __init__(self, run_id: str, offices: list[str]) -> None:
        self.run_id = run_id
        self.offices = offices
        self.attempts: list[Attempt] = []
        self.stats: dict[str, Stats] = {}
        self.windows: list[Window] = []
        self.scenario = "start"
        self._lock = threading.Lock()
        self._number = 0
        self._filings: dict[str, dict[str, Any]] = {}

    def begin(self, scenario: str) -> Stats:
        with self._lock:
            self.scenario = scenario
            return self.stats.setdefault(scenario, Stats())

    @property
    def current(self) -> Stats:
        return self.stats.setdefault(self.scenario, Stats())

    def new_attempt(self, office: str, events: int) -> Attempt:
        from ipchain.node.service import example_events

        with self._lock:
            if office not in self._filings:
                self._filings[office] = example_events(office)[0]
            keys = []
            for _ in range(events):
                self._number += 1
                keys.append(f"{office}/TM/SK{self.run_id}{self._number:06d}")
            documents = [{**self._filings[office], "record_key": key} for key in keys]
            attempt = Attempt(
                uuid.uuid4().hex,
                office,
                keys,
                json.dumps({"events": documents}).encode(),
                self.scenario,
            )
            self.attempts.append(attempt)
            return attempt

    def due(self, now: float, limit: int) -> list[Attempt]:
        """Refused and in-doubt attempts whose Retry-After has passed, oldest first."""
        with self._lock:
            found = [
                a
                for a in self.attempts
                if a.state in ("refused", "doubt") and not a.in_flight and a.not_before <= now
            ][:limit]
            for attempt in found:
                attempt.in_flight = True
            return found

    def open_window(self) -> Window:
        window = Window(time.monotonic())
        with self._lock:
            self.windows.append(window)
        return window

    def in_window(self, began: float, ended: float) -> bool:
        for window in self.windows:
            end = window.end if window.end is not None else float("inf")
            if began <= end + WINDOW_GRACE and ended >= window.start:
                return True
        return False

    def outcome(
        self, attempt: Attempt, reply: httpx.Response | None, began: float, why: str
    ) -> str:
        """Record what one request got; returns the attempt's new state."""
        ended = time.monotonic()
        with self._lock:
            stats = self.current
            stats.requests += 1
            attempt.in_flight = False
            if reply is None:
                stats.transport.append((began, ended, why))
                attempt.state, attempt.not_before = "doubt", ended + 1.0
            elif reply.status_code in (200, 202):
                submission = str(reply.json()["id"])
                if attempt.state != "accepted":
                    stats.accepted_events += len(attempt.record_keys)
                    stats.replayed += reply.status_code == 200
                attempt.state, attempt.submission = "accepted", submission
            elif reply.status_code == 503 and reply.headers.get("Retry-After", "").isdigit():
                stats.refused += 1
                wait = min(float(reply.headers["Retry-After"]), 5.0)
                attempt.state, attempt.not_before = "refused", ended + wait
            else:
                stats.errors.append(f"POST events: {reply.status_code} {reply.text[:160]}")
                # A 5xx may have stored the events: find out with the same key. A 4xx cannot
                # have, and retrying it would only repeat the error.
                attempt.state = "doubt" if reply.status_code >= 500 else "rejected"
                attempt.not_before = ended + 1.0
            return attempt.state

    def read_result(self, ok: bool, what: str) -> None:
        with self._lock:
            stats = self.current
            stats.reads += 1
            if not ok:
                stats.errors.append(f"read {what} failed")


def post(client: httpx.Client, node: Node, ledger: Ledger, attempt: Attempt) -> str:
    """Send one attempt; a refusal after a lost answer keeps it in doubt (the node checks
    whether anchoring runs before it looks the Idempotency-Key up)."""
    was_in_doubt = attempt.state == "doubt"
    began = time.monotonic()
    headers = {
        "Authorization": f"Bearer {node.tokens[attempt.office]}",
        "Idempotency-Key": attempt.key,
        "Content-Type": "application/json",
    }
    try:
        reply = client.post(
            f"{node.base}/offices/{attempt.office}/events", content=attempt.body, headers=headers
        )
    except httpx.TransportError as error:
        return ledger.outcome(attempt, None, began, f"POST events: {type(error).__name__}")
    state = ledger.outcome(attempt, reply, began, "")
    if state == "refused" and was_in_doubt:
        attempt.state = "doubt"
    return state


def http_client(connections: int = 8) -> httpx.Client:
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them, so a request
    # never races the server closing its connection (a false connection error).
    limits = httpx.Limits(max_connections=connections, keepalive_expiry=2.0)
    return httpx.Client(timeout=HTTP_TIMEOUT, limits=limits)


# --------------------------------------------------------------------------- load


class Load:
    """Bursts of submissions: every ``interval`` seconds, ``requests`` requests at once (retries
    that are due first, then new ones of 1–3 events for a random office)."""

    def __init__(
        self, node: Node, ledger: Ledger, rng: random.Random, requests: int, interval: float
    ) -> None:
        self.node, self.ledger, self.rng = node, ledger, rng
        self.requests, self.interval = requests, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._burst = threading.Condition()
        self._bursts = 0

    def __enter__(self) -> Load:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HTTP_TIMEOUT * 3)

    def wait_burst(self) -> None:
        """Return as a new burst starts (a fault then hits requests in flight)."""
        with self._burst:
            seen = self._bursts
            self._burst.wait_for(lambda: self._bursts > seen, timeout=self.interval * 4)

    def _run(self) -> None:
        with http_client(self.requests) as client, ThreadPoolExecutor(self.requests) as pool:
            while not self._stop.is_set():
                began = time.monotonic()
                batch = self.ledger.due(began, self.requests)
                while len(batch) < self.requests:
                    office = self.rng.choice(self.ledger.offices)
                    batch.append(self.ledger.new_attempt(office, self.rng.randint(1, 3)))
                    batch[-1].in_flight = True
                with self._burst:
                    self._bursts += 1
                    self._burst.notify_all()
                for future in [pool.submit(post, client, self.node, self.ledger, a) for a in batch]:
                    future.result()
                self._stop.wait(max(0.0, began + self.interval - time.monotonic()))


class Readers:
    """Closed-loop readers for the soak: record histories, record pages, submissions, health."""

    def __init__(self, node: Node, ledger: Ledger, count: int, seed: int) -> None:
        self.node, self.ledger, self.count, self.seed = node, ledger, count, seed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        with http_client() as client:
            page = client.get(f"{node.base}/records", params={"limit": 500}).json()
        self.keys = [str(item["record_key"]) for item in page["items"]]

    def __enter__(self) -> Readers:
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.count)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=HTTP_TIMEOUT * 2)

    def _run(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        with http_client(2) as client:
            while not self._stop.is_set():
                choice = rng.random()
                headers: dict[str, str] = {}
                if choice < 0.6:
                    what = f"/records/{rng.choice(self.keys)}/events"
                elif choice < 0.75:
                    what = f"/records?limit=20&offset={rng.randrange(0, 400)}"
                elif choice < 0.95:
                    accepted = [a for a in self.ledger.attempts[-500:] if a.submission]
                    if not accepted:
                        continue
                    attempt = rng.choice(accepted)
                    what = f"/submissions/{attempt.submission}"
                    headers = {"Authorization": f"Bearer {self.node.tokens[attempt.office]}"}
                else:
                    what = "/health"
                try:
                    ok = client.get(self.node.base + what, headers=headers).status_code == 200
                except httpx.TransportError:
                    ok = False
                self.ledger.read_result(ok, what)


# --------------------------------------------------------------------------- node checks


def health(client: httpx.Client, node: Node, timeout: float = 5.0) -> dict[str, Any] | None:
    """The health members (also from a 503 node-unavailable problem), None when no answer."""
    try:
        reply = client.get(f"{node.base}/health", timeout=timeout)
        body = reply.json()
    except (httpx.TransportError, ValueError):
        return None
    if reply.status_code == 503 and isinstance(body.get("health"), dict):
        return dict(body["health"])
    return dict(body) if reply.status_code == 200 else None


def is_healthy(state: dict[str, Any] | None, baseline: str) -> bool:
    return (
        state is not None
        and state.get("status") == baseline
        and state.get("anchoring") == "running"
        and state.get("indexing") == "running"
    )


def submission_view(client: httpx.Client, node: Node, attempt: Attempt) -> dict[str, Any] | None:
    try:
        reply = client.get(
            f"{node.base}/submissions/{attempt.submission}",
            headers={"Authorization": f"Bearer {node.tokens[attempt.office]}"},
        )
    except httpx.TransportError:
        return None
    return dict(reply.json()) if reply.status_code == 200 else None


def check_anchored(view: dict[str, Any], attempt: Attempt) -> str | None:
    """Why an anchored submission is wrong, or None."""
    entries = view["entries"]
    if [entry["record_key"] for entry in entries] != attempt.record_keys:
        return f"submission {attempt.submission}: entries {entries} are not {attempt.record_keys}"
    for entry in entries:
        if entry["state"] != "anchored" or entry["seq"] != 1 or entry["block_number"] is None:
            return f"submission {attempt.submission}: entry {entry} is not anchored once (seq 1)"
    return None


def wait_anchored(node: Node, attempts: list[Attempt], timeout: float) -> list[str]:
    """Poll each accepted submission until it is anchored and indexed; the problems found."""
    problems: list[str] = []
    waiting = [a for a in attempts if a.state == "accepted" and not a.verified]
    deadline = time.monotonic() + timeout
    with http_client(8) as client, ThreadPoolExecutor(8) as pool:
        while waiting and time.monotonic() < deadline:
            views = list(pool.map(lambda a: submission_view(client, node, a), waiting))
            still = []
            for attempt, view in zip(waiting, views, strict=True):
                if view is None or view["status"] == "pending" or not view["indexed"]:
                    still.append(attempt)
                elif view["status"] == "failed":
                    problems.append(f"submission {attempt.submission} failed: {view['error']}")
                else:
                    wrong = check_anchored(view, attempt)
                    if wrong:
                        problems.append(wrong)
                    attempt.verified = True
            waiting = still
            if waiting:
                time.sleep(0.5)
    problems += [f"submission {a.submission} not anchored in {timeout:.0f} s" for a in waiting]
    return problems


def settle(node: Node, ledger: Ledger, timeout: float) -> list[str]:
    """After the load stops: learn the fate of every request in doubt (same Idempotency-Key
    until 200/202) and drop refused ones (never accepted: they must not be on the chain)."""
    deadline = time.monotonic() + timeout
    with http_client(4) as client:
        for attempt in ledger.attempts:
            if attempt.state == "refused":
                attempt.state = "dropped"
            while attempt.state == "doubt" and time.monotonic() < deadline:
                if post(client, node, ledger, attempt) != "accepted":
                    time.sleep(max(0.2, attempt.not_before - time.monotonic()))
    return [
        f"request {a.key} still in doubt after {timeout:.0f} s"
        for a in ledger.attempts
        if a.state == "doubt"
    ]


def recover(
    node: Node,
    ledger: Ledger,
    baseline: str,
    since: float,
    timeout: float,
    restarted: Callable[[], bool] = lambda: True,
) -> float:
    """Seconds from ``since`` until the node is back: the process restarted, health as before
    the fault (anchoring and indexing running) and a probe submission anchored and indexed."""
    deadline = since + timeout
    with http_client(2) as client:
        while not restarted():
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"no restart within {timeout:.0f} s")
            time.sleep(0.2)
        while not is_healthy(state := health(client, node), baseline):
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"health not back to {baseline} in {timeout:.0f} s: {state}")
            time.sleep(0.2)
        probe = ledger.new_attempt(ledger.offices[0], 1)
        while post(client, node, ledger, probe) != "accepted":
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"a probe submission not accepted in {timeout:.0f} s")
            time.sleep(0.3)
        problems = wait_anchored(node, [probe], max(1.0, deadline - time.monotonic()))
        if problems:
            raise ScenarioFailure(f"probe: {problems[0]}")
    return time.monotonic() - since


@dataclass
class Row:
    """One scenario's line of the table."""

    name: str
    faults: int = 0
    recoveries: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    accepted: int = 0
    refused: int = 0
    errors: int = 0


@dataclass
class Context:
    args: argparse.Namespace
    node: Node
    ledger: Ledger
    rng: random.Random
    baseline: str
    disks: dict[str, SmallDisk]
    orphans: set[int] = field(default_factory=set)
    """Orphaned node processes already reported (each fails one scenario, the first)."""

    def load(self) -> Load:
        return Load(
            self.node, self.ledger, self.rng, self.args.burst_requests, self.args.burst_interval
        )

    def recover(self, since: float, restarted: Callable[[], bool] = lambda: True) -> float:
        return recover(
            self.node, self.ledger, self.baseline, since, self.args.recovery_timeout, restarted
        )


@contextlib.contextmanager
def fault(row: Row, ctx: Context, what: str) -> Iterator[list[float]]:
    """One fault: the body injects it, lifts it and appends the seconds the node took to
    recover; connection errors are tolerated from the injection until the recovery."""
    window = ctx.ledger.open_window()
    row.faults += 1
    took: list[float] = []
    try:
        yield took
        row.recoveries += took
        console.print(f"  {what}: recovered in {max(took, default=0.0):.1f} s")
    except ScenarioFailure as failure:
        row.failures.append(f"{what}: {failure}")
        console.print(f"  [red]{what}: {failure}[/]")
    finally:
        window.end = time.monotonic()


def at_random_in_burst(ctx: Context, load: Load) -> None:
    """Let the load run normally for a moment, then return at a random point of a burst."""
    time.sleep(ctx.rng.uniform(*ctx.args.pause))
    load.wait_burst()
    time.sleep(ctx.rng.uniform(0.0, 0.3))


# --------------------------------------------------------------------------- scenarios


def restarted_check(node: Node, target: str, pid: int) -> Callable[[], bool]:
    """Whether the killed process has a live successor (with all its workers, for the API)."""

    def check() -> bool:
        if target == "api-worker":
            workers = node.api_workers()
            return pid not in workers and len(workers) >= node.workers
        now = node.processes().get(target)
        if now is None or now == pid or not alive(now):
            return False
        return target != "api" or len(node.api_workers()) >= node.workers

    return check


def scenario_kill(ctx: Context, row: Row) -> None:
    node = ctx.node
    targets = [t for _ in range(ctx.args.kills_per_process) for t in ctx.args.kill_targets]
    with ctx.load() as load:
        for target in targets:
            at_random_in_burst(ctx, load)
            if target == "api-worker":
                workers = node.api_workers()
                pid = ctx.rng.choice(workers) if workers else None
            else:
                pid = node.processes().get(target)
            if pid is None or not alive(pid):
                row.failures.append(f"kill {target}: no live {target} process to kill")
                continue
            with fault(row, ctx, f"kill -9 {target}") as took:
                os.kill(pid, signal.SIGKILL)
                since = time.monotonic()
                console.print(f"  kill -9 {target} (pid {pid})")
                try:
                    took.append(ctx.recover(since, restarted_check(node, target, pid)))
                except ScenarioFailure as failure:
                    said = node.log_lines(target.split("-")[0])[-1:]
                    raise ScenarioFailure(f"{failure}; supervisor said: {said}") from None


def watch_health(node: Node, seconds: float, until_unavailable: float) -> tuple[list[str], str]:
    """What health said over ``seconds`` (longer, up to ``until_unavailable``, while it has not
    said unavailable yet): the statuses in order ("no answer" when a request timed out), and
    them with the slowest answer as text ("ok → unavailable (slowest answer 0.1 s)")."""
    seen: list[str] = []
    slowest = 0.0
    began = time.monotonic()
    with http_client(2) as client:
        while True:
            elapsed = time.monotonic() - began
            if elapsed >= until_unavailable or (elapsed >= seconds and "unavailable" in seen):
                break
            asked = time.monotonic()
            # An answer may take as long as the fault lasts (a health check waiting for a
            # chain that does not answer), or a little longer: wait for it rather than call it
            # "no answer".
            wait = max(until_unavailable - elapsed, 1.0) + min(5.0, until_unavailable / 5)
            state = health(client, node, timeout=wait)
            slowest = max(slowest, time.monotonic() - asked)
            status = "no answer" if state is None else str(state["status"])
            if not seen or seen[-1] != status:
                seen.append(status)
            time.sleep(0.3)
    return seen, f"{' → '.join(seen)} (slowest answer {slowest:.1f} s)"


def scenario_disk(ctx: Context, row: Row) -> None:
    hold = ctx.args.disk_hold_seconds
    with ctx.load() as load:
        for phase, disk in (("anchoring", ctx.disks["chain"]), ("indexing", ctx.disks["data"])):
            at_random_in_burst(ctx, load)
            refused_before = ctx.ledger.current.refused
            with fault(row, ctx, f"disk full during {phase}") as took:
                disk.fill()
                console.print(f"  disk full during {phase} ({disk.path.name} tmpfs filled)")
                # Anchoring cannot move on a full chain disk: health must say so. Indexing may
                # go on for a while in pages SQLite already has, so only a note there.
                limit = hold + 60 if phase == "anchoring" else hold
                try:
                    seen, said = watch_health(ctx.node, hold, limit)
                finally:
                    disk.free()
                since = time.monotonic()
                refused = ctx.ledger.current.refused - refused_before
                row.notes.append(f"{phase}: health {said}, {refused} refused")
                if phase == "anchoring" and "unavailable" not in seen:
                    raise ScenarioFailure(
                        f"health never said unavailable in {limit:.0f} s with the chain's disk "
                        f"full (seen: {seen})"
                    )
                took.append(ctx.recover(since))


def scenario_pg(ctx: Context, row: Row) -> None:
    with ctx.load() as load:
        for number in range(ctx.args.pg_restarts):
            at_random_in_burst(ctx, load)
            with fault(row, ctx, "PostgreSQL restart") as took:
                asked = time.monotonic()
                result = subprocess.run(
                    ["pg_ctlcluster", *ctx.args.pg_cluster.split(), "restart"],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if result.returncode != 0:
                    raise ScenarioFailure(f"pg_ctlcluster failed: {result.stderr.strip()}")
                row.notes.append(f"restart {number + 1}: {time.monotonic() - asked:.1f} s down")
                console.print(f"  PostgreSQL restarted ({number + 1})")
                took.append(ctx.recover(time.monotonic()))


def scenario_unreachable(ctx: Context, row: Row) -> None:
    seconds = ctx.args.unreachable_seconds
    with ctx.load() as load:
        at_random_in_burst(ctx, load)
        pid = ctx.node.processes()["chain"]
        with fault(row, ctx, f"chain unreachable {seconds:.0f} s") as took:
            os.kill(pid, signal.SIGSTOP)
            console.print(f"  chain (pid {pid}) stopped for {seconds:.0f} s")
            try:
                _, said = watch_health(ctx.node, seconds, seconds)
            finally:
                os.kill(pid, signal.SIGCONT)
            row.notes.append(f"chain stopped {seconds:.0f} s: health {said}")
            took.append(ctx.recover(time.monotonic()))


def scenario_soak(ctx: Context, row: Row) -> None:
    seconds = ctx.args.soak_minutes * 60
    warm_up = 60.0 if seconds >= 240 else seconds / 4
    interval = min(ctx.args.rss_interval, seconds)
    samples: list[tuple[float, dict[str, float]]] = []
    pids_before = ctx.node.pids()

    def sample(elapsed: float) -> None:
        sizes = {name: rss_mb(pid) for name, pid in ctx.node.pids().items()}
        known = {name: size for name, size in sizes.items() if size is not None}
        samples.append((elapsed, known))
        line = ", ".join(f"{name} {size:.0f}" for name, size in known.items())
        console.print(f"  RSS MiB at {elapsed:4.0f} s: {line}")

    moments = sorted(
        {0.0, warm_up, seconds, *(n * interval for n in range(int(seconds // interval)))}
    )
    began = time.monotonic()
    with ctx.load(), Readers(ctx.node, ctx.ledger, ctx.args.readers, ctx.args.seed):
        for moment in moments:
            time.sleep(max(0.0, began + moment - time.monotonic()))
            sample(time.monotonic() - began)
    pids_after = ctx.node.pids()
    for name, pid in pids_before.items():
        if pids_after.get(name) != pid:
            row.failures.append(
                f"{name} (pid {pid}) was replaced during the soak (a crash, or a restart that "
                "failed)"
            )
    stats = ctx.ledger.current
    row.notes.append(f"{stats.reads / seconds:.0f} reads/s, {stats.requests / seconds:.1f} posts/s")
    warm = next(values for at, values in samples if at >= warm_up)
    end = samples[-1][1]
    table = Table(title=f"RSS (MiB), growth after the {warm_up:.0f} s warm-up")
    for column in ("process", "after warm-up", "end", "peak", "growth"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name in end:
        if name not in warm:
            continue
        peak = max(values.get(name, 0.0) for _, values in samples)
        growth = end[name] - warm[name]
        table.add_row(
            name, f"{warm[name]:.0f}", f"{end[name]:.0f}", f"{peak:.0f}", f"{growth:+.0f}"
        )
        if growth > ctx.args.max_rss_growth_mb:
            row.failures.append(
                f"{name}: RSS grew {growth:.0f} MiB after the warm-up "
                f"(limit {ctx.args.max_rss_growth_mb:.0f})"
            )
    console.print(table)


# --------------------------------------------------------------------------- end checks


def chain_entries(node: Node) -> Counter[str]:
    """Record key → number of EventRecorded entries on the chain."""
    from ipchain.chain.rpc import RpcChain
    from ipchain.contracts.register_ledger import EVENT_RECORDED_TOPIC, decode_event_recorded

    deployment = json.loads((node.data_dir / "deployment.json").read_text("utf-8"))
    ledger_address = deployment["contracts"]["RegisterLedger"]
    chain = RpcChain.connect(node.rpc_url, timeout=120)
    try:
        head = chain.block_number()
        counts: Counter[str] = Counter()
        start = int(deployment["block_number"])
        while start <= head:
            end = min(start + 499, head)
            for log in chain.get_logs(
                address=ledger_address,
                from_block=start,
                to_block=end,
                topics=[EVENT_RECORDED_TOPIC],
            ):
                counts[decode_event_recorded(log).record_key] += 1
            start = end + 1
        return counts
    finally:
        chain.close()


def audit(node: Node) -> tuple[bool, str, dict[str, Any]]:
    result = subprocess.run(
        [*IPCHAIN, "audit", "--data-dir", str(node.data_dir), "--rpc", node.rpc_url, "--json"],
        capture_output=True,
        text=True,
        env=node.env,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return False, f"audit exit {result.returncode}: {result.stderr.strip()[-300:]}", {}
    ok = result.returncode == 0 and bool(report.get("ok"))
    why = f"audit exit {result.returncode}, {report.get('discrepancy_total')} discrepancies"
    if report.get("problems"):
        why += f", problems {report['problems']}"
    return ok, why, report


def end_checks(ctx: Context, row: Row) -> None:
    """Drain, then: every accepted submission anchored (API), the audit, the chain's entries."""
    node, ledger = ctx.node, ctx.ledger
    row.failures += settle(node, ledger, ctx.args.recovery_timeout)
    # Again for every submission, not only those not seen anchored yet: a later fault (a chain
    # killed before its last blocks reached the disk) could have undone an anchoring.
    for attempt in ledger.attempts:
        attempt.verified = False
    row.failures += wait_anchored(node, ledger.attempts, ctx.args.recovery_timeout)
    with http_client(2) as client:
        deadline = time.monotonic() + ctx.args.recovery_timeout
        while True:
            state = health(client, node)
            if state and state["outbox_backlog"] == 0 and state["index_lag_blocks"] == 0:
                break
            if time.monotonic() > deadline:
                row.failures.append(f"backlog not drained: {state}")
                break
            time.sleep(0.5)
    accepted = [a for a in ledger.attempts if a.state == "accepted"]
    submissions = Counter(a.submission for a in accepted)
    for submission, count in submissions.items():
        if count > 1:
            row.failures.append(f"submission {submission} answered {count} different requests")
    accepted_keys = {key for a in accepted for key in a.record_keys}
    other_keys = {key for a in ledger.attempts if a.state != "accepted" for key in a.record_keys}
    entries = chain_entries(node)
    ours = f"/TM/SK{ledger.run_id}"
    lost = sorted(k for k in accepted_keys if entries[k] == 0)
    duplicated = sorted(k for k in accepted_keys if entries[k] > 1)
    unasked = sorted(k for k in entries if ours in k and k not in accepted_keys)
    refused_on_chain = sorted(k for k in unasked if k in other_keys)
    demo = sum(count for key, count in entries.items() if ours not in key)
    total = sum(entries.values())
    row.accepted = len(accepted_keys)
    row.errors = len(lost) + len(duplicated) + len(unasked)
    for label, keys in (
        ("lost (accepted, not on the chain)", lost),
        ("duplicated on the chain", duplicated),
        ("on the chain though never accepted", unasked),
    ):
        if keys:
            row.failures.append(f"{len(keys)} events {label}: {keys[:5]}")
    if refused_on_chain:
        row.notes.append(f"{len(refused_on_chain)} of them were refused (503) or rejected")
    changed = sorted(
        key
        for key in set(node.before) | {k for k in entries if ours not in k}
        if entries[key] != node.before[key]
    )
    if changed:
        row.failures.append(f"{len(changed)} demo records' entries changed: {changed[:5]}")
        row.errors += len(changed)
    row.notes.append(
        f"chain: {total} EventRecorded = {demo} demo + {total - demo} ({len(accepted_keys)} "
        "accepted)"
    )
    ok, why, report = audit(node)
    totals = report.get("totals", {})
    row.notes.append(
        f"{why}; audited {totals.get('anchored_events')} anchored / "
        f"{totals.get('stored_events')} stored"
    )
    if not ok:
        row.failures.append(why)
        row.errors += int(report.get("discrepancy_total") or 1)
    elif totals.get("anchored_events") != total or totals.get("stored_events") != total:
        row.failures.append(f"audit counted {totals}, the chain has {total} entries")
        row.errors += 1


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def profiled(name: str, what: str) -> str:
        long, short = PROFILES["long"][name], PROFILES["short"][name]
        return f"{what} (default {long}; {short} with --short)"

    parser.add_argument("--short", action="store_true", help="the CI profile (≤ 3 minutes)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS)
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (an empty database)")
    parser.add_argument("--pg-cluster", default="15 main", help="pg_ctlcluster VERSION CLUSTER")
    parser.add_argument(
        "--kills-per-process", type=int, help=profiled("kills_per_process", "kills of each target")
    )
    parser.add_argument(
        "--kill-targets", default=",".join(KILL_TARGETS), help="comma-separated, in kill order"
    )
    parser.add_argument(
        "--unreachable-seconds",
        type=float,
        help=profiled("unreachable_seconds", "the chain stays stopped this long"),
    )
    parser.add_argument(
        "--soak-minutes", type=float, help=profiled("soak_minutes", "length of the soak")
    )
    parser.add_argument(
        "--disk-hold-seconds",
        type=float,
        help=profiled("disk_hold_seconds", "a disk stays full this long"),
    )
    parser.add_argument("--disk-mb", type=int, help=profiled("disk_mb", "size of each tmpfs"))
    parser.add_argument(
        "--pg-restarts", type=int, help=profiled("pg_restarts", "PostgreSQL restarts")
    )
    parser.add_argument(
        "--burst-requests", type=int, help=profiled("burst_requests", "requests per burst")
    )
    parser.add_argument(
        "--burst-interval", type=float, help=profiled("burst_interval", "seconds between bursts")
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        help=profiled("recovery_timeout", "seconds a recovery may take"),
    )
    parser.add_argument(
        "--rss-interval", type=float, help=profiled("rss_interval", "seconds between RSS samples")
    )
    parser.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=100.0,
        help="most a process's RSS may grow after the soak's warm-up (default 100)",
    )
    parser.add_argument("--readers", type=int, default=4, help="reader threads in the soak")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--seed", type=int, default=None, help="replay a run's random choices")
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs (and the node, unless on tmpfs)"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES["short" if args.short else "long"].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    args.kill_targets = [t.strip() for t in args.kill_targets.split(",") if t.strip()]
    for item, known in ((args.scenarios, SCENARIOS), (args.kill_targets, KILL_TARGETS)):
        unknown = sorted(set(item) - set(known))
        if unknown:
            parser.error(f"unknown: {', '.join(unknown)} (choose from {', '.join(known)})")
    if args.seed is None:
        args.seed = random.randrange(10**6)
    return args


def run_scenario(ctx: Context, name: str, body: Callable[[Context, Row], None]) -> Row:
    row = Row(name)
    console.rule(f"[bold]{name}")
    stats = ctx.ledger.begin(name)
    began = time.monotonic()
    try:
        body(ctx, row)
    except ScenarioFailure as failure:
        row.failures.append(str(failure))
    row.failures += settle(ctx.node, ctx.ledger, ctx.args.recovery_timeout)
    scenario_attempts = [a for a in ctx.ledger.attempts if a.scenario == name]
    problems = wait_anchored(ctx.node, scenario_attempts, ctx.args.recovery_timeout)
    row.failures += problems
    orphans = ctx.node.orphans()
    for pid in sorted(set(orphans) - ctx.orphans):
        row.failures.append(f"orphaned node process {pid} (no supervisor): {cmdline(pid)[:90]}")
    if earlier := set(orphans) & ctx.orphans:
        row.notes.append(f"{len(earlier)} processes orphaned earlier still run: {sorted(earlier)}")
    ctx.orphans |= set(orphans)
    outside = [why for b, e, why in stats.transport if not ctx.ledger.in_window(b, e)]
    stats.errors += [f"{why} outside a fault window" for why in outside]
    row.accepted, row.refused = stats.accepted_events, stats.refused
    row.errors = len(stats.errors) + len(problems)
    row.failures += stats.errors[:5]
    if stats.replayed:
        row.notes.append(f"{stats.replayed} answers lost and replayed (Idempotency-Key)")
    in_window = len(stats.transport) - len(outside)
    if in_window:
        row.notes.append(f"{in_window} connection errors in fault windows")
    console.print(f"  {name} done in {time.monotonic() - began:.0f} s")
    return row


def print_table(rows: list[Row]) -> bool:
    table = Table(title="soak results")
    for column in (
        "scenario",
        "faults injected",
        "accepted events",
        "refused (503)",
        "errors",
        "max recovery (s)",
        "result",
    ):
        table.add_column(column, justify="left" if column in ("scenario", "result") else "right")
    passed = True
    for row in rows:
        if row.skipped:
            table.add_row(row.name, "-", "-", "-", "-", "-", "SKIP")
            continue
        ok = not row.failures and not row.errors
        passed &= ok
        recovery = f"{max(row.recoveries):.1f}" if row.recoveries else "-"
        table.add_row(
            row.name,
            str(row.faults),
            str(row.accepted),
            str(row.refused),
            str(row.errors),
            recovery,
            "[green]PASS[/]" if ok else "[red]FAIL[/]",
        )
    console.print(table)
    for row in rows:
        for line in ([f"skipped: {row.skipped}"] if row.skipped else []) + row.notes:
            console.print(f"  {row.name}: {line}")
        for line in row.failures:
            console.print(f"  [red]{row.name}: {line}[/]")
    return passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(_signal: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)  # unwinds through the clean-up below

    signal.signal(signal.SIGTERM, terminate)
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    if "disk" in args.scenarios and os.geteuid() != 0:
        skipped["disk"] = "needs root to mount a tmpfs"
        console.print("disk scenario skipped: mounting a tmpfs needs root")
    if "pg" in args.scenarios and not (args.database_url or "").startswith("postgresql"):
        skipped["pg"] = "only with --database-url (PostgreSQL)"
        console.print("pg scenario skipped: it needs --database-url postgresql+psycopg://...")
    database = "PostgreSQL" if args.database_url else "SQLite"
    profile = "short" if args.short else "long"
    console.print(
        f"soak: {profile} profile, {database}, scenarios {','.join(args.scenarios)}, "
        f"seed {args.seed}, {os.cpu_count()} cores"
    )
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="ipchain-soak-"))
    disks: dict[str, SmallDisk] = {}
    node: Node | None = None
    began = time.monotonic()
    try:
        data_dir = root / "node"
        if "disk" in args.scenarios and "disk" not in skipped:
            disks["data"] = mount_tmpfs(root / "data-disk", args.disk_mb)
            disks["chain"] = mount_tmpfs(root / "chain-disk", args.disk_mb)
            data_dir = disks["data"].path / "node"
            data_dir.mkdir()
            (disks["chain"].path / "chain").mkdir()
            (data_dir / "chain").symlink_to(disks["chain"].path / "chain")
        console.print(f"starting ipchain serve --demo in {data_dir} …")
        node = start_node(args, data_dir, root / "serve.log")
        node.before = chain_entries(node)
        console.print(
            f"node up in {time.monotonic() - began:.0f} s ({node.demo_events} demo events "
            f"loaded, {sum(node.before.values())} EventRecorded entries on the chain)"
        )
        run_id = "".join(rng.choices(string.ascii_uppercase + string.digits, k=4))
        ledger = Ledger(run_id, sorted(node.tokens))
        with http_client(2) as client:
            state = health(client, node)
        baseline = str(state["status"]) if state else "ok"
        ctx = Context(args, node, ledger, rng, baseline, disks)
        bodies: dict[str, Callable[[Context, Row], None]] = {
            "kill": scenario_kill,
            "disk": scenario_disk,
            "pg": scenario_pg,
            "unreachable": scenario_unreachable,
            "soak": scenario_soak,
        }
        for name in SCENARIOS:
            if name not in args.scenarios:
                continue
            if name in skipped:
                rows.append(Row(name, skipped=skipped[name]))
                continue
            rows.append(run_scenario(ctx, name, bodies[name]))
        console.rule("[bold]end checks")
        final = Row("end checks (all)")
        ledger.begin("end checks")
        checked = time.monotonic()
        end_checks(ctx, final)
        console.print(f"  end checks done in {time.monotonic() - checked:.0f} s")
        late = ledger.stats["end checks"]
        final.errors += len(late.errors)
        final.failures += late.errors[:5]
        final.refused = sum(row.refused for row in rows)
        final.faults = sum(row.faults for row in rows)
        rows.append(final)
    finally:
        if node is not None:
            stop_node(node)
        for disk in disks.values():
            unmount(disk)
        if args.keep:
            console.print(f"kept {root}")
        else:
            subprocess.run(["rm", "-rf", str(root)], check=False)
    passed = print_table(rows)
    console.print(f"total {time.monotonic() - began:.0f} s; seed {args.seed}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
