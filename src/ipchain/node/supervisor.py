"""Running a node as several supervised OS processes.

A node is a few processes with one job each — the chain (when it is the embedded one), the
writer (submitter and indexer: the only process that holds the office's signer keys), and the
HTTP API (uvicorn's workers, which read the index and write only the outbox). The
:class:`Supervisor` starts them in order, waits for each to say it is ready, restarts one that
dies (with back-off, keeping the others serving), and stops them all, children first, when it
is told to stop. Each child's output goes to a log file of its own under the node's ``run/``
folder, and the supervisor keeps ``run/processes.json`` (pids, commands, restarts) for
``status`` and ``down`` commands.

Written by hand rather than with a process manager (supervisord, honcho): those are services of
their own to install and configure, and a node must start with one command on a machine that
has only Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ipchain.errors import IpchainError

READY_TIMEOUT_SECONDS: Final = 180.0
"""How long a child may take to say it is ready (the demo data set-up takes the longest)."""

_RESTART_BACKOFF_MAX: Final = 30.0
_PR_SET_PDEATHSIG: Final = 1


class ProcessFailedError(IpchainError):
    """A child process stopped before it was ready, or did not get ready in time."""


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to run one child process."""

    name: str
    """Short name (``chain``, ``writer``, ``api``): its log file and its key in the state."""
    argv: Sequence[str]
    """The command."""
    ready_prefix: str
    """A line the child prints when ready starts with this; the rest of it is its answer
    (e.g. ``JSON-RPC: `` followed by the URL)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment variables set for it on top of the supervisor's."""


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    restarts: int = 0
    answer: str = ""


def die_with_parent() -> None:
    """Get SIGTERM when the parent process dies (even by kill -9), so that no orphan keeps a
    port or the chain's lock: run in each child before exec, and by each of uvicorn's API
    workers at start-up (the API master's children, not the supervisor's)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Starts, watches and stops a node's processes."""

    def __init__(self, run_dir: Path, say: Callable[[str], None] = print) -> None:
        self.run_dir = run_dir
        self.say = say
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ starting

    def start(self, spec: ProcessSpec, timeout: float = READY_TIMEOUT_SECONDS) -> str:
        """Start a child and wait until it prints its ready line; returns the rest of that
        line. :class:`ProcessFailedError` (with the end of its log) when it stops first."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.run_dir / f"{spec.name}.log"
        child = _Child(spec, self._spawn(spec, log), log, time.monotonic())
        with self._lock:
            self._children[spec.name] = child
        child.answer = self._wait_ready(child, timeout)
        self._write_state()
        return child.answer

    def _spawn(self, spec: ProcessSpec, log: Path) -> subprocess.Popen[bytes]:
        output = log.open("ab")
        try:
            return subprocess.Popen(
                list(spec.argv),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **spec.env},
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            output.close()

    def _wait_ready(self, child: _Child, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        offset = child.log.stat().st_size if child.restarts else 0
        while time.monotonic() < deadline and not self._stopping.is_set():
            with child.log.open("rb") as handle:
                handle.seek(offset)
                for raw in handle.read().decode("utf-8", "replace").splitlines():
                    if raw.startswith(child.spec.ready_prefix):
                        return raw[len(child.spec.ready_prefix) :].strip()
            if child.process.poll() is not None:
                raise ProcessFailedError(
                    f"the {child.spec.name} process stopped (exit code "
                    f"{child.process.returncode}): {self._last_line(child.log)}"
                )
            time.sleep(0.05)
        child.process.terminate()
        raise ProcessFailedError(
            f"the {child.spec.name} process was not ready after {timeout:.0f} s (log: {child.log})"
        )

    @staticmethod
    def _last_line(log: Path) -> str:
        lines = [line for line in log.read_text("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1].strip() if lines else "no output"

    # ------------------------------------------------------------------ watching

    def watch(self, interval: float = 0.5) -> None:
        """Restart children that die, until :meth:`stop` is called (from a signal handler or
        another thread)."""
        while not self._stopping.wait(interval):
            for name, child in list(self._children.items()):
                if child.process.poll() is None or self._stopping.is_set():
                    continue
                code = child.process.returncode
                delay = min(2.0 ** min(child.restarts, 5), _RESTART_BACKOFF_MAX)
                if time.monotonic() - child.started > 60:
                    delay = 0.5  # it ran a good while: restart at once
                self.say(f"{name} process stopped (exit code {code}); restarting in {delay:.1f} s")
                if self._stopping.wait(delay):
                    return
                child.process = self._spawn(child.spec, child.log)
                child.started = time.monotonic()
                child.restarts += 1
                try:
                    child.answer = self._wait_ready(child, READY_TIMEOUT_SECONDS)
                    self.say(f"{name} process restarted")
                except ProcessFailedError as error:
                    self.say(f"{name}: {error}")
                self._write_state()

    # ------------------------------------------------------------------ stopping

    def request_stop(self) -> None:
        """Make :meth:`watch` (and a start still waiting) return; safe in a signal handler."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop every child, the last started first (the API before the writer before the
        chain), each given time to finish what it is doing."""
        self._stopping.set()
        for child in reversed(list(self._children.values())):
            if child.process.poll() is None:
                child.process.terminate()
                try:
                    child.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "processes.json").unlink()

    # ------------------------------------------------------------------ state

    def _write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "processes": {
                name: {
                    "pid": child.process.pid,
                    "argv": list(child.spec.argv),
                    "restarts": child.restarts,
                    "answer": child.answer,
                    "log": str(child.log),
                }
                for name, child in self._children.items()
            },
        }
        temporary = self.run_dir / "processes.json.tmp"
        temporary.write_text(json.dumps(state, indent=2) + "\n", "utf-8")
        temporary.replace(self.run_dir / "processes.json")


def python_module(module: str, *args: str) -> list[str]:
    """The command running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
